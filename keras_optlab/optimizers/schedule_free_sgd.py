"""Schedule-Free SGD, and what the Schedule-Free family shares
(`ScheduleFree`: the y, z, x sequences and the averaging weight c)."""

import numpy as np
from keras import ops

from keras_optlab.engine.sparse import densify
from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import maximum
from keras_optlab.optimizers.base import minimum
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register

# Rows the three classes share.
WARMUP_STEPS = spec.Hyperparameter(
    "warmup_steps", "int", 0, low=0,
    doc="linear warm-up of the learning rate over this many steps",
)
R = spec.Hyperparameter(
    "r", "float", 0.0, low=0.0,
    doc="polynomial weighting t^r of the average x",
)
WEIGHT_LR_POWER = spec.Hyperparameter(
    "weight_lr_power", "float", 2.0, low=0.0,
    doc="weights of the average x proportional to lr_max^power",
)


def interpolation(name, default, doc):
    """beta (the momentum): y = (1 - beta) z + beta x, in (0, 1) so that x
    is recoverable from y and z."""
    return spec.Hyperparameter(name, "float", default, 0.0, 1.0, "()",
                               doc=doc)


class ScheduleFree(OptlabOptimizer):
    """What the Schedule-Free rules share (Defazio et al. 2024).

    The model's variables hold y, the point where gradients are taken; the
    state holds z (the base optimizer's iterate), and x (the average, the
    point to evaluate) is y and z combined: x = (y - (1 - beta) z) / beta.
    A subclass gives the scheduled learning rate gamma_t
    (`_scheduled_learning_rate`) and the step direction d_t (`_direction`,
    the gradient or its Adam normalisation); then, with lambda the weight
    decay evaluated at y:

    ```
    lr_max  = max(lr_max, gamma_t)
    w_t     = t^r * lr_max^weight_lr_power;   W_t = W_{t-1} + w_t
    c_{t+1} = w_t / W_t                          (0 while W_t = 0)
    d_t     = d_t + lambda * y_t
    z_{t+1} = z_t - gamma_t * d_t
    x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}
    y_{t+1} = (1 - beta) z_{t+1} + beta x_{t+1}
            = (1 - c_{t+1}) y_t + c_{t+1} z_{t+1}
              - gamma_t (1 - beta) (1 - c_{t+1}) d_t
    ```

    The weights' sum is kept as q_t = W_t / w_t (c_{t+1} = 1 / q_t), so
    that t^r cannot overflow. The last line is the one computed, after z
    (no division by beta, x never stored; the authors' code writes the
    same y from z_t before updating z). z_1 = x_1 = y_1 is the variable's
    value at the first update.
    """

    couples_weight_decay = True

    # The name of the row that holds beta.
    _interpolation_name = "momentum"

    @property
    def interpolation(self):
        """beta: y = (1 - beta) z + beta x."""
        return getattr(self, self._interpolation_name)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        (self._z,) = self.add_optimizer_variables(var_list, ["z"])
        self._build_moments(var_list)
        dtype = var_list[0].dtype if var_list else None
        self._lr_max = self.add_shared_scalar("lr_max", dtype)
        # W_t / w_t, the sum of the weights of the average relative to the
        # last one (see `_averaging`).
        self._weight_ratio = self.add_shared_scalar("weight_ratio", dtype)

    def _build_moments(self, var_list):
        """The subclass's own state, created after z."""

    def _scheduled_learning_rate(self, learning_rate, dtype):
        """gamma_t, in `dtype` (float32 at least)."""
        raise NotImplementedError

    def _direction(self, gradient, variable, index):
        """d_t, before weight decay."""
        raise NotImplementedError

    def _exact(self, dtype):
        return "float64" if dtype == "float64" else "float32"

    def _averaging(self, learning_rate, dtype):
        """(gamma_t, lr_max, q_t, c_{t+1}), computed in float32 at least.

        W_t overflows float32 for large r (t^r), so the state is the ratio
        q_t = W_t / w_t instead (0 while W_t = 0), and c_{t+1} = 1 / q_t:
        q_t = q_{t-1} (w_{t-1} / w_t) + 1, where w_{t-1} / w_t =
        ((t - 1) / t)^r (lr_max_{t-1} / lr_max_t)^p <= 1 (weights never
        decrease), and q_t <= t.
        """
        exact = self._exact(dtype)
        gamma = self._scheduled_learning_rate(learning_rate, exact)
        previous_lr_max = ops.cast(self._lr_max, exact)
        lr_max = maximum(previous_lr_max, gamma)
        t = self.step_count(exact)
        ratio = ops.power((t - 1.0) / t, scalar(self.r, exact))
        if self.weight_lr_power != 0.0:
            # w_t = 0 while lr_max is 0 (and then W_t = 0: q_t = 0).
            positive = ops.greater(lr_max, 0)
            safe_lr_max = ops.where(positive, lr_max, 1.0)
            ratio = ratio * ops.power(
                previous_lr_max / safe_lr_max,
                scalar(self.weight_lr_power, exact),
            )
        else:
            positive = ops.greater_equal(t, 1.0)
        q = ops.where(
            positive,
            ops.cast(self._weight_ratio, exact) * ratio + 1.0,
            ops.zeros_like(ratio),
        )
        c = ops.where(positive, 1.0 / ops.where(positive, q, 1.0),
                      ops.zeros_like(q))
        return gamma, lr_max, q, c

    def warmup_factor(self, dtype):
        """min(1, t / warmup_steps); 1 without warm-up."""
        if not self.warmup_steps:
            return scalar(1.0, dtype)
        t = self.step_count(dtype)
        return minimum(t / scalar(self.warmup_steps, dtype),
                       scalar(1.0, dtype))

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        # y moves towards z on every row, so a sparse gradient is dense here.
        gradient = ops.cast(densify(gradient), dtype)
        index = self._get_variable_index(variable)
        z = self._z[index]
        self.keep_initial_value(z, variable)
        gamma, _, _, c = self._averaging(learning_rate, dtype)
        gamma, c = ops.cast(gamma, dtype), ops.cast(c, dtype)
        beta = scalar(self.interpolation, dtype)

        direction = self._direction(gradient, variable, index)
        weight_decay = self.weight_decay_for(variable, dtype)
        if weight_decay is not None:
            direction = ops.add(direction,
                                ops.multiply(variable, weight_decay))
        # z first, then y from z_{t+1} (read back after the write): every
        # read of z_t and y_t comes before y is overwritten.
        self.assign_sub(z, ops.multiply(direction, gamma))
        y_step = gamma * (1.0 - beta) * (1.0 - c)
        self.assign_add(
            variable,
            ops.subtract(
                ops.multiply(ops.subtract(z, variable), c),
                ops.multiply(direction, y_step),
            ),
        )

    def after_updates(self, trainable_variables, learning_rate):
        _, lr_max, weight_ratio, _ = self._averaging(
            learning_rate, self._lr_max.dtype
        )
        self.assign(self._lr_max, lr_max)
        self.assign(self._weight_ratio, weight_ratio)

    # The evaluation point, for keras_optlab.training.schedule_free.

    def evaluation_point(self, variable):
        """x for `variable` (which holds y) as a NumPy array of its dtype:
        x = (y - (1 - beta) z) / beta, computed in float64. Before the first
        update (z not yet set) x is y."""
        y = np.asarray(ops.convert_to_numpy(variable))
        if not self.built or int(ops.convert_to_numpy(self.iterations)) == 0:
            return y
        z = np.asarray(
            ops.convert_to_numpy(self._z[self._get_variable_index(variable)]),
            dtype=np.float64,
        )
        beta = self.interpolation
        x = (y.astype(np.float64) - (1.0 - beta) * z) / beta
        return x.astype(y.dtype)


