"""The base class of every keras_optlab optimizer.

It adds to `keras.optimizers.Optimizer` what every update rule here shares:
checks of the base-class options (before any variable exists), the options
`fused` and `on_nonfinite`, the helpers rules are written with (`scalar`,
`bias_correction`, `assign_moving_average`, `squared_norm`, `dot`,
`l1_norm`, `mean_over`, `keep_initial_value`, `weight_decay_for`,
`add_shared_scalar`, and the matrix helpers of Muon, Shampoo and SOAP: `matmul`,
`unfolded_gram`, `mode_products`, `symmetric_eigh`, `KroneckerFactored`),
the per-step hooks `before_updates` and `after_updates`, and the checks
and `get_config` of the hyperparameters a class declares in
`hyperparameters` (spec.py).

How a step reaches `update_step` (sparse rows, the non-finite gate, weight
decay, XLA and torch.compile) is keras_optlab/engine/step.py's; Keras'
entry points are overridden here only to hand them there. Learning rate,
schedules, clipping, EMA, gradient accumulation and loss scaling stay
Keras' own.
"""

import keras
from keras import ops

from keras_optlab.engine import decay
from keras_optlab.engine import nonfinite
from keras_optlab.engine import step
from keras_optlab.engine import xla
from keras_optlab.engine.sparse import stored_values
from keras_optlab.engine.xla import branch  # noqa: F401 (for rules)
from keras_optlab.optimizers import spec
from keras_optlab.optimizers import validation


def scalar(value, dtype):
    """A Python number as a 0-d tensor of `dtype`, exactly.

    Update rules use this for every hyperparameter: `keras.ops` converts a
    bare Python float at float32 precision (in `ops.cast` on every backend,
    in every op on torch), which would round 0.9 in a float64 run.
    """
    return ops.convert_to_tensor(value, dtype=dtype)


def maximum(a, b):
    """Elementwise maximum in the inputs' dtype (a NaN in b propagates).

    Keras 3.15's torch backend returns float32 from ops.maximum and
    ops.minimum even for float64 tensors.
    """
    a, b = ops.convert_to_tensor(a), ops.convert_to_tensor(b)
    return ops.where(ops.greater(a, b), a, b)


def minimum(a, b):
    """Elementwise minimum in the inputs' dtype (a NaN in b propagates)."""
    a, b = ops.convert_to_tensor(a), ops.convert_to_tensor(b)
    return ops.where(ops.less(a, b), a, b)


def sign(x):
    """-1, 0 or 1 elementwise, NaN where x is NaN on every backend (Keras
    3.15's torch backend, as torch.sign, gives 0 there)."""
    x = ops.convert_to_tensor(x)
    return ops.where(ops.isnan(x), x, ops.sign(x))


def ratio_or_one(numerator, denominator, defined):
    """numerator / denominator where `defined` (a boolean scalar) holds,
    else 1, with no division by the denominator there: the trust ratios of
    LARS and LAMB, which their implementations take as 1 where a norm is
    0."""
    safe = ops.where(defined, denominator, ops.ones_like(denominator))
    return ops.where(defined, ops.divide(numerator, safe),
                     ops.ones_like(numerator))


def constant(value):
    """An initializer filling with `value` in the variable's dtype (not
    `keras.initializers.Constant`, which rounds the value through
    float32): the d0 of the distance-estimating rules."""
    def initializer(shape, dtype=None):
        return ops.multiply(
            ops.ones(shape, dtype=dtype),
            ops.convert_to_tensor(value, dtype=dtype),
        )
    return initializer


def grown_estimate(d, numerator, denominator, growth_rate):
    """D-Adaptation's (and Prodigy's) step of the distance estimate:
    d_{k+1} = max(d_k, min(numerator / denominator, growth_rate * d_k)),
    with d unchanged where the denominator is 0 (no gradient yet)."""
    d = ops.convert_to_tensor(d)
    defined = ops.greater(denominator, 0)
    d_hat = ops.where(
        defined,
        ops.divide(numerator, ops.where(defined, denominator, 1.0)),
        d,
    )
    if growth_rate != float("inf"):
        d_hat = minimum(d_hat, d * growth_rate)
    return maximum(d, d_hat)


