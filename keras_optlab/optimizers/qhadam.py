"""QHAdam: quasi-hyperbolic Adam."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.registry import register


@register(
    "qhadam",
    description="Adam whose numerator and denominator are each a weighted "
    "average (nu_1, nu_2) of the moment estimate and the current gradient.",
    reference="Ma and Yarats, 2019, Quasi-hyperbolic momentum and Adam for "
    "deep learning",
    family="adam",
)
class QHAdam(OptlabOptimizer):
    """QHAdam (Ma and Yarats, ICLR 2019, section 6, the QHAdam box).

    ```
    input: lr alpha, beta_1, beta_2 in [0, 1), nu_1, nu_2 in [0, 1],
           epsilon;  g_0 = s_0 = 0
    for t = 1, 2, ...
        grad_t  = grad L(theta_{t-1})
        g_t     = beta_1 * g_{t-1} + (1 - beta_1) * grad_t
        s_t     = beta_2 * s_{t-1} + (1 - beta_2) * grad_t^2
        g'_t    = g_t / (1 - beta_1^t)
        s'_t    = s_t / (1 - beta_2^t)
        theta_t = theta_{t-1} - alpha * [(1 - nu_1) * grad_t + nu_1 * g'_t]
                      / (sqrt((1 - nu_2) * grad_t^2 + nu_2 * s'_t) + epsilon)
    ```

    nu_1 = nu_2 = 1 is Adam with epsilon where Algorithm 1 of Kingma and Ba
    puts it (`Adam(epsilon_mode="outside")`); nu_1 = 0 and nu_2 = 1 is RMSprop
    with bias correction. The paper's recommended starting point is
    nu = (0.7, 1.0) and beta = (0.995, 0.999), the defaults here: the larger
    beta_1 gives a long-memory momentum of which only nu_1 = 0.7 enters the
    step, the rest being the plain gradient.

    Args:
        learning_rate: alpha; a non-negative float, a `LearningRateSchedule`,
            or a callable with no arguments. Defaults to 0.001.
        beta_1: decay of the first moment, in [0, 1). Defaults to 0.995.
        beta_2: decay of the second moment, in [0, 1). Defaults to 0.999.
        nu_1: weight of the momentum in the numerator, in [0, 1].
            Defaults to 0.7.
        nu_2: weight of the second moment in the denominator, in [0, 1].
            Defaults to 1.0.
        epsilon: > 0. Defaults to 1e-8 (the paper's).
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer` (weight decay
            there is Keras' decoupled one: theta -= lr * w * theta first).

    Example:
    >>> model.compile(optimizer=QHAdam(1e-3, nu_1=0.7, nu_2=1.0), loss="mse")

    References:
        J. Ma and D. Yarats, "Quasi-hyperbolic momentum and Adam for deep
        learning", ICLR 2019, arXiv:1810.06801.
    """

    hyperparameters = (
        spec.ADAPTIVE_LEARNING_RATE,
        spec.beta("beta_1", 0.995, "decay of the first moment"),
        spec.BETA_2,
        spec.Hyperparameter("nu_1", "float", 0.7, 0.0, 1.0,
                            doc="weight of the momentum in the step"),
        spec.Hyperparameter("nu_2", "float", 1.0, 0.0, 1.0,
                            doc="weight of the second moment"),
        spec.epsilon(1e-8, search=spec.EPSILON_SEARCH),
    )

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.995,
        beta_2=0.999,
        nu_1=0.7,
        nu_2=1.0,
        epsilon=1e-8,
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
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.convert_to_tensor(ops.cast(gradient, dtype))
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]

        self.assign_moving_average(m, gradient, self.beta_1)
        self.assign_moving_average(v, ops.square(gradient), self.beta_2)
        m_hat = ops.divide(m, self.bias_correction(self.beta_1, dtype))
        v_hat = ops.divide(v, self.bias_correction(self.beta_2, dtype))
        numerator = ops.add(
            ops.multiply(gradient, 1.0 - self.nu_1),
            ops.multiply(m_hat, self.nu_1),
        )
        second_moment = ops.add(
            ops.multiply(ops.square(gradient), 1.0 - self.nu_2),
            ops.multiply(v_hat, self.nu_2),
        )
        step = ops.divide(
            ops.multiply(numerator, lr),
            ops.add(ops.sqrt(second_moment), self.epsilon),
        )
        self.assign_sub(variable, step)
