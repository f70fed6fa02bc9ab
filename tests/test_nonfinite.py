"""`on_nonfinite`: what a step does with a gradient holding NaN or Inf.

"skip" must leave the run bit-identical to one that never saw the step
(parameters, every optimizer variable, iterations), "raise" must name the
variable before anything is written, "apply" must poison as Keras does. The
table-driven part runs eagerly and through one compiled step per backend
(`tf.function` on TensorFlow, `jax.jit` of `stateless_apply` on JAX); the
`fit`, XLA and MirroredStrategy parts run on TensorFlow.
"""

import numpy as np
import keras
import pytest

import keras_optlab
from tests import helpers
from tests import models
from tests.optimizer_table import TABLE, rows_params

BACKEND = keras.backend.backend()
DTYPE = "float32"
# (step, variable, value) of the poisoned gradients, 1-based steps.
POISON = [(2, 0, np.nan), (4, 1, np.inf), (5, 2, -np.inf)]
STEPS = 6
tf_only = pytest.mark.skipif(BACKEND != "tensorflow",
                             reason="TensorFlow graphs, XLA, tf.distribute")


def _problem():
    params, grads = helpers.random_problem(STEPS, seed=3)
    poisoned = [[np.array(g) for g in step] for step in grads]
    for step, index, value in POISON:
        poisoned[step - 1][index].flat[1] = value
    clean = [g for i, g in enumerate(grads)
             if i + 1 not in {s for s, _, _ in POISON}]
    return params, poisoned, clean


def _optimizer(row, **kwargs):
    return helpers.make_optimizer(row.name, **{**row.settings[0], **kwargs})


def _state(optimizer):
    """Every optimizer variable but the skip counter, as arrays."""
    skip = optimizer.nonfinite_steps
    return [np.array(v) for v in optimizer.variables
            if skip is None or v is not skip]


def _run(optimizer, params, grad_steps, compiled):
    variables = helpers.make_variables(params, DTYPE)
    step = (helpers.compiled_step(optimizer, variables) if compiled
            else lambda grads: optimizer.apply(grads, variables))
    for grads in grad_steps:
        step([keras.ops.convert_to_tensor(g, dtype=DTYPE) for g in grads])
    return [np.array(v) for v in variables]


def _assert_bit_identical(got, want, what):
    assert len(got) == len(want), what
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_array_equal(a, b, err_msg=f"{what} {i}")


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("row", rows_params())
def test_skip_equals_a_run_without_the_poisoned_steps(row, compiled):
    params, poisoned, clean = _problem()
    skipping = _optimizer(row, on_nonfinite="skip")
    weights = _run(skipping, params, poisoned, compiled)
    reference = _optimizer(row, on_nonfinite="skip")
    expected = _run(reference, params, clean, compiled)
    _assert_bit_identical(weights, expected, "parameter")
    _assert_bit_identical(_state(skipping), _state(reference), "state")
    assert int(skipping.iterations) == len(clean)
    assert int(skipping.nonfinite_steps) == len(POISON)
    assert int(reference.nonfinite_steps) == 0
    assert all(np.isfinite(w).all() for w in weights)


@pytest.mark.parametrize("row", rows_params())
def test_raise_names_the_variable_before_writing(row):
    params, poisoned, _ = _problem()
    optimizer = _optimizer(row, on_nonfinite="raise")
    variables = helpers.make_variables(params, DTYPE)
    optimizer.apply([keras.ops.convert_to_tensor(g, dtype=DTYPE)
                     for g in poisoned[0]], variables)
    weights = [np.array(v) for v in variables]
    state = _state(optimizer)
    with pytest.raises(FloatingPointError, match=r"variable\(s\) v0 at "
                       r"optimizer step 2; nothing was updated"):
        optimizer.apply([keras.ops.convert_to_tensor(g, dtype=DTYPE)
                         for g in poisoned[1]], variables)
    _assert_bit_identical([np.array(v) for v in variables], weights,
                          "parameter")
    _assert_bit_identical(_state(optimizer), state, "state")
    assert int(optimizer.iterations) == 1
    assert int(optimizer.nonfinite_steps) == 0


