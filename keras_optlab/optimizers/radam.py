"""RAdam: Adam with the variance of its adaptive step size rectified."""

import math

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.registry import register

PAPER_SMA_THRESHOLD = 4.0


def sma_length_limit(beta_2):
    """rho_inf = 2 / (1 - beta_2) - 1, the length of the simple moving
    average that the exponential one approximates."""
    return 2.0 / (1.0 - beta_2) - 1.0


def sma_length(beta_2, t):
    """rho_t = rho_inf - 2 t beta_2^t / (1 - beta_2^t), as a float64 tensor.

    rho_t is the small difference of two numbers near 2 / (1 - beta_2)
    (2000 for beta_2 = 0.999). In float32 the cancellation costs about three
    digits, enough to move the step at which the threshold is crossed, so it
    is computed in float64 whatever the variables' dtype, and 1 - beta_2^t
    by expm1 so that it keeps its digits when beta_2^t is near 1.
    """
    t = ops.cast(t, "float64")
    log_beta_2 = math.log1p(-(1.0 - beta_2))
    beta_2_power = ops.exp(t * log_beta_2)
    one_minus_power = -ops.expm1(t * log_beta_2)
    return sma_length_limit(beta_2) - 2.0 * t * beta_2_power / one_minus_power


@register(
    "radam",
    description="Rectified Adam: the adaptive step scaled by r_t once the "
    "variance of 1/sqrt(v) is tractable (rho_t > 4), plain momentum before.",
    reference="Liu et al., 2020, On the Variance of the Adaptive Learning "
    "Rate and Beyond",
    family="adam",
)
class RAdam(OptlabOptimizer):
    """RAdam (Liu et al. 2020, Algorithm 2).

    ```
    input: lr, beta_1, beta_2, epsilon, threshold (4 in the paper)
    m_0 = v_0 = 0;  rho_inf = 2 / (1 - beta_2) - 1
    for t = 1, 2, ...
        g_t     = grad f(theta_{t-1})
        v_t     = beta_2 * v_{t-1} + (1 - beta_2) * g_t^2
        m_t     = beta_1 * m_{t-1} + (1 - beta_1) * g_t
        m_hat_t = m_t / (1 - beta_1^t)
        rho_t   = rho_inf - 2 t beta_2^t / (1 - beta_2^t)
        if rho_t > threshold:                      (variance is tractable)
            r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf
                       / ((rho_inf - 4)(rho_inf - 2) rho_t))
            epsilon_mode="outside" (the paper's):
                theta_t = theta_{t-1} - lr_t * r_t * m_hat_t
                                        / (sqrt(v_t / (1 - beta_2^t)) + epsilon)
            epsilon_mode="hat":
                theta_t = theta_{t-1} - lr_t * r_t * sqrt(1 - beta_2^t)
                                        * m_hat_t / (sqrt(v_t) + epsilon)
        else:
            theta_t = theta_{t-1} - lr_t * m_hat_t     (un-adapted momentum)
    ```

    rho_t is the length of the simple moving average that approximates the
    exponential one of v_t; below the threshold the variance of the adaptive
    step size is intractable (infinite for rho_t <= 4), so the step is SGD
    with bias-corrected momentum. rho_1 = 1 and rho_t rises towards rho_inf;
    with beta_2 = 0.999 the first adaptive step is t = 5 for the paper's
    threshold 4 and t = 6 for TensorFlow Addons' 5.

    Algorithm 2 writes l_t = sqrt((1 - beta_2^t) / v_t) with no epsilon.
    `epsilon_mode="outside"` adds epsilon to sqrt(v_hat_t) as Adam's Algorithm 1
    and `tfa.optimizers.RectifiedAdam` do; `"hat"` adds it to sqrt(v_t) as
    the authors' and PyTorch's code do.

    Migrating from `tfa.optimizers.RectifiedAdam`: its `sma_threshold` was
    5.0 and tested `rho_t >= 5`; pass `sma_threshold=5.0` for its behaviour.
    Its `weight_decay` is Keras' `weight_decay` here (the same decoupled
    decay, lr * w * theta); for `total_steps`/`warmup_proportion`/`min_lr`
    use a learning-rate schedule (`keras_optlab.schedules.Warmup`).

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.001.
        beta_1: in [0, 1). Defaults to 0.9.
        beta_2: in [0, 1), with rho_inf above `sma_threshold` (beta_2 > 0.6
            for the threshold 4). Defaults to 0.999.
        epsilon: > 0. Defaults to 1e-7.
        epsilon_mode: `"outside"` (default) or `"hat"`, see above; 0.1.0's
            `"paper"` reads as `"outside"`.
        sma_threshold: the adaptive step is used while rho_t > sma_threshold;
            in [4, rho_inf). Defaults to 4.0, the paper's value
            (TensorFlow Addons: 5.0).
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=RAdam(1e-3), loss="mse")

    References:
        L. Liu, H. Jiang, P. He, W. Chen, X. Liu, J. Gao, J. Han, "On the
        Variance of the Adaptive Learning Rate and Beyond", ICLR 2020,
        arXiv:1908.03265, Algorithm 2.
    """

    hyperparameters = (
        spec.ADAPTIVE_LEARNING_RATE,
        spec.BETA_1,
        spec.BETA_2,
        spec.epsilon(1e-7, search=spec.EPSILON_SEARCH, paper_default=1e-8),
        spec.OUTSIDE_OR_HAT,
        # r_t is real only for rho_t > 4; below rho_inf (`_check_together`).
        spec.Hyperparameter("sma_threshold", "float", PAPER_SMA_THRESHOLD,
                            low=PAPER_SMA_THRESHOLD,
                            doc="adaptive steps while rho_t > this"),
    )

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        epsilon_mode="outside",
        sma_threshold=PAPER_SMA_THRESHOLD,
        name=None,
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate, name=name, arguments=locals(),
            **kwargs
        )

    def _check_together(self, checked):
        sma_threshold, beta_2 = checked["sma_threshold"], checked["beta_2"]
        limit = sma_length_limit(beta_2)
        if sma_threshold >= limit:
            raise ValueError(
                "`sma_threshold` must be below rho_inf = 2 / (1 - beta_2) - 1 "
                f"= {limit!r}, or the adaptive step is never taken. Received: "
                f"sma_threshold={sma_threshold!r}, beta_2={beta_2!r}"
            )

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def _rectification(self, dtype):
        """(rho_t > threshold, r_t) for the current step; r_t is 0 where the
        variance is intractable rather than the square root of a negative."""
        rho_inf = sma_length_limit(self.beta_2)
        rho_t = sma_length(self.beta_2, self.step_count("float64"))
        tractable = ops.greater(rho_t, self.sma_threshold)
        ratio = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf) / (
            (rho_inf - 4.0) * (rho_inf - 2.0) * rho_t
        )
        r_t = ops.sqrt(ops.where(tractable, ratio, 0.0))
        return tractable, ops.cast(r_t, dtype)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        bias_correction_1 = self.bias_correction(self.beta_1, dtype)
        bias_correction_2 = self.bias_correction(self.beta_2, dtype)

        self.assign_moving_average(v, ops.square(gradient), self.beta_2)
        self.assign_moving_average(m, gradient, self.beta_1)
        m_hat = ops.divide(m, bias_correction_1)
        tractable, r_t = self._rectification(dtype)
        if self.epsilon_mode == "outside":
            denominator = ops.add(
                ops.sqrt(ops.divide(v, bias_correction_2)), self.epsilon
            )
            adaptive = ops.divide(ops.multiply(m_hat, r_t), denominator)
        else:
            scale = r_t * ops.sqrt(bias_correction_2)
            adaptive = ops.divide(
                ops.multiply(m_hat, scale), ops.add(ops.sqrt(v), self.epsilon)
            )
        step = ops.where(tractable, adaptive, m_hat)
        self.assign_sub(variable, ops.multiply(step, lr))
