"""What an optimizer does with a gradient holding NaN or Inf.

`OptlabOptimizer(on_nonfinite=...)` chooses:

- ``"apply"`` (the default): the update rule runs on the gradient as Keras'
  own optimizers do, so the NaN reaches the parameters and the state.
- ``"skip"``: the whole step is skipped: parameters, every optimizer
  variable (moments, EMA averages, gradient accumulators) and `iterations`
  stay as they were; `optimizer.nonfinite_steps` counts the skipped calls.
- ``"raise"``: an error naming the variables whose gradients are non-finite,
  raised before anything is written.

One finite flag decides for the whole step, and every replica of a
`tf.distribute` strategy takes the same decision: the flags of all replicas
are combined (a logical AND) before the branch is chosen, so no replica
applies a step that another one skips.

Where each check runs:

- eagerly (TensorFlow eager, torch, JAX outside `jit`): a Python `if` on the
  flag; "raise" raises `FloatingPointError`.
- in a TensorFlow graph (`tf.function`, `model.fit`): a `tf.cond`; with
  several replicas the cond runs in cross-replica context (inside a
  `merge_call`), where TensorFlow allows a branch that updates mirrored
  variables. "raise" fails the step with `tf.errors.InvalidArgumentError`
  whose message names the variable. XLA (`jit_compile=True`) compiles
  assertions away: there "raise" skips the step and counts it, as "skip"
  does (nothing is written).
- on JAX under `jit` (`model.fit` calls `stateless_apply`): a `lax.cond`
  around the stateless step; "raise" reports the variable through a host
  callback, whose error ends the step.
"""

import keras
from keras import ops

CHOICES = ("apply", "skip", "raise")


def _values(gradient):
    """The values of a gradient (a `tf.IndexedSlices` keeps its rows in
    `.values`)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return gradient.values
    return gradient


def finite_flags(grads):
    """A bool vector: True where the gradient has only finite values (a
    missing gradient counts as finite)."""
    flags = [
        ops.convert_to_tensor(True) if g is None
        else ops.all(ops.isfinite(_values(g)))
        for g in grads
    ]
    return ops.stack(flags)


def concrete(value):
    """`value` as a Python bool where it is known now (eager), else None."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            return None
    elif backend == "jax":
        import jax

        if isinstance(value, jax.core.Tracer):
            return None
    return bool(ops.convert_to_numpy(value))


def message(names, step=None):
    at = "" if step is None else f" at optimizer step {step}"
    return (
        f"Non-finite gradient (NaN or Inf) for variable(s) "
        f"{', '.join(names)}{at}; nothing was updated. Pass "
        "on_nonfinite='skip' to the optimizer to skip such steps instead."
    )


def failing_names(variables, flags):
    flags = ops.convert_to_numpy(flags)
    return [v.path for v, ok in zip(variables, flags) if not ok]


def raise_eagerly(variables, flags, step):
    raise FloatingPointError(message(failing_names(variables, flags), step))


def tf_assertions(variables, flags):
    """One assertion per variable, each with its static message: XLA-safe
    (no string ops on tensors) and the first failing one names its
    variable. Returns the assertion ops, for control dependencies."""
    import tensorflow as tf

    return [
        tf.debugging.Assert(flags[i], [message([variable.path])])
        for i, variable in enumerate(variables)
    ]


def jax_report(variables, flags):
    """Raises from a host callback on JAX, where a traced step cannot raise
    itself; the error ends the `jit`-compiled step."""
    import jax

    def report(flags):
        raise FloatingPointError(message(failing_names(variables, flags)))

    jax.debug.callback(report, flags)
