"""AdaBound: Adam whose step sizes are clipped into bounds that tighten to
SGD's."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import maximum
from keras_optlab.optimizers.registry import register


@register(
    "adabound",
    description="Adam with per-coordinate step sizes clipped into "
    "[eta_l(t), eta_u(t)], bounds closing in on final_lr (SGD); optional "
    "AMSBound.",
    reference="Luo, Xiong, Liu and Sun, 2019, Adaptive Gradient Methods "
    "with Dynamic Bound of Learning Rate",
    family="adam",
)
class AdaBound(OptlabOptimizer):
    """AdaBound and AMSBound (Luo et al., ICLR 2019, Algorithms 2 and 3).

    ```
    input: lr alpha, final_lr, gamma > 0, beta_1, beta_2, epsilon;
           m_0 = v_0 = 0
    for t = 1, 2, ...
        g_t      = grad f(theta_{t-1})
        m_t      = beta_1 * m_{t-1} + (1 - beta_1) * g_t
        v_t      = beta_2 * v_{t-1} + (1 - beta_2) * g_t^2
        if amsbound: v_t = max(v_max_{t-1}, v_t) =: v_max_t
        alpha_t  = lr_t * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        final_t  = final_lr * lr_t / max(lr_1, ..., lr_t)
        eta_l(t) = final_t * (1 - 1 / (gamma * t + 1))
        eta_u(t) = final_t * (1 + 1 / (gamma * t))
        eta_t    = clip(alpha_t / (sqrt(v_t) + epsilon), eta_l(t), eta_u(t))
        theta_t  = theta_{t-1} - eta_t * m_t
    ```

    With final_lr = 0.1 and gamma = 1 - beta_2 the bounds are exactly the
    paper's eta_l(t) = 0.1 - 0.1 / ((1 - beta_2) t + 1) and eta_u(t) =
    0.1 + 0.1 / ((1 - beta_2) t) (section 5); `final_lr` and `gamma` are the
    two knobs of the authors' released formulation. Early on the interval is
    [0, inf) and the method is Adam; as t grows both bounds tend to final_t
    and the step tends to SGD with momentum, eta_t * m_t -> final_t * m_t.

    What is implemented, precisely, where it differs from the algorithm box:
    - The box's eta_t / sqrt(t) decay (from the convex regret analysis) is
      not applied, as in the paper's experiments and the authors' code: a
      learning-rate schedule does that job here.
    - Adam's bias correction enters alpha_t (so the first steps equal Adam's
      with epsilon_mode="hat"), as in the authors' code.
    - The bounds follow the learning-rate schedule: final_t = final_lr *
      lr_t / (largest lr seen so far), i.e. final_lr with a constant learning
      rate, decaying with a schedule after its peak (warm-up does not
      shrink it). The authors scale by lr_t / initial lr; the running peak
      gives the same for a decaying schedule and stays defined when a
      warm-up starts at 0.
    - Weight decay is Keras' decoupled one (`weight_decay=`), not the L2
      term the authors' code adds to g_t.

    Args:
        learning_rate: alpha; a non-negative float, a `LearningRateSchedule`,
            or a callable with no arguments. Defaults to 0.001.
        final_lr: the SGD learning rate the bounds converge to, >= 0.
            Defaults to 0.1.
        gamma: the convergence speed of the bounds, > 0. Defaults to 1e-3.
        beta_1: in [0, 1). Defaults to 0.9.
        beta_2: in [0, 1). Defaults to 0.999.
        epsilon: > 0. Defaults to 1e-8.
        amsbound: use the running maximum of v_t (AMSBound). Defaults to
            False.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=AdaBound(1e-3, final_lr=0.1), loss="mse")

    References:
        L. Luo, Y. Xiong, Y. Liu and X. Sun, "Adaptive Gradient Methods with
        Dynamic Bound of Learning Rate", ICLR 2019, arXiv:1902.09843.
    """

    hyperparameters = (
        spec.ADAPTIVE_LEARNING_RATE,
        spec.Hyperparameter("final_lr", "float", 0.1, low=0.0,
                            doc="the SGD rate the bounds close on"),
        spec.Hyperparameter("gamma", "float", 1e-3, 0.0, None, "()",
                            doc="how fast the bounds close"),
        spec.BETA_1,
        spec.BETA_2,
        spec.epsilon(1e-8, search=spec.EPSILON_SEARCH),
        spec.Hyperparameter("amsbound", "bool", False,
                            doc="use the running maximum of v_t"),
    )

    def __init__(
        self,
        learning_rate=0.001,
        final_lr=0.1,
        gamma=1e-3,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsbound=False,
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
        if self.amsbound:
            self._velocity_maxima = self.add_optimizer_variables(
                var_list, "velocity_max"
            )
        self._peak_learning_rate = self.add_shared_scalar(
            "peak_learning_rate", dtype=var_list[0].dtype if var_list else None
        )

    def before_updates(self, learning_rate):
        peak = self._peak_learning_rate
        lr = ops.cast(learning_rate, peak.dtype)
        self.assign(peak, maximum(peak, lr))

    def bounds(self, learning_rate, dtype):
        """(eta_l(t), eta_u(t)) for the current step t, `dtype` tensors."""
        lr = ops.cast(learning_rate, dtype)
        peak = ops.cast(self._peak_learning_rate, dtype)
        # A learning rate of 0 so far means no step at all.
        schedule_ratio = ops.where(
            peak > 0, ops.divide(lr, maximum(peak, lr)), ops.zeros_like(lr)
        )
        final = ops.multiply(schedule_ratio, self.final_lr)
        gamma_t = ops.multiply(self.step_count(dtype), self.gamma)
        lower = ops.multiply(final, 1.0 - 1.0 / (gamma_t + 1.0))
        upper = ops.multiply(final, 1.0 + 1.0 / gamma_t)
        return lower, upper

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]

        self.assign_moving_average(m, gradient, self.beta_1)
        self.assign_moving_average(v, ops.square(gradient), self.beta_2)
        if self.amsbound:
            v_max = self._velocity_maxima[index]
            self.assign(v_max, maximum(v_max, v))
            v = v_max
        alpha = (
            lr
            * ops.sqrt(self.bias_correction(self.beta_2, dtype))
            / self.bias_correction(self.beta_1, dtype)
        )
        lower, upper = self.bounds(learning_rate, dtype)
        step_size = ops.clip(
            ops.divide(alpha, ops.add(ops.sqrt(v), self.epsilon)), lower, upper
        )
        self.assign_sub(variable, ops.multiply(step_size, m))