# Keras' twins that lose a NaN: on torch keras.ops.sign(NaN) is 0
# (torch.sign), so Keras' Lion leaves a poisoned coordinate where it is.
KERAS_DROPS_NAN = {("lion", "torch")}


@pytest.mark.parametrize("row", rows_params())
def test_apply_poisons_as_keras_does(row):
    """The default runs the update rule on the NaN, as Keras' optimizers
    do: the poisoned entry becomes NaN, and where Keras has the same
    optimizer, the NaN pattern of the parameters is Keras' pattern."""
    params, poisoned, _ = _problem()
    optimizer = _optimizer(row)
    assert optimizer.on_nonfinite == "apply"
    assert optimizer.nonfinite_steps is None
    weights = _run(optimizer, params, poisoned[:2], compiled=False)
    assert np.isnan(weights[0].flat[1])
    builtin = row.keras_builtin(optimizer.get_config())
    if (row.name, keras.backend.backend()) in KERAS_DROPS_NAN:
        builtin = None
    if builtin is not None:
        expected = _run(builtin, params, poisoned[:2], compiled=False)
        for got, want in zip(weights, expected):
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


def test_accumulation_and_ema_do_not_advance_on_a_skipped_call():
    params, poisoned, clean = _problem()
    options = {"learning_rate": 0.01, "use_ema": True, "ema_momentum": 0.5,
               "gradient_accumulation_steps": 2, "on_nonfinite": "skip"}
    skipping = keras_optlab.optimizers.Adam(**options)
    weights = _run(skipping, params, poisoned, compiled=True)
    reference = keras_optlab.optimizers.Adam(**options)
    expected = _run(reference, params, clean, compiled=True)
    _assert_bit_identical(weights, expected, "parameter")
    _assert_bit_identical(_state(skipping), _state(reference), "state")
    assert int(skipping.nonfinite_steps) == len(POISON)


def test_option_is_validated_and_serialised():
    with pytest.raises(ValueError, match="on_nonfinite.*Received: "
                       "on_nonfinite='ignore'"):
        keras_optlab.optimizers.Adam(on_nonfinite="ignore")
    optimizer = keras_optlab.optimizers.Adam(on_nonfinite="skip")
    config = optimizer.get_config()
    assert config["on_nonfinite"] == "skip"
    assert keras_optlab.optimizers.Adam.from_config(
        config).on_nonfinite == "skip"


# --- model.fit, XLA and MirroredStrategy (TensorFlow) ----------------------

BATCH = 16


def _fit_data(poison_batch):
    x, y = models.regression_data(n=4 * BATCH)
    if poison_batch is None:
        return x, y
    x = x.copy()
    # One sample of that batch: with two replicas, only one of them sees it.
    x[poison_batch * BATCH + 1, 0] = np.nan
    return x, y


def _fit(x, y, on_nonfinite, jit_compile=False, strategy=None):
    def build():
        model = models.dense_model()
        model.compile(
            optimizer=keras_optlab.optimizers.Adam(
                0.01, on_nonfinite=on_nonfinite),
            loss="mse", jit_compile=jit_compile)
        return model

    if strategy is None:
        model = build()
    else:
        with strategy.scope():
            model = build()
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    return model


def _without_batch(x, y, batch):
    keep = np.r_[0:batch * BATCH, (batch + 1) * BATCH:len(x)]
    return x[keep], y[keep]


