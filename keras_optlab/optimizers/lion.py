"""Lion: the sign of an interpolation of momentum and gradient."""

from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.base import sign
from keras_optlab.optimizers.registry import register


@register(
    "lion",
    description="Steps of size lr in every coordinate, in the direction of "
    "sign(beta_1 m + (1 - beta_1) g); m an EMA of g with the slower beta_2.",
    reference="Chen et al., 2023, Symbolic Discovery of Optimization "
    "Algorithms",
    # sign(c) = c / |c|: a per-coordinate step size, no bias correction.
    family="adaptive",
)
class Lion(OptlabOptimizer):
    """Lion, EvoLved Sign Momentum (Chen et al. 2023, Algorithm 2).

    ```
    input: lr_t, beta_1 in [0, 1], beta_2 in [0, 1), weight decay lambda;
           m_0 = 0
    for t = 1, 2, ...
        g_t     = grad f(theta_{t-1})
        c_t     = beta_1 * m_{t-1} + (1 - beta_1) * g_t
        theta_t = theta_{t-1} - lr_t * (sign(c_t) + lambda * theta_{t-1})
        m_t     = beta_2 * m_{t-1} + (1 - beta_2) * g_t
    ```

    Every coordinate moves by exactly lr_t (or 0 where c_t is 0), so the
    update has a larger norm than Adam's: the paper uses a learning rate
    3-10x smaller than AdamW's and a weight decay 3-10x larger, for the
    same lr * lambda. The momentum that enters the step (beta_1) is faster
    than the one that is kept (beta_2).

    Weight decay: the paper's is decoupled and scaled by the learning rate,
    lr_t * lambda * theta_{t-1}, which is exactly Keras' `weight_decay`
    (applied before the step, to the same theta_{t-1}), so `weight_decay`
    here is Keras' and `exclude_from_weight_decay` works as everywhere.

    Deliberate differences: none from the paper. From
    `keras.optimizers.Lion`: the same update, so the same trajectory; the
    default learning rate here is the paper's 1e-4 (Keras: 1e-3), and
    beta_1 = 0 is accepted (Keras refuses it: the step is then signSGD,
    sign(g_t), with m unused). From the authors' code and optax's `lion`:
    the same update (optax's `mu_dtype` aside). sign(NaN) is NaN here on
    every backend; Keras' `Lion` on torch takes torch.sign's 0, so a
    coordinate whose momentum became NaN stops moving there, silently.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 1e-4.
        beta_1: the weight of the momentum in the step's direction, in
            [0, 1]. Defaults to 0.9.
        beta_2: decay of the momentum, in [0, 1). Defaults to 0.99.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`
            (`weight_decay` is the paper's lambda).

    Example:
    >>> model.compile(optimizer=Lion(1e-4, weight_decay=0.1), loss="mse")

    References:
        X. Chen, C. Liang, D. Huang, E. Real, K. Wang, H. Pham, X. Dong,
        T. Luong, C.-J. Hsieh, Y. Lu, Q. V. Le, "Symbolic Discovery of
        Optimization Algorithms", NeurIPS 2023, arXiv:2302.06675,
        Algorithm 2.
    """

    hyperparameters = (
        spec.learning_rate(1e-4, spec.FloatRange(1e-6, 1e-3, "log")),
        spec.Hyperparameter("beta_1", "float", 0.9, 0.0, 1.0, "[]",
                            doc="weight of the momentum in the step's sign"),
        spec.beta("beta_2", 0.99, "decay of the momentum",
                  search=spec.Choices((0.98, 0.99))),
    )

    def __init__(
        self,
        learning_rate=1e-4,
        beta_1=0.9,
        beta_2=0.99,
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
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.convert_to_tensor(ops.cast(gradient, dtype))
        m = self._momentums[self._get_variable_index(variable)]

        c = ops.add(ops.multiply(m, scalar(self.beta_1, dtype)),
                    ops.multiply(gradient, scalar(1.0 - self.beta_1, dtype)))
        self.assign_sub(variable, ops.multiply(sign(c), lr))
        self.assign_moving_average(m, gradient, self.beta_2)
