"""ADOPT: Adam normalising the gradient by the second moment of the past."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import maximum
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register

# c_t = t^(1/4): the clip schedule of the paper's final version.
PAPER_CLIP_EXPONENT = 0.25


@register(
    "adopt",
    description="Adam with the gradient normalised by v_{t-1} (before g_t "
    "enters it) and clipped at t^(1/4), then averaged into the momentum; "
    "the first call only sets v_0 = g_0^2.",
    reference="Taniguchi et al., 2024, ADOPT: Modified Adam Can Converge "
    "with Any beta_2 with the Optimal Rate",
    family="adam",
)
class ADOPT(OptlabOptimizer):
    """ADOPT (Taniguchi et al. 2024, the clipped algorithm of arXiv v3).

    ```
    input: lr_t, beta_1 in [0, 1), beta_2 in [0, 1), epsilon > 0,
           clip schedule c_t = t^clip_exponent (1/4)
    v_0 = g_0 * g_0;  m_0 = 0;  theta_0 unchanged     (the first call)
    for t = 1, 2, ...
        g_t     = grad f_t(theta_{t-1})
        g_hat_t = clip(g_t / max(sqrt(v_{t-1}), epsilon), -c_t, c_t)
        m_t     = beta_1 * m_{t-1} + (1 - beta_1) * g_hat_t
        theta_t = theta_{t-1} - lr_t * m_t
        v_t     = beta_2 * v_{t-1} + (1 - beta_2) * g_t^2
    ```

    Two changes to Adam give convergence at the optimal rate for any
    beta_2: the gradient is normalised by v_{t-1}, which does not contain
    g_t, and the normalisation comes before the momentum average. The
    clipping (final version of the paper, and the authors' code since
    November 2024) keeps a gradient that is large against a near-zero v_0
    (a zero-initialised layer) from making a huge first step; c_t growing as
    t^(1/4) keeps the convergence guarantee. There is no bias correction.

    The paper's g_0 is the gradient of the first call to `apply`: it only
    sets v_0, and the parameters do not move (Keras' `iterations` still
    counts the call, so a learning-rate schedule sees it). The update with
    g_t is the call after t earlier ones: t = `iterations` at that call, and
    the first update is clipped at c_1 = 1.

    Deliberate differences:

    - From the authors' PyTorch code (`torch-adopt`) and optax's `adopt`:
      none in the update (both do what the box says, with the same first
      call and c_t). `clip_exponent=None` is their `clip_lambda=None` /
      `use_clipping=False` (m_0 = 0 and the (1 - beta_1) weight also on the
      first update, as their current code; their code before the clipping
      set m_1 = g_1 / max(sqrt(v_0), epsilon)). Their other clip schedules
      (any callable) are not offered: t^clip_exponent only.
    - Weight decay: the paper has none. `weight_decay` here is Keras'
      decoupled decay, theta -= lr * weight_decay * theta before each
      update, also on the first call; the authors' `decouple=True` does
      not decay on that call, so the two trajectories differ by a factor
      (1 - lr * weight_decay) from then on. Their default, `decouple=False`
      (L2 added to the gradient), is not offered.
    - optax's `nesterov=True` is not offered.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.001.
        beta_1: decay of the momentum, in [0, 1). Defaults to 0.9.
        beta_2: decay of the second moment, in [0, 1). Defaults to 0.9999.
        epsilon: the floor of sqrt(v), > 0. Defaults to 1e-6.
        clip_exponent: the clip value is c_t = t^clip_exponent, >= 0, or
            None for no clipping. Defaults to 0.25 (the paper's t^(1/4)).
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=ADOPT(1e-3), loss="mse")

    References:
        S. Taniguchi, K. Harada, G. Minegishi, Y. Oshima, S. C. Jeong,
        G. Nagahara, T. Iiyama, M. Suzuki, Y. Iwasawa, Y. Matsuo, "ADOPT:
        Modified Adam Can Converge with Any beta_2 with the Optimal Rate",
        NeurIPS 2024, arXiv:2411.02853 (v3, with clipping).
        The authors' code: https://github.com/iShohei220/adopt
    """

    hyperparameters = (
        spec.ADAPTIVE_LEARNING_RATE,
        spec.BETA_1,
        spec.beta("beta_2", 0.9999, "decay of the second moment",
                  search=spec.BETA_2_SEARCH),
        spec.epsilon(1e-6, doc="the floor of sqrt(v): max(sqrt(v), eps)"),
        spec.Hyperparameter("clip_exponent", "float", PAPER_CLIP_EXPONENT,
                            low=0.0, optional=True,
                            doc="clip the normalised gradient at "
                            "t^clip_exponent (None: no clipping)"),
    )

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.9999,
        epsilon=1e-6,
        clip_exponent=PAPER_CLIP_EXPONENT,
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

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.convert_to_tensor(ops.cast(gradient, dtype))
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        # The first call (t = 0) only sets v_0 = g_0^2: there g_hat is 0,
        # so m stays 0 and theta does not move, and with v = 0 the weight 1
        # makes v + (g^2 - v) * 1 = g^2.
        initialising = ops.equal(self.iterations, 0)
        weight_2 = ops.where(initialising, scalar(1.0, dtype),
                             scalar(1.0 - self.beta_2, dtype))

        g_hat = ops.divide(
            gradient, maximum(ops.sqrt(v), scalar(self.epsilon, dtype))
        )
        if self.clip_exponent is not None:
            t = ops.cast(self.iterations, dtype)
            c = ops.power(t, scalar(self.clip_exponent, dtype))
            g_hat = ops.clip(g_hat, ops.negative(c), c)
        g_hat = ops.where(initialising, ops.zeros_like(g_hat), g_hat)
        self.assign_moving_average(m, g_hat, self.beta_1)
        self.assign_sub(variable, ops.multiply(m, lr))
        self.assign_add(
            v, ops.multiply(ops.subtract(ops.square(gradient), v), weight_2)
        )
