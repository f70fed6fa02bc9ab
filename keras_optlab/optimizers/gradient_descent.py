"""Plain gradient descent."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.registry import register


@register(
    "gradient_descent",
    description="Plain (stochastic) gradient descent: theta -= lr * g.",
    reference="Robbins and Monro, 1951, A Stochastic Approximation Method",
    family="sgd",
)
class GradientDescent(OptlabOptimizer):
    """Gradient descent with a fixed or scheduled step size.

    ```
    input: learning rate lr, parameters theta_0, objective f
    for t = 1, 2, ...
        g_t     = grad f(theta_{t-1})
        theta_t = theta_{t-1} - lr_t * g_t
    ```

    A sparse gradient (e.g. from an `Embedding`) stays sparse: only the rows
    it names are written.

    On f(x) = a x^2 + b x + c the iteration is x_t - x* = (1 - 2 a lr)(x_{t-1}
    - x*): it converges for lr < 1 / a, oscillates for lr = 1 / a and diverges
    beyond; `keras_optlab.lab.landscape` shows it.

    Args:
        learning_rate: a non-negative float, a
            `keras.optimizers.schedules.LearningRateSchedule`, or a callable
            with no arguments. Defaults to 0.01.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`
            (`weight_decay`, `clipnorm`, `clipvalue`, `global_clipnorm`,
            `use_ema`, `ema_momentum`, `ema_overwrite_frequency`,
            `loss_scale_factor`, `gradient_accumulation_steps`).

    Example:
    >>> model.compile(optimizer=GradientDescent(learning_rate=0.1), loss="mse")

    Reference:
        H. Robbins and S. Monro, "A Stochastic Approximation Method",
        Annals of Mathematical Statistics 22(3), 1951.
    """

    _sparse_update_touches_rows_only = True

    hyperparameters = (
        spec.learning_rate(0.01, spec.FloatRange(1e-3, 1.0, "log")),
    )

    def __init__(self, learning_rate=0.01, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, name=name, arguments=locals(),
            **kwargs
        )

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        self.assign_sub(variable, ops.multiply(gradient, lr))
