"""D-Adapt SGD: learning-rate-free SGD with momentum by D-Adaptation."""

import math

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import DistanceEstimate
from keras_optlab.optimizers.base import grown_estimate
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "dadaptsgd",
    description="Learning-rate-free SGD: dual averaging whose step, d over "
    "the norm of the first gradient, grows with d, a lower bound on the "
    "distance to the solution (D-Adaptation); momentum as averaging; "
    "learning_rate multiplies d.",
    reference="Defazio and Mishchenko, 2023, Learning-Rate-Free Learning "
    "by D-Adaptation",
    family="sgd",
)
class DAdaptSGD(DistanceEstimate):
    """D-Adapt SGD (Defazio and Mishchenko, ICML 2023, the SGD box).

    ```
    input: d_0 > 0, x_0, momentum beta, gamma_k (learning rate, default 1),
           growth rate G; s_0 = 0, z_0 = x_0
    for k = 0, 1, ...
        g_k     = grad f(x_k)
        lambda_k = d_k gamma_k / ||g_0||
        s_{k+1} = s_k + lambda_k g_k
        z_{k+1} = z_k - lambda_k g_k
        x_{k+1} = beta x_k + (1 - beta) z_{k+1}
        dhat    = 2 sum_{i <= k} lambda_i <g_i, s_i> / ||s_{k+1}||
        d_{k+1} = max(d_k, min(dhat, G d_k))
    ```

    ||g_0|| and the sums run over ALL variables: d, ||g_0|| and the sum of
    lambda_i <g_i, s_i> are scalars for the whole model. ||g_0|| is taken
    from every gradient of the first step in the hook `gradients_of_step`
    (after the replicas' gradients are summed), before any variable moves;
    `update_step` does the per-variable work with d_k and keeps the
    variable's <g_k, s_k>; `after_updates` advances the sum and d, as
    `DAdaptAdam` and `Prodigy` do (`grown_estimate`, `sum_over`). Where
    ||s|| = 0 d stays.

    Options: `growth_rate` G (inf: the box), `d0` (1e-6), `momentum` beta
    (0: dual averaging itself), `weight_decay`: L2, lambda x added to the
    gradient (the authors' only form).

    Deliberate differences:
    - ||g_0|| is the norm of the first non-zero gradient: the paper stops
      where g_0 = 0 (x stays x_0), the authors' code divides by 0; here the
      parameters stay until a gradient is non-zero, then the rule starts.
    - From the authors' code (facebookresearch/dadaptation) and
      pytorch_optimizer's `DAdaptSGD`: z is updated as in the box,
      z -= lambda_k g_k (theirs: z = x_0 - s, the same up to rounding);
      their `momentum` defaults to 0, ours to 0.9; ||g_0|| leaves the L2
      decay out, as theirs does (their first step adds it to a copy).
      Their `log_every` and FSDP options are not offered; `optimizer.d`
      reads the estimate.

    Args:
        learning_rate: gamma_k, a multiplier on d; a non-negative float, a
            `LearningRateSchedule` or a callable. Defaults to 1.0.
        momentum: beta in [0, 1). Defaults to 0.9.
        d0: the initial estimate d_0, > 0. Defaults to 1e-6.
        growth_rate: G >= 1, or `math.inf`. Defaults to inf.
        weight_decay: lambda >= 0 (L2), or None. Defaults to None.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=DAdaptSGD(), loss="mse")
    >>> model.optimizer.d   # the current estimate, after some training

    References:
        A. Defazio and K. Mishchenko, "Learning-Rate-Free Learning by
        D-Adaptation", ICML 2023, arXiv:2301.07733.
    """

    hyperparameters = (
        spec.learning_rate(1.0, spec.FloatRange(1e-2, 10.0, "log"),
                           doc="gamma_k, a multiplier on d"),
        spec.Hyperparameter("momentum", "float", 0.9, 0.0, 1.0, "[)",
                            search=spec.FloatRange(0.5, 0.99),
                            doc="beta: x averages z with weight 1 - beta"),
        spec.Hyperparameter("d0", "float", 1e-6, 0.0, None, "()",
                            doc="the first estimate of d"),
        spec.Hyperparameter("growth_rate", "float", math.inf, 1.0, math.inf,
                            doc="the most d grows per step"),
        spec.weight_decay("lambda: g += lambda x (L2)",
                          search=spec.WEIGHT_DECAY_SEARCH),
    )
    couples_weight_decay = True
    reads_gradients_of_step = True

    def __init__(
        self,
        learning_rate=1.0,
        momentum=0.9,
        d0=1e-6,
        growth_rate=math.inf,
        weight_decay=None,
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
        self._gradient_sums, self._dual_iterates = (
            self.add_optimizer_variables(var_list, ["s", "z"])
        )
        self.build_distance_estimate(var_list)
        dtype = var_list[0].dtype if var_list else None
        self._first_gradient_norm = self.add_shared_scalar(
            "first_gradient_norm", dtype
        )

    def gradients_of_step(self, gradients):
        # ||g_0||: kept from the first step whose gradient is not zero.
        # Read as a tensor: jnp.where (JAX 0.10) refuses variables.
        norm = ops.convert_to_tensor(self._first_gradient_norm)
        dtype = norm.dtype
        squared = ops.sum(ops.stack([
            ops.cast(self.squared_norm(g), dtype) for g in gradients
        ]))
        self.assign(
            self._first_gradient_norm,
            ops.where(ops.greater(norm, 0), norm, ops.sqrt(squared)),
        )

    def _step_size(self, learning_rate, dtype):
        """lambda_k = d_k gamma_k / ||g_0||, 0 while ||g_0|| is 0."""
        norm = ops.cast(self._first_gradient_norm, dtype)
        defined = ops.greater(norm, 0)
        scale = ops.cast(self._d, dtype) * ops.cast(learning_rate, dtype)
        return ops.where(
            defined,
            ops.divide(scale, ops.where(defined, norm, 1.0)),
            ops.zeros_like(scale),
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient = ops.convert_to_tensor(ops.cast(gradient, dtype))
        index = self._get_variable_index(variable)
        s = self._gradient_sums[index]
        z = self._dual_iterates[index]
        weight_decay = self.weight_decay_for(variable, dtype)
        if weight_decay is not None:
            gradient = ops.add(gradient, ops.multiply(variable, weight_decay))
        step_size = self._step_size(learning_rate, dtype)

        self.keep_initial_value(z, variable)
        self.assign(self._inner_products[index], self.dot(gradient, s))
        self.assign_sub(z, ops.multiply(gradient, step_size))
        self.assign_add(s, ops.multiply(gradient, step_size))
        # x <- beta x + (1 - beta) z, written as a move towards z.
        self.assign_add(
            variable,
            ops.multiply(
                ops.subtract(z, variable), scalar(1.0 - self.momentum, dtype)
            ),
        )

    def after_updates(self, trainable_variables, learning_rate):
        # d_k has served every variable: now d_{k+1} from the sums over all.
        d = self._d
        dtype = d.dtype
        inner_product = self.sum_over(
            trainable_variables, lambda i: self._inner_products[i], dtype
        )
        s_norm = ops.sqrt(self.sum_over(
            trainable_variables,
            lambda i: self.squared_norm(self._gradient_sums[i]),
            dtype,
        ))
        step_size = self._step_size(learning_rate, dtype)
        numerator = ops.add(self._numerator, inner_product * step_size)
        self.assign(self._numerator, numerator)
        self.assign(
            d, grown_estimate(d, 2.0 * numerator, s_norm, self.growth_rate)
        )