@pytest.mark.parametrize("jit_compile", [False, True], ids=["plain", "jit"])
def test_fit_skips_the_batch_whose_loss_is_nan(jit_compile):
    """TensorFlow: tf.function, then XLA; JAX: eager, then `jit` through
    `stateless_apply`; torch: eager."""
    if jit_compile and BACKEND == "torch":
        pytest.skip("torch.compile is not a path this option changes")
    x, y = _fit_data(poison_batch=2)
    model = _fit(x, y, "skip", jit_compile=jit_compile)
    reference = _fit(*_without_batch(x, y, 2), "skip",
                     jit_compile=jit_compile)
    _assert_bit_identical(models.weights_of(model),
                          models.weights_of(reference), "weight")
    _assert_bit_identical(_state(model.optimizer), _state(reference.optimizer),
                          "state")
    assert int(model.optimizer.nonfinite_steps) == 1
    assert int(model.optimizer.iterations) == 3


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's jit-compiled step")
def test_jax_jit_raise_names_the_variable():
    """A traced JAX step cannot raise: a host callback reports the variable
    and its error ends the step."""
    import jax

    params, poisoned, _ = _problem()
    optimizer = _optimizer(TABLE[0], on_nonfinite="raise")
    variables = helpers.make_variables(params, DTYPE)
    optimizer.build(variables)
    step = jax.jit(optimizer.stateless_apply)
    with pytest.raises(Exception, match=r"FloatingPointError: Non-finite "
                       r"gradient \(NaN or Inf\) for variable\(s\) v0"):
        jax.block_until_ready(step(
            [v.value for v in optimizer.variables],
            [keras.ops.convert_to_tensor(g, dtype=DTYPE)
             for g in poisoned[1]],
            [v.value for v in variables]))


@tf_only
def test_optimizer_monitor_writes_the_skip_count(tmp_path):
    from keras_optlab.monitoring import OptimizerMonitor
    from tests.event_files import read_scalars

    x, y = _fit_data(poison_batch=1)
    model = models.dense_model()
    model.compile(optimizer=keras_optlab.optimizers.Lookahead(
        keras_optlab.optimizers.Adam(0.01, on_nonfinite="skip")), loss="mse")
    model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
              callbacks=[OptimizerMonitor(tmp_path)])
    logged = read_scalars(tmp_path)["optimizer/nonfinite_steps"]
    # (step, value) at the end of each epoch: 3 updates and 1 skip each.
    assert [(step, value) for step, value in logged] == [(3, 1.0), (6, 2.0)]


@tf_only
def test_sparse_gradient_with_nan_rows_is_skipped():
    import tensorflow as tf

    optimizer = keras_optlab.optimizers.Adam(0.1, on_nonfinite="skip")
    table = keras.Variable(np.ones((4, 2), "float32"), name="embedding")
    good = tf.IndexedSlices(tf.ones((2, 2)), tf.constant([0, 2]), [4, 2])
    bad = tf.IndexedSlices(tf.constant([[1.0, np.nan]]), tf.constant([1]),
                           [4, 2])
    optimizer.apply([good], [table])
    before = np.array(table)
    optimizer.apply([bad], [table])
    np.testing.assert_array_equal(np.array(table), before)
    assert int(optimizer.nonfinite_steps) == 1


@tf_only
def test_fit_raise_names_the_variable():
    import tensorflow as tf

    x, y = _fit_data(poison_batch=1)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="Non-finite gradient .* variable\\(s\\) "
                       "sequential/dense/kernel; nothing was updated"):
        _fit(x, y, "raise")


@tf_only
def test_xla_raise_skips_and_counts():
    """XLA compiles assertions away: the documented fallback is a skip."""
    x, y = _fit_data(poison_batch=2)
    model = _fit(x, y, "raise", jit_compile=True)
    reference = _fit(*_without_batch(x, y, 2), "raise", jit_compile=True)
    _assert_bit_identical(models.weights_of(model),
                          models.weights_of(reference), "weight")
    assert int(model.optimizer.nonfinite_steps) == 1


@tf_only
def test_mirrored_replicas_agree_to_skip(mirrored_strategy):
    strategy = mirrored_strategy
    # The NaN sample is in the first half of batch 2: replica 0 only.
    x, y = _fit_data(poison_batch=2)
    model = _fit(x, y, "skip", strategy=strategy)
    reference = _fit(*_without_batch(x, y, 2), "skip", strategy=strategy)
    _assert_bit_identical(models.weights_of(model),
                          models.weights_of(reference), "weight")
    _assert_bit_identical(_state(model.optimizer), _state(reference.optimizer),
                          "state")
    assert int(model.optimizer.nonfinite_steps.numpy()) == 1
    for variable in model.trainable_variables:
        replicas = [np.array(v) for v in
                    variable.value.values]  # the two mirrored copies
        np.testing.assert_array_equal(replicas[0], replicas[1])
