"""How a step runs, from `apply` to the update rule: the one owner.

`OptlabOptimizer` (keras_optlab/optimizers/base.py) overrides Keras' entry
points only to hand them to the functions below; this is the order they
keep, on every backend:

1. Entry. `apply(grads, variables)` (TensorFlow and torch `fit`, custom
   loops, `apply_gradients`), or `stateless_apply` on JAX, whose `fit`
   passes the state in and out.
2. Sparse rows merged (`merge_repeated_rows`, sparse.py): a gradient that
   names a row twice becomes one row with the summed value, once, before
   clipping and the rule see it.
3. The non-finite gate (nonfinite.py). Under `on_nonfinite="apply"` the
   step goes straight on. Under "skip" or "raise" one finite flag, combined
   over every replica, decides for the whole step; a skipped step writes
   nothing but the count `nonfinite_steps`.
4. Keras' own `apply`: gradient accumulation, loss scaling, clipping, the
   learning rate of this step, EMA, `iterations`.
5. Weight decay, decided in one place (decay.py): Keras' decoupled decay
   w -= lr * wd * w, except for a rule whose paper couples decay with its
   update (`couples_weight_decay`; the rule then reads `weight_decay_for`).
   On TensorFlow's fused path the decay is compiled with each variable's
   update (fused.py); elsewhere Keras applies it to all variables before
   the updates.
6. Per-step hooks of the rule, around the per-variable updates:
   `gradients_of_step(grads)`, every gradient of the step, summed over
   replicas (D-Adapt SGD's norm of the first gradient),
   `before_updates(learning_rate)` (Nadam's momentum product, AdaBound's
   peak learning rate) and `after_updates(variables, learning_rate)`
   (Prodigy's distance estimate from sums over all variables).
7. Backend dispatch (`update_variables`, `distributed_tf_update`):
   TensorFlow runs each update compiled by XLA where `fused` allows
   (fused.py); torch with `fused=True` compiles Keras' update loop
   (torch_compiled.py); otherwise Keras' per-variable loop.
8. The rule: `update_step(gradient, variable, learning_rate)`, in
   `keras.ops`. Where XLA compiles the step whole its writes keep program
   order and its sums go in blocks (`in_program_order`, xla.py).
"""

import functools

import keras
from keras import ops

from keras_optlab.engine import nonfinite
from keras_optlab.engine import xla
from keras_optlab.engine.sparse import sum_duplicate_indices


def merge_repeated_rows(grads):
    """Step 2: every sparse gradient with its repeated rows summed."""
    return [None if g is None else sum_duplicate_indices(g) for g in grads]


# Step 3: the non-finite gate.


def apply(optimizer, keras_apply, grads, trainable_variables):
    """`OptlabOptimizer.apply`: steps 2 and 3, then `keras_apply` (step 4)."""
    grads = merge_repeated_rows(grads)
    if (
        optimizer.on_nonfinite == "apply"
        or optimizer._in_checked_step
        or len(grads) == 0
    ):
        return keras_apply(grads, trainable_variables)
    return _checked_apply(optimizer, keras_apply, grads, trainable_variables)


def _unchecked_apply(optimizer, keras_apply, grads, trainable_variables):
    # Keras' `apply` may call back into ours (`stateless_apply` does): the
    # flag stops a second check.
    optimizer._in_checked_step = True
    try:
        keras_apply(grads, trainable_variables)
    finally:
        optimizer._in_checked_step = False


def _checked_apply(optimizer, keras_apply, grads, trainable_variables):
    """`apply` behind one finite flag."""
    if trainable_variables is None:
        if not optimizer.built:  # Keras' own error
            return keras_apply(grads, trainable_variables)
        variables = optimizer._trainable_variables
    else:
        variables = list(trainable_variables)
        if not optimizer.built:
            # Built here, not inside a branch of the cond below.
            with keras.name_scope(optimizer.name, caller=optimizer):
                optimizer.build(variables)
            optimizer.built = True

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if (
            tf.distribute.has_strategy()
            and not tf.distribute.in_cross_replica_context()
        ):
            # Each replica holds its own gradients: decide across all of
            # them, in cross-replica context (as LossScaleOptimizer does).
            return tf.distribute.get_replica_context().merge_call(
                functools.partial(
                    _checked_apply_across_replicas, optimizer, keras_apply
                ),
                args=(grads, trainable_variables, variables),
            )
    flags = nonfinite.finite_flags(grads)
    finite = ops.all(flags)
    known = nonfinite.concrete(finite)
    if known is not None:
        if known:
            _unchecked_apply(
                optimizer, keras_apply, grads, trainable_variables
            )
        elif optimizer.on_nonfinite == "raise":
            step = int(ops.convert_to_numpy(optimizer.iterations)) + 1
            nonfinite.raise_eagerly(variables, flags, step)
        else:
            optimizer._nonfinite_steps.assign_add(1)
        return
    ops.cond(
        finite,
        lambda: _unchecked_apply(
            optimizer, keras_apply, grads, trainable_variables
        ),
        lambda: _graph_nonfinite_step(optimizer, variables, flags),
    )


