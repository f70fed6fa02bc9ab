"""The base class of every keras_optlab optimizer.

It adds to `keras.optimizers.Optimizer` only what every optimizer here shares:
checks of the base-class options (before any variable exists), sparse
gradients with repeated rows summed before the update, the `on_nonfinite`
choice for gradients holding NaN or Inf (nonfinite.py), small helpers of the
update rules, and the checks and `get_config` of the hyperparameters a class
declares in `hyperparameters` (spec.py). On the TensorFlow backend it also runs each update
as XLA-fused kernels when the model's step is not compiled (`fused`, see
keras_optlab/optimizers/fused.py).
Learning rate, schedules, weight decay, clipping, EMA, gradient accumulation
and loss scaling stay Keras' own.
"""

import keras
from keras import ops

from keras_optlab.optimizers import nonfinite
from keras_optlab.optimizers import spec
from keras_optlab.optimizers import validation
from keras_optlab.optimizers.sparse import stored_values
from keras_optlab.optimizers.sparse import sum_duplicate_indices

# Elements per partial sum in `blocked_sum`: XLA on CPU fuses a reduction
# with the loop that makes its input only where every reduced dimension is
# at most 32 long.
SUM_BLOCK = 32


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


def blocked_sum(values, keep_apart):
    """The sum of all elements of `values`: over blocks of `SUM_BLOCK`
    consecutive elements, then over blocks of those sums, then over the
    rest (zero-padded to whole blocks).

    For XLA on CPU, which turns a reduction over more than 32 elements into
    a reduce-window that does not fuse with the loop making its input:
    `ops.sum(ops.square(x))` holds all of x^2, a temporary as large as x,
    where a sum over blocks of 32 fuses the square and holds 1/32 of it,
    and the second level 1/1024. `keep_apart` is a boolean scalar that is
    true at run time but unknown when XLA compiles (e.g. iterations >= 0);
    selecting each level's sums under it keeps XLA's simplifier from
    merging the levels back into one long reduction. The rounding error is
    that of a tree of sums (float32, 10M elements: about 1e-7).
    """
    flat = ops.reshape(values, (-1,))
    for _ in range(2):
        size = flat.shape[0]
        if size is None or size <= SUM_BLOCK:
            break
        padding = -size % SUM_BLOCK
        if padding:
            flat = ops.pad(flat, [(0, padding)])
        sums = ops.sum(ops.reshape(flat, (-1, SUM_BLOCK)), axis=1)
        flat = ops.where(keep_apart, sums, ops.zeros_like(sums))
    return ops.sum(flat)


