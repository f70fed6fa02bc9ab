"""RMSprop: gradient divided by a running root mean square."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "rmsprop",
    description="Gradient divided by a running RMS of gradients; optional "
    "momentum and centering.",
    reference="Tieleman and Hinton, 2012, Lecture 6.5 (RMSprop); Graves, "
    "2013, Generating Sequences With Recurrent Neural Networks (centered)",
    family="adaptive",
)
class RMSprop(OptlabOptimizer):
    """RMSprop, with optional momentum and the centered variant.

    ```
    input: lr, rho, momentum mu, epsilon, centered;  v_0 = m_0 = b_0 = 0
    for t = 1, 2, ...
        g_t = grad f(theta_{t-1})
        v_t = rho * v_{t-1} + (1 - rho) * g_t^2
        if centered:  b_t = rho * b_{t-1} + (1 - rho) * g_t
                      d_t = v_t - b_t^2 + epsilon
        else:         d_t = v_t + epsilon
        s_t = lr_t * g_t / sqrt(d_t)
        if mu > 0:    m_t = mu * m_{t-1} + s_t;  theta_t = theta_{t-1} - m_t
        else:         theta_t = theta_{t-1} - s_t
    ```

    epsilon sits inside the square root, as in Keras and TensorFlow; the
    centered form (Graves 2013, eq. 38-41) divides by an estimate of the
    gradient's standard deviation instead of its RMS.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.001.
        rho: decay of the running averages, in [0, 1]. Defaults to 0.9.
        momentum: mu, in [0, 1). Defaults to 0.0.
        epsilon: > 0. Defaults to 1e-7.
        centered: whether to subtract the squared running mean gradient.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=RMSprop(1e-3, centered=True), loss="mse")

    References:
        T. Tieleman and G. Hinton, "Lecture 6.5 - RMSProp: Divide the
        gradient by a running average of its recent magnitude", COURSERA:
        Neural Networks for Machine Learning, 2012.
        A. Graves, "Generating Sequences With Recurrent Neural Networks",
        arXiv:1308.0850, 2013.
    """

    hyperparameters = (
        spec.ADAPTIVE_LEARNING_RATE,
        spec.Hyperparameter("rho", "float", 0.9, 0.0, 1.0,
                            doc="decay of the running averages"),
        spec.beta("momentum", 0.0, "mu, the decay of the velocity",
                  search=spec.FloatRange(0.0, 0.9)),
        spec.epsilon(1e-7, "inside the root"),
        spec.Hyperparameter("centered", "bool", False,
                            doc="subtract the squared mean gradient"),
    )

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
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
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(
                var_list, "average_gradient"
            )

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        velocity = self._velocities[index]
        epsilon = scalar(self.epsilon, variable.dtype)
        self.assign_moving_average(velocity, ops.square(gradient), self.rho)
        if self.centered:
            average = self._average_gradients[index]
            self.assign_moving_average(average, gradient, self.rho)
            denominator = ops.add(
                ops.subtract(velocity, ops.square(average)), epsilon
            )
        else:
            denominator = ops.add(velocity, epsilon)
        step = ops.divide(ops.multiply(gradient, lr), ops.sqrt(denominator))
        if self.momentum > 0:
            velocity_of_steps = self._momentums[index]
            mu = scalar(self.momentum, variable.dtype)
            self.assign(
                velocity_of_steps,
                ops.add(ops.multiply(velocity_of_steps, mu), step),
            )
            step = velocity_of_steps
        self.assign_sub(variable, step)
