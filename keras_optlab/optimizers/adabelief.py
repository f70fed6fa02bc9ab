"""AdaBelief: Adam with the second moment of g_t - m_t instead of g_t."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import maximum
from keras_optlab.optimizers.registry import register


@register(
    "adabelief",
    description="Adam dividing by the moving variance of g - m (the "
    "'belief' in the gradient) instead of the moving mean of g^2.",
    reference="Zhuang et al., 2020, AdaBelief Optimizer: Adapting Stepsizes "
    "by the Belief in Observed Gradients",
    family="adam",
)
class AdaBelief(OptlabOptimizer):
    """AdaBelief (Zhuang et al. 2020, Algorithm 2).

    ```
    input: lr, beta_1, beta_2 in [0, 1), epsilon in (0, 1];  m_0 = s_0 = 0
    for t = 1, 2, ...
        g_t     = grad f(theta_{t-1})
        m_t     = beta_1 * m_{t-1} + (1 - beta_1) * g_t
        s_t     = beta_2 * s_{t-1} + (1 - beta_2) * (g_t - m_t)^2 + epsilon
        if amsgrad: s_t = max(s_t, s_{t-1})
        m_hat_t = m_t / (1 - beta_1^t)
        s_hat_t = s_t / (1 - beta_2^t)
        theta_t = theta_{t-1} - lr_t * m_hat_t / (sqrt(s_hat_t) + epsilon)
    ```

    Epsilon enters twice: inside s_t, where it accumulates (s_t >= epsilon *
    (1 - beta_2^t) / (1 - beta_2) even for a constant gradient), and outside
    the square root. This is the main text's Algorithm 2 and the authors'
    code; earlier arXiv versions and the appendix place the first epsilon
    elsewhere, and the authors confirm the main-text form as the one they
    use (github.com/juntang-zhuang/Adabelief-Optimizer, issues 32 and 61).

    With `amsgrad=True` the maximum replaces s_t itself, as in the paper's
    box, so the next moving average starts from it. The authors' code and
    `tfa.optimizers.AdaBelief` keep a separate running maximum and leave s_t
    an ordinary moving average; the two differ once s_t would have decreased.

    `tfa.optimizers.AdaBelief` defaulted to `rectify=True` (RAdam's
    rectification) and `epsilon=1e-14`; neither rectification nor its
    built-in warm-up (`total_steps`, `warmup_proportion`, `min_lr`) is part
    of Algorithm 2 and neither is offered here: use a warm-up schedule. Its
    `weight_decay` is Keras' `weight_decay` (the same decoupled decay).

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.001.
        beta_1: in [0, 1). Defaults to 0.9.
        beta_2: in [0, 1). Defaults to 0.999.
        epsilon: > 0. Defaults to 1e-16, the authors' package default
            from version 0.1 on (TensorFlow Addons: 1e-14).
        amsgrad: keep s_t non-decreasing. Defaults to False.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=AdaBelief(1e-3, epsilon=1e-12), loss="mse")

    References:
        J. Zhuang, T. Tang, Y. Ding, S. Tatikonda, N. Dvornek, X.
        Papademetris, J. S. Duncan, "AdaBelief Optimizer: Adapting Stepsizes
        by the Belief in Observed Gradients", NeurIPS 2020, arXiv:2010.07468,
        Algorithm 2.
    """

    hyperparameters = (
        spec.ADAPTIVE_LEARNING_RATE,
        spec.BETA_1,
        spec.BETA_2,
        spec.epsilon(1e-16, "added to s_t and to its root",
                     search=spec.EPSILON_SEARCH),
        spec.Hyperparameter("amsgrad", "bool", False,
                            doc="keep s_t non-decreasing"),
    )

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-16,
        amsgrad=False,
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
        self._momentums, self._beliefs = self.add_optimizer_variables(
            var_list, ["momentum", "belief"]
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        s = self._beliefs[index]
        bias_correction_1 = self.bias_correction(self.beta_1, dtype)
        bias_correction_2 = self.bias_correction(self.beta_2, dtype)

        self.assign_moving_average(m, gradient, self.beta_1)
        surprise = ops.square(ops.subtract(gradient, m))
        # s_t = s_{t-1} + (1 - beta_2) * ((g_t - m_t)^2 - s_{t-1})
        #       + epsilon, an increment of s like every moment here.
        increment = ops.add(
            ops.multiply(ops.subtract(surprise, s), 1.0 - self.beta_2),
            self.epsilon,
        )
        if self.amsgrad:
            # max(s_{t-1} + increment, s_{t-1}), exactly, NaN included.
            increment = maximum(increment, ops.zeros_like(increment))
        self.assign_add(s, increment)
        m_hat = ops.divide(m, bias_correction_1)
        s_hat = ops.divide(s, bias_correction_2)
        step = ops.divide(
            ops.multiply(m_hat, lr), ops.add(ops.sqrt(s_hat), self.epsilon)
        )
        self.assign_sub(variable, step)