def matmul(a, b):
    """The matrix product a b in the inputs' dtype.

    `ops.einsum`, because Keras 3.15's torch backend computes
    `ops.matmul` (and `ops.dot`, `ops.tensordot`) of two float64 tensors in
    float32 (its result_type reads torch.float64 as float32; 3e-7 error on
    a 6 x 6 product); einsum keeps float64 there, and is the same product
    on TensorFlow and JAX.
    """
    return ops.einsum("ij,jk->ik", a, b)


def factor_dtype(dtype):
    """The dtype of a Kronecker factor and its eigenbasis or root: float64
    for float64 variables, else float32 (eigh and qr in half precision
    are not offered, nor accurate)."""
    return "float64" if dtype == "float64" else "float32"


def unfolded_gram(x, axis):
    """G_(axis) G_(axis)^T: x contracted with itself over every other axis
    (products of the unfolding; tensordot costs more ops in eager mode)."""
    if len(x.shape) == 2:
        return (ops.einsum("ij,kj->ik", x, x) if axis == 0
                else ops.einsum("ji,jk->ik", x, x))
    unfolded = ops.reshape(ops.moveaxis(x, axis, 0), (x.shape[axis], -1))
    return ops.einsum("ij,kj->ik", unfolded, unfolded)


def mode_products(x, matrices, transpose=False):
    """x with each axis i multiplied by matrices[i] (None: left as it is).

    transpose=False: axis i contracted with the first index of A_i, so
    for a matrix A_1^T x A_2 (the coordinates of x in the bases A_i);
    transpose=True: with the second index, A_1 x A_2^T (back from them).
    Beyond two axes, each axis in turn is contracted and moved last, so
    after all of them the axes are back in order."""
    if len(x.shape) == 2 and all(m is not None for m in matrices):
        first, second = matrices
        if transpose:
            return ops.einsum("ij,kj->ik", matmul(first, x), second)
        return matmul(ops.einsum("ji,jk->ik", first, x), second)
    for matrix in matrices:
        shape = tuple(x.shape)
        flat = ops.reshape(x, (shape[0], -1))
        if matrix is None:
            flat = ops.transpose(flat)
        elif transpose:
            flat = ops.einsum("ji,kj->ik", flat, matrix)
        else:
            flat = ops.einsum("ji,jk->ik", flat, matrix)
        x = ops.reshape(flat, shape[1:] + shape[:1])
    return x


def symmetric_eigh(factor):
    """`ops.eigh` of (F + F^T) / 2, the identity taking the place of an F
    that is not finite (torch's eigh raises on NaN). Returns (eigenvalues
    in ascending order, eigenvectors as columns, whether F was finite); a
    caller keeps its previous result where that is False."""
    finite = ops.all(ops.isfinite(factor))
    identity = ops.eye(factor.shape[-1], dtype=factor.dtype)
    symmetric = ops.divide(ops.add(factor, ops.transpose(factor)),
                           scalar(2.0, factor.dtype))
    eigenvalues, eigenvectors = ops.eigh(
        ops.where(finite, symmetric, identity))
    return eigenvalues, eigenvectors, finite


def variable_name(variable):
    """A variable's path (or name) usable in the names of its state."""
    return (getattr(variable, "path", None) or variable.name).replace(
        "/", "_").replace(":", "_")


def _check_fused(value):
    if not (isinstance(value, bool) or value == "auto"):
        raise ValueError(
            "`fused` must be True, False or 'auto'. "
            f"Received: fused={value!r}"
        )
    return value


