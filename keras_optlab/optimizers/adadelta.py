"""Adadelta: unit-correct steps from running averages, no learning rate."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "adadelta",
    description="Step = RMS of past updates / RMS of gradients; "
    "learning_rate=1.0 is the paper's rule.",
    reference="Zeiler, 2012, ADADELTA: An Adaptive Learning Rate Method",
    family="adaptive",
)
class Adadelta(OptlabOptimizer):
    """Adadelta (Zeiler 2012, Algorithm 1).

    ```
    input: decay rho, epsilon, theta_1;  E[g^2]_0 = 0, E[dx^2]_0 = 0
    RMS[y]_t = sqrt(E[y^2]_t + epsilon)
    for t = 1, 2, ...
        g_t       = grad f(theta_t)
        E[g^2]_t  = rho * E[g^2]_{t-1} + (1 - rho) * g_t^2
        dx_t      = - RMS[dx]_{t-1} / RMS[g]_t * g_t
        E[dx^2]_t = rho * E[dx^2]_{t-1} + (1 - rho) * dx_t^2
        theta_{t+1} = theta_t + lr_t * dx_t
    ```

    The paper has no learning rate: `learning_rate=1.0` (the default) is its
    rule exactly. Another value scales the applied step, as in Keras' and
    PyTorch's Adadelta; E[dx^2] always accumulates the unscaled dx.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 1.0.
        rho: decay rate, in [0, 1]. Defaults to 0.95 (the paper's value).
        epsilon: > 0. Defaults to 1e-6 (the paper's value).
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Adadelta(), loss="mse")

    Reference:
        M. D. Zeiler, "ADADELTA: An Adaptive Learning Rate Method",
        arXiv:1212.5701, 2012.
    """

    hyperparameters = (
        spec.learning_rate(1.0, spec.FloatRange(1e-2, 10.0, "log")),
        spec.Hyperparameter("rho", "float", 0.95, 0.0, 1.0,
                            doc="decay of the running averages"),
        spec.epsilon(1e-6, "inside both roots"),
    )

    def __init__(
        self, learning_rate=1.0, rho=0.95, epsilon=1e-6, name=None, **kwargs
    ):
        super().__init__(
            learning_rate=learning_rate, name=name, arguments=locals(),
            **kwargs
        )

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._mean_squared_gradients, self._mean_squared_deltas = (
            self.add_optimizer_variables(
                var_list, ["mean_squared_gradient", "mean_squared_delta"]
            )
        )

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        mean_sq_grad = self._mean_squared_gradients[index]
        mean_sq_delta = self._mean_squared_deltas[index]

        epsilon = scalar(self.epsilon, variable.dtype)
        gradient_squared = ops.square(gradient)
        self.assign_moving_average(mean_sq_grad, gradient_squared, self.rho)
        delta_scale = ops.add(mean_sq_delta, epsilon)
        gradient_scale = ops.add(mean_sq_grad, epsilon)
        # delta_t = -RMS[dx]_{t-1} / RMS[g]_t * g_t, and its square taken
        # as RMS[dx]^2 / RMS[g]^2 * g_t^2, the same value without a root.
        delta = ops.negative(
            ops.multiply(
                ops.multiply(ops.sqrt(delta_scale), ops.rsqrt(gradient_scale)),
                gradient,
            )
        )
        delta_squared = ops.multiply(
            ops.divide(delta_scale, gradient_scale), gradient_squared
        )
        self.assign_add(variable, ops.multiply(delta, lr))
        self.assign_moving_average(mean_sq_delta, delta_squared, self.rho)
