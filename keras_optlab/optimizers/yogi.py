"""Yogi: Adam with an additive, sign-controlled second-moment update."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.registry import register


@register(
    "yogi",
    description="Adam whose second moment moves additively: v -= (1 - beta_2) "
    "* sign(v - g^2) * g^2, so it cannot jump with one large gradient.",
    reference="Zaheer et al., 2018, Adaptive Methods for Nonconvex "
    "Optimization",
    family="adam",
)
class Yogi(OptlabOptimizer):
    """Yogi (Zaheer, Reddi, Sachan, Kale and Kumar 2018, Algorithm 2).

    ```
    input: lr, beta_1, beta_2 in [0, 1), epsilon > 0, v_init >= 0
    m_0 = 0;  v_0 = v_init
    for t = 1, 2, ...
        g_t     = grad f(theta_{t-1})
        m_t     = beta_1 * m_{t-1} + (1 - beta_1) * g_t
        v_t     = v_{t-1} - (1 - beta_2) * sign(v_{t-1} - g_t^2) * g_t^2
        debias=False (Algorithm 2):
            theta_t = theta_{t-1} - lr_t * m_t / (sqrt(v_t) + epsilon)
        debias=True (TensorFlow Addons):
            theta_t = theta_{t-1} - lr_t * sqrt(1 - beta_2^t) / (1 - beta_1^t)
                                  * m_t / (sqrt(v_t) + epsilon)
    ```

    Adam's v_t = v_{t-1} - (1 - beta_2)(v_{t-1} - g_t^2) changes by an amount
    proportional to v_{t-1} - g_t^2; Yogi's changes by (1 - beta_2) g_t^2 in
    the direction of g_t^2, so a sudden small gradient cannot shrink v (and
    blow up the step) as fast. v_t never becomes negative: when it decreases,
    v_{t-1} > g_t^2 >= (1 - beta_2) g_t^2. sign(0) = 0 leaves v unchanged.

    The defaults are the paper's: lr 0.01, beta_1 0.9, beta_2 0.999,
    epsilon 1e-3 (larger than Adam's: it bounds the step where v is tiny)
    and v_0 = 1e-6. `tfa.optimizers.Yogi` applied Adam's bias correction to
    the step size (Adam's "debiasing"); `debias=True` reproduces it.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.01.
        beta_1: in [0, 1). Defaults to 0.9.
        beta_2: in [0, 1). Defaults to 0.999.
        epsilon: > 0. Defaults to 1e-3.
        initial_accumulator_value: v_0, >= 0. Defaults to 1e-6.
        debias: scale the step by sqrt(1 - beta_2^t) / (1 -
            beta_1^t) as TensorFlow Addons did. Defaults to False (the paper).
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Yogi(1e-2), loss="mse")

    References:
        M. Zaheer, S. Reddi, D. Sachan, S. Kale, S. Kumar, "Adaptive Methods
        for Nonconvex Optimization", NeurIPS 2018, Algorithm 2.
    """

    hyperparameters = (
        spec.learning_rate(0.01, spec.FloatRange(1e-5, 1e-2, "log")),
        spec.BETA_1,
        spec.BETA_2,
        spec.epsilon(1e-3, search=spec.EPSILON_SEARCH),
        spec.Hyperparameter("initial_accumulator_value", "float", 1e-6, low=0.0,
                            doc="v_0"),
        spec.Hyperparameter("debias", "bool", False,
                            doc="scale steps as TensorFlow Addons did"),
    )

    def __init__(
        self,
        learning_rate=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-3,
        initial_accumulator_value=1e-6,
        debias=False,
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
            var_list,
            ["momentum", "velocity"],
            initializer=["zeros", self._initial_velocity],
        )

    def _initial_velocity(self, shape, dtype=None):
        # keras.initializers.Constant would round 1e-6 through float32.
        return ops.full(shape, self.initial_accumulator_value, dtype=dtype)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]

        self.assign_moving_average(m, gradient, self.beta_1)
        squared = ops.square(gradient)
        direction = ops.sign(ops.subtract(v, squared))
        self.assign_sub(
            v, ops.multiply(ops.multiply(direction, squared), 1.0 - self.beta_2)
        )
        if self.debias:
            lr = lr * ops.sqrt(
                self.bias_correction(self.beta_2, dtype)
            ) / self.bias_correction(self.beta_1, dtype)
        step = ops.divide(
            ops.multiply(m, lr), ops.add(ops.sqrt(v), self.epsilon)
        )
        self.assign_sub(variable, step)