class OptlabOptimizer(keras.optimizers.Optimizer):
    """Base class: validated options and a declarative config.

    A subclass declares its hyperparameters once, as `spec.Hyperparameter`
    rows in `hyperparameters` (the learning rate first), keeps an explicit
    `__init__` signature, and passes its arguments on with
    `super().__init__(learning_rate=..., name=..., arguments=locals(),
    **kwargs)`: every row is checked (before any variable exists), stored
    as an attribute of its name and written by `get_config`. Checks that
    involve several arguments go in `_check_together`.

    Besides Keras' own options every optimizer takes `fused`: on the
    TensorFlow backend, `"auto"` (default) compiles with XLA the update of
    each dense variable of at least 16384 elements unless it multiplies or
    decomposes matrices (Muon, Shampoo, SOAP: fusion saves nothing there
    and one XLA program serialises the variables' products), `True` of
    every dense variable, `False` of none. Sparse gradients of rules that
    update only their rows, and updates XLA cannot compile, take the plain
    path.
    Results equal the plain path's up to float rounding. On torch only
    `True` compiles: Keras' per-variable update loop with `torch.compile`
    (torch_compiled.py; its first step compiles for seconds, so "auto"
    stays eager there). JAX ignores it (it compiles the whole step).

    Every subclass also takes `on_nonfinite`, what a step does with a
    gradient holding NaN or Inf:

    - `"apply"` (default): the update rule runs as in Keras' optimizers and
      the NaN reaches the parameters and the state.
    - `"skip"`: the step is skipped whole (parameters, every optimizer
      variable and `iterations` untouched) and counted in the non-trainable
      variable `optimizer.nonfinite_steps`.
    - `"raise"`: an error naming the variable, before anything is written
      (under XLA, which drops assertions, the step is skipped and counted).

    Why "apply" is the default: it keeps every keras_optlab optimizer a
    drop-in for Keras' own (same numbers, same variables, same cost, and the
    reference tests' exact update rules); a skip that nobody looks at hides a
    run that has diverged for good (every later step skipped, loss frozen),
    where the NaN in the loss makes the failure visible at once (and
    `keras.callbacks.TerminateOnNaN` stops it); and checking costs a read of
    every gradient, a `cond` that splits XLA's fused update in two and, with
    several replicas, a synchronisation of the flag at every step. Choose
    "skip" where rare overflow is expected and harmless (large learning
    rates, noisy data, fp16 without loss scaling), watched through
    `nonfinite_steps` (`OptimizerMonitor` writes it to TensorBoard), and
    "raise" while debugging.
    """

    # The learning rate's row, then the class's own (spec.py). Subclasses
    # replace it; this one serves a subclass that declares none.
    hyperparameters = (
        spec.learning_rate(None, spec.DEFAULT_LEARNING_RATE_SEARCH),
    )

    # Rows whose value the base options already check and store.
    _BASE_OPTIONS = ("learning_rate", "weight_decay")

    # True where the paper puts weight decay inside its update rule (LARS,
    # Adan, Prodigy, NovoGrad): Keras' own decoupled decay is then not
    # applied and `update_step` applies `weight_decay_for(variable, dtype)`
    # itself, so `weight_decay` and `exclude_from_weight_decay` keep their
    # Keras meaning.
    couples_weight_decay = False

    # True where `update_step` applies a sparse gradient to its rows only
    # (scatter writes); the fused path then leaves sparse gradients to it.
    # Elsewhere the rule densifies a sparse gradient in its first
    # operation, and the fused path densifies it first and compiles.
    _sparse_update_touches_rows_only = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        rule = cls.__dict__.get("update_step")
        if rule is not None and not getattr(rule, "in_program_order", False):
            cls.update_step = step.in_program_order(rule)

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        fused="auto",
        on_nonfinite="apply",
        name=None,
        arguments=None,
        **kwargs,
    ):
        given = {"weight_decay": weight_decay, **(arguments or {})}
        checked = spec.check_all(
            [row for row in self.hyperparameters
             if row.name != "learning_rate"],
            given,
        )
        self._check_together(checked)
        weight_decay = checked.get("weight_decay", weight_decay)
        on_nonfinite = validation.check_choice(
            "on_nonfinite", on_nonfinite, nonfinite.CHOICES
        )
        learning_rate = validation.check_learning_rate(learning_rate)
        fused = _check_fused(fused)
        if weight_decay is not None:
            weight_decay = validation.check_range(
                "weight_decay", weight_decay, low=0.0
            )
        clipnorm = validation.check_optional_positive("clipnorm", clipnorm)
        clipvalue = validation.check_optional_positive("clipvalue", clipvalue)
        global_clipnorm = validation.check_optional_positive(
            "global_clipnorm", global_clipnorm
        )
        loss_scale_factor = validation.check_optional_positive(
            "loss_scale_factor", loss_scale_factor
        )
        if gradient_accumulation_steps is not None:
            gradient_accumulation_steps = validation.check_int(
                "gradient_accumulation_steps", gradient_accumulation_steps, 2
            )
        use_ema = validation.check_bool("use_ema", use_ema)
        ema_momentum = validation.check_range(
            "ema_momentum", ema_momentum, 0.0, 1.0
        )
        if ema_overwrite_frequency is not None:
            ema_overwrite_frequency = validation.check_int(
                "ema_overwrite_frequency", ema_overwrite_frequency, 1
            )
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.fused = fused
        self.on_nonfinite = on_nonfinite
        for key, value in checked.items():
            if key not in self._BASE_OPTIONS:
                setattr(self, key, value)
        self._nonfinite_steps = None
        # Engine state (keras_optlab/engine/step.py): a checked step is
        # running Keras' own `apply`; the program order of the update being
        # traced for XLA.
        self._in_checked_step = False
        self._step_order = None

    @classmethod
    def row(cls, name):
        """The `spec.Hyperparameter` row of the argument `name`."""
        for row in cls.hyperparameters:
            if row.name == name:
                return row
        raise KeyError(f"{cls.__name__} has no hyperparameter {name!r}")

    def _check_together(self, checked):
        """Checks that involve several hyperparameters (each already
        checked alone); raises a ValueError naming them all."""

    def build(self, var_list):
        super().build(var_list)
        if self.on_nonfinite != "apply" and self._nonfinite_steps is None:
            self._nonfinite_steps = self.add_variable(
                shape=(),
                initializer="zeros",
                dtype="int64",
                aggregation="only_first_replica",
                name="nonfinite_steps",
            )

    @property
    def nonfinite_steps(self):
        """The number of steps skipped for a non-finite gradient (a
        non-trainable variable), or None under `on_nonfinite="apply"`, which
        does not check."""
        return self._nonfinite_steps

    # Keras' entry points, handed to the engine (keras_optlab/engine/step.py
    # says in which order they run).

    def apply(self, grads, trainable_variables=None):
        return step.apply(self, super().apply, grads, trainable_variables)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """Keras' stateless step (JAX's `fit`), behind the finite flag."""
        return step.stateless_apply(
            self, super().stateless_apply, optimizer_variables, grads,
            trainable_variables,
        )

    def _apply_weight_decay(self, variables):
        if decay.keras_decays_before_updates(self):
            super()._apply_weight_decay(variables)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        step.update_variables(
            self, super()._backend_update_step, grads, trainable_variables,
            learning_rate,
        )

    def _distributed_tf_update_step(
        self, distribution, grads_and_vars, learning_rate
    ):
        return step.distributed_tf_update(
            self, super()._distributed_tf_update_step, distribution,
            grads_and_vars, learning_rate,
        )

    # Hooks of a rule that needs per-step work around the per-variable
    # updates.

    # True where the rule implements `gradients_of_step`.
    reads_gradients_of_step = False

    def gradients_of_step(self, gradients):
        """Runs once per step before `before_updates`, with every gradient
        of the step (None left out on TensorFlow), summed over replicas;
        for a rule whose per-variable update needs a model-wide quantity of
        the gradients (D-Adapt SGD's ||g_0||). Writes only shared
        scalars (`add_shared_scalar`). Set `reads_gradients_of_step`."""

    def before_updates(self, learning_rate):
        """Runs once per step before any variable's `update_step`."""

    def after_updates(self, trainable_variables, learning_rate):
        """Runs once per step after every variable's `update_step`."""

    # Helpers update rules are written with.

    def step_count(self, dtype):
        """t in the papers: 1 on the first update, as a tensor of `dtype`."""
        return ops.cast(self.iterations + 1, dtype)

    def bias_correction(self, beta, dtype):
        """1 - beta^t for the current step t, as a tensor of `dtype`.

        Computed in at least float32: in bfloat16, 0.999 is 1.0 and the
        correction would be 0 (Keras' own Adam then never moves a bfloat16
        variable).
        """
        exact = "float64" if dtype == "float64" else "float32"
        correction = 1.0 - ops.power(
            scalar(beta, exact), self.step_count(exact)
        )
        return ops.cast(correction, dtype)

    def assign_moving_average(self, average, value, decay):
        """average <- decay * average + (1 - decay) * value, in place."""
        weight = scalar(1.0 - decay, average.dtype)
        self.assign_add(
            average, ops.multiply(ops.subtract(value, average), weight)
        )

    def squared_norm(self, x):
        """sum(x^2) over every element of `x` (of a sparse gradient's
        stored values, its rows summed: see keras_optlab/engine/sparse.py).
        """
        return self._total(ops.square(stored_values(x)), reads=(x,))

    def dot(self, a, b):
        """sum(a * b) over every element."""
        return self._total(ops.multiply(a, b), reads=(a, b))

    def l1_norm(self, x):
        """sum(|x|) over every element."""
        return self._total(ops.abs(x), reads=(x,))

    def mean_over(self, x, axis):
        """The mean of `x` over one `axis`, which is removed (the row and
        column means of a factored second moment).

        A plain sum also where XLA compiles the step: summed in blocks, as
        `_total` does, XLA on CPU would not hold x, but Adafactor's update
        then took 14 loops per matrix and was slower than the uncompiled
        one (benchmarks/RESULTS.md); summed whole, XLA holds x once and
        the compiled update is the fastest of the three at 10M
        parameters."""
        size = scalar(float(x.shape[axis]), x.dtype)
        return ops.divide(ops.sum(x, axis=axis), size)

    def _total(self, values, reads=()):
        # Where XLA compiles the step whole, in blocks (keras_optlab/engine/
        # xla.py); the order of summation then differs from `ops.sum`'s.
        # `reads`: the helper's arguments, among them the state variables
        # the sum reads before the step overwrites them.
        if self._step_order is not None:
            return self._step_order.total(values, reads)
        if xla.tracing_for_xla(self.iterations):
            return xla.blocked_sum(values, self._true_at_run_time())
        return ops.sum(values)

    def assign(self, variable, value):
        if self._step_order is not None:
            value = self._step_order.ordered(variable, value)
        super().assign(variable, value)

    def assign_add(self, variable, value):
        self._assign_relative(variable, value, ops.add, super().assign_add)

    def assign_sub(self, variable, value):
        self._assign_relative(
            variable, value, ops.subtract, super().assign_sub
        )

    def _assign_relative(self, variable, value, combine, keras_assign):
        """Keras' in-place `keras_assign`, of the increment ordered after
        the sums where it is the parameter's (engine/xla.py), or, where
        the step's order needs it, `assign(variable, combine(variable,
        value))`."""
        order = self._step_order
        if order is not None and order.orders_increment(variable, value):
            return keras_assign(variable,
                                order.ordered_increment(variable, value))
        if order is not None and order.orders(variable, value):
            return self.assign(variable, combine(variable, value))
        keras_assign(variable, value)
        if order is not None:
            order.written(variable)

    def _true_at_run_time(self):
        """A predicate that always holds but that XLA cannot fold."""
        return ops.greater_equal(self.iterations, 0)

    def add_shared_scalar(self, name, dtype, initializer="zeros"):
        """A scalar state variable shared by all variables, written once per
        step outside `update_step`.

        Every replica computes the same value, so the first replica's is
        kept; this also makes the write legal in a replica context. Kept in
        at least float32: a running product or a distance estimate in
        bfloat16 loses the small changes it is made of.
        """
        if dtype in ("float16", "bfloat16"):
            dtype = "float32"
        return self.add_variable(
            shape=(),
            initializer=initializer,
            dtype=dtype,
            aggregation="only_first_replica",
            name=name,
        )

    def sum_over(self, trainable_variables, per_variable, dtype):
        """The sum over `trainable_variables` of `per_variable(index)` (a
        scalar of the variable at that index of the optimizer's lists), in
        `dtype`: the model-wide sums of `after_updates` (Prodigy's and
        D-Adaptation's inner products and l1 norms)."""
        indices = [self._get_variable_index(v) for v in trainable_variables]
        return ops.sum(ops.stack([
            ops.cast(per_variable(i), dtype) for i in indices
        ]))

    def adam_bias_correction(self, dtype):
        """sqrt(1 - beta_2^t) / (1 - beta_1^t), Adam's correction folded
        into the step size (the `use_bias_correction` of Prodigy and
        D-Adapt Adam), from the class's `beta_1` and `beta_2`."""
        return ops.sqrt(self.bias_correction(self.beta_2, dtype)) / (
            self.bias_correction(self.beta_1, dtype)
        )

    def keep_initial_value(self, x0, variable):
        """x0 <- variable on the first update, unchanged after: the x_0 of
        rules that measure from, or average with, the starting point
        (Prodigy, MADGRAD).

        Taken at the first update rather than in `build`: weights loaded or
        set after the optimizer was built count, and `build` may run where
        assignments are not executed (model.fit's symbolic build). Under
        gradient accumulation Keras' `iterations` already counts updates,
        not micro-steps.
        """
        is_first_update = ops.equal(self.iterations, 0)
        # Variables go through convert_to_tensor: jnp.where (JAX 0.10) no
        # longer accepts objects that only define __jax_array__.
        self.assign(
            x0,
            ops.where(
                is_first_update,
                ops.convert_to_tensor(variable),
                ops.convert_to_tensor(x0),
            ),
        )

    def weight_decay_for(self, variable, dtype):
        """The weight decay of `variable` as a `dtype` tensor, or None where
        there is none or `exclude_from_weight_decay` excludes the variable
        (for rules that couple decay, `couples_weight_decay`)."""
        return decay.weight_decay(self, variable, dtype)

    def get_config(self):
        config = super().get_config()
        config["fused"] = self.fused
        config["on_nonfinite"] = self.on_nonfinite
        config.update({
            row.name: getattr(self, row.name)
            for row in self.hyperparameters
            if row.name not in self._BASE_OPTIONS
        })
        return config


