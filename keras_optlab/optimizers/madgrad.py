"""MADGRAD: momentumized, adaptive, dual averaged gradient."""

from keras import ops

from keras_optlab.engine.sparse import densify
from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "madgrad",
    description="Dual averaging with a cube-root AdaGrad denominator: the "
    "weighted gradient sum s, from x_0, gives z; momentum averages x with z.",
    reference="Defazio and Jelassi, 2021, Adaptivity without Compromise: A "
    "Momentumized, Adaptive, Dual Averaged Gradient Method for Stochastic "
    "Optimization",
    family="adaptive",
)
class MADGRAD(OptlabOptimizer):
    """MADGRAD (Defazio and Jelassi, Algorithm 1).

    Paper indices k = 0, 1, ... are our steps t = k + 1; c = 1 - momentum.
    ```
    input: x_0, step sizes gamma_k (learning rate), momentum c_k in (0, 1],
           epsilon > 0;  s_0 = 0, nu_0 = 0
    for k = 0, 1, ...
        g_k      = grad f(x_k)   (+ lambda * x_k with weight decay, below)
        lambda_k = gamma_k * sqrt(k + 1)
        s_{k+1}  = s_k + lambda_k * g_k
        nu_{k+1} = nu_k + lambda_k * g_k^2
        z_{k+1}  = x_0 - s_{k+1} / (nu_{k+1}^(1/3) + epsilon)
        x_{k+1}  = (1 - c_{k+1}) * x_k + c_{k+1} * z_{k+1}
    ```

    z is the dual-averaging iterate, always measured from the starting
    point x_0; x is a moving average of the z's (momentum as averaging),
    and with `momentum=0` x is z. x_0 is the variable's value at the first
    update (weights loaded after the optimizer was built count). The state
    is x_0, s and nu: three copies of each variable, as Adam's m, v plus
    one.

    Weight decay is coupled, as in the paper's experiments and the
    authors' code (their default): lambda * x_k is added to the gradient
    before it enters s and nu, an L2 penalty (the authors' experimental
    `decouple_decay` is not offered). Keras' own decoupled decay is not
    applied; `exclude_from_weight_decay` works as for any optimizer. The
    authors note MADGRAD needs less weight decay than SGD or Adam, often
    none.

    Differences from the authors' PyTorch code (facebookresearch/madgrad),
    deliberate:
    - their step size is lambda_k = (lr + epsilon) * sqrt(k + 1), epsilon
      added to the learning rate; ours is the paper's lr * sqrt(k + 1).
      Since the step scales as lr^(2/3), trajectories differ by about
      (2/3) * epsilon / lr relative (7e-5 at the defaults).
    - they accept epsilon = 0 (and then divide by infinity where nu is
      0); ours must be positive, as everywhere in keras_optlab.
    - sparse gradients: theirs updates only the rows present with
      `momentum=0` and refuses momentum; ours densifies them (x moves
      towards z on every row), so sparse and dense gradients give the
      same trajectory.

    Args:
        learning_rate: gamma_k; a non-negative float, a
            `LearningRateSchedule`, or a callable with no arguments. Not
            comparable to SGD's or Adam's: sweep it. Defaults to 0.01.
        momentum: 1 - c_k, in [0, 1). Defaults to 0.9.
        epsilon: > 0, added to the cube root. Defaults to 1e-6.
        weight_decay: lambda >= 0 (coupled, see above), or None. Defaults
            to None.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=MADGRAD(1e-2), loss="mse")

    References:
        A. Defazio and S. Jelassi, "Adaptivity without Compromise: A
        Momentumized, Adaptive, Dual Averaged Gradient Method for
        Stochastic Optimization", arXiv:2101.11075, 2021 (JMLR 23(144),
        2022).
    """

    hyperparameters = (
        spec.learning_rate(0.01, spec.FloatRange(1e-4, 1e-1, "log")),
        spec.beta("momentum", 0.9, "1 - c, x's weight in its average with z",
                  search=spec.FloatRange(0.5, 0.99)),
        spec.epsilon(1e-6, "added to the cube root of nu"),
        spec.weight_decay("lambda, coupled: added to the gradient",
                          search=spec.WEIGHT_DECAY_SEARCH),
    )
    couples_weight_decay = True

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
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
        (
            self._initial_values,
            self._gradient_sums,
            self._squared_gradient_sums,
        ) = self.add_optimizer_variables(var_list, ["x0", "s", "nu"])

    def _root_of_step(self, dtype):
        """sqrt(k + 1) = sqrt(t), in at least float32 (bfloat16 rounds
        sqrt(t) to 3 digits)."""
        exact = "float64" if dtype == "float64" else "float32"
        return ops.cast(ops.sqrt(self.step_count(exact)), dtype)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        # x moves towards z on every row, so a sparse gradient is dense here.
        gradient = ops.cast(densify(gradient), dtype)
        index = self._get_variable_index(variable)
        x0 = self._initial_values[index]
        s = self._gradient_sums[index]
        nu = self._squared_gradient_sums[index]

        self.keep_initial_value(x0, variable)
        weight_decay = self.weight_decay_for(variable, dtype)
        if weight_decay is not None:
            gradient = ops.add(gradient, ops.multiply(variable, weight_decay))
        step_size = ops.cast(learning_rate, dtype) * self._root_of_step(dtype)
        self.assign_add(s, ops.multiply(gradient, step_size))
        self.assign_add(nu, ops.multiply(ops.square(gradient), step_size))
        z = ops.subtract(
            x0,
            ops.divide(
                s,
                ops.add(
                    ops.power(nu, scalar(1.0 / 3.0, dtype)),
                    scalar(self.epsilon, dtype),
                ),
            ),
        )
        # x <- (1 - c) x + c z, as an increment: x + c (z - x).
        c = scalar(1.0 - self.momentum, dtype)
        self.assign_add(variable, ops.multiply(ops.subtract(z, variable), c))
