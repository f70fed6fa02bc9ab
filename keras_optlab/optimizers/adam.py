"""Adam, with epsilon where the paper's Algorithm 1 puts it or where Keras does."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import maximum
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register

@register(
    "adam",
    description="Bias-corrected first and second moment estimates; "
    "epsilon_mode 'hat' (Keras) or 'outside' (the paper); optional AMSGrad.",
    reference="Kingma and Ba, 2015, Adam: A Method for Stochastic "
    "Optimization",
    family="adam",
)
class Adam(OptlabOptimizer):
    """Adam (Kingma and Ba, Algorithm 1), optionally AMSGrad.

    ```
    input: lr, beta_1, beta_2 in [0, 1), epsilon in (0, 1];  m_0 = v_0 = 0
    for t = 1, 2, ...
        g_t = grad f(theta_{t-1})
        m_t = beta_1 * m_{t-1} + (1 - beta_1) * g_t
        v_t = beta_2 * v_{t-1} + (1 - beta_2) * g_t^2
        if amsgrad: v_t = max(v_max_{t-1}, v_t) =: v_max_t
        epsilon_mode="outside" (Algorithm 1, the paper's):
            theta_t = theta_{t-1} - lr_t * (m_t / (1 - beta_1^t))
                                   / (sqrt(v_t / (1 - beta_2^t)) + epsilon)
        epsilon_mode="hat" (section 2, last paragraph; Keras, TensorFlow):
            alpha_t = lr_t * sqrt(1 - beta_2^t) / (1 - beta_1^t)
            theta_t = theta_{t-1} - alpha_t * m_t / (sqrt(v_t) + epsilon_hat)
    ```

    The two modes are the same rule with epsilon_hat = epsilon *
    sqrt(1 - beta_2^t): they agree for tiny epsilon but differ strongly for
    the large values used on ImageNet. With epsilon = 1.0 and beta_2 = 0.999
    the "hat" denominator is sqrt(v_t) + 1, while the "outside" one is
    sqrt(v_hat_t) + 1: early in training "hat" damps the step by up to
    1 / sqrt(1 - beta_2^t), about 30x at t = 1. Inception on ImageNet was
    trained with the TensorFlow ("hat") form and epsilon 1.0 or 0.1.

    With `amsgrad=True` the running maximum of v_t replaces v_t (Reddi et
    al.), bias-corrected the same way, as in Keras and PyTorch.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.001.
        beta_1: decay of the first moment, in [0, 1). Defaults to 0.9.
        beta_2: decay of the second moment, in [0, 1). Defaults to 0.999.
        epsilon: > 0. Defaults to 1e-7.
        epsilon_mode: `"hat"` (default, as Keras) or `"outside"` (the
            paper's); 0.1.0's `"paper"` reads as `"outside"`.
        amsgrad: use the running maximum of v_t. Defaults to False.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Adam(1e-3, epsilon=1.0), loss="mse")

    References:
        D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization",
        ICLR 2015, arXiv:1412.6980.
        S. J. Reddi, S. Kale, S. Kumar, "On the Convergence of Adam and
        Beyond", ICLR 2018.
        C. Szegedy et al., "Rethinking the Inception Architecture for
        Computer Vision", CVPR 2016 (epsilon 1.0 on ImageNet).
    """

    hyperparameters = (
        spec.learning_rate(0.001, spec.FloatRange(1e-5, 1e-1, "log")),
        spec.BETA_1,
        spec.BETA_2,
        spec.epsilon(1e-7, search=spec.EPSILON_SEARCH, paper_default=1e-8),
        spec.epsilon_mode("hat", ("hat", "outside"), paper_means="outside",
                          doc="where epsilon goes: sqrt(v) + eps in the "
                          "folded step (hat) or sqrt(v_hat) + eps (outside)",
                          paper_default="outside"),
        spec.Hyperparameter("amsgrad", "bool", False,
                            doc="use the running maximum of v_t"),
    )

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        epsilon_mode="hat",
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
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        if self.amsgrad:
            self._velocity_maxima = self.add_optimizer_variables(
                var_list, "velocity_max"
            )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]

        self.assign_moving_average(m, gradient, self.beta_1)
        self.assign_moving_average(v, ops.square(gradient), self.beta_2)
        if self.amsgrad:
            v_max = self._velocity_maxima[index]
            self.assign(v_max, maximum(v_max, v))
            v = v_max
        self.assign_sub(variable, self._adam_step(m, v, lr, dtype))

    def _adam_step(self, m, v, lr, dtype):
        """theta_{t-1} - theta_t for the moments m_t, v_t (v_t after the
        AMSGrad maximum), in the placement of epsilon set by epsilon_mode.

        Shared with `LazyAdam`, which calls it on the rows of a sparse
        gradient."""
        bias_correction_1 = self.bias_correction(self.beta_1, dtype)
        bias_correction_2 = self.bias_correction(self.beta_2, dtype)
        epsilon = scalar(self.epsilon, dtype)
        if self.epsilon_mode == "hat":
            alpha = lr * ops.sqrt(bias_correction_2) / bias_correction_1
            return ops.divide(
                ops.multiply(m, alpha), ops.add(ops.sqrt(v), epsilon)
            )
        m_hat = ops.divide(m, bias_correction_1)
        v_hat = ops.divide(v, bias_correction_2)
        return ops.divide(
            ops.multiply(m_hat, lr), ops.add(ops.sqrt(v_hat), epsilon)
        )
