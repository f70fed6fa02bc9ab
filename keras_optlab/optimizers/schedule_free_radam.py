"""Schedule-Free RAdam: the authors' variant that needs no warm-up."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register
from keras_optlab.optimizers.schedule_free_adamw import adam_direction
from keras_optlab.optimizers.schedule_free_sgd import R
from keras_optlab.optimizers.schedule_free_sgd import WEIGHT_LR_POWER
from keras_optlab.optimizers.schedule_free_sgd import ScheduleFree
from keras_optlab.optimizers.schedule_free_sgd import interpolation


@register(
    "schedule_free_radam",
    description="Schedule-Free AdamW whose step is rectified as RAdam's: "
    "no warm-up to choose; the first steps only gather v.",
    reference="Defazio et al., 2024, The Road Less Scheduled (the authors' "
    "RAdamScheduleFree); Liu et al., 2020, On the Variance of the Adaptive "
    "Learning Rate and Beyond",
    family="adam",
)
class ScheduleFreeRAdam(ScheduleFree):
    """Schedule-Free RAdam (the authors' `RAdamScheduleFree`: Defazio et
    al. 2024's Schedule-Free averaging around Liu et al. 2020's rectified
    Adam step).

    ```
    input: x_1, learning rate gamma, beta_1 in (0, 1), beta_2, epsilon,
           r, weight_lr_power p, weight decay lambda, silent_sgd_phase;
           z_1 = x_1, v_0 = 0, rho_inf = 2 / (1 - beta_2) - 1
    for t = 1, 2, ...
        y_t     = (1 - beta_1) z_t + beta_1 x_t     (the model holds y_t)
        g_t     = grad f(y_t)
        v_t     = beta_2 v_{t-1} + (1 - beta_2) g_t^2
        rho_t   = rho_inf - 2 t beta_2^t / (1 - beta_2^t)
        if rho_t > 4:                               (Adam phase)
            rect_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf
                          / ((rho_inf - 4)(rho_inf - 2) rho_t))
            d_t    = g_t / (sqrt(v_t / (1 - beta_2^t)) + epsilon)
        else:                                       (SGD phase)
            rect_t = 0 if silent_sgd_phase else 1
            d_t    = g_t
        d_t     = d_t + lambda * y_t                (decay at y)
        gamma_t = gamma * rect_t
        lr_max  = max(lr_max, gamma_t)
        c_{t+1} = t^r lr_max^p / sum_{i <= t} i^r lr_max,i^p   (0 while
                                                     the sum is 0)
        z_{t+1} = z_t - gamma_t d_t
        x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}
    ```

    RAdam's rectification is the warm-up: gamma_t grows from 0 to gamma as
    the variance of v_t's estimate shrinks, so there is no `warmup_steps`.
    With `silent_sgd_phase=True` (default, the authors' recommendation)
    the first steps (t <= 5 at beta_2 = 0.999, every step when rho_inf <= 4,
    e.g. beta_2 = 0) gather v but move nothing; with False they are plain
    SGD steps of size gamma. The variables hold y, the state z and v; x is
    recovered as for `ScheduleFreeAdamW`, and evaluated with
    `keras_optlab.training.ScheduleFreeEvaluation` or
    `schedule_free_evaluation`.

    This is not in the paper; it follows the authors' code, whose users
    compare against it. Differences from it, deliberate: their `cautious`
    option (experimental) is not offered; sparse gradients are dense here
    (y moves towards z on every row). Keras has no Schedule-Free RAdam.

    Args:
        learning_rate: gamma; a non-negative float, a
            `LearningRateSchedule` or a callable. Defaults to 0.0025.
        beta_1: in (0, 1): y = (1 - beta_1) z + beta_1 x. Defaults to 0.9.
        beta_2: in [0, 1). Defaults to 0.999.
        epsilon: > 0, added to the corrected sqrt(v). Defaults to 1e-8.
        r: >= 0, the power of t in the weights of the average. Defaults
            to 0.
        weight_lr_power: p >= 0, the power of lr_max in the weights.
            Defaults to 2.
        silent_sgd_phase: see above. Defaults to True.
        weight_decay: lambda >= 0 (at y), or None. Defaults to None.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> from keras_optlab.training import ScheduleFreeEvaluation
    >>> model.compile(optimizer=ScheduleFreeRAdam(), loss="mse")
    >>> model.fit(x, y, validation_split=0.1,
    ...           callbacks=[ScheduleFreeEvaluation()])

    References:
        A. Defazio, X. A. Yang, H. Mehta, K. Mishchenko, A. Khaled and
        A. Cutkosky, "The Road Less Scheduled", NeurIPS 2024,
        arXiv:2405.15682; RAdamScheduleFree in
        github.com/facebookresearch/schedule_free.
        L. Liu, H. Jiang, P. He, W. Chen, X. Liu, J. Gao and J. Han, "On
        the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020,
        arXiv:1908.03265.
    """

    hyperparameters = (
        spec.learning_rate(0.0025, spec.FloatRange(1e-4, 1e-1, "log")),
        interpolation("beta_1", 0.9, "beta: y = (1 - beta_1) z + beta_1 x"),
        spec.BETA_2,
        spec.epsilon(1e-8, "added to sqrt(v / (1 - beta_2^t))",
                     search=spec.EPSILON_SEARCH),
        R,
        WEIGHT_LR_POWER,
        spec.Hyperparameter("silent_sgd_phase", "bool", True,
                            doc="no move while rho_t <= 4 (else SGD steps)"),
        spec.weight_decay("lambda, added to the step at y",
                          search=spec.WEIGHT_DECAY_SEARCH),
    )
    _interpolation_name = "beta_1"
    # No warm-up: the rectification is one.
    warmup_steps = 0

    def __init__(
        self,
        learning_rate=0.0025,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        r=0.0,
        weight_lr_power=2.0,
        silent_sgd_phase=True,
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

    def _rectification(self, dtype):
        """(rho_t > 4, rect_t) in `dtype` (float32 at least)."""
        exact = self._exact(dtype)
        t = self.step_count(exact)
        beta_2 = scalar(self.beta_2, exact)
        beta_2_t = ops.power(beta_2, t)
        rho_inf = 2.0 / (1.0 - self.beta_2) - 1.0
        rho_t = rho_inf - 2.0 * t * beta_2_t / (1.0 - beta_2_t)
        adam_phase = ops.greater(rho_t, 4.0)
        if rho_inf > 4.0:
            safe_rho = ops.where(adam_phase, rho_t, scalar(rho_inf, exact))
            rect = ops.sqrt(
                (safe_rho - 4.0) * (safe_rho - 2.0) * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * safe_rho)
            )
        else:
            rect = scalar(1.0, exact)
        sgd_rect = scalar(0.0 if self.silent_sgd_phase else 1.0, exact)
        return adam_phase, ops.cast(ops.where(adam_phase, rect, sgd_rect),
                                    dtype)

    def _scheduled_learning_rate(self, learning_rate, dtype):
        return ops.cast(learning_rate, dtype) * self._rectification(dtype)[1]

    def _direction(self, gradient, variable, index):
        # Adam's step (which also updates v), or the gradient itself while
        # rho_t <= 4.
        normalized = adam_direction(self, gradient, variable, index)
        adam_phase, _ = self._rectification(variable.dtype)
        return ops.where(adam_phase, normalized, gradient)