@register(
    "schedule_free_sgd",
    description="SGD without a schedule: gradients at y, an interpolation "
    "of the SGD iterate z and its running average x, the point to evaluate.",
    reference="Defazio et al., 2024, The Road Less Scheduled",
    family="sgd",
)
class ScheduleFreeSGD(ScheduleFree):
    """Schedule-Free SGD (Defazio, Yang, Mehta, Mishchenko, Khaled and
    Cutkosky, 2024, Algorithm 1 with SGD as the base step).

    ```
    input: x_1, learning rate gamma, momentum beta in (0, 1), warm-up T,
           r, weight_lr_power p, weight decay lambda;  z_1 = x_1
    for t = 1, 2, ...
        y_t     = (1 - beta) z_t + beta x_t         (the model holds y_t)
        g_t     = grad f(y_t) + lambda * y_t
        gamma_t = gamma * min(1, t / T)             (1 without warm-up)
        lr_max  = max(lr_max, gamma_t)
        c_{t+1} = t^r lr_max^p / sum_{i <= t} i^r lr_max,i^p
        z_{t+1} = z_t - gamma_t g_t
        x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}
    ```

    With a constant learning rate, no warm-up and r = 0, c_{t+1} = 1/t: x
    is the plain average of the z's, and y adds momentum by interpolation.
    No learning-rate schedule is needed (nor wanted: the averaging plays
    its part); `warmup_steps` gives the linear warm-up.

    Which point the model holds. As in the authors' code and in
    `keras.optimizers.ScheduleFreeAdamW`, the variables hold y, where the
    gradients are taken; z is the optimizer's state, x is recovered as
    (y - (1 - beta) z) / beta and never stored (so beta must be above 0).
    Evaluate, validate and save at x: `keras_optlab.training.
    ScheduleFreeEvaluation` (a callback) and `schedule_free_evaluation` (a
    context) put the model on x, with batch-norm statistics recomputed
    there, and back on y to train. `evaluation_point(variable)` gives x.

    Weight decay is evaluated at y and enters the step, as the paper's
    Algorithm 1 states and the authors' code does (an L2 term at y, which
    then moves z and, through c, x); Keras' own decoupled decay is not
    applied.

    Differences from the authors' PyTorch code (facebookresearch/
    schedule_free, `SGDScheduleFree`), deliberate:
    - their `train()`/`eval()` move the parameters in place by lerp; ours
      restore the saved y exactly after evaluation (x by the same
      formula), see keras_optlab.training.schedule_free.
    - sparse gradients: dense here (y moves towards z on every row).
    - their lr_max starts at -1 and ours at 0: the same, as gamma_t >= 0.

    Args:
        learning_rate: gamma; a non-negative float, a `LearningRateSchedule`
            or a callable. The authors' default is 1.0 (Schedule-Free SGD
            takes 10 to 50 times larger rates than SGD with momentum).
            Defaults to 1.0.
        momentum: beta in (0, 1). Defaults to 0.9.
        warmup_steps: T, an integer >= 0; 0 is no warm-up. Defaults to 0.
        r: >= 0, the power of t in the weights of the average. Defaults
            to 0.
        weight_lr_power: p >= 0, the power of lr_max in the weights (0:
            plain or polynomial average). Defaults to 2.
        weight_decay: lambda >= 0 (at y, see above), or None. Defaults to
            None.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> from keras_optlab.training import ScheduleFreeEvaluation
    >>> model.compile(optimizer=ScheduleFreeSGD(1.0, warmup_steps=100),
    ...               loss="mse")
    >>> model.fit(x, y, validation_split=0.1,
    ...           callbacks=[ScheduleFreeEvaluation()])

    References:
        A. Defazio, X. A. Yang, H. Mehta, K. Mishchenko, A. Khaled and
        A. Cutkosky, "The Road Less Scheduled", NeurIPS 2024,
        arXiv:2405.15682.
    """

    hyperparameters = (
        spec.learning_rate(1.0, spec.FloatRange(1e-2, 1e1, "log")),
        interpolation("momentum", 0.9, "beta: y = (1 - beta) z + beta x"),
        WARMUP_STEPS,
        R,
        WEIGHT_LR_POWER,
        spec.weight_decay("lambda, added to the gradient at y",
                          search=spec.WEIGHT_DECAY_SEARCH),
    )

    def __init__(
        self,
        learning_rate=1.0,
        momentum=0.9,
        warmup_steps=0,
        r=0.0,
        weight_lr_power=2.0,
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

    def _scheduled_learning_rate(self, learning_rate, dtype):
        return ops.cast(learning_rate, dtype) * self.warmup_factor(dtype)

    def _direction(self, gradient, variable, index):
        return gradient