class DistanceEstimate(OptlabOptimizer):
    """Base of the rules whose step size is a growing estimate d of the
    distance to the solution (Prodigy, D-Adapt Adam, D-Adapt SGD): per
    variable the inner product that feeds d's numerator, and d (from
    `d0`) and the numerator r, shared by all variables. A subclass calls
    `build_distance_estimate` in `build` after its per-variable state (the
    order saved models rely on) and reads `d`."""

    def build_distance_estimate(self, var_list):
        self._inner_products = [
            self.add_variable(
                shape=(), dtype=v.dtype, name=f"inner_product_{i}"
            )
            for i, v in enumerate(var_list)
        ]
        dtype = var_list[0].dtype if var_list else None
        self._d = self.add_shared_scalar(
            "d", dtype, initializer=constant(self.d0)
        )
        self._numerator = self.add_shared_scalar("r", dtype)

    @property
    def d(self):
        """The current estimate d as a Python float (d0 before the first
        step)."""
        if not self.built:
            return self.d0
        return float(ops.convert_to_numpy(self._d))

    def _step_scale(self, learning_rate, dtype):
        """gamma_k of the Adam forms, times Adam's bias correction where
        `use_bias_correction` asks for it."""
        gamma = ops.cast(learning_rate, dtype)
        if self.use_bias_correction:
            gamma = gamma * self.adam_bias_correction(dtype)
        return gamma


