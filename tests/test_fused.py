"""The fused (XLA-compiled) update path gives the plain path's results.

`fused=True` compiles each dense variable's `update_step` with XLA inside a
`tf.function` that is itself not compiled; `fused=False` runs Keras' own
per-variable loop. The update rule is the same code, so in float64 the two
differ only by rounding from XLA's fusion (rtol 1e-6 is asserted, far above
float64 rounding; float32 runs: rtol 1e-5, atol 1e-6 as in
test_compile_distribute.py). Each test also checks that the compiled path
really ran (a compiled function exists for each eligible variable), so an
unnoticed fallback cannot make the comparison empty.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optlab
from keras_optlab.engine import fused as fused_path
from keras_optlab.engine import hlo as hlo_analysis
from keras_optlab.engine.xla import blocked_sum
from tests import helpers
from tests import models
from tests.optimizer_table import TABLE

TABLE_BY_NAME = {row.name: row for row in TABLE}

RTOL64 = 1e-6
RTOL32, ATOL32 = 1e-5, 1e-6
STEPS = 3


def _compiled_updates(optimizer):
    cache = optimizer.__dict__.get("_fused_cache")
    if cache is None:
        return {}
    return {k: f for k, f in cache.updates.items() if f is not None}


def _apply_steps(optimizer, params, grads, dtype="float64"):
    """Runs `optimizer` over `grads` in a `tf.function` step; the final
    values and the step function."""
    variables = helpers.make_variables(params, dtype)

    @tf.function
    def step(gradients):
        optimizer.apply(gradients, variables)

    for gradient_list in grads:
        step([tf.constant(g, dtype=dtype) for g in gradient_list])
    return [v.numpy() for v in variables], step


def _run(name, setting, fused, params, grads, dtype="float64",
         grouping=None):
    optimizer = helpers.make_optimizer(name, fused=fused, **setting)
    if grouping == "variable":
        fused_path.compile_per_variable(optimizer)
    values, _ = _apply_steps(optimizer, params, grads, dtype)
    return values, optimizer


# The first and the last setting of every row: the defaults and an edge case.
FIRST_AND_LAST = [
    pytest.param(row, row.settings[i],
                 id=f"{row.name}-{i % len(row.settings)}")
    for row in TABLE for i in (0, -1)
]


@pytest.mark.parametrize("row, setting", FIRST_AND_LAST)
def test_fused_equals_plain(row, setting):
    params, grads = helpers.random_problem(STEPS, seed=11)
    plain, _ = _run(row.name, setting, False, params, grads)
    fused, optimizer = _run(row.name, setting, True, params, grads)
    # One compiled update for all variables of a single replica.
    assert len(_compiled_updates(optimizer)) == 1
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=RTOL64, atol=0)
    assert not np.allclose(plain[0], params[0])


@pytest.mark.parametrize("shape", [(256, 128), (1000, 33), (4099,)])
def test_blocked_sum_of_squares_stores_no_square(shape):
    """sum(x^2) over a whole variable, also of a size no multiple of the
    block, compiles without a temporary the size of x (XLA stores x^2 for
    a plain sum(square(x)))."""
    x = tf.random.normal(shape)
    count = tf.Variable(0, dtype="int64")

    @tf.function(jit_compile=True)
    def norm(x):
        return blocked_sum(tf.square(x), count >= 0)

    np.testing.assert_allclose(norm(x), np.sum(np.square(x.numpy())),
                               rtol=1e-5)
    memory = hlo_analysis.analyze(hlo_analysis.compiler_ir(norm, [x], [x]))
    assert memory["copies"] == 0
    assert memory["temporary_bytes"] <= (
        helpers.MEMORY_SLACK * memory["argument_bytes"]), memory


HAND_WRITTEN_HLO = """HloModule m, input_output_alias={ {0}: (1, {}, may-alias) }
%fused (p: f32[4,2]) -> f32[4,2] {
  ROOT %p = f32[4,2]{1,0} parameter(0)
}

