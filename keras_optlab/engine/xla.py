"""The forms a step takes where XLA compiles it whole.

Update rules are written in plain program order with helpers named for the
math (`squared_norm`, `dot`, `l1_norm`). XLA writes state in place but
orders its fused loops only by data dependencies, and on CPU it fuses a sum
with the loop making its input only over at most 32 elements. Left alone it
would copy a variable that a later write overwrites while another loop
still reads it, and hold a temporary as large as a variable for every sum
over one. This module keeps the program order and the small sums, and only
while a trace is one that XLA compiles whole (`tracing_for_xla`): elsewhere
each extra select or level of summation would be one more pass over the
data.

- `StepOrder` (one per variable's traced update) makes a write of the
  parameter depend on the sums the rule computed before it (Prodigy's inner
  product reads x_k before x_{k+1} is written), likewise a write of state
  that such a sum was given as it is (D-Adaptation's <g_k, s_k> before
  s_{k+1}), and a write of
  parameter-shaped state after the parameter's update depend on that update
  (Adan's previous gradient, Adadelta's E[dx^2]: other loops still read
  their old values; and a matrix of another shape, such as SOAP's
  eigenbases, that the update read before), through a select under a
  predicate that always holds
  but that XLA cannot fold (`iterations >= 0`). The values written are
  unchanged, NaN and inf included. An increment of the parameter
  (`assign_add`, `assign_sub`) takes the order on the increment, before
  it is added (`ordered_increment`).
- `blocked_sum` sums in blocks of `SUM_BLOCK`.
- `branch` is `ops.cond`, taken in Python where the predicate is a
  concrete JAX value (an eager step).

What rules do of their own accord, and keep: a moment is written as an
increment of itself (`assign_add`, `assign_moving_average`) and read back
after the write, so that XLA updates it in place and the parameter's loop
reads its new value (written as a fresh value, XLA recomputed it from the
old one, which then had to be copied: AdaBelief's s_t did).
"""

import keras
from keras import ops

# Elements per partial sum in `blocked_sum`: XLA on CPU fuses a reduction
# with the loop that makes its input only where every reduced dimension is
# at most 32 long.
SUM_BLOCK = 32


def tracing_for_xla(variable):
    """True while the current trace is one that XLA compiles whole: a
    TensorFlow function with `jit_compile=True` (the fused update, or a
    model compiled with `jit_compile=True`), or a JAX `jit` trace, where
    `variable` (any variable or value of the step) then reads as a tracer. False
    eagerly, in a TensorFlow graph without XLA, and on torch (Inductor
    fuses loops with several outputs, and eager torch runs op by op).
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

        # `optimizer.iterations` is a tensor, not a variable, under
        # gradient accumulation (the count of updates, computed).
        value = variable.value if isinstance(variable, keras.Variable) else (
            variable)
        return isinstance(value, jax.core.Tracer)
    return False


def branch(pred, true_fn, false_fn):
    """`ops.cond(pred, true_fn, false_fn)` for a step-dependent branch (a
    preconditioner recomputed every k steps). Where `pred` is a concrete JAX
    value (an eager step, not a trace), `lax.cond` would trace and compile
    both branches at every call (Shampoo's eigendecompositions: minutes for
    60 eager steps), so the branch is taken in Python; everywhere else
    (traces, TensorFlow, torch) it is `ops.cond`, which runs one branch."""
    if keras.backend.backend() == "jax":
        import jax

        if not isinstance(pred, jax.core.Tracer):
            return true_fn() if bool(pred) else false_fn()
    return ops.cond(pred, true_fn, false_fn)


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


def _after(value, predecessor, holds):
    """`value`, made to depend on `predecessor` (which it equals nowhere:
    `holds` is true at run time; a scalar predecessor is broadcast)."""
    value = ops.convert_to_tensor(value)
    return ops.where(holds, value,
                     ops.cast(ops.convert_to_tensor(predecessor),
                              value.dtype))


class StepOrder:
    """Program order for XLA within one rule's `update_step` of
    `parameter` (see the module docstring). `holds()` makes the
    run-time-true predicate."""

    def __init__(self, parameter, holds):
        self._parameter = parameter
        self._holds = holds
        self._sums = []
        # The state variables those sums were given as they are.
        self._read_by_sums = []
        self._parameter_written = False

    def total(self, values, reads=()):
        """The sum of all elements of `values`, in blocks, remembered so
        that the next write of the parameter, and of any variable among
        `reads`, lands after it."""
        total = blocked_sum(values, self._holds())
        self._sums.append(total)
        self._read_by_sums.extend(
            x for x in reads if isinstance(x, keras.Variable))
        return total

    def _read_by_a_sum(self, variable):
        return any(variable is read for read in self._read_by_sums)

    def _predecessors(self, variable, value):
        if isinstance(value, _sparse_types()):
            return []
        if variable is self._parameter or self._read_by_a_sum(variable):
            return list(self._sums)
        if self._parameter_written and tuple(variable.shape) == tuple(
            self._parameter.shape
        ):
            return [self._parameter]
        if self._parameter_written and len(variable.shape) >= 2:
            # A matrix of another shape that this step's update read
            # before (SOAP's eigenbases: the rotations back): ordered on
            # one element of the new parameter.
            return [ops.reshape(ops.convert_to_tensor(self._parameter),
                                (-1,))[0]]
        return []

    def orders(self, variable, value):
        """Whether writing `value` to `variable` needs an order."""
        return bool(self._predecessors(variable, value))

    def orders_increment(self, variable, value):
        """Whether adding `value` to `variable` (`assign_add`,
        `assign_sub`) needs an order that `ordered_increment` puts on the
        increment itself: the parameter's write, or that of state a sum
        read, after the sums."""
        return (variable is self._parameter or self._read_by_a_sum(
            variable)) and self.orders(variable, value)

    def ordered_increment(self, variable, value):
        """`value`, an increment of the parameter (or of state a sum
        read), made to depend on the sums before it. On the increment
        rather than on the new value: the new value then stays the root of
        the loop that computes it, and a later write that must follow it (a
        previous gradient) reads it from memory. With the selects on the
        new value XLA duplicated the new value's cheap last operations into
        that later loop, which then read the old parameter after its
        overwrite: a copy of the parameter, and the step held as a
        temporary (MARS: 40% of the arguments)."""
        for predecessor in self._predecessors(variable, value):
            value = _after(value, predecessor, self._holds())
        self.written(variable)
        return value

    def ordered(self, variable, value):
        """`value`, to be written to `variable`, in program order."""
        for predecessor in self._predecessors(variable, value):
            value = _after(value, predecessor, self._holds())
        self.written(variable)
        return value

    def written(self, variable):
        """Notes a write of `variable` that needed no order."""
        if variable is self._parameter:
            self._sums = []
            self._read_by_sums = []
            self._parameter_written = True


def _sparse_types():
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return (tf.IndexedSlices,)
    return ()