class KroneckerFactored(OptlabOptimizer):
    """Base of the rules that keep Kronecker factors per variable and
    decompose them every few steps (Shampoo, SOAP): each such variable has
    an int32 state variable `<name>_preconditioner_failures` counting the
    decompositions that were not used because the factor or the result was
    not finite (the previous root or basis kept), summed by
    `preconditioner_failures`."""

    def add_failure_counter(self, variable):
        return self.add_variable(
            shape=(), initializer="zeros", dtype="int32",
            name=f"{variable_name(variable)}_preconditioner_failures")

    def _ema(self, average, value, decay):
        """average <- decay * average + (1 - decay) * value, in the form
        that keeps an overflowed (inf) average inf: the increment form
        average + (value - average) (1 - decay) makes inf - inf = NaN
        (which would reach the weights through Shampoo's grafting norm;
        an inf factor fails its decomposition and is counted)."""
        self.assign(average, ops.add(
            ops.multiply(average, scalar(decay, average.dtype)),
            ops.multiply(value, scalar(1.0 - decay, average.dtype))))

    @property
    def preconditioner_failures(self):
        """How many decompositions were not used because the factor or
        the result was not finite (the previous one kept), over all
        variables (an int; 0 before `build`)."""
        counters = [c for c in getattr(self, "_failures", []) if c is not None]
        return int(sum(int(ops.convert_to_numpy(c)) for c in counters))
