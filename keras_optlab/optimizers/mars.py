"""MARS: AdamW on a variance-reduced, clipped gradient."""

from keras import ops

from keras_optlab.engine.sparse import densify
from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import maximum
from keras_optlab.optimizers.base import ratio_or_one
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "mars",
    description="AdamW on c_t = g_t + gamma * beta_1 / (1 - beta_1) * "
    "(g_t - g_{t-1}), a variance-reduced gradient clipped to norm 1 per "
    "variable (the approximate MARS-AdamW).",
    reference="Yuan, Liu, Wu, Zhou and Gu, 2024, MARS: Unleashing the "
    "Power of Variance Reduction for Training Large Models",
    family="adam",
)
class MARS(OptlabOptimizer):
    """MARS-AdamW, the approximate form (Yuan et al. 2024, Algorithm 2).

    ```
    input: lr eta_t, beta_1, beta_2 in [0, 1), gamma >= 0, epsilon > 0,
           weight decay lambda;  m_0 = v_0 = 0
    for t = 1, 2, ...,  for each variable x
        g_t       = grad f(x_{t-1})
        c_t       = g_t + gamma * beta_1 / (1 - beta_1) * (g_t - g_{t-1})
                    (c_1 = g_1: no correction on the first step)
        c~_t      = c_t / ||c_t||  if ||c_t|| > 1,  else c_t
        m_t       = beta_1 * m_{t-1} + (1 - beta_1) * c~_t
        v_t       = beta_2 * v_{t-1} + (1 - beta_2) * c~_t^2
        m_hat_t   = m_t / (1 - beta_1^t),   v_hat_t = v_t / (1 - beta_2^t)
        x_t       = x_{t-1} - eta_t * (m_hat_t / (sqrt(v_hat_t) + epsilon)
                                       + lambda * x_{t-1})
    ```

    c_t is a STORM-style variance-reduced gradient: the exact MARS
    evaluates the stochastic gradient of the current batch at both x_t and
    x_{t-1}; the approximate form (the one the paper trains its models with,
    and the authors' default `is_approx=True`) uses the previous step's
    gradient g_{t-1} instead, kept as state (one more variable the size of
    x, so three in all). ||.|| is the Euclidean norm over the whole
    variable, so the clipping acts per variable (per tensor), as in the
    authors' code.

    First step: the paper's algorithm sets x_1 = x_0, so the exact
    correction of its first step is zero; with no g_0 we keep that: c_1 =
    g_1 (g_0 taken equal to g_1). After the update g_t is stored as
    g_{t-1} for the next step.

    Weight decay is decoupled and multiplied by the learning rate (lambda
    * x_{t-1} above): Keras' own `weight_decay`, which subtracts
    eta_t * lambda * x_{t-1} before the step; the step does not depend on
    x, so the two are the same.

    Deliberate differences:

    - From the authors' code (AGI-Arena/MARS, `MARS(mars_type=
      "mars-adamw")`) and pytorch_optimizer's `MARS(mars_type="adamw")`:
      their previous gradient starts at zero, so their first c_1 is
      (1 + gamma * beta_1 / (1 - beta_1)) * g_1 (then clipped); here c_1 =
      g_1. The moments after the first step differ by that factor where the
      clip does not act; later steps by what remains of it in m and v.
    - Both apply MARS only to some variables and plain AdamW, with their
      own `lr_1d`, `betas_1d` = (0.9, 0.95) and (authors' code only)
      `weight_decay_1d` = 0.1, to the others unless `optimize_1d=True`:
      the authors' code to every variable that is not 2-D (biases, norms,
      and also convolution kernels), pytorch_optimizer to the 1-D ones.
      Here MARS updates every variable, as the paper's algorithm; to give
      biases and norms other settings, train them with a second optimizer.
    - Not offered: `amsgrad`, `mars_type="mars-lion"` / `"mars-shampoo"`
      (other base optimizers), the exact (`is_approx=False`) form, which
      needs a second gradient of each batch.
    - ||c_t|| is computed from sums over g_t and g_{t-1}: with k = gamma *
      beta_1 / (1 - beta_1) and a = 1 + k, ||c_t||^2 = a^2 ||g_t||^2 -
      2 a k <g_t, g_{t-1}> + k^2 ||g_{t-1}||^2, so that c_t is formed only
      inside the elementwise updates of m and v (no temporary the size of
      the variable). It equals ||c_t||^2 up to rounding, which grows with
      k: where g_t is close to g_{t-1} the relative error of ||c_t||^2 is
      about (a^2 + k^2) times the float precision (about 2 at the default
      k = 0.475; 181 at k = 9, still 2e-5 in float32); it only moves the
      clip factor.

    Args:
        learning_rate: eta; a non-negative float, a `LearningRateSchedule`,
            or a callable with no arguments. Defaults to 0.003.
        beta_1: decay of the first moment, in [0, 1); also sets the weight
            of the correction. Defaults to 0.95.
        beta_2: decay of the second moment, in [0, 1). Defaults to 0.99.
        gamma: the scale of the gradient correction, >= 0 (0: AdamW on the
            gradient clipped to norm 1). Defaults to 0.025.
        epsilon: added to sqrt(v_hat), > 0. Defaults to 1e-8.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`
            (`weight_decay` is lambda).

    Example:
    >>> model.compile(optimizer=MARS(3e-3, weight_decay=0.01), loss="mse")

    References:
        H. Yuan, Y. Liu, S. Wu, X. Zhou and Q. Gu, "MARS: Unleashing the
        Power of Variance Reduction for Training Large Models",
        arXiv:2411.10438, 2024 (ICML 2025).
        The authors' code: https://github.com/AGI-Arena/MARS
    """

    hyperparameters = (
        spec.learning_rate(0.003, spec.FloatRange(1e-5, 1e-2, "log")),
        spec.beta("beta_1", 0.95, "decay of the first moment; the "
                  "correction's weight is gamma * beta_1 / (1 - beta_1)"),
        spec.beta("beta_2", 0.99, "decay of the second moment",
                  search=spec.BETA_2_SEARCH),
        spec.Hyperparameter("gamma", "float", 0.025, low=0.0,
                            search=spec.FloatRange(0.0, 0.1),
                            doc="scale of the gradient correction"),
        spec.epsilon(1e-8, doc="added to sqrt(v_hat)",
                     search=spec.EPSILON_SEARCH),
    )

    def __init__(
        self,
        learning_rate=0.003,
        beta_1=0.95,
        beta_2=0.99,
        gamma=0.025,
        epsilon=1e-8,
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
            self._momentums,
            self._velocities,
            self._previous_gradients,
        ) = self.add_optimizer_variables(
            var_list, ["momentum", "velocity", "previous_gradient"]
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        # The previous gradient must be written on every row, zeros included.
        gradient = ops.cast(densify(gradient), dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        previous = self._previous_gradients[index]

        # k = gamma * beta_1 / (1 - beta_1), 0 on the first step (c_1 = g_1).
        k = ops.where(
            ops.greater(self.step_count(dtype), 1.0),
            scalar(self.gamma * self.beta_1 / (1.0 - self.beta_1), dtype),
            scalar(0.0, dtype),
        )
        # c = g + k (g - g_prev) = a g - k g_prev with a = 1 + k, and
        # ||c||^2 = a^2 ||g||^2 - 2 a k <g, g_prev> + k^2 ||g_prev||^2, from
        # sums over g and g_prev: c itself is formed only in the updates.
        a = ops.add(scalar(1.0, dtype), k)
        c_squared_norm = ops.add(
            ops.subtract(
                ops.multiply(ops.square(a), self.squared_norm(gradient)),
                ops.multiply(ops.multiply(scalar(2.0, dtype),
                                          ops.multiply(a, k)),
                             self.dot(gradient, previous))),
            ops.multiply(ops.square(k), self.squared_norm(previous)),
        )
        # Rounding can leave a tiny negative where c is about 0.
        c_norm = ops.sqrt(maximum(c_squared_norm, scalar(0.0, dtype)))
        one = scalar(1.0, dtype)
        # 1 / ||c|| where ||c|| > 1, else 1: c~ = c * clip_scale.
        clip_scale = ratio_or_one(one, c_norm, ops.greater(c_norm, one))
        c = ops.multiply(
            ops.subtract(ops.multiply(gradient, a),
                         ops.multiply(previous, k)),
            clip_scale)

        self.assign_moving_average(m, c, self.beta_1)
        self.assign_moving_average(v, ops.square(c), self.beta_2)
        m_hat = ops.divide(m, self.bias_correction(self.beta_1, dtype))
        v_hat = ops.divide(v, self.bias_correction(self.beta_2, dtype))
        self.assign_sub(
            variable,
            ops.divide(ops.multiply(m_hat, lr),
                       ops.add(ops.sqrt(v_hat),
                               scalar(self.epsilon, dtype))),
        )
        self.assign(previous, gradient)