def _checked_apply_across_replicas(
    optimizer, keras_apply, distribution, grads, trainable_variables,
    variables,
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
            _unchecked_apply,
            args=(optimizer, keras_apply, grads, trainable_variables),
        )

    ops.cond(
        ops.all(flags),
        apply_fn,
        lambda: _graph_nonfinite_step(optimizer, variables, flags),
    )


def _graph_nonfinite_step(optimizer, variables, flags):
    if optimizer.on_nonfinite != "raise":
        optimizer._nonfinite_steps.assign_add(1)
        return
    import tensorflow as tf

    # Fails the step before the count; XLA compiles the assertions away,
    # and the step is then skipped and counted.
    assertions = nonfinite.tf_assertions(variables, flags)
    with tf.control_dependencies(assertions):
        optimizer._nonfinite_steps.assign_add(1)


def stateless_apply(
    optimizer, keras_stateless_apply, optimizer_variables, grads,
    trainable_variables,
):
    """`OptlabOptimizer.stateless_apply` (JAX's `fit`): step 3 as a
    `cond` over the stateless step. Keras' stateless step calls `apply`,
    which merges sparse rows (step 2); the flag reads the stored values,
    repeated or not."""
    if optimizer.on_nonfinite == "apply" or not optimizer.built:
        return keras_stateless_apply(
            optimizer_variables, grads, trainable_variables
        )
    flags = nonfinite.finite_flags(grads)
    counter = [id(v) for v in optimizer.variables].index(
        id(optimizer._nonfinite_steps)
    )

    def apply_fn():
        optimizer._in_checked_step = True
        try:
            return keras_stateless_apply(
                optimizer_variables, grads, trainable_variables
            )
        finally:
            optimizer._in_checked_step = False

    def skip_fn():
        if optimizer.on_nonfinite == "raise":
            nonfinite.jax_report(optimizer._trainable_variables, flags)
        state = list(optimizer_variables)
        state[counter] = state[counter] + 1
        return list(trainable_variables), state

    trainable, state = ops.cond(ops.all(flags), apply_fn, skip_fn)
    return list(trainable), list(state)


# Steps 6 and 7: hooks and backend dispatch.


def update_variables(
    optimizer, keras_update, grads, trainable_variables, learning_rate
):
    """`OptlabOptimizer._backend_update_step`: the rule's hooks around
    Keras' per-variable loop `keras_update`, compiled on torch with
    `fused=True`."""
    if (optimizer.reads_gradients_of_step
            and keras.backend.backend() != "tensorflow"):
        # TensorFlow: in `distributed_tf_update`, once the replicas'
        # gradients are summed.
        optimizer.gradients_of_step(grads)
    optimizer.before_updates(learning_rate)
    if optimizer.fused is True and keras.backend.backend() == "torch":
        from keras_optlab.engine import torch_compiled

        torch_compiled.update_step(
            optimizer, keras_update, grads, trainable_variables,
            learning_rate,
        )
    else:
        keras_update(grads, trainable_variables, learning_rate)
    optimizer.after_updates(trainable_variables, learning_rate)


def distributed_tf_update(
    optimizer, keras_update, distribution, grads_and_vars, learning_rate
):
    """`OptlabOptimizer._distributed_tf_update_step` (TensorFlow only):
    Keras' per-variable loop, each update compiled by XLA where `fused`
    allows."""
    _gradients_of_step(optimizer, distribution, grads_and_vars)
    if optimizer.fused is False:
        return keras_update(distribution, grads_and_vars, learning_rate)
    from keras_optlab.engine import fused

    fused.update_step(optimizer, distribution, grads_and_vars, learning_rate)


def _gradients_of_step(optimizer, distribution, grads_and_vars):
    """`optimizer.gradients_of_step` with the summed gradients: directly
    with one replica, else in each replica's update context (as the fused
    path updates), so that each replica writes its copy of the state."""
    pairs = [(g, v) for g, v in grads_and_vars if g is not None]
    if not pairs or not optimizer.reads_gradients_of_step:
        return
    if distribution.num_replicas_in_sync == 1:
        optimizer.gradients_of_step([g for g, _ in pairs])
        return

    def see(_, *gradients):
        optimizer.gradients_of_step(list(gradients))

    distribution.extended.update(
        pairs[0][1], see, args=tuple(g for g, _ in pairs), group=False
    )


# Step 8: the rule, in program order under XLA.


def in_program_order(update_step):
    """Wraps a rule's `update_step` so that, in a trace XLA compiles whole,
    its writes keep program order and its sums go in blocks
    (`xla.StepOrder`). `OptlabOptimizer` applies it to every subclass'
    `update_step`; a rule calling its parent's runs in the same order."""

    @functools.wraps(update_step)
    def ordered_update_step(optimizer, gradient, variable, learning_rate):
        if optimizer._step_order is not None or not xla.tracing_for_xla(
            optimizer.iterations
        ):
            return update_step(optimizer, gradient, variable, learning_rate)
        optimizer._step_order = xla.StepOrder(
            parameter=variable, holds=optimizer._true_at_run_time
        )
        try:
            return update_step(optimizer, gradient, variable, learning_rate)
        finally:
            optimizer._step_order = None

    ordered_update_step.in_program_order = True
    return ordered_update_step
