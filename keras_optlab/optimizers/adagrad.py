"""Adagrad: per-coordinate step sizes from the sum of squared gradients."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "adagrad",
    description="Step size divided by the root of the summed squared "
    "gradients, per coordinate.",
    reference="Duchi, Hazan and Singer, 2011, Adaptive Subgradient Methods "
    "for Online Learning and Stochastic Optimization",
    family="adaptive",
)
class Adagrad(OptlabOptimizer):
    """Adagrad (diagonal version).

    ```
    input: lr, G_0 = initial_accumulator_value, epsilon, theta_0
    for t = 1, 2, ...
        g_t     = grad f(theta_{t-1})
        G_t     = G_{t-1} + g_t^2
        theta_t = theta_{t-1} - lr_t * g_t / sqrt(G_t + epsilon)   "inside"
        theta_t = theta_{t-1} - lr_t * g_t / (sqrt(G_t) + epsilon)  "outside"
    ```

    `epsilon_mode="outside"` is the update of Duchi et al. (delta I +
    diag(G_t)^(1/2) in their Figure 1, with delta = epsilon), as PyTorch
    implements it; `"inside"` (the default) is the form of Keras' and optax'
    Adagrad. They agree once G_t >> epsilon.

    A sparse gradient stays sparse: the accumulator and the parameters are
    written only on the rows it names.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.01.
        initial_accumulator_value: G_0, >= 0. Defaults to 0.0.
        epsilon: > 0. Defaults to 1e-7.
        epsilon_mode: `"inside"` or `"outside"` (the paper's), see above;
            0.1.0's `"paper"` reads as `"outside"`.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Adagrad(learning_rate=0.05), loss="mse")

    Reference:
        J. Duchi, E. Hazan, Y. Singer, "Adaptive Subgradient Methods for
        Online Learning and Stochastic Optimization", JMLR 12, 2011.
    """

    _sparse_update_touches_rows_only = True

    hyperparameters = (
        spec.learning_rate(0.01, spec.FloatRange(1e-3, 1.0, "log")),
        spec.Hyperparameter("initial_accumulator_value", "float", 0.0, low=0.0,
                            doc="G_0, the accumulator's start"),
        spec.epsilon(1e-7),
        spec.epsilon_mode("inside", ("inside", "outside"),
                          paper_means="outside",
                          doc="where epsilon goes: sqrt(G + eps) (inside) "
                          "or sqrt(G) + eps (outside)",
                          paper_default="outside"),
    )

    def __init__(
        self,
        learning_rate=0.01,
        initial_accumulator_value=0.0,
        epsilon=1e-7,
        epsilon_mode="inside",
        name=None,
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate, name=name, arguments=locals(),
            **kwargs
        )

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=self._initial_accumulator
        )

    def _initial_accumulator(self, shape, dtype=None):
        # keras.initializers.Constant rounds its value through float32;
        # ops.full keeps 0.1 exact in a float64 accumulator.
        return ops.full(shape, self.initial_accumulator_value, dtype=dtype)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        epsilon = scalar(self.epsilon, variable.dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        self.assign_add(accumulator, ops.square(gradient))
        if self.epsilon_mode == "outside":
            denominator = ops.add(ops.sqrt(accumulator), epsilon)
        else:
            denominator = ops.sqrt(ops.add(accumulator, epsilon))
        self.assign_sub(
            variable, ops.divide(ops.multiply(gradient, lr), denominator)
        )