ENTRY %update (arg0.1: f32[], arg1.1: f32[4,2], arg2.1: f32[4,2]) -> (f32[4,2], f32[4,2]) {
  %arg0.1 = f32[] parameter(0)
  %arg1.1 = f32[4,2]{1,0} parameter(1)
  %arg2.1 = f32[4,2]{1,0} parameter(2)
  %copy.1 = f32[4,2]{1,0} copy(%arg1.1)
  %copy.2 = f32[] copy(%arg0.1)
  %view = f32[8]{0} bitcast(%copy.1)
  %sqrt_fusion = f64[4,2]{1,0} fusion(%copy.1), kind=kLoop, calls=%fused
  %out_fusion = f32[4,2]{1,0} fusion(%arg2.1, %sqrt_fusion), kind=kLoop, calls=%fused
  %new_fusion = f32[4,2]{1,0} fusion(%arg2.1), kind=kLoop, calls=%fused
  ROOT %tuple = (f32[4,2]{1,0}, /*index=1*/f32[4,2]{1,0}) tuple(%out_fusion, /*index=1*/%new_fusion)
}
"""


def test_hlo_analysis_counts_copies_temporaries_and_traffic():
    analysis = hlo_analysis.analyze(HAND_WRITTEN_HLO)
    # Temporaries: the two copies (32 + 4 B), the float64 fusion (64 B) and
    # the output not written in place (32 B); the aliased output and the
    # bitcast view hold nothing new. Only the array's copy counts as one.
    # Traffic: copies 32 + 32 and 4 + 4, sqrt_fusion 32 + 64, out_fusion
    # 32 + 64 + 32, new_fusion 32 + 32.
    assert analysis == {
        "argument_bytes": 4 + 32 + 32, "temporary_bytes": 32 + 4 + 64 + 32,
        "copies": 1, "traffic_bytes": 64 + 8 + 96 + 128 + 64, "loops": 5}


def test_compile_check_leaves_no_op_in_the_train_step():
    """TF's `experimental_get_compiler_ir` probes for its device with a
    `random_normal` op in the current graph unless told the device; left
    in a train step it would draw from (and, compiled, advance) the random
    state every step."""
    variables = [keras.Variable(np.ones((256, 128), "float32"))]
    optimizer = helpers.make_optimizer("gradient_descent", fused=True)

    @tf.function
    def step(gradients):
        optimizer.apply(gradients, variables)

    graph = step.get_concrete_function(
        [tf.TensorSpec((256, 128), "float32")]).graph
    assert _compiled_updates(optimizer)
    assert not [op.type for op in graph.get_operations()
                if "Random" in op.type]


def test_dot_compiles_without_its_whole_input():
    """Prodigy's inner product <g, x0 - x>, summed in rows of 32 (a padded
    last row included) on the fused path: the plain path's results, and no
    temporary of the product's size."""
    shapes = [(4099,), (64, 33), (7,)]
    params, grads = helpers.random_problem(STEPS, seed=5, shapes=shapes)
    plain, _ = _run("prodigy", {}, False, params, grads)
    fused, optimizer = _run("prodigy", {}, True, params, grads)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=RTOL64, atol=0)
    assert not np.allclose(plain[0], params[0])
    (hlo,) = fused_path.compiled_hlo(optimizer).values()
    memory = hlo_analysis.analyze(hlo)
    # float64 row sums and their partial sums (about 1/32 of one
    # variable), not a product the size of a variable.
    row_sums = 8 * sum(-(-int(np.prod(s)) // 32) for s in shapes)
    assert memory["copies"] == 0
    assert memory["temporary_bytes"] <= 2 * row_sums, memory


@pytest.mark.parametrize("grouping", ["all", "variable"])
def test_weight_decay_is_compiled_with_the_update(grouping):
    """Keras' decoupled weight decay runs inside the compiled update (no
    separate pass over the variables in the train step), equals the plain
    path, and still skips the variables excluded from it."""
    params, grads = helpers.random_problem(STEPS, seed=13)
    setting = {"weight_decay": 0.1, "learning_rate": 0.05}
    runs = {}
    for fused in (True, False):
        optimizer = helpers.make_optimizer("adamw", fused=fused, **setting)
        if grouping == "variable":
            fused_path.compile_per_variable(optimizer)
        optimizer.exclude_from_weight_decay(var_names=["v1"])
        runs[fused], step = _apply_steps(optimizer, params, grads)
        writes = [op.type for op in step.get_concrete_function(
            [tf.TensorSpec(p.shape, "float64") for p in params]
        ).graph.get_operations() if op.type == "AssignSubVariableOp"]
        assert (writes == []) if fused else writes
    for a, b in zip(runs[True], runs[False]):
        np.testing.assert_allclose(a, b, rtol=RTOL64, atol=0)
    # The excluded variable moved by the Adam step only: the same run
    # without decay leaves it where the decayed run does.
    plain_adam = helpers.make_optimizer(
        "adamw", fused=True, learning_rate=0.05, weight_decay=0.0)
    undecayed = helpers.run_keras(plain_adam, params, grads)[-1]
    np.testing.assert_allclose(runs[True][1], undecayed[1], rtol=RTOL64)
    assert not np.allclose(runs[True][0], undecayed[0])


@pytest.mark.parametrize("name", ["adam", "prodigy", "novograd"])
def test_per_variable_grouping_equals_plain(name):
    params, grads = helpers.random_problem(STEPS, seed=12)
    plain, _ = _run(name, {}, False, params, grads)
    fused, optimizer = _run(name, {}, True, params, grads,
                            grouping="variable")
    assert len(_compiled_updates(optimizer)) == len(params)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=RTOL64, atol=0)


def test_auto_compiles_only_large_variables_and_false_none():
    big = fused_path.AUTO_MIN_SIZE
    params, grads = helpers.random_problem(2, shapes=[(big,), (3, 4)])
    out_auto, auto = _run("adam", {}, "auto", params, grads)
    out_off, off = _run("adam", {}, False, params, grads)
    big_variable = auto._trainable_variables[0]
    assert list(_compiled_updates(auto)) == [(auto._var_key(big_variable),)]
    assert not fused_path.multiplies_matrices(auto)
    assert _compiled_updates(off) == {}
    for a, b in zip(out_auto, out_off):
        np.testing.assert_allclose(a, b, rtol=RTOL64, atol=0)


@pytest.mark.parametrize("name", ["lars", "novograd", "lamb"])
def test_auto_compiles_norm_based_rules(name):
    """Their norms no longer make the compiled update slower than the plain
    one (base.squared_norm), so "auto" compiles them like the others."""
    params, grads = helpers.random_problem(
        1, shapes=[(fused_path.AUTO_MIN_SIZE,)])
    _, auto = _run(name, {}, "auto", params, grads)
    assert len(_compiled_updates(auto)) == 1


@pytest.mark.parametrize("name", ["muon", "shampoo", "soap"])
def test_auto_leaves_matrix_products_plain(name):
    """Their updates multiply matrices: "auto" leaves those plain (one XLA
    program would run the variables' products one after another) and
    still compiles the element-wise update of their 1-D variables, each
    on its own; the values are the plain path's."""
    side = 128  # 128 x 128 = AUTO_MIN_SIZE elements
    assert side * side == fused_path.AUTO_MIN_SIZE
    params, grads = helpers.random_problem(
        STEPS, seed=3, shapes=[(side, side), (fused_path.AUTO_MIN_SIZE,)])
    setting = TABLE_BY_NAME[name].settings[0]
    auto_values, auto = _run(name, setting, "auto", params, grads)
    plain_values, _ = _run(name, setting, False, params, grads)
    matrix, vector = auto._trainable_variables
    cache = auto.__dict__["_fused_cache"]
    # The group was found to multiply matrices, then the matrix alone
    # (keyed with its device).
    group = (auto._var_key(matrix), auto._var_key(vector))
    assert cache.per_variable
    assert group in cache.matrix_products
    assert [key[0] for key in cache.matrix_products - {group}] == [
        auto._var_key(matrix)]
    assert [key for key, _ in _compiled_updates(auto)] == [
        auto._var_key(vector)]
    for a, b in zip(auto_values, plain_values):
        np.testing.assert_allclose(a, b, rtol=RTOL64, atol=0)
    assert not np.allclose(auto_values[0], params[0])
    # fused=True still compiles everything in one update, which `optlab
    # bench` reads to report the default path.
    _, fused = _run(name, setting, True, params, grads)
    assert len(_compiled_updates(fused)) == 1
    assert fused_path.multiplies_matrices(fused)


def test_matrix_products_are_found_inside_branches():
    """Shampoo-like updates recompute their roots in a `cond`; a product
    there counts, an element-wise body does not."""
    x = tf.TensorSpec((4, 4), tf.float32)
    flag = tf.TensorSpec((), tf.bool)

    def branched(x, flag):
        return tf.cond(flag, lambda: tf.linalg.matmul(x, x),
                       lambda: x * 2.0)

    def elementwise(x, flag):
        return tf.cond(flag, lambda: x * x, lambda: x * 2.0)

    assert fused_path._multiplies_matrices(
        tf.function(branched, jit_compile=True), [x, flag])
    assert not fused_path._multiplies_matrices(
        tf.function(elementwise, jit_compile=True), [x, flag])


@pytest.mark.parametrize("value", [1, 0, "on", None, "Auto"])
def test_fused_argument_is_checked(value):
    with pytest.raises(ValueError, match=f"Received: fused={value!r}"):
        keras_optlab.optimizers.Adam(fused=value)


@pytest.mark.parametrize("value", [True, False, "auto"])
def test_fused_in_config(value):
    optimizer = keras_optlab.optimizers.Adam(fused=value)
    config = optimizer.get_config()
    assert config["fused"] == value
    assert keras_optlab.optimizers.Adam.from_config(config).fused == value
    assert keras_optlab.optimizers.Adam().fused == "auto"


@pytest.mark.parametrize("name", ["adagrad", "lazyadam", "adam", "momentum"])
def test_sparse_gradients(name):
    """Rules that update only a sparse gradient's rows keep the plain path;
    the others (which densify it anyway) are compiled on the dense sum."""
    table = np.random.default_rng(0).normal(size=(50, 4))
    rows = [np.array([1, 7, 7, 30]), np.array([2, 1, 49, 0])]
    values = [np.random.default_rng(s).normal(size=(4, 4)) for s in (1, 2)]
    results = {}
    for fused in (True, False):
        optimizer = helpers.make_optimizer(name, learning_rate=0.1,
                                           fused=fused)
        variable = keras.Variable(table, dtype="float64")

        @tf.function
        def step(value, index):
            shape = tf.constant([50, 4])
            optimizer.apply([tf.IndexedSlices(value, index, shape)],
                            [variable])

        for index, value in zip(rows, values):
            step(tf.constant(value), tf.constant(index))
        results[fused] = variable.numpy()
        if fused:
            compiled = len(_compiled_updates(optimizer))
            rows_only = TABLE_BY_NAME[name].sparse_writes
            assert compiled == (0 if rows_only else 1)
    np.testing.assert_allclose(results[True], results[False], rtol=RTOL64)
    assert not np.allclose(results[True], table)


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in TABLE])
def test_rows_only_flag_matches_table(row):
    """The class flag that keeps sparse gradients on the plain path says
    what the table's graph check (test_sparse.py) found."""
    cls = keras_optlab.optimizers.get(row.name).__class__
    assert cls._sparse_update_touches_rows_only == row.sparse_writes


