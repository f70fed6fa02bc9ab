"""LARS: momentum SGD with a layer-wise trust ratio."""

import re

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import ratio_or_one
from keras_optlab.optimizers.registry import register


@register(
    "lars",
    description="Momentum SGD whose step per variable (layer) is scaled by "
    "the trust ratio eta * ||w|| / (||g|| + weight_decay * ||w||).",
    reference="You, Gitman and Ginsburg, 2017, Large Batch Training of "
    "Convolutional Networks",
    family="sgd",
)
class LARS(OptlabOptimizer):
    """LARS, layer-wise adaptive rate scaling (You et al. 2017, Algorithm 1).

    ```
    input: base lr gamma_t, momentum m in [0, 1), weight decay beta >= 0,
           trust coefficient eta > 0;  v_0 = 0
    for t = 1, 2, ...,  for each variable (layer) l
        g^l       = grad L(w^l_{t-1})
        lambda^l  = eta * ||w^l|| / (||g^l|| + beta * ||w^l||)
                    (1 if ||w^l|| = 0 or ||g^l|| = 0, or l excluded)
        v^l_t     = m * v^l_{t-1} + gamma_t * lambda^l * (g^l + beta * w^l)
        w^l_t     = w^l_{t-1} - v^l_t
    ```

    Norms are Euclidean norms over the whole variable. gamma_t is the
    learning rate (the paper's polynomial decay (1 - t/T)^2 is a
    `keras.optimizers.schedules.PolynomialDecay(power=2)` away). Weight decay
    beta is the paper's coupled one: it enters the trust ratio and the
    velocity, and Keras' separate decoupled decay is not applied. Variables
    excluded with `exclude_from_weight_decay` get beta = 0.

    The trust ratio is 1 when a norm is zero (a zero-initialised bias, a
    zero gradient): the paper's ratio is 0 or undefined there. With
    `exclude_from_adaptation` the trust ratio is 1 for variables whose path
    (`variable.path`, e.g. "dense/bias", "batch_normalization/gamma")
    matches one of the regular expressions, so they take plain momentum SGD
    steps at the learning rate, as the common LARS implementations do for
    biases and normalisation parameters (TensorFlow Model Garden's and
    SimCLR's, which also exclude them from weight decay: pass the same
    names to `exclude_from_weight_decay` for that). Since
    lr * eta is about the relative change ||v|| / ||w|| per step, excluded
    variables need a learning rate that suits them too.

    Args:
        learning_rate: gamma; a non-negative float, a `LearningRateSchedule`,
            or a callable with no arguments. Defaults to 1.0, so that the
            relative update size per step is eta.
        momentum: m, in [0, 1). Defaults to 0.9.
        weight_decay: beta, >= 0, or None for none. Defaults to None.
        eta: the trust coefficient, > 0. Defaults to 0.001 (the paper's).
        exclude_from_adaptation: a list of regular expressions searched in
            variable paths, or None. Defaults to None (adapt all, as the
            paper).
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> optimizer = LARS(
    ...     learning_rate=keras.optimizers.schedules.PolynomialDecay(
    ...         2.0, decay_steps=10_000, power=2.0),
    ...     momentum=0.9, weight_decay=5e-4,
    ...     exclude_from_adaptation=["bias", "normalization"])
    >>> optimizer.exclude_from_weight_decay(var_names=["bias", "normalization"])

    References:
        Y. You, I. Gitman and B. Ginsburg, "Large Batch Training of
        Convolutional Networks", arXiv:1708.03888, 2017.
    """

    hyperparameters = (
        spec.learning_rate(1.0, spec.FloatRange(1e-4, 1e-1, "log")),
        spec.beta("momentum", 0.9, "m, the decay of the velocity",
                  search=spec.FloatRange(0.5, 0.99)),
        spec.weight_decay("beta, coupled: added to the gradient before "
                          "scaling"),
        spec.Hyperparameter("eta", "float", 0.001, 0.0, None, "()",
                            doc="the trust coefficient"),
        spec.Hyperparameter("exclude_from_adaptation", "patterns", None,
                            doc="variables that take plain momentum steps"),
    )
    couples_weight_decay = True

    def __init__(
        self,
        learning_rate=1.0,
        momentum=0.9,
        weight_decay=None,
        eta=0.001,
        exclude_from_adaptation=None,
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
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        # Decided once from the Keras variables: on TensorFlow update_step
        # receives the underlying tf.Variable, whose name lacks the path.
        self._adapts = [self._adapts_variable(v) for v in var_list]

    def _adapts_variable(self, variable):
        path = getattr(variable, "path", variable.name)
        return not any(
            re.search(pattern, path) for pattern in
            self.exclude_from_adaptation or ()
        )

    def trust_ratio(self, gradient, variable, weight_decay):
        """eta * ||w|| / (||g|| + beta * ||w||), or 1 where a norm is 0."""
        w_norm = ops.sqrt(self.squared_norm(variable))
        g_norm = ops.sqrt(self.squared_norm(gradient))
        denominator = g_norm
        if weight_decay is not None:
            denominator = ops.add(g_norm, ops.multiply(w_norm, weight_decay))
        return ratio_or_one(ops.multiply(w_norm, self.eta), denominator,
                            ops.logical_and(w_norm > 0, g_norm > 0))

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.convert_to_tensor(ops.cast(gradient, dtype))
        index = self._get_variable_index(variable)
        velocity = self._velocities[index]
        weight_decay = self.weight_decay_for(variable, dtype)

        scale = lr
        if self._adapts[index]:
            scale = ops.multiply(
                lr, self.trust_ratio(gradient, variable, weight_decay)
            )
        direction = gradient
        if weight_decay is not None:
            direction = ops.add(gradient, ops.multiply(variable, weight_decay))
        self.assign(
            velocity,
            ops.add(
                ops.multiply(velocity, self.momentum),
                ops.multiply(direction, scale),
            ),
        )
        self.assign_sub(variable, velocity)

