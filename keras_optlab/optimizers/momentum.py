"""Gradient descent with classical (heavy-ball) momentum."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "momentum",
    description="Heavy-ball momentum: v = mu * v + lr * g; theta -= v.",
    reference="Polyak, 1964, Some methods of speeding up the convergence "
    "of iteration methods",
    family="sgd",
)
class Momentum(OptlabOptimizer):
    """Gradient descent with classical momentum (Polyak's heavy ball).

    ```
    input: lr, momentum mu in [0, 1), theta_0;  v_0 = 0
    for t = 1, 2, ...
        g_t     = grad f(theta_{t-1})
        v_t     = mu * v_{t-1} + lr_t * g_t
        theta_t = theta_{t-1} - v_t
    ```

    The learning rate sits inside the velocity, as in Keras' and TensorFlow's
    `SGD(momentum=...)` (which store -v): a change of learning rate takes
    effect gradually. With `momentum=0` this is plain gradient descent.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.01.
        momentum: mu, in [0, 1). Defaults to 0.9.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Momentum(0.01, momentum=0.9), loss="mse")

    References:
        B. T. Polyak, "Some methods of speeding up the convergence of
        iteration methods", USSR Computational Mathematics and Mathematical
        Physics 4(5), 1964.
        I. Sutskever, J. Martens, G. Dahl, G. Hinton, "On the importance of
        initialization and momentum in deep learning", ICML 2013, eq. (1)-(2).
    """

    hyperparameters = (
        spec.learning_rate(0.01, spec.FloatRange(1e-4, 1e-1, "log")),
        spec.beta("momentum", 0.9, "mu, the decay of the velocity",
                  search=spec.FloatRange(0.5, 0.99)),
    )

    def __init__(self, learning_rate=0.01, momentum=0.9, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, name=name, arguments=locals(),
            **kwargs
        )

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")

    def _update_velocity(self, gradient, variable, learning_rate):
        """v = mu * v + lr * g; returns (v, lr * g) in the variable's dtype."""
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        velocity = self._velocities[self._get_variable_index(variable)]
        scaled_gradient = ops.multiply(gradient, lr)
        # Two writes rather than one so that a sparse gradient is scattered.
        momentum = scalar(self.momentum, variable.dtype)
        self.assign(velocity, ops.multiply(velocity, momentum))
        self.assign_add(velocity, scaled_gradient)
        return velocity, scaled_gradient

    def update_step(self, gradient, variable, learning_rate):
        velocity, _ = self._update_velocity(gradient, variable, learning_rate)
        self.assign_sub(variable, velocity)