# Prodigy and Nadam have per-step hooks (`before_updates`, `after_updates`);
# Prodigy also sums
# over all variables after their updates.
@pytest.mark.parametrize("name", ["nadam", "prodigy"])
def test_mirrored_strategy(name, mirrored_strategy):
    strategy = mirrored_strategy
    x, y = models.regression_data(n=64)
    weights = {}
    for fused in (True, False):
        with strategy.scope():
            model = models.dense_model()
            optimizer = helpers.make_optimizer(
                name, **dict(TABLE_BY_NAME[name].settings[0], fused=fused))
            model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        weights[fused] = models.weights_of(model)
        if fused:
            # One compiled update per variable and replica.
            devices = {device for _, device in _compiled_updates(optimizer)}
            assert len(devices) == 2
            assert len(_compiled_updates(optimizer)) == 2 * len(
                model.trainable_variables)
    models.assert_same_weights(weights[True], weights[False], RTOL32, ATOL32)


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.mark.parametrize("name", ["adam", "nadam", "rmsprop"])
def test_mixed_precision_loss_scale(mixed_float16, name):
    x, y = models.regression_data(n=64)
    weights = {}
    for fused in (True, False):
        keras.utils.set_random_seed(3)
        model = models.dense_model()
        inner = helpers.make_optimizer(name, learning_rate=0.01, fused=fused)
        optimizer = keras.optimizers.LossScaleOptimizer(inner)
        model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        weights[fused] = models.weights_of(model)
        if fused:
            assert len(_compiled_updates(inner)) == 1
    assert model.layers[-1].compute_dtype == "float16"
    models.assert_same_weights(weights[True], weights[False], RTOL32, ATOL32)


