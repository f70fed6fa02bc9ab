"""Schedule-Free AdamW."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register
from keras_optlab.optimizers.schedule_free_sgd import R
from keras_optlab.optimizers.schedule_free_sgd import WARMUP_STEPS
from keras_optlab.optimizers.schedule_free_sgd import WEIGHT_LR_POWER
from keras_optlab.optimizers.schedule_free_sgd import ScheduleFree
from keras_optlab.optimizers.schedule_free_sgd import interpolation


@register(
    "schedule_free_adamw",
    description="AdamW without a schedule: Schedule-Free averaging and "
    "interpolation around Adam's normalised step; evaluate at x.",
    reference="Defazio et al., 2024, The Road Less Scheduled",
    family="adam",
)
class ScheduleFreeAdamW(ScheduleFree):
    """Schedule-Free AdamW (Defazio, Yang, Mehta, Mishchenko, Khaled and
    Cutkosky, 2024, Algorithm 1, Schedule-Free AdamW).

    ```
    input: x_1, learning rate gamma, beta_1 in (0, 1), beta_2, epsilon,
           warm-up T, r, weight_lr_power p, weight decay lambda;
           z_1 = x_1, v_0 = 0
    for t = 1, 2, ...
        y_t     = (1 - beta_1) z_t + beta_1 x_t     (the model holds y_t)
        g_t     = grad f(y_t)
        v_t     = beta_2 v_{t-1} + (1 - beta_2) g_t^2
        gamma_t = gamma * min(1, t / T)             (1 without warm-up)
        d_t     = g_t / (sqrt(v_t / (1 - beta_2^t)) + epsilon)
                  + lambda * y_t                    (decay at y)
        lr_max  = max(lr_max, gamma_t)
        c_{t+1} = t^r lr_max^p / sum_{i <= t} i^r lr_max,i^p
        z_{t+1} = z_t - gamma_t d_t
        x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}
    ```

    beta_1 plays momentum's part through the interpolation y; there is no
    first moment. The variables hold y, the state z and v (two copies of
    each variable, as Adam's m and v); x = (y - (1 - beta_1) z) / beta_1 is
    recovered, never stored. Evaluate, validate and save at x:
    `keras_optlab.training.ScheduleFreeEvaluation` (a callback) and
    `schedule_free_evaluation` (a context), which also recompute batch-norm
    statistics at x.

    Where the paper's box and the authors' code differ, we follow the
    authors' code (`AdamWScheduleFree`), as its users and Keras' class
    expect:
    - the box folds Adam's bias correction into the step, gamma_t = gamma
      sqrt(1 - beta_2^t) min(1, t/T), with epsilon added to sqrt(v_t)
      uncorrected; we (and the authors' code, and Keras) correct v_t in
      the denominator, so epsilon is added to sqrt(v_t / (1 - beta_2^t))
      and the weights c use gamma_t without the correction.
    - the box weights the average by gamma_t^2; the code by lr_max^p with
      the polynomial t^r (paper Section 6's r and p): the same with p = 2,
      r = 0 for a learning rate that never decreases (constant, warm-up).

    Weight decay is evaluated at y and enters the step d_t (the box's
    z_{t+1} = z_t - gamma_t (...) - gamma_t lambda y_t, and through c
    x and y), as in the authors' code; Keras' own decoupled decay is not
    applied.

    Differences from `keras.optimizers.ScheduleFreeAdamW` (Keras 3.15),
    measured in the README ("Schedule-Free"):
    - on TensorFlow and torch Keras recovers x_t from z_{t+1} instead of
      z_t (its `momentum.value` is the variable it has just updated):
      9.7e-3 apart after 60 steps of random gradients at lr 0.01 where
      JAX, which follows the paper, stays within 1.6e-6 of ours.
    - Keras averages with c = 1/t always: it has no `r` nor
      `weight_lr_power`, so during warm-up or under a learning-rate
      schedule its x differs. With `weight_lr_power=0` and `r=0`, or with
      no warm-up and a constant learning rate, the rules are the same
      (the table's equivalence test compares them).
    - Keras' weight decay is its base class's decoupled decay of the
      variable, y -= gamma lambda y before the step, which leaves z
      undecayed; ours is the paper's, at y inside d_t.
    - Keras recovers x dividing by beta_1 and accepts beta_1 = 0 (then
      NaN); ours refuses beta_1 = 0 and never divides in the step.
    - Keras sets z in `build` (weights loaded or set after the optimizer
      was built are not its z_1); ours at the first update.
    - Keras offers no way to evaluate at x; see above.

    Args:
        learning_rate: gamma; a non-negative float, a
            `LearningRateSchedule` or a callable. Defaults to 0.0025.
        beta_1: in (0, 1): y = (1 - beta_1) z + beta_1 x. Defaults to 0.9.
        beta_2: in [0, 1). Defaults to 0.999.
        epsilon: > 0, added to the corrected sqrt(v). Defaults to 1e-8.
        warmup_steps: T, an integer >= 0; 0 is no warm-up. Defaults to 0.
        r: >= 0, the power of t in the weights of the average. Defaults
            to 0.
        weight_lr_power: p >= 0, the power of lr_max in the weights.
            Defaults to 2.
        weight_decay: lambda >= 0 (at y, see above), or None. Defaults to
            None.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> from keras_optlab.training import ScheduleFreeEvaluation
    >>> model.compile(optimizer=ScheduleFreeAdamW(warmup_steps=500),
    ...               loss="mse")
    >>> model.fit(x, y, validation_split=0.1,
    ...           callbacks=[ScheduleFreeEvaluation()])

    References:
        A. Defazio, X. A. Yang, H. Mehta, K. Mishchenko, A. Khaled and
        A. Cutkosky, "The Road Less Scheduled", NeurIPS 2024,
        arXiv:2405.15682.
    """

    hyperparameters = (
        spec.learning_rate(0.0025, spec.FloatRange(1e-4, 1e-1, "log")),
        interpolation("beta_1", 0.9, "beta: y = (1 - beta_1) z + beta_1 x"),
        spec.BETA_2,
        spec.epsilon(1e-8, "added to sqrt(v / (1 - beta_2^t))",
                     search=spec.EPSILON_SEARCH),
        WARMUP_STEPS,
        R,
        WEIGHT_LR_POWER,
        spec.weight_decay("lambda, added to the step at y",
                          search=spec.WEIGHT_DECAY_SEARCH),
    )
    _interpolation_name = "beta_1"

    def __init__(
        self,
        learning_rate=0.0025,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
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

    def _build_moments(self, var_list):
        (self._velocities,) = self.add_optimizer_variables(
            var_list, ["velocity"]
        )

    def _scheduled_learning_rate(self, learning_rate, dtype):
        return ops.cast(learning_rate, dtype) * self.warmup_factor(dtype)

    def _direction(self, gradient, variable, index):
        return adam_direction(self, gradient, variable, index)


def adam_direction(optimizer, gradient, variable, index):
    """Adam's normalised step g / (sqrt(v_hat) + epsilon), after v's update
    (`optimizer._velocities`): the direction of Schedule-Free AdamW, and of
    Schedule-Free RAdam once rectified."""
    dtype = variable.dtype
    v = optimizer._velocities[index]
    optimizer.assign_moving_average(v, ops.square(gradient),
                                    optimizer.beta_2)
    return ops.divide(
        gradient,
        ops.add(
            ops.sqrt(ops.divide(v, optimizer.bias_correction(
                optimizer.beta_2, dtype))),
            scalar(optimizer.epsilon, dtype),
        ),
    )
