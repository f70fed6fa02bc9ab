"""Lookahead, SWA and Cautious under MirroredStrategy over two logical CPUs
give the single-device run: weights and wrapper state (rtol 1e-5, atol 1e-6, as in
test_compile_distribute.py: the all-reduce changes only the order of float32
operations)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_optlab.optimizers import SWA
from keras_optlab.optimizers import Adam
from keras_optlab.optimizers import Lookahead
from keras_optlab.training import swa_batch_norm_update
from tests import models

RTOL, ATOL = 1e-5, 1e-6

# 64 samples in batches of 16 for 3 epochs: 12 updates, so Lookahead
# synchronises twice and ends mid-cycle, SWA averages 4 snapshots.
WRAPPERS = {
    "lookahead": (lambda: Lookahead(Adam(0.05), sync_period=5), "slow_weights"),
    "swa": (lambda: SWA(Adam(0.05), start_step=3, average_period=3),
            "average_weights"),
}


def _train(name, strategy):
    make, state = WRAPPERS[name]
    x, y = models.regression_data(n=64)
    with strategy.scope():
        model = models.dense_model()
        model.compile(optimizer=make(), loss="mse")
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    optimizer = model.optimizer
    assert int(optimizer.iterations.numpy()) == 12
    wrapper_state = [np.array(v.numpy()) for v in getattr(optimizer, state)]
    for variable in getattr(optimizer, state) + model.trainable_variables:
        first, *others = strategy.experimental_local_results(variable.value)
        for copy in others:  # every replica holds the same values
            np.testing.assert_array_equal(copy.numpy(), first.numpy())
    return models.weights_of(model), wrapper_state


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_mirrored_strategy_matches_single_device(name, mirrored_strategy):
    assert mirrored_strategy.num_replicas_in_sync == 2
    single, single_state = _train(name, tf.distribute.get_strategy())
    mirrored, mirrored_state = _train(name, mirrored_strategy)
    models.assert_same_weights(mirrored, single, RTOL, ATOL)
    models.assert_same_weights(mirrored_state, single_state, RTOL, ATOL)
    # The wrapper acted: its state is neither the start nor the weights.
    initial = models.weights_of(models.dense_model())
    assert not np.allclose(single_state[0], initial[0])
    assert not np.allclose(single_state[0], single[0])


def test_batch_norm_update_reads_a_tf_data_dataset():
    """tf.data batches give the statistics that a list of them gives."""
    x = np.random.default_rng(1).normal(size=(40, 3)).astype("float32")
    statistics = []
    for data in (tf.data.Dataset.from_tensor_slices((x, x)).batch(16),
                 [(x[i:i + 16], x[i:i + 16]) for i in range(0, 40, 16)]):
        layer = keras.layers.BatchNormalization()
        model = keras.Sequential([keras.Input((3,)), layer])
        assert swa_batch_norm_update(model, data) == 40
        statistics.append([layer.moving_mean.numpy(),
                           layer.moving_variance.numpy()])
    models.assert_same_weights(statistics[0], statistics[1], 1e-6, 0.0)
    np.testing.assert_allclose(statistics[0][1], x.var(0), rtol=1e-5)


# Issue 14 (mars): Cautious, whose mask must use the gradient summed over
# the replicas (the one the inner optimizer applies), not each replica's.


def _train_cautious(strategy):
    from keras_optlab.optimizers import Cautious

    x, y = models.regression_data(n=64)
    with strategy.scope():
        model = models.dense_model()
        model.compile(optimizer=Cautious(Adam(0.05)), loss="mse")
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 12
    for variable in model.trainable_variables:
        first, *others = strategy.experimental_local_results(variable.value)
        for copy in others:
            np.testing.assert_array_equal(copy.numpy(), first.numpy())
    return models.weights_of(model)


def test_cautious_mirrored_strategy_matches_single_device(mirrored_strategy):
    single = _train_cautious(tf.distribute.get_strategy())
    mirrored = _train_cautious(mirrored_strategy)
    models.assert_same_weights(mirrored, single, RTOL, ATOL)
    # The mask acted: the weights differ from Adam's alone.
    x, y = models.regression_data(n=64)
    model = models.dense_model()
    model.compile(optimizer=Adam(0.05), loss="mse")
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert not np.allclose(models.weights_of(model)[0], single[0])
