"""LAMB: Adam's step scaled per variable (layer) by a trust ratio."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import ratio_or_one
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "lamb",
    description="Adam's bias-corrected step plus weight decay, r + lambda x, "
    "scaled per variable (layer) by the trust ratio ||x|| / ||r + lambda x||.",
    reference="You et al., 2020, Large Batch Optimization for Deep Learning: "
    "Training BERT in 76 minutes",
    family="adam",
)
class LAMB(OptlabOptimizer):
    """LAMB, layer-wise adaptive moments (You et al. 2020, Algorithm 2).

    ```
    input: lr_t, beta_1, beta_2 in [0, 1), epsilon > 0, weight decay
           lambda >= 0, phi(z) = z;  m_0 = v_0 = 0
    for t = 1, 2, ...,  for each variable (layer) x
        g_t     = grad f(x_{t-1})
        m_t     = beta_1 * m_{t-1} + (1 - beta_1) * g_t
        v_t     = beta_2 * v_{t-1} + (1 - beta_2) * g_t^2
        m_hat_t = m_t / (1 - beta_1^t)
        v_hat_t = v_t / (1 - beta_2^t)
        r_t     = m_hat_t / (sqrt(v_hat_t) + epsilon)
        u_t     = r_t + lambda * x_{t-1}
        x_t     = x_{t-1} - lr_t * phi(||x_{t-1}||) / ||u_t|| * u_t
                  (trust ratio 1 where ||x_{t-1}|| = 0 or ||u_t|| = 0)
    ```

    Norms are Euclidean norms over the whole variable, so each variable
    moves by lr_t * ||x_{t-1}|| per step: lr_t is a relative step size.
    The bias correction is that of the final version of the paper (ICLR
    2020, arXiv:1904.00962v5), whose Algorithm 2 has it; phi is the
    identity (as in NVIDIA's, TensorFlow Addons' and Keras' LAMB). Weight
    decay lambda is the paper's: it is added to Adam's step inside the
    trust ratio (coupled, so Keras' separate decoupled decay is not
    applied); variables excluded with `exclude_from_weight_decay` get
    lambda = 0.

    Deliberate differences:

    - From the paper: the trust ratio is 1 where ||x_{t-1}|| or ||u_t||
      is 0. The box's ratio is 0 there, so a zero-initialised variable (a
      bias) would never move; NVIDIA's and TensorFlow Addons' LAMB and
      Keras' `Lamb` take 1. Not offered: other phi (the paper's clipped
      min(max(z, gamma_l), gamma_u)), TensorFlow Addons'
      `exclude_from_layer_adaptation`.
    - Default epsilon 1e-6, the paper's (Keras' `Lamb`: 1e-7).
    - From `keras.optimizers.Lamb`: without weight decay the same update,
      so the same trajectory. With `weight_decay`, Keras decays x by
      lr * lambda * x before the step and leaves lambda out of the trust
      ratio (||x|| / ||r||); here lambda * x is part of u_t inside the
      ratio, as in the paper (the difference is measured in the README).

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.001.
        beta_1: decay of the first moment, in [0, 1). Defaults to 0.9.
        beta_2: decay of the second moment, in [0, 1). Defaults to 0.999.
        epsilon: added to sqrt(v_hat), > 0. Defaults to 1e-6.
        weight_decay: lambda, >= 0, or None for none. Defaults to None.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> optimizer = LAMB(1e-3, weight_decay=0.01)
    >>> optimizer.exclude_from_weight_decay(var_names=["bias", "norm"])

    References:
        Y. You, J. Li, S. Reddi, J. Hseu, S. Kumar, S. Bhojanapalli,
        X. Song, J. Demmel, K. Keutzer, C.-J. Hsieh, "Large Batch
        Optimization for Deep Learning: Training BERT in 76 minutes",
        ICLR 2020, arXiv:1904.00962, Algorithm 2.
    """

    hyperparameters = (
        spec.learning_rate(0.001, spec.FloatRange(1e-4, 1e-1, "log")),
        spec.BETA_1,
        spec.BETA_2,
        spec.epsilon(1e-6, doc="added to sqrt(v_hat)"),
        spec.weight_decay("lambda, coupled: added to the step inside the "
                          "trust ratio", search=spec.WEIGHT_DECAY_SEARCH),
    )
    couples_weight_decay = True

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
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

        self.assign_moving_average(m, gradient, self.beta_1)
        self.assign_moving_average(v, ops.square(gradient), self.beta_2)
        bias_correction_1 = self.bias_correction(self.beta_1, dtype)
        bias_correction_2 = self.bias_correction(self.beta_2, dtype)
        epsilon = scalar(self.epsilon, dtype)
        m_hat = ops.divide(m, bias_correction_1)
        v_hat = ops.divide(v, bias_correction_2)
        r = ops.divide(m_hat, ops.add(ops.sqrt(v_hat), epsilon))
        weight_decay = self.weight_decay_for(variable, dtype)
        u = r
        if weight_decay is not None:
            u = ops.add(r, ops.multiply(variable, weight_decay))
        scale = ops.multiply(lr, self._trust_ratio(variable, u))
        # lr * ratio * r in Adam's folded form, the same value: with
        # alpha = lr * ratio * sqrt(1 - beta_2^t) / (1 - beta_1^t) and
        # epsilon_hat = epsilon * sqrt(1 - beta_2^t), lr * ratio * r =
        # alpha * m / (sqrt(v) + epsilon_hat). The step then reads m, v and
        # x once and keeps no r (as large as x) from the norm until here.
        root_2 = ops.sqrt(bias_correction_2)
        alpha = ops.divide(ops.multiply(scale, root_2), bias_correction_1)
        step = ops.divide(ops.multiply(m, alpha),
                          ops.add(ops.sqrt(v), ops.multiply(epsilon, root_2)))
        if weight_decay is not None:
            step = ops.add(step, ops.multiply(
                variable, ops.multiply(scale, weight_decay)))
        self.assign_sub(variable, step)

    def _trust_ratio(self, variable, u):
        """phi(||x||) / ||u|| with phi the identity, or 1 where a norm is
        0."""
        x_norm = ops.sqrt(self.squared_norm(variable))
        u_norm = ops.sqrt(self.squared_norm(u))
        return ratio_or_one(x_norm, u_norm,
                            ops.logical_and(x_norm > 0, u_norm > 0))
