"""Nadam: Adam with Nesterov momentum."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "nadam",
    description="Adam with Nesterov momentum and a warming-up momentum "
    "schedule mu_t.",
    reference="Dozat, 2016, Incorporating Nesterov Momentum into Adam",
    family="adam",
)
class Nadam(OptlabOptimizer):
    """Nadam (Dozat 2016), in the form TensorFlow documents.

    ```
    input: lr, beta_1, beta_2, epsilon, momentum_decay psi;  m_0 = v_0 = 0
    mu_t = beta_1 * (1 - 0.5 * 0.96^(psi * t))        (psi = 1/250 in paper)
    P_t  = mu_1 * mu_2 * ... * mu_t
    for t = 1, 2, ...
        g_t     = grad f(theta_{t-1})
        m_t     = beta_1 * m_{t-1} + (1 - beta_1) * g_t
        v_t     = beta_2 * v_{t-1} + (1 - beta_2) * g_t^2
        mbar_t  = (1 - mu_t) * g_t / (1 - P_t) + mu_{t+1} * m_t / (1 - P_{t+1})
        epsilon_mode="outside" (the paper's):
            theta_t = theta_{t-1} - lr_t * mbar_t
                                    / (sqrt(v_t / (1 - beta_2^t)) + epsilon)
        epsilon_mode="hat":
            theta_t = theta_{t-1} - lr_t * sqrt(1 - beta_2^t) * mbar_t
                                    / (sqrt(v_t) + epsilon)
    ```

    mbar_t mixes the current gradient with the momentum that the next step
    will apply: Nesterov's look-ahead. The default `epsilon_mode="outside"` is
    Dozat's (and Keras') placement; `"hat"` folds the bias correction into the
    step size as `Adam(epsilon_mode="hat")` does.

    Keras 3's own `keras.optimizers.Nadam` uses mu_t = beta_1 * (1 - 0.5 *
    0.96^t), i.e. psi = 1; Dozat's schedule (and Keras 2's, PyTorch's) is psi
    = 0.004. `momentum_decay=1.0` reproduces Keras 3 exactly.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.001.
        beta_1: in [0, 1). Defaults to 0.9.
        beta_2: in [0, 1). Defaults to 0.999.
        epsilon: > 0. Defaults to 1e-7.
        epsilon_mode: `"outside"` (default, the paper's) or `"hat"`;
            0.1.0's `"paper"` reads as `"outside"`.
        momentum_decay: psi, > 0. Defaults to 0.004.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Nadam(2e-3), loss="mse")

    References:
        T. Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016
        workshop track.
        I. Sutskever, J. Martens, G. Dahl, G. Hinton, "On the importance of
        initialization and momentum in deep learning", ICML 2013 (mu_t).
    """

    hyperparameters = (
        spec.ADAPTIVE_LEARNING_RATE,
        spec.BETA_1,
        spec.BETA_2,
        spec.epsilon(1e-7, search=spec.EPSILON_SEARCH, paper_default=1e-8),
        spec.OUTSIDE_OR_HAT,
        spec.Hyperparameter("momentum_decay", "float", 0.004, 0.0, None, "()",
                            doc="psi, of the momentum schedule"),
    )

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        epsilon_mode="outside",
        momentum_decay=0.004,
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
        dtype = var_list[0].dtype if var_list else None
        self._momentum_product = self.add_shared_scalar(
            "momentum_product", dtype, initializer="ones"
        )

    def _momentum_at(self, t):
        """mu_t for a step count tensor t."""
        decay = ops.power(
            scalar(0.96, t.dtype), t * scalar(self.momentum_decay, t.dtype)
        )
        return scalar(self.beta_1, t.dtype) * (1.0 - 0.5 * decay)

    def before_updates(self, learning_rate):
        # P_t is shared by all variables: advance it once per step.
        product = self._momentum_product
        t = self.step_count(product.dtype)
        self.assign(product, ops.multiply(product, self._momentum_at(t)))

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        t = self.step_count(dtype)
        mu_t = self._momentum_at(t)
        mu_next = self._momentum_at(t + 1.0)
        product_t = ops.cast(self._momentum_product, dtype)
        product_next = product_t * mu_next
        bias_correction_2 = self.bias_correction(self.beta_2, dtype)

        self.assign_moving_average(m, gradient, self.beta_1)
        self.assign_moving_average(v, ops.square(gradient), self.beta_2)
        m_bar = ops.add(
            ops.divide(ops.multiply(m, mu_next), 1.0 - product_next),
            ops.divide(ops.multiply(gradient, 1.0 - mu_t), 1.0 - product_t),
        )
        if self.epsilon_mode == "outside":
            denominator = ops.add(
                ops.sqrt(ops.divide(v, bias_correction_2)),
                scalar(self.epsilon, dtype),
            )
            step = ops.divide(ops.multiply(m_bar, lr), denominator)
        else:
            scale = lr * ops.sqrt(bias_correction_2)
            step = ops.divide(
                ops.multiply(m_bar, scale),
                ops.add(ops.sqrt(v), scalar(self.epsilon, dtype)),
            )
        self.assign_sub(variable, step)
