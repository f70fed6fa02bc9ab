"""Adan: adaptive Nesterov momentum."""

import warnings

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.registry import register
from keras_optlab.engine.sparse import densify


@register(
    "adan",
    description="Adaptive Nesterov momentum: moments of the gradient, of "
    "the gradient difference and of the squared Nesterov gradient; "
    "proximal weight decay.",
    reference="Xie, Zhou, Li, Lin and Yan, 2022, Adan: Adaptive Nesterov "
    "Momentum Algorithm for Faster Optimizing Deep Models",
    family="adam",
)
class Adan(OptlabOptimizer):
    """Adan (Xie et al. 2022, Algorithm 1, without the restart condition).

    Paper indices k = 0, 1, ... are our steps t = k + 1.

    Algorithm 1 of the first arXiv version, restated with the betas as
    decays of the old value (as in Adam and in the authors' released code;
    arXiv v1 writes 1 - beta for each of these):
    ```
    input: lr eta, beta_1, beta_2, beta_3 in [0, 1), epsilon,
           weight decay lambda >= 0
    k = 0 (first step):  m_0 = g_0,  v_0 = 0,  n_0 = g_0^2
    k = 1:               v_1 = g_1 - g_0
    for k = 0, 1, 2, ...
        g_k      = grad f(theta_k)
        m_k      = beta_1 * m_{k-1} + (1 - beta_1) * g_k                (k >= 1)
        v_k      = beta_2 * v_{k-1} + (1 - beta_2) * (g_k - g_{k-1})    (k >= 2)
        n_k      = beta_3 * n_{k-1}
                   + (1 - beta_3) * [g_k + beta_2 * (g_k - g_{k-1})]^2  (k >= 1)
        eta_k    = eta / sqrt(n_k + epsilon)       (epsilon_mode "inside")
        eta_k    = eta / (sqrt(n_k) + epsilon)     (epsilon_mode "outside")
        theta_{k+1} = [theta_k - eta_k * (m_k + beta_2 * v_k)]
                      / (1 + lambda * eta)
    ```

    The first step has no previous gradient: it uses the paper's
    initialisation m_0 = g_0, v_0 = 0, n_0 = g_0^2 (so the first step is
    eta * g_0 / sqrt(g_0^2 + epsilon), sign-like), and the second step sets
    v_1 to the first gradient difference g_1 - g_0 itself. No bias
    correction is needed, since no moment starts at zero (the authors' code
    starts the moments at zero and corrects them instead).

    Epsilon: Algorithm 1 puts it under the square root (`epsilon_mode=
    "inside"`, the default), which bounds the step by eta / sqrt(epsilon)
    times the moments where n is tiny. The authors' released code adds it
    after the root, as Adam does (`epsilon_mode="outside"`); choose that
    when porting a setting tuned with that code.

    Betas: defaults (0.98, 0.92, 0.99) as in the authors' code, optax, timm
    and pytorch_optimizer; arXiv v1's (0.02, 0.08, 0.01) weigh the new term
    and are the same values. keras_optlab 0.1.0 took the betas in that v1
    convention: `Adan(beta_1=b)` of 0.1.0 is `Adan(beta_1=1 - b)` now, and
    configs saved by 0.1.0 (without the `beta_convention` key) are converted
    on loading, with a warning.

    Weight decay is the paper's proximal form, a division by
    1 + lambda * eta after the step with eta the current learning rate
    (not Keras' subtraction lr * lambda * theta, which is not applied);
    `exclude_from_weight_decay` works as for any Keras optimizer.

    Args:
        learning_rate: eta; a non-negative float, a `LearningRateSchedule`,
            or a callable with no arguments. Defaults to 0.001.
        beta_1: decay of m_k, in [0, 1). Defaults to 0.98.
        beta_2: decay of v_k, and the weight of the gradient difference in
            the Nesterov term, in [0, 1). Defaults to 0.92.
        beta_3: decay of n_k, in [0, 1). Defaults to 0.99.
        epsilon: > 0. Defaults to 1e-8.
        epsilon_mode: `"inside"` (under the root, Algorithm 1) or
            `"outside"` (after the root, the authors' code). Defaults to
            `"inside"`; 0.1.0's `"paper"` reads as `"inside"`.
        weight_decay: lambda, >= 0, or None for none. Defaults to None.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Adan(1e-3, weight_decay=0.02), loss="mse")

    References:
        X. Xie, P. Zhou, H. Li, Z. Lin and S. Yan, "Adan: Adaptive Nesterov
        Momentum Algorithm for Faster Optimizing Deep Models",
        arXiv:2208.06677, 2022 (IEEE TPAMI 2024).
    """

    hyperparameters = (
        spec.ADAPTIVE_LEARNING_RATE,
        spec.beta("beta_1", 0.98, "decay of m, the gradient's average"),
        spec.beta("beta_2", 0.92, "decay of v, the gradient difference's "
                  "average", search=spec.BETA_2_SEARCH),
        spec.beta("beta_3", 0.99, "decay of n, the squared Nesterov "
                  "gradient's average"),
        spec.epsilon(1e-8, search=spec.EPSILON_SEARCH),
        spec.epsilon_mode("inside", ("inside", "outside"),
                          paper_means="inside",
                          doc="where epsilon goes: sqrt(n + eps) (inside) "
                          "or sqrt(n) + eps (outside)"),
        spec.weight_decay("lambda, coupled: proximal, theta / (1 + lr * "
                          "lambda)", search=spec.WEIGHT_DECAY_SEARCH),
    )
    couples_weight_decay = True

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.98,
        beta_2=0.92,
        beta_3=0.99,
        epsilon=1e-8,
        epsilon_mode="inside",
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

    # Written by get_config: configs without it come from 0.1.0, whose betas
    # weighed the new term (arXiv v1), and are converted in `from_config`.
    BETA_CONVENTION = "decay"

    def get_config(self):
        config = super().get_config()
        config["beta_convention"] = self.BETA_CONVENTION
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        convention = config.pop("beta_convention", None)
        if convention not in (None, cls.BETA_CONVENTION):
            raise ValueError(
                "Unknown Adan beta convention. Received: "
                f"beta_convention={convention!r}")
        old = [key for key in ("beta_1", "beta_2", "beta_3") if key in config]
        if convention is None and old:
            warnings.warn(
                "This Adan config comes from keras_optlab 0.1.0, whose betas "
                "weighed the new term (arXiv v1); converted to decays of the "
                "old value, beta -> 1 - beta: " + ", ".join(
                    f"{key}={config[key]!r} -> {1.0 - config[key]!r}"
                    for key in old) + ".", UserWarning, stacklevel=2)
            for key in old:
                config[key] = 1.0 - config[key]
        return super().from_config(config, custom_objects=custom_objects)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        (
            self._momentums,
            self._difference_momentums,
            self._second_moments,
            self._previous_gradients,
        ) = self.add_optimizer_variables(
            var_list,
            ["momentum", "difference_momentum", "second_moment",
             "previous_gradient"],
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        # The previous gradient must be written on every row, zeros included.
        gradient = ops.cast(densify(gradient), dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._difference_momentums[index]
        n = self._second_moments[index]
        previous = self._previous_gradients[index]
        t = self.step_count(dtype)

        def weight(first_value_at, beta):
            """1 - beta, or 1 on the step whose moment is initialised."""
            return ops.where(
                ops.equal(t, first_value_at),
                ops.convert_to_tensor(1.0, dtype=dtype),
                ops.convert_to_tensor(1.0 - beta, dtype=dtype),
            )

        # g_{-1} does not exist: the first difference is zero.
        difference = ops.where(
            t > 1.0, ops.subtract(gradient, previous), ops.zeros_like(gradient)
        )
        nesterov_gradient = ops.add(
            gradient, ops.multiply(difference, self.beta_2)
        )
        # x <- x + (1 - beta) * (new - x), 1 - beta being the weight of new.
        for average, new, weight_of_new in (
            (m, gradient, weight(1.0, self.beta_1)),
            (v, difference, weight(2.0, self.beta_2)),
            (n, ops.square(nesterov_gradient), weight(1.0, self.beta_3)),
        ):
            self.assign_add(
                average,
                ops.multiply(ops.subtract(new, average), weight_of_new),
            )

        if self.epsilon_mode == "inside":
            denominator = ops.sqrt(ops.add(n, self.epsilon))
        else:
            denominator = ops.add(ops.sqrt(n), self.epsilon)
        step = ops.divide(
            ops.multiply(ops.add(m, ops.multiply(v, self.beta_2)), lr),
            denominator,
        )
        self.assign_sub(variable, step)
        weight_decay = self.weight_decay_for(variable, dtype)
        if weight_decay is not None:
            self.assign(
                variable,
                ops.divide(variable, 1.0 + ops.multiply(lr, weight_decay)),
            )
        self.assign(previous, gradient)