@pytest.mark.parametrize("wrapper", ["lookahead", "swa", "cautious"])
def test_wrappers_keep_working(wrapper):
    params, grads = helpers.random_problem(6, seed=5)
    results = {}
    for fused in (True, False):
        inner = helpers.make_optimizer("adam", learning_rate=0.05,
                                       fused=fused)
        if wrapper == "lookahead":
            optimizer = keras_optlab.optimizers.Lookahead(inner,
                                                          sync_period=2)
        elif wrapper == "cautious":
            optimizer = keras_optlab.optimizers.Cautious(inner)
        else:
            optimizer = keras_optlab.optimizers.SWA(inner, start_step=2,
                                                    average_period=2)
        results[fused], _ = _apply_steps(optimizer, params, grads)
        if fused:
            assert len(_compiled_updates(inner)) == 1
    for a, b in zip(results[True], results[False]):
        np.testing.assert_allclose(a, b, rtol=RTOL64, atol=0)


def test_compiled_model_step_with_fused():
    """A model compiled with XLA as a whole also runs a fused optimizer."""
    x, y = models.regression_data(n=32)
    weights = {}
    for fused in (True, False):
        keras.utils.set_random_seed(4)
        model = models.dense_model()
        model.compile(optimizer=helpers.make_optimizer("adam", fused=fused),
                      loss="mse", jit_compile=True)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        weights[fused] = models.weights_of(model)
    models.assert_same_weights(weights[True], weights[False], RTOL32, ATOL32)
