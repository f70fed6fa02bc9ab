"""AdEMAMix: Adam with a mixture of a fast and a slow gradient average."""

import math

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import maximum
from keras_optlab.optimizers.base import minimum
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "ademamix",
    description="Adam whose numerator adds alpha times a slow, "
    "uncorrected EMA of the gradient (beta_3 ~ 0.9999) to the fast one; "
    "optional warm-up schedulers for alpha and beta_3.",
    reference="Pagliardini, Ablin and Grangier, 2024, The AdEMAMix "
    "Optimizer: Better, Faster, Older",
    family="adam",
)
class AdEMAMix(OptlabOptimizer):
    """AdEMAMix (Pagliardini, Ablin and Grangier, Algorithm 1).

    ```
    input: lr eta_t, beta_1, beta_2, beta_3, alpha, epsilon, weight decay
           lambda, T = T_{alpha,beta_3} (warmup_steps);  m_1 = m_2 = nu = 0
    for t = 1, 2, ...
        beta_3(t) = f_beta3(t, beta_3, beta_start = beta_1, T)
        alpha(t)  = f_alpha(t, alpha, T)
        g   = grad f(theta_{t-1})
        m_1 = beta_1 * m_1 + (1 - beta_1) * g              (fast EMA)
        m_2 = beta_3(t) * m_2 + (1 - beta_3(t)) * g        (slow EMA)
        nu  = beta_2 * nu + (1 - beta_2) * g^2
        m_1_hat = m_1 / (1 - beta_1^t),  nu_hat = nu / (1 - beta_2^t)
        theta_t = theta_{t-1} - eta_t * ((m_1_hat + alpha(t) * m_2)
                                         / (sqrt(nu_hat) + epsilon)
                                         + lambda * theta_{t-1})
    schedulers, with warmup_steps = T:
        f_alpha(t)  = min(t * alpha / T, alpha)
        f_beta3(t)  = min(exp(ln(beta_start) * ln(beta_3)
                              / ((1 - t/T) * ln(beta_3) + (t/T) * ln(beta_start))),
                          beta_3)
    ```

    The slow EMA m_2 is not bias-corrected (the paper's choice: it starts
    at zero and alpha * m_2 grows in gently). f_beta3 moves the half-life
    of m_2 linearly from beta_1's to beta_3's, so the slow average does not
    hold the large early gradients for tens of thousands of steps; the
    paper warms both up over the whole run (T = the number of steps) or a
    large part of it for large beta_3. With `warmup_steps=None` (default)
    there is no scheduler: beta_3(t) = beta_3, alpha(t) = alpha. From t = T
    on both stay at their final values (what the min of the paper's
    formulas gives for beta_1 <= beta_3; the authors' code does the same).
    beta_1 = 0 with a scheduler is the formula's limit, beta_3^(T/t).

    Weight decay is decoupled and multiplied by the learning rate, as in
    AdamW (lambda * theta_{t-1} inside the step above): Keras' own
    `weight_decay`, which subtracts eta_t * lambda * theta_{t-1} before the
    step; the step does not depend on theta, so the two are the same.

    Differences from the authors' code (apple/ml-ademamix), deliberate:
    - one `warmup_steps` for both schedulers, as Algorithm 1's single
      T_{alpha,beta_3}; their PyTorch class takes `alpha_warmup` and
      `beta3_warmup` apart (pass the same value to compare).
    - their PyTorch f_beta3 adds 1e-8 inside ln(beta); we use the formula
      as printed (the two differ by about 1e-8 relative in beta_3(t)).
    - their optax version evaluates the schedulers at t - 1 (alpha = 0 on
      the first step); the paper and their PyTorch class at t, as we do.
    - defaults: alpha = 5.0 here, the paper's value for its language
      models (PyTorch class: 2.0; optax: 5.0).

    Args:
        learning_rate: eta; a non-negative float, a `LearningRateSchedule`,
            or a callable with no arguments. Defaults to 0.001.
        beta_1: decay of the fast EMA m_1, in [0, 1). Defaults to 0.9.
        beta_2: decay of nu, in [0, 1). Defaults to 0.999.
        beta_3: (final) decay of the slow EMA m_2, in [0, 1). Defaults to
            0.9999.
        alpha: (final) weight of m_2, >= 0. Defaults to 5.0.
        epsilon: > 0, added to sqrt(nu_hat). Defaults to 1e-8.
        warmup_steps: T_{alpha,beta_3}, an integer >= 1, or None for no
            schedulers. Defaults to None.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`
            (`weight_decay` is lambda).

    Example:
    >>> model.compile(optimizer=AdEMAMix(1e-3, warmup_steps=num_steps,
    ...                                  weight_decay=0.1), loss="mse")

    References:
        M. Pagliardini, P. Ablin and D. Grangier, "The AdEMAMix Optimizer:
        Better, Faster, Older", arXiv:2409.03137, 2024 (ICLR 2025).
    """

    hyperparameters = (
        spec.ADAPTIVE_LEARNING_RATE,
        spec.BETA_1,
        spec.BETA_2,
        spec.beta("beta_3", 0.9999, "(final) decay of the slow EMA m_2"),
        spec.Hyperparameter("alpha", "float", 5.0, low=0.0,
                            doc="(final) weight of the slow EMA m_2"),
        spec.epsilon(1e-8, search=spec.EPSILON_SEARCH),
        spec.Hyperparameter("warmup_steps", "int", None, low=1,
                            optional=True,
                            doc="T of the alpha and beta_3 schedulers; None: "
                            "none"),
    )

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        beta_3=0.9999,
        alpha=5.0,
        epsilon=1e-8,
        warmup_steps=None,
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
        (
            self._fast_momentums,
            self._slow_momentums,
            self._velocities,
        ) = self.add_optimizer_variables(
            var_list, ["fast_momentum", "slow_momentum", "velocity"]
        )

    def _slow_weight_and_alpha(self, dtype):
        """(1 - beta_3(t), alpha(t)) as tensors of `dtype`, computed in at
        least float32 (1 - beta_3 is 1e-4 at the default)."""
        if self.warmup_steps is None:
            return (scalar(1.0 - self.beta_3, dtype),
                    scalar(self.alpha, dtype))
        exact = "float64" if dtype == "float64" else "float32"
        t = self.step_count(exact)
        T = scalar(float(self.warmup_steps), exact)
        fraction = t / T
        # ln beta_3(t) = ln(b_s) ln(b_3) / ((1 - t/T) ln(b_3) + t/T ln(b_s)),
        # written as 1 / ((1 - t/T) / ln(b_s) + (t/T) / ln(b_3)): the same,
        # and finite for b_s = 0 (1 / ln 0 = -0).
        log_beta = 1.0 / (
            (1.0 - fraction) * scalar(_reciprocal_log(self.beta_1), exact)
            + fraction * scalar(_reciprocal_log(self.beta_3), exact)
        )
        final_weight = scalar(1.0 - self.beta_3, exact)
        # 1 - min(exp(ln beta), beta_3) = max(-expm1(ln beta), 1 - beta_3).
        weight = ops.where(
            fraction < 1.0,
            maximum(ops.negative(ops.expm1(log_beta)), final_weight),
            final_weight,
        )
        alpha = scalar(self.alpha, exact)
        alpha_t = minimum(t * alpha / T, alpha)
        return ops.cast(weight, dtype), ops.cast(alpha_t, dtype)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m_1 = self._fast_momentums[index]
        m_2 = self._slow_momentums[index]
        nu = self._velocities[index]
        slow_weight, alpha = self._slow_weight_and_alpha(dtype)

        self.assign_moving_average(m_1, gradient, self.beta_1)
        # m_2 <- beta_3(t) m_2 + (1 - beta_3(t)) g, as an increment.
        self.assign_add(
            m_2, ops.multiply(ops.subtract(gradient, m_2), slow_weight)
        )
        self.assign_moving_average(nu, ops.square(gradient), self.beta_2)
        m_1_hat = ops.divide(m_1, self.bias_correction(self.beta_1, dtype))
        nu_hat = ops.divide(nu, self.bias_correction(self.beta_2, dtype))
        self.assign_sub(
            variable,
            ops.divide(
                ops.multiply(ops.add(m_1_hat, ops.multiply(m_2, alpha)), lr),
                ops.add(ops.sqrt(nu_hat), scalar(self.epsilon, dtype)),
            ),
        )


def _reciprocal_log(beta):
    """1 / ln(beta) for beta in [0, 1): -0.0 at beta = 0."""
    return -0.0 if beta == 0.0 else 1.0 / math.log(beta)
