"""The fused update path of every optimizer on the TensorFlow backend.

Keras runs a model's train step without XLA on CPU-only machines and under
`tf.distribute` by default. An optimizer's `update_step` is then a chain of
separate element-wise kernels, each reading and writing whole tensors, and a
step costs several times the memory traffic its math needs. Here each
variable's own `update_step` (the one implementation, nothing rewritten) is
traced into a `tf.function(jit_compile=True)`, which XLA compiles into a few
fused loops; the surrounding train step stays as Keras built it.

What stays on the plain path:
- sparse (`tf.IndexedSlices`) gradients of an optimizer whose update
  touches only the named rows (`_sparse_update_touches_rows_only`:
  GradientDescent, Adagrad, LazyAdam), which XLA would turn into dense work.
  Every other rule densifies a sparse gradient in its first operation, so
  the fused path densifies it (repeated rows are already summed) and
  compiles the rest;
- with `fused="auto"`, variables of fewer than `AUTO_MIN_SIZE` elements (the
  kernel launches they save are worth less than their compilation);
- with `fused="auto"`, updates that multiply or decompose matrices (Muon's
  Newton-Schulz iteration, Shampoo's and SOAP's preconditioners): their
  cost is arithmetic, which fusion does not reduce, and one XLA program on
  CPU runs the variables' matrix products one after another where
  TensorFlow's graph runs two at once (benchmarks/RESULTS.md). Found from
  the traced update's operations, once per variable;
- a variable whose update XLA cannot compile: found once, at trace time,
  by lowering the update to HLO, so the train step never fails at run time.

With a single replica all eligible variables share one compiled update
(one XLA compilation, and the fastest step in benchmarks/RESULTS.md); when
"auto" finds matrix products in it, each variable is compiled or left
plain on its own instead. Under
a distribution strategy each replica's copy of a variable gets its own
compiled update, traced in that replica's update context so that it reads
and writes that replica's optimizer state; `compile_per_variable` gives a
single replica that form too (the benchmark times it, tests check it).
"""

import warnings

import keras
import tensorflow as tf

from keras_optlab.engine import hlo
from keras_optlab.engine import decay as weight_decay

# Elements of a variable from which `fused="auto"` compiles its update.
AUTO_MIN_SIZE = 2**14

# TensorFlow operations of matrix products and decompositions; `fused="auto"`
# leaves an update holding any of them plain.
MATRIX_OPERATIONS = frozenset({
    "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum",
    "SelfAdjointEigV2", "Svd", "Qr", "Cholesky", "MatrixInverse",
    "MatrixSquareRoot", "MatrixSolve", "MatrixTriangularSolve",
})


class _Cache:
    """Compiled updates per (variable, device), and the argument specs each
    was compiled for; a plain object, so Keras' attribute tracking leaves
    the functions out of saved models."""

    def __init__(self):
        self.updates = {}
        self.specs = {}
        self.per_variable = False
        # Keys "auto" left plain for their matrix products.
        self.matrix_products = set()


def _cache(optimizer):
    cache = optimizer.__dict__.get("_fused_cache")
    if cache is None:
        cache = _Cache()
        object.__setattr__(optimizer, "_fused_cache", cache)
    return cache


def compile_per_variable(optimizer):
    """One compiled update per variable for `optimizer` even with a single
    replica, as under a multi-replica strategy."""
    _cache(optimizer).per_variable = True


def _spec(tensor):
    return tf.TensorSpec(tensor.shape, tensor.dtype)


def _initialized(variables):
    with tf.init_scope():
        return all(bool(v.is_initialized()) for v in variables)


def _compiles(optimizer, variables, function, specs):
    """Whether XLA can compile `function` for arguments of `specs`.

    The check lowers the function to HLO, which reads the variables it
    captures; while they are not yet initialized (an optimizer built inside
    the first trace of a `tf.function`) it cannot run, and the update is
    trusted to compile: `keras.ops` math, which all these update rules are,
    has XLA kernels.
    """
    state = [v.value if isinstance(v, keras.Variable) else v
             for v in list(variables) + list(optimizer.variables)]
    if not _initialized(state):
        return True
    try:
        hlo.compiler_ir(function, specs, variables, "hlo")
    except Exception as error:  # XLA names the op it lacks in the message.
        warnings.warn(
            f"The fused update path cannot compile this update; it runs "
            f"unfused. XLA said: {str(error).splitlines()[0][:300]}",
            stacklevel=4,
        )
        return False
    return True


def _decay_and_update(optimizer, gradient, variable, learning_rate):
    """Keras' decoupled weight decay (w -= w * wd * lr), then the update.

    On this path Keras' `_apply_weight_decay` is not run (decay.py), leaving
    the decay to
    each variable's update, so that it is compiled with it: run beforehand
    as Keras does, it would be one more pass reading and writing every
    decayed variable. Each variable's decay and update touch only that
    variable, so decaying all before updating any (Keras' order) gives the
    same result.
    """
    decay = weight_decay.decoupled_decay(optimizer, variable, variable.dtype)
    if decay is not None:
        lr = tf.cast(learning_rate, variable.dtype)
        variable.assign_sub(variable * decay * lr)
    return optimizer.update_step(gradient, variable, learning_rate)


