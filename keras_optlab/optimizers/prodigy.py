"""Prodigy: learning-rate-free Adam that estimates the distance to the
solution."""

import math

import numpy as np
from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers import validation
from keras_optlab.optimizers.base import DistanceEstimate
from keras_optlab.optimizers.base import grown_estimate
from keras_optlab.optimizers.registry import register


@register(
    "prodigy",
    description="Learning-rate-free Adam: the step size d is a growing "
    "estimate of the distance to the solution; learning_rate multiplies d.",
    reference="Mishchenko and Defazio, 2023, Prodigy: An Expeditiously "
    "Adaptive Parameter-Free Learner",
    family="adam",
)
class Prodigy(DistanceEstimate):
    """Prodigy, Adam version (Mishchenko and Defazio, Algorithm 4).

    ```
    input: d_0 > 0, x_0, beta_1, beta_2, beta_3 (paper: sqrt(beta_2)),
           epsilon, gamma_k (learning rate, default 1), growth rate G;
           r_0 = 0, s_0 = m_0 = v_0 = 0
    for k = 0, 1, ...
        g_k     = grad f(x_k)
        m_{k+1} = beta_1 * m_k + (1 - beta_1) * d_k * g_k
        v_{k+1} = beta_2 * v_k + (1 - beta_2) * d_k^2 * g_k^2
        r_{k+1} = beta_3 * r_k + (1 - beta_3) * gamma_k * d_k^2 * <g_k, x_0 - x_k>
        s_{k+1} = beta_3 * s_k + (1 - beta_3) * gamma_k * d_k^2 * g_k
        dhat    = r_{k+1} / ||s_{k+1}||_1
        d_{k+1} = max(d_k, min(dhat, G * d_k))
        x_{k+1} = x_k - gamma_k * d_k * m_{k+1} / (sqrt(v_{k+1}) + d_k * epsilon)
                      - gamma_k * d_k * lambda * x_k          (weight decay)
    ```

    The inner product and the l1 norm run over ALL variables: d and r are
    one pair of scalars for the whole model. Per variable the state is m, v,
    s and x_0 plus the
    scalar <g_k, x_0 - x_k> of the current step; x_0 is the value at the
    first update. `update_step` does all
    per-variable work with d_k; once every variable is updated, d and r are
    advanced from the sums (`after_updates`), so the rule works
    unchanged in `model.fit`, `tf.function` and under a distribution
    strategy. With G = inf (the default) the min is the paper's rule; where
    ||s||_1 = 0 (all gradients zero so far) d stays.

    Options beyond the algorithm box, all off by default (the paper's rule):
    - `weight_decay`: decoupled, x -= gamma_k * d_k * lambda * x (the
      effective step size replaces the learning rate, which here is only a
      multiplier); Keras' own lr * lambda decay is not applied.
    - `use_bias_correction=True`: gamma_k is replaced by gamma_k *
      sqrt(1 - beta_2^t) / (1 - beta_1^t) everywhere (Adam's correction;
      the authors' `use_bias_correction`).
    - `safeguard_warmup=True`: s is accumulated without gamma_k (and without
      the bias correction), so a learning-rate warm-up cannot inflate dhat
      (the authors' `safeguard_warmup`).
    - `growth_rate` G: bounds the growth of d per step.

    With bfloat16 (or float16) parameters, steps of size d0 = 1e-6 are
    below the parameters' resolution (bfloat16 resolves 1/128 at 1.0): the
    parameters never move and d cannot grow. Use a d0 near that resolution,
    e.g. `d0=1e-2`, or keep float32 parameters.

    Args:
        learning_rate: gamma_k, a multiplier on d; a non-negative float, a
            `LearningRateSchedule` (e.g. cosine decay) or a callable.
            Defaults to 1.0; leave it there unless scheduling.
        beta_1: in [0, 1). Defaults to 0.9.
        beta_2: in [0, 1). Defaults to 0.999.
        beta_3: decay of r and s, in [0, 1), or None for sqrt(beta_2).
            Defaults to None.
        epsilon: > 0. Defaults to 1e-8.
        d0: the initial estimate d_0, > 0; `d0 * epsilon` must be at least
            float32's smallest normal number, about 1.2e-38. Defaults to 1e-6.
        growth_rate: G >= 1, or `math.inf`. Defaults to inf.
        weight_decay: lambda >= 0, or None. Defaults to None.
        use_bias_correction: see above. Defaults to False.
        safeguard_warmup: see above. Defaults to False.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Prodigy(), loss="mse")
    >>> model.optimizer.d   # the current estimate, after some training

    References:
        K. Mishchenko and A. Defazio, "Prodigy: An Expeditiously Adaptive
        Parameter-Free Learner", ICML 2024, arXiv:2306.06101.
    """

    hyperparameters = (
        spec.learning_rate(1.0, spec.FloatRange(1e-5, 1e-2, "log")),
        spec.BETA_1,
        spec.BETA_2,
        spec.beta("beta_3", None, "decay of r and s; None: sqrt(beta_2)",
                  optional=True),
        spec.epsilon(1e-8, "added to sqrt(v) times d",
                     search=spec.EPSILON_SEARCH),
        spec.Hyperparameter("d0", "float", 1e-6, 0.0, None, "()",
                            doc="the first estimate of d"),
        spec.Hyperparameter("growth_rate", "float", math.inf, 1.0, math.inf,
                            doc="the most d grows per step"),
        spec.weight_decay("lambda, in the rule: x -= gamma_k d_k lambda x",
                          search=spec.WEIGHT_DECAY_SEARCH),
        spec.Hyperparameter("use_bias_correction", "bool", False,
                            doc="Adam-style bias correction of d"),
        spec.Hyperparameter("safeguard_warmup", "bool", False,
                            doc="leave the learning rate out of d's update"),
    )
    couples_weight_decay = True

    def __init__(
        self,
        learning_rate=1.0,
        beta_1=0.9,
        beta_2=0.999,
        beta_3=None,
        epsilon=1e-8,
        d0=1e-6,
        growth_rate=math.inf,
        weight_decay=None,
        use_bias_correction=False,
        safeguard_warmup=False,
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

    def _check_together(self, checked):
        d0, epsilon = checked["d0"], checked["epsilon"]
        if not validation.positive_in_float32(
            np.float32(d0) * np.float32(epsilon)
        ):
            # d only grows, so d * epsilon >= d0 * epsilon; if that product
            # is 0 in float32 (TensorFlow flushes subnormals), the step
            # sqrt(v) + d * epsilon is 0 on a zero gradient: 0 / 0 = NaN.
            raise ValueError(
                "`d0 * epsilon` must be at least "
                f"{validation.FLOAT32_TINY:.4g} (float32's smallest normal "
                "number): the step divides by sqrt(v) + d * epsilon. "
                f"Received: d0={d0!r}, epsilon={epsilon!r}"
            )

    @property
    def _decay_rs(self):
        """beta_3 as used: sqrt(beta_2) unless given."""
        return math.sqrt(self.beta_2) if self.beta_3 is None else self.beta_3

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        (
            self._momentums,
            self._velocities,
            self._gradient_sums,
            self._initial_values,
        ) = self.add_optimizer_variables(
            var_list, ["momentum", "velocity", "s", "x0"]
        )
        self.build_distance_estimate(var_list)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = ops.convert_to_tensor(ops.cast(gradient, dtype))
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        s = self._gradient_sums[index]
        d = ops.cast(self._d, dtype)
        gamma = self._step_scale(learning_rate, dtype)
        beta_3 = self._decay_rs

        x0 = self._initial_values[index]
        self.keep_initial_value(x0, variable)
        inner_product = self.dot(gradient, ops.subtract(x0, variable))
        self.assign(self._inner_products[index], inner_product)
        s_scale = d * d if self.safeguard_warmup else gamma * d * d
        self.assign(
            s,
            ops.add(
                ops.multiply(s, beta_3),
                ops.multiply(gradient, s_scale * (1.0 - beta_3)),
            ),
        )
        self.assign_moving_average(m, ops.multiply(gradient, d), self.beta_1)
        self.assign_moving_average(
            v, ops.square(ops.multiply(gradient, d)), self.beta_2
        )
        step_size = gamma * d
        weight_decay = self.weight_decay_for(variable, dtype)
        if weight_decay is not None:
            self.assign_sub(
                variable, ops.multiply(variable, step_size * weight_decay)
            )
        self.assign_sub(
            variable,
            ops.divide(
                ops.multiply(m, step_size),
                ops.add(ops.sqrt(v), d * self.epsilon),
            ),
        )

    def after_updates(self, trainable_variables, learning_rate):
        # d_k has served every variable: now d_{k+1} from the sums over all.
        d = self._d
        dtype = d.dtype
        inner_product = self.sum_over(
            trainable_variables, lambda i: self._inner_products[i], dtype
        )
        s_norm = self.sum_over(
            trainable_variables,
            lambda i: self.l1_norm(self._gradient_sums[i]),
            dtype,
        )
        beta_3 = self._decay_rs
        gamma = self._step_scale(learning_rate, dtype)
        numerator = ops.add(
            ops.multiply(self._numerator, beta_3),
            inner_product * gamma * d * d * (1.0 - beta_3),
        )
        self.assign(self._numerator, numerator)
        self.assign(d, grown_estimate(d, numerator, s_norm, self.growth_rate))
