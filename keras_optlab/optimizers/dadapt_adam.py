"""D-Adapt Adam: learning-rate-free Adam by D-Adaptation."""

import math

import numpy as np
from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers import validation
from keras_optlab.optimizers.base import DistanceEstimate
from keras_optlab.optimizers.base import grown_estimate
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "dadaptadam",
    description="Learning-rate-free Adam: the step size d is a growing "
    "lower bound on the distance to the solution (D-Adaptation); "
    "learning_rate multiplies d.",
    reference="Defazio and Mishchenko, 2023, Learning-Rate-Free Learning "
    "by D-Adaptation",
    family="adam",
)
class DAdaptAdam(DistanceEstimate):
    """D-Adapt Adam (Defazio and Mishchenko, ICML 2023, the Adam box).

    ```
    input: d_0 > 0, x_0, beta_1, beta_2, epsilon, gamma_k (learning rate,
           default 1), growth rate G; s_0 = m_0 = v_0 = 0, r_0 = 0
    for k = 0, 1, ...
        g_k     = grad f(x_k)
        m_{k+1} = beta_1 m_k + (1 - beta_1) d_k gamma_k g_k
        v_{k+1} = beta_2 v_k + (1 - beta_2) g_k^2
        A_{k+1} = diag(sqrt(v_{k+1}) + epsilon)
        x_{k+1} = x_k - A_{k+1}^-1 m_{k+1}
                      - gamma_k d_k lambda x_k            (weight decay)
        s_{k+1} = sqrt(beta_2) s_k + (1 - sqrt(beta_2)) d_k gamma_k g_k
        r_{k+1} = sqrt(beta_2) r_k
                  + (1 - sqrt(beta_2)) d_k gamma_k <g_k, s_k>_{A_{k+1}^-1}
        dhat    = r_{k+1} / ((1 - sqrt(beta_2)) ||s_{k+1}||_1)
        d_{k+1} = max(d_k, min(dhat, G d_k))
    ```

    <a, b>_{A^-1} is sum(a * b / (sqrt(v) + epsilon)). The inner product
    and the l1 norm run over ALL variables: d and r are one pair of scalars
    for the whole model. `update_step` does the per-variable work with d_k
    and keeps the variable's share of <g_k, s_k>_{A^-1} (s_k is overwritten
    by s_{k+1}); `after_updates` then sums the shares and the l1 norms and
    advances r and d, as `Prodigy` does (the two share `grown_estimate`,
    `sum_over` and `adam_bias_correction`). Where ||s||_1 = 0 (no gradient
    yet) d stays.

    Options beyond the algorithm box:
    - `growth_rate` G (the authors' option): the most d grows per step;
      inf (the default) is the paper's rule.
    - `d0`: the first estimate (the paper's and authors' 1e-6).
    - `weight_decay` with `decouple=True` (the default here): AdamW-style,
      x -= gamma_k d_k lambda x (the authors' `decouple=True`; the
      effective step size replaces the learning rate, which here is only a
      multiplier); with `decouple=False`: L2, lambda x added to the
      gradient before everything else (the authors' default). Keras' own
      lr * lambda decay is not applied in either case.
    - `use_bias_correction=True`: gamma_k is replaced by gamma_k *
      sqrt(1 - beta_2^t) / (1 - beta_1^t) everywhere (the authors' option).

    Deliberate differences:
    - From the authors' code (facebookresearch/dadaptation, v3) and
      pytorch_optimizer's `DAdaptAdam`, which follows it: they weight
      <g_k, s_k> with the previous second moment, 1 / (sqrt(v_k) +
      epsilon), read before v is updated (their issue #38 notes it); here
      it is the box's A_{k+1} (v_{k+1}, as in the step). The step formula
      is the same; d differs from the second step on (the README gives
      measured values: on 60 random steps d is 0.029 here, 0.015 there). Their `decouple=False` default becomes
      `decouple=True` here (Keras' `weight_decay` is decoupled everywhere
      else). Their `layer_scale`, `fsdp_in_use` and `log_every` are not
      offered; `optimizer.d` reads the estimate.
    - From optax's `contrib.dadapt_adamw`: optax always applies the bias
      correction and has no growth rate; here both are options (off and
      inf by default, as in the paper's box).

    Args:
        learning_rate: gamma_k, a multiplier on d; a non-negative float, a
            `LearningRateSchedule` or a callable. Defaults to 1.0.
        beta_1: in [0, 1). Defaults to 0.9.
        beta_2: in [0, 1). Defaults to 0.999.
        epsilon: > 0 (at least float32's smallest normal number). Defaults
            to 1e-8.
        d0: the initial estimate d_0, > 0. Defaults to 1e-6.
        growth_rate: G >= 1, or `math.inf`. Defaults to inf.
        weight_decay: lambda >= 0, or None. Defaults to None.
        decouple: see above. Defaults to True.
        use_bias_correction: see above. Defaults to False.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=DAdaptAdam(), loss="mse")
    >>> model.optimizer.d   # the current estimate, after some training

    References:
        A. Defazio and K. Mishchenko, "Learning-Rate-Free Learning by
        D-Adaptation", ICML 2023, arXiv:2301.07733.
    """

    hyperparameters = (
        spec.learning_rate(1.0, spec.FloatRange(1e-2, 10.0, "log"),
                           doc="gamma_k, a multiplier on d"),
        spec.BETA_1,
        spec.BETA_2,
        spec.epsilon(1e-8, "added to sqrt(v)", search=spec.EPSILON_SEARCH),
        spec.Hyperparameter("d0", "float", 1e-6, 0.0, None, "()",
                            doc="the first estimate of d"),
        spec.Hyperparameter("growth_rate", "float", math.inf, 1.0, math.inf,
                            doc="the most d grows per step"),
        spec.weight_decay("lambda: x -= gamma_k d_k lambda x (decouple) or "
                          "g += lambda x", search=spec.WEIGHT_DECAY_SEARCH),
        spec.Hyperparameter("decouple", "bool", True,
                            doc="decoupled (AdamW) weight decay, else L2 "
                            "(the authors' default)"),
        spec.Hyperparameter("use_bias_correction", "bool", False,
                            doc="Adam's bias correction of gamma_k"),
    )
    couples_weight_decay = True

    def __init__(
        self,
        learning_rate=1.0,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        d0=1e-6,
        growth_rate=math.inf,
        weight_decay=None,
        decouple=True,
        use_bias_correction=False,
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
        if not validation.positive_in_float32(np.float32(checked["epsilon"])):
            # sqrt(v) + epsilon is 0 on a zero gradient: 0 / 0 = NaN.
            raise ValueError(
                "`epsilon` must be at least "
                f"{validation.FLOAT32_TINY:.4g} (float32's smallest normal "
                "number): the step divides by sqrt(v) + epsilon. "
                f"Received: epsilon={checked['epsilon']!r}"
            )

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities, self._gradient_sums = (
            self.add_optimizer_variables(
                var_list, ["momentum", "velocity", "s"]
            )
        )
        self.build_distance_estimate(var_list)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = ops.convert_to_tensor(ops.cast(gradient, dtype))
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        s = self._gradient_sums[index]
        step_size = ops.cast(self._d, dtype) * self._step_scale(
            learning_rate, dtype
        )
        sqrt_beta_2 = math.sqrt(self.beta_2)
        weight_decay = self.weight_decay_for(variable, dtype)
        if weight_decay is not None and not self.decouple:
            gradient = ops.add(gradient, ops.multiply(variable, weight_decay))

        self.assign_moving_average(v, ops.square(gradient), self.beta_2)
        denominator = ops.add(ops.sqrt(v), scalar(self.epsilon, dtype))
        self.assign(
            self._inner_products[index],
            self.dot(s, ops.divide(gradient, denominator)),
        )
        self.assign_moving_average(
            m, ops.multiply(gradient, step_size), self.beta_1
        )
        self.assign_moving_average(
            s, ops.multiply(gradient, step_size), sqrt_beta_2
        )
        if weight_decay is not None and self.decouple:
            self.assign_sub(
                variable, ops.multiply(variable, step_size * weight_decay)
            )
        self.assign_sub(variable, ops.divide(m, denominator))

    def after_updates(self, trainable_variables, learning_rate):
        # d_k has served every variable: now r_{k+1} and d_{k+1} from the
        # sums over all.
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
        sqrt_beta_2 = math.sqrt(self.beta_2)
        step_size = d * self._step_scale(learning_rate, dtype)
        numerator = ops.add(
            ops.multiply(self._numerator, sqrt_beta_2),
            inner_product * step_size * (1.0 - sqrt_beta_2),
        )
        self.assign(self._numerator, numerator)
        self.assign(
            d,
            grown_estimate(
                d, numerator, s_norm * (1.0 - sqrt_beta_2), self.growth_rate
            ),
        )
