"""NovoGrad: momentum on gradients normalised by a per-layer second moment."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.registry import register


@register(
    "novograd",
    description="Momentum on g / sqrt(v) with one second moment v = EMA of "
    "||g||^2 per variable (layer); weight decay inside the momentum.",
    reference="Ginsburg et al., 2019, Stochastic Gradient Methods with "
    "Layer-wise Adaptive Moments for Training of Deep Networks",
    family="adam",
)
class NovoGrad(OptlabOptimizer):
    """NovoGrad (Ginsburg et al. 2019, Algorithm 1), per variable ("layer").

    ```
    input: lr, beta_1, beta_2 in [0, 1), epsilon, weight decay d >= 0
    for t = 1, 2, ...
        g_t = grad f(theta_{t-1})                         (one variable)
        v_t = ||g_t||^2                                   if t = 1
        v_t = beta_2 * v_{t-1} + (1 - beta_2) * ||g_t||^2 otherwise
        u_t = g_t / (sqrt(v_t) + epsilon) + d * theta_{t-1}
        if grad_averaging: u_t = (1 - beta_1) * u_t
        m_t = beta_1 * m_{t-1} + u_t                       (m_0 = 0)
        theta_t = theta_{t-1} - lr_t * m_t
    ```

    v is one scalar per variable, so the state is half of Adam's. v_1 =
    ||g_1||^2 is the paper's initialisation, which makes bias correction
    unnecessary. The paper's first step is m_1 = g_1 / sqrt(v_1) + d
    theta_0; here epsilon is in that denominator too (as at every later
    step, and in NVIDIA's and TensorFlow Addons' code), so that a variable
    whose first gradient is zero gets a zero step rather than 0 / 0.
    Epsilon is added after the root, as in TensorFlow Addons' NovoGrad that
    users migrate from; NVIDIA's Clara Train documentation writes
    sqrt(v_t + epsilon). With the default 1e-7 the two denominators differ
    by more than 5% only where a layer's gradient norm is below about 1e-3.

    `weight_decay` is d: it enters the momentum, as in the paper, instead
    of Keras' decoupled decay (which this class does not apply on top).
    `exclude_from_weight_decay` works as for every Keras optimizer.
    `grad_averaging=True` is the (1 - beta_1) factor of Adam's first moment,
    an option of NVIDIA's implementations and TensorFlow Addons, not of
    Algorithm 1.

    Defaults are TensorFlow Addons' (`tfa.optimizers.NovoGrad`); its
    `amsgrad` is not offered.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.001.
        beta_1: in [0, 1). Defaults to 0.9.
        beta_2: in [0, 1). Defaults to 0.999.
        epsilon: > 0. Defaults to 1e-7.
        weight_decay: d, >= 0, or None for none. Defaults to None.
        grad_averaging: multiply u_t by (1 - beta_1). Defaults to False.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=NovoGrad(0.01, weight_decay=1e-3), loss="mse")

    References:
        B. Ginsburg, P. Castonguay, O. Hrinchuk, O. Kuchaiev, V. Lavrukhin,
        R. Leary, J. Li, H. Nguyen, Y. Zhang, J. M. Cohen, "Stochastic
        Gradient Methods with Layer-wise Adaptive Moments for Training of
        Deep Networks", arXiv:1905.11286, 2019, Algorithm 1.
    """

    hyperparameters = (
        spec.ADAPTIVE_LEARNING_RATE,
        spec.BETA_1,
        spec.BETA_2,
        spec.epsilon(1e-7, search=spec.EPSILON_SEARCH),
        spec.weight_decay("d, coupled: added to the normalised gradient",
                          search=spec.WEIGHT_DECAY_SEARCH),
        spec.Hyperparameter("grad_averaging", "bool", False,
                            doc="multiply u_t by (1 - beta_1)"),
    )
    # d * theta enters the momentum (Algorithm 1), not Keras' decoupled decay.
    couples_weight_decay = True

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=None,
        grad_averaging=False,
        name=None,
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            name=name,
            arguments=locals(),
            **kwargs,
        )

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._norm_velocities = [
            self.add_variable(
                shape=(), dtype=variable.dtype, name="norm_velocity"
            )
            for variable in var_list
        ]

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._norm_velocities[index]

        norm_squared = self.squared_norm(gradient)
        averaged = ops.add(
            ops.multiply(v, self.beta_2),
            ops.multiply(norm_squared, 1.0 - self.beta_2),
        )
        is_first = ops.equal(self.iterations, 0)
        self.assign(v, ops.where(is_first, norm_squared, averaged))
        update = ops.divide(gradient, ops.add(ops.sqrt(v), self.epsilon))
        decay = self.weight_decay_for(variable, dtype)
        if decay is not None:
            update = ops.add(update, ops.multiply(variable, decay))
        if self.grad_averaging:
            update = ops.multiply(update, 1.0 - self.beta_1)
        self.assign(m, ops.add(ops.multiply(m, self.beta_1), update))
        self.assign_sub(variable, ops.multiply(m, lr))
