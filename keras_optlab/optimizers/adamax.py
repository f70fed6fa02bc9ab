"""Adamax: Adam with the infinity norm in place of the second moment."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import maximum
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "adamax",
    description="Adam variant scaling by an exponentially weighted "
    "infinity norm of past gradients.",
    reference="Kingma and Ba, 2015, Adam: A Method for Stochastic "
    "Optimization, section 7.1",
    family="adam",
)
class Adamax(OptlabOptimizer):
    """Adamax (Kingma and Ba, Algorithm 2).

    ```
    input: lr, beta_1, beta_2 in [0, 1), epsilon;  m_0 = u_0 = 0
    for t = 1, 2, ...
        g_t     = grad f(theta_{t-1})
        m_t     = beta_1 * m_{t-1} + (1 - beta_1) * g_t
        u_t     = max(beta_2 * u_{t-1}, |g_t|)
        theta_t = theta_{t-1} - (lr_t / (1 - beta_1^t)) * m_t / (u_t + epsilon)
    ```

    u_t needs no bias correction (section 7.1). The paper has no epsilon;
    it only keeps 0 / 0 out of coordinates whose gradient has always been
    zero, as in Keras. Since u_t is not bias-corrected there is no "hat"
    variant: epsilon has one place only.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.001.
        beta_1: in [0, 1). Defaults to 0.9.
        beta_2: in [0, 1). Defaults to 0.999.
        epsilon: > 0. Defaults to 1e-7.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Adamax(2e-3), loss="mse")

    Reference:
        D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization",
        ICLR 2015, arXiv:1412.6980, section 7.1 and Algorithm 2.
    """

    hyperparameters = (
        spec.learning_rate(0.001, spec.FloatRange(1e-4, 1e-1, "log")),
        spec.BETA_1,
        spec.BETA_2,
        spec.epsilon(1e-7, search=spec.EPSILON_SEARCH),
    )

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
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
        self._momentums, self._norms = self.add_optimizer_variables(
            var_list, ["momentum", "norm"]
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        u = self._norms[index]
        bias_correction_1 = self.bias_correction(self.beta_1, dtype)

        self.assign_moving_average(m, gradient, self.beta_1)
        beta_2 = scalar(self.beta_2, dtype)
        self.assign(u, maximum(ops.multiply(u, beta_2), ops.abs(gradient)))
        self.assign_sub(
            variable,
            ops.divide(
                ops.multiply(m, lr),
                ops.multiply(
                    bias_correction_1, ops.add(u, scalar(self.epsilon, dtype))
                ),
            ),
        )
