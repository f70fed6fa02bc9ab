"""jit_compile and MirroredStrategy give the weights of the plain run, and
model.fit (a compiled train step) those of eager `apply` for the rules with
shared per-step state.

float32 training of a small dense model, 3 epochs; XLA and the all-reduce of
two replicas change only the order of float32 operations, so rtol 1e-5,
atol 1e-6.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optlab
from tests import helpers
from tests import models
from tests.optimizer_table import TABLE

RTOL, ATOL = 1e-5, 1e-6
ROWS = [pytest.param(r, id=r.name) for r in TABLE]


def _train(row, jit_compile=False, strategy=None, run_eagerly=False):
    x, y = models.regression_data(n=64)
    scope = strategy.scope() if strategy else tf.distribute.get_strategy().scope()
    with scope:
        model = models.dense_model()
        model.compile(optimizer=helpers.make_optimizer(row.name, **row.settings[0]),
                      loss="mse", jit_compile=jit_compile,
                      run_eagerly=run_eagerly)
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return models.weights_of(model)


_PLAIN = {}


def _plain(row):
    """The plain run, trained once per row for both comparisons; eagerly,
    which runs the same kernels as a traced step (model.fit's compiled
    step is checked against eager `apply` below and bit for bit in
    test_serialization.py) and costs less than tracing one."""
    if row.name not in _PLAIN:
        _PLAIN[row.name] = _train(row, run_eagerly=True)
    return _PLAIN[row.name]


@pytest.mark.parametrize("row", ROWS)
def test_jit_compile_matches_plain(row):
    plain = _plain(row)
    compiled = _train(row, jit_compile=True)
    models.assert_same_weights(compiled, plain, RTOL, ATOL)


@pytest.mark.parametrize("row", ROWS)
def test_mirrored_strategy_matches_single_device(row, mirrored_strategy):
    strategy = mirrored_strategy
    assert strategy.num_replicas_in_sync == 2
    single = _plain(row)
    mirrored = _train(row, strategy=strategy)
    models.assert_same_weights(mirrored, single, RTOL, ATOL)
    # The runs must have trained, or the comparison says nothing.
    initial = models.weights_of(models.dense_model())
    assert not all((a == b).all() for a, b in zip(single, initial))


# Rules with shared per-step state or first-step logic.
@pytest.mark.parametrize(
    "name", ["adan", "adabound", "qhadam", "lars", "prodigy", "adopt",
             "lamb", "madgrad", "ademamix"])
def test_model_fit_equals_eager_apply(name):
    """model.fit (compiled train step) and eager `apply` give the same
    weights: shared state and first-step logic survive tf.function."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")

    def make_model():
        keras.utils.set_random_seed(5)
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])

    kwargs = {"lars": {"learning_rate": 5.0},
              "ademamix": {"warmup_steps": 5}}.get(name, {})
    model = make_model()
    model.compile(optimizer=keras_optlab.optimizers.get(name, **kwargs), loss="mse")
    model.fit(x, y, batch_size=32, epochs=12, shuffle=False, verbose=0)

    eager = make_model()
    optimizer = keras_optlab.optimizers.get(name, **kwargs)
    for _ in range(12):
        with tf.GradientTape() as tape:
            loss = keras.losses.mean_squared_error(y, eager(x))
            loss = tf.reduce_mean(loss)
        grads = tape.gradient(loss, eager.trainable_variables)
        optimizer.apply(grads, eager.trainable_variables)
    for fitted, applied in zip(model.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(fitted, applied, rtol=1e-4, atol=1e-6)
    assert not np.allclose(model.get_weights()[0], make_model().get_weights()[0])