def _eligible(optimizer, gradient, variable):
    if gradient is None:
        return False
    if (isinstance(gradient, tf.IndexedSlices)
            and optimizer._sparse_update_touches_rows_only):
        return False
    if optimizer.fused == "auto":
        size = variable.shape.num_elements()
        return size is not None and size >= AUTO_MIN_SIZE
    return True


def _compiled(optimizer, key, variables, update, *arguments):
    """The compiled `update(*arguments)` for `key`, made and checked on
    first use; None where XLA cannot compile it."""
    updates = _cache(optimizer).updates
    if key not in updates:

        function = tf.function(update, jit_compile=True, autograph=False)
        specs = [_spec(argument) for argument in arguments]
        if optimizer.fused == "auto" and _multiplies_matrices(function,
                                                              specs):
            _cache(optimizer).matrix_products.add(key)
            function = None
        elif not _compiles(optimizer, variables, function, specs):
            function = None
        updates[key] = function
        _cache(optimizer).specs[key] = specs
    return updates[key]


def _multiplies_matrices(function, specs):
    """Whether the traced `function` holds a `MATRIX_OPERATIONS` operation,
    in its body or in a branch or loop body (the trace is the one the
    compiled call then uses)."""
    graph = function.get_concrete_function(*specs).graph.as_graph_def()
    operations = {node.op for node in graph.node}
    for body in graph.library.function:
        operations.update(node.op for node in body.node_def)
    return not operations.isdisjoint(MATRIX_OPERATIONS)


def _update_one(optimizer, gradient, variable, learning_rate):
    if not _eligible(optimizer, gradient, variable):
        return _decay_and_update(optimizer, gradient, variable, learning_rate)
    gradient = tf.convert_to_tensor(gradient)
    learning_rate = tf.convert_to_tensor(learning_rate)
    key = (optimizer._var_key(variable), variable.device)

    def update(gradient, learning_rate):
        _decay_and_update(optimizer, gradient, variable, learning_rate)

    function = _compiled(optimizer, key, [variable], update, gradient,
                         learning_rate)
    if function is None:
        return _decay_and_update(optimizer, gradient, variable, learning_rate)
    return function(gradient, learning_rate)


def _update_group(optimizer, grads_and_vars, learning_rate):
    """One compiled update for all eligible variables (single replica).
    Returns False, having done nothing, where "auto" leaves it plain for
    its matrix products: each variable then decides on its own, from then
    on. True when done."""
    group = [(g, v) for g, v in grads_and_vars
             if _eligible(optimizer, g, v)]
    rest = [(g, v) for g, v in grads_and_vars
            if not _eligible(optimizer, g, v)]
    if group:
        variables = [v for _, v in group]
        gradients = [tf.convert_to_tensor(g) for g, _ in group]
        learning_rate = tf.convert_to_tensor(learning_rate)
        key = tuple(optimizer._var_key(v) for v in variables)

        # Flat arguments: the compiler check takes a TensorSpec per argument.
        def update(learning_rate, *gradients):
            for gradient, variable in zip(gradients, variables):
                _decay_and_update(optimizer, gradient, variable, learning_rate)

        function = _compiled(optimizer, key, variables, update,
                             learning_rate, *gradients)
        if key in _cache(optimizer).matrix_products:
            _cache(optimizer).per_variable = True
            return False
        if function is None:
            rest = group + rest
        else:
            function(learning_rate, *gradients)
    for gradient, variable in rest:
        _decay_and_update(optimizer, gradient, variable, learning_rate)
    return True


def update_step(optimizer, distribution, grads_and_vars, learning_rate):
    """Applies `optimizer.update_step` to every (gradient, variable) pair,
    compiled where `optimizer.fused` allows. Takes the place of Keras'
    `_distributed_tf_update_step` and keeps its contract."""
    single_replica = distribution.num_replicas_in_sync == 1
    if single_replica and not _cache(optimizer).per_variable:
        if _update_group(optimizer, grads_and_vars, learning_rate):
            return

    def apply(variable, gradient, learning_rate):
        return _update_one(optimizer, gradient, variable, learning_rate)

    for gradient, variable in grads_and_vars:
        distribution.extended.update(
            variable, apply, args=(gradient, learning_rate), group=False
        )


def multiplies_matrices(optimizer):
    """Whether an update `optimizer` has compiled (with `fused=True`)
    multiplies or decomposes matrices: what `fused="auto"` leaves plain."""
    cache = _cache(optimizer)
    return any(_multiplies_matrices(function, cache.specs[key])
               for key, function in cache.updates.items()
               if function is not None)


def compiled_hlo(optimizer):
    """The optimized HLO text of each compiled update `optimizer` has made,
    keyed like its cache (after at least one fused step)."""
    cache = _cache(optimizer)
    return {
        key: hlo.compiler_ir(function, cache.specs[key],
                             optimizer.variables)
        for key, function in cache.updates.items() if function is not None
    }