def tracing_for_xla(variable):
    """True while the current trace is one that XLA compiles whole: a
    TensorFlow function with `jit_compile=True` (the fused update, or a
    model compiled with `jit_compile=True`), or a JAX `jit` trace, where
    `variable` (any variable of the step) then reads as a tracer. False
    eagerly, in a TensorFlow graph without XLA, and on torch (Inductor
    fuses loops with several outputs, and eager torch runs op by op).

    The XLA forms of `OptlabOptimizer` (`assign_after`, `sum_in_rows`) only
    pay off in such a trace; elsewhere each select or extra level of
    summation would be one more pass over the data.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        # TensorFlow has no public way to ask this: `tf.function` marks a
        # `jit_compile=True` trace with an XLA control-flow context, which
        # this internal module reads (nested graphs included).
        from tensorflow.python.ops import control_flow_util

        if tf.executing_eagerly():
            return False
        return control_flow_util.GraphOrParentsInXlaContext(
            tf.compat.v1.get_default_graph()
        )
    if backend == "jax":
        import jax

        return isinstance(variable.value, jax.core.Tracer)
    return False


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
    each dense variable of at least 16384 elements (not for a rule with
    `_fused_by_auto = False`, none at present), `True` of every dense
    variable, `False` of none. Sparse gradients of rules that update only
    their rows, and updates XLA cannot compile, take the plain path.
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
    # Adan, Prodigy): Keras' own decoupled decay is then skipped and
    # `update_step` applies `weight_decay_for(variable, dtype)` itself, so
    # `weight_decay` and `exclude_from_weight_decay` keep their Keras meaning.
    _update_step_applies_weight_decay = False

    # True where `update_step` applies a sparse gradient to its rows only
    # (scatter writes); the fused path then leaves sparse gradients to it.
    # Elsewhere the rule densifies a sparse gradient in its first
    # operation, and the fused path densifies it first and compiles.
    _sparse_update_touches_rows_only = False

    # False where the benchmark found the compiled update slower than the
    # plain one (reductions over whole variables): `fused="auto"` then
    # leaves the optimizer on the plain path; `fused=True` still compiles.
    _fused_by_auto = True

    # "all": one compiled update for all variables of a single replica (one
    # XLA compilation, and the fastest step in benchmarks/RESULTS.md);
    # "variable": one per variable, as always under a multi-replica
    # strategy, where each replica updates its own copies.
    _fused_grouping = "all"

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
        # True while a checked step runs Keras' own `apply`, which must not
        # check again (`stateless_apply` calls `apply`).
        self._in_checked_step = False

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

    def apply(self, grads, trainable_variables=None):
        # Before clipping and the update rule, so both see the dense
        # gradient's rows (see keras_optlab/optimizers/sparse.py).
        grads = [
            None if g is None else sum_duplicate_indices(g) for g in grads
        ]
        if (
            self.on_nonfinite == "apply"
            or self._in_checked_step
            or len(grads) == 0
        ):
            return super().apply(grads, trainable_variables)
        return self._checked_apply(grads, trainable_variables)

    def _unchecked_apply(self, grads, trainable_variables):
        self._in_checked_step = True
        try:
            super().apply(grads, trainable_variables)
        finally:
            self._in_checked_step = False

    def _checked_apply(self, grads, trainable_variables):
        """`apply` behind one finite flag (see nonfinite.py)."""
        if trainable_variables is None:
            if not self.built:  # Keras' own error
                return super().apply(grads, trainable_variables)
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
            if not self.built:
                # Built here, not inside a branch of the cond below.
                with keras.name_scope(self.name, caller=self):
                    self.build(variables)
                self.built = True
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            if (
                tf.distribute.has_strategy()
                and not tf.distribute.in_cross_replica_context()
            ):
                # Each replica holds its own gradients: decide across all of
                # them, in cross-replica context (as LossScaleOptimizer does).
                return tf.distribute.get_replica_context().merge_call(
                    self._checked_apply_across_replicas,
                    args=(grads, trainable_variables, variables),
                )
        flags = nonfinite.finite_flags(grads)
        finite = ops.all(flags)
        known = nonfinite.concrete(finite)
        if known is not None:
            if known:
                self._unchecked_apply(grads, trainable_variables)
            elif self.on_nonfinite == "raise":
                step = int(ops.convert_to_numpy(self.iterations)) + 1
                nonfinite.raise_eagerly(variables, flags, step)
            else:
                self._nonfinite_steps.assign_add(1)
            return
        ops.cond(
            finite,
            lambda: self._unchecked_apply(grads, trainable_variables),
            lambda: self._graph_nonfinite_step(variables, flags),
        )

    def _checked_apply_across_replicas(
        self, distribution, grads, trainable_variables, variables
    ):
        per_replica = distribution.extended.call_for_each_replica(
            nonfinite.finite_flags, args=(grads,)
        )
        flags = ops.all(
            ops.stack(distribution.experimental_local_results(per_replica)),
            axis=0,
        )

        def apply_fn():
            distribution.extended.call_for_each_replica(
                self._unchecked_apply, args=(grads, trainable_variables)
            )

        ops.cond(
            ops.all(flags),
            apply_fn,
            lambda: self._graph_nonfinite_step(variables, flags),
        )

    def _graph_nonfinite_step(self, variables, flags):
        if self.on_nonfinite != "raise":
            self._nonfinite_steps.assign_add(1)
            return
        import tensorflow as tf

        # Fails the step before the count; XLA compiles the assertions
        # away, and the step is then skipped and counted.
        assertions = nonfinite.tf_assertions(variables, flags)
        with tf.control_dependencies(assertions):
            self._nonfinite_steps.assign_add(1)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """Keras' stateless step (JAX's `fit`), behind the finite flag."""
        if self.on_nonfinite == "apply" or not self.built:
            return super().stateless_apply(
                optimizer_variables, grads, trainable_variables
            )
        grads = [
            None if g is None else sum_duplicate_indices(g) for g in grads
        ]
        flags = nonfinite.finite_flags(grads)
        counter = [id(v) for v in self.variables].index(
            id(self._nonfinite_steps)
        )

        def apply_fn():
            self._in_checked_step = True
            try:
                return super(OptlabOptimizer, self).stateless_apply(
                    optimizer_variables, grads, trainable_variables
                )
            finally:
                self._in_checked_step = False

        def skip_fn():
            if self.on_nonfinite == "raise":
                nonfinite.jax_report(self._trainable_variables, flags)
            state = list(optimizer_variables)
            state[counter] = state[counter] + 1
            return list(trainable_variables), state

        trainable, state = ops.cond(ops.all(flags), apply_fn, skip_fn)
        return list(trainable), list(state)

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

    def assign_after(self, variable, value, predecessor):
        """variable <- value, written after `predecessor` is computed.

        For state whose new value does not read its old one (Adan's previous
        gradient) while other loops of the step still do. XLA writes state
        in place but orders its fused loops only by data dependencies: a
        write that depends on none of those readers could run first, so XLA
        copies the whole old value for them. Traced for XLA, `value` is
        selected under a predicate that always holds but is known only at
        run time (iterations >= 0), which makes the write depend on
        `predecessor`, a value computed after the readers (e.g. the updated
        variable); `value` itself is written unchanged, NaN and inf
        included.
        """
        if self._traced_for_xla:
            value = ops.where(
                self._true_at_run_time(),
                value,
                ops.convert_to_tensor(predecessor),
            )
        self.assign(variable, value)

    def assign_sub_after(self, variable, decrement, predecessor):
        """variable <- variable - decrement, written after `predecessor` is
        computed (see `assign_after`); in place where not traced for XLA."""
        if self._traced_for_xla:
            self.assign_after(
                variable, ops.subtract(variable, decrement), predecessor
            )
        else:
            self.assign_sub(variable, decrement)

    def sum_in_rows(self, values):
        """The sum of all elements of `values`; traced for XLA, summed in
        blocks so that XLA does not hold `values` whole (`blocked_sum`).
        The order of summation then differs from `ops.sum`'s."""
        if not self._traced_for_xla:
            return ops.sum(values)
        return blocked_sum(values, self._true_at_run_time())

    def squared_norm(self, x):
        """sum(x^2) over every element of `x` (of a sparse gradient's
        stored values, its rows summed: see sparse.py), without a temporary
        x^2 under XLA (`sum_in_rows`)."""
        return self.sum_in_rows(ops.square(stored_values(x)))

    @property
    def _traced_for_xla(self):
        """True while `update_step` is traced for XLA (`tracing_for_xla`):
        `assign_after` and `sum_in_rows` then take their XLA forms."""
        return tracing_for_xla(self.iterations)

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

    def weight_decay_for(self, variable, dtype):
        """The weight decay of `variable` as a `dtype` tensor, or None where
        there is none or `exclude_from_weight_decay` excludes the variable."""
        if self.weight_decay is None or not self._use_weight_decay(variable):
            return None
        # Rounded through float32 exactly as Keras' base class rounds it.
        return ops.cast(self.weight_decay, dtype)

    def _apply_weight_decay(self, variables):
        if self._update_step_applies_weight_decay:
            return
        if keras.backend.backend() == "tensorflow" and self.fused is not False:
            return  # applied with each variable's update (fused.py)
        super()._apply_weight_decay(variables)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if self.fused is True and keras.backend.backend() == "torch":
            from keras_optlab.optimizers import torch_compiled

            return torch_compiled.update_step(
                self,
                super()._backend_update_step,
                grads,
                trainable_variables,
                learning_rate,
            )
        return super()._backend_update_step(
            grads, trainable_variables, learning_rate
        )

    def _distributed_tf_update_step(
        self, distribution, grads_and_vars, learning_rate
    ):
        # TensorFlow backend only: Keras' per-variable loop, with each
        # update compiled by XLA where `fused` allows.
        if self.fused is False:
            return super()._distributed_tf_update_step(
                distribution, grads_and_vars, learning_rate
            )
        from keras_optlab.optimizers import fused as fused_path

        fused_path.update_step(
            self, distribution, grads_and_vars, learning_rate
        )

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
