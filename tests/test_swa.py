"""SWA follows its NumPy reference; the batch-norm pass gives the exact
statistics of the data."""

import numpy as np
import keras
import pytest

from keras_optlab.optimizers import SWA
from keras_optlab.optimizers import Adam
from keras_optlab.training import SWACallback
from keras_optlab.training import swa_batch_norm_update
from tests import helpers
from tests import models
from tests import references as refs
from tests import wrapper_references as wrefs

RTOL, ATOL = helpers.RTOL64, helpers.ATOL64
LR = 0.05


def _tensors(arrays):
    # Keras' torch SGD takes tensors only.
    return [keras.ops.convert_to_tensor(a) for a in arrays]


@pytest.mark.parametrize(
    "make_inner, inner_ref, hyper, start_step, average_period",
    [
        (lambda: Adam(LR), refs.AdamRef, {}, 5, 3),
        (lambda: keras.optimizers.SGD(LR, momentum=0.75), refs.MomentumRef,
         {"momentum": 0.75}, 0, 2),
        (lambda: keras.optimizers.SGD(LR), refs.GradientDescentRef, {}, 7, 1),
    ],
    ids=["adam-s5-c3", "keras-sgd-momentum-s0-c2", "keras-sgd-s7-c1"],
)
def test_follows_reference(make_inner, inner_ref, hyper, start_step,
                           average_period):
    params, grads = helpers.random_problem(20, seed=4)
    optimizer = SWA(make_inner(), start_step, average_period)
    variables = helpers.make_variables(params)
    reference = wrefs.SWARef(inner_ref(params, **hyper), start_step,
                             average_period)
    lr = helpers.as_float32(LR)
    for step_grads in grads:
        optimizer.apply(_tensors(step_grads), variables)
        reference.step(step_grads, lr)
        assert int(optimizer.models_averaged.numpy()) == reference.n_models
        for got, want in zip(variables, reference.params):
            np.testing.assert_allclose(got.numpy(), want, RTOL, ATOL)
        if reference.n_models:
            for got, want in zip(optimizer.average_weights,
                                 reference.average):
                np.testing.assert_allclose(got.numpy(), want, RTOL, ATOL)
    assert reference.n_models >= 5
    optimizer.assign_average_to(variables)
    for got, want in zip(variables, reference.average):
        np.testing.assert_allclose(got.numpy(), want, RTOL, ATOL)


def test_average_is_the_mean_of_the_snapshots():
    """Closed form: plain SGD on constant gradients g moves w by -lr g per
    step, so the mean of the weights after steps 4, 6, 8 is w0 - 6 lr g."""
    (variable,) = helpers.make_variables([np.zeros(3)])
    optimizer = SWA(keras.optimizers.SGD(0.5), start_step=4, average_period=2)
    for _ in range(9):
        optimizer.apply(_tensors([np.ones(3)]), [variable])
    np.testing.assert_allclose(optimizer.average_weights[0].numpy(),
                               np.full(3, -3.0), rtol=0, atol=1e-15)
    assert int(optimizer.models_averaged.numpy()) == 3


def test_assign_average_errors():
    variables = helpers.make_variables([np.zeros(3)])
    optimizer = SWA(keras.optimizers.SGD(0.1), start_step=3)
    optimizer.apply(_tensors([np.ones(3)]), variables)
    with pytest.raises(ValueError, match="start_step=3"):
        optimizer.assign_average_to(variables)
    for _ in range(2):
        optimizer.apply(_tensors([np.ones(3)]), variables)
    stranger = keras.Variable(np.zeros(3), name="stranger")
    with pytest.raises(ValueError, match="stranger"):
        optimizer.assign_average_to([stranger])


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_follows_reference(jit_compile):
    x, y = wrefs.linear_problem()
    model = models.linear_model(SWA(keras.optimizers.SGD(0.1), 3, 2), jit_compile)
    params = [w.numpy() for w in model.weights]
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    reference = wrefs.SWARef(refs.GradientDescentRef(params), 3, 2)
    wrefs.run_on_batches(reference, x, y, 8, 3, helpers.as_float32(0.1))
    for got, want in zip(model.weights, reference.params):
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-5, atol=1e-6)
    assert reference.n_models == 5
    model.optimizer.assign_average_to(model)
    for got, want in zip(model.weights, reference.average):
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-5, atol=1e-6)


def test_save_and_reload_mid_training_continues_identically(tmp_path):
    x, y = wrefs.linear_problem()
    fit = dict(batch_size=8, shuffle=False, verbose=0)
    start = [np.full((3, 1), 0.1), np.zeros(1)]

    straight = models.linear_model(SWA(Adam(0.05), start_step=2, average_period=3))
    straight.set_weights(start)
    straight.fit(x, y, epochs=3, **fit)

    first = models.linear_model(SWA(Adam(0.05), start_step=2, average_period=3))
    first.set_weights(start)
    first.fit(x, y, epochs=1, **fit)
    assert int(first.optimizer.models_averaged.numpy()) == 1
    path = tmp_path / "swa.keras"
    first.save(path)

    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.optimizer, SWA)
    assert int(reloaded.optimizer.models_averaged.numpy()) == 1
    reloaded.fit(x, y, epochs=2, **fit)
    assert int(reloaded.optimizer.models_averaged.numpy()) == 4
    for got, want in zip(reloaded.optimizer.variables,
                         straight.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(got.numpy()),
                                      np.asarray(want.numpy()))
    for got, want in zip(reloaded.weights, straight.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_skipped_nonfinite_step_is_not_averaged():
    """The inner optimizer skips the batch with a NaN (its `iterations`
    stays), so that call is no update for SWA either: 3 snapshots of 4
    batches, the last one the final weights. On JAX the skip is a branch
    inside the inner optimizer's `stateless_apply` under `jax.jit`."""
    x, y = wrefs.linear_problem()
    x = x.copy()
    x[9, 0] = np.nan  # in the second batch of 8
    model = models.linear_model(SWA(Adam(0.05, on_nonfinite="skip"), 1, 1))
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    optimizer = model.optimizer
    assert int(optimizer.inner_optimizer.nonfinite_steps.numpy()) == 1
    assert int(optimizer.iterations.numpy()) == 3
    assert int(optimizer.models_averaged.numpy()) == 3
    assert np.all(np.isfinite(model.weights[0].numpy()))


def test_callback_assigns_the_average():
    x, y = wrefs.linear_problem()
    model = models.linear_model(SWA(keras.optimizers.SGD(0.1), 1, 1))
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
              callbacks=[SWACallback()])
    for got, want in zip(model.weights, model.optimizer.average_weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_config_round_trip():
    optimizer = SWA(keras.optimizers.SGD(0.2, momentum=0.9), start_step=10,
                    average_period=4, name="swa")
    config = optimizer.get_config()
    assert (config["start_step"], config["average_period"]) == (10, 4)
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer))
    assert isinstance(restored, SWA)
    assert restored.get_config() == config
    assert keras.saving.get_registered_name(SWA) == "keras_optlab>SWA"


def _batch_norm_numpy(x, epsilon):
    mean, variance = x.mean(axis=0), x.var(axis=0)
    return (x - mean) / np.sqrt(variance + epsilon)


def test_batch_norm_update_gives_the_data_statistics():
    """Batches of 16, 16, 16 and 2: the first layer's statistics are the
    mean and variance of all 50 inputs; the second layer's are those of the
    inputs it sees in training mode, batch by batch."""
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(50, 4)) * [1.0, 2.0, 0.5, 3.0] + [0, 1, -2, 5])
    x = x.astype("float32")
    first, second = keras.layers.BatchNormalization(), \
        keras.layers.BatchNormalization(momentum=0.9)
    frozen = keras.layers.BatchNormalization()
    model = keras.Sequential([keras.Input((4,)), first,
                              keras.layers.Dense(3, use_bias=False), second,
                              frozen])
    frozen.trainable = False
    model.predict(x, verbose=0)
    data = [(x[i:i + 16], x[i:i + 16, :1]) for i in range(0, 50, 16)]

    seen = swa_batch_norm_update(model, data)

    assert seen == 50
    np.testing.assert_allclose(first.moving_mean.numpy(), x.mean(0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(first.moving_variance.numpy(), x.var(0),
                               rtol=1e-5, atol=1e-6)
    kernel = model.layers[1].kernel.numpy()
    hidden = np.concatenate([
        _batch_norm_numpy(np.float64(x[i:i + 16]), first.epsilon) @ kernel
        for i in range(0, 50, 16)])
    np.testing.assert_allclose(second.moving_mean.numpy(), hidden.mean(0),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(second.moving_variance.numpy(), hidden.var(0),
                               rtol=1e-4, atol=1e-6)
    assert second.momentum == 0.9
    np.testing.assert_array_equal(frozen.moving_mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(frozen.moving_variance.numpy(), np.ones(3))


def test_batch_norm_update_with_steps_and_without_batch_norm():
    x = np.arange(24, dtype="float32").reshape(12, 2)
    bn = keras.layers.BatchNormalization()
    model = keras.Sequential([keras.Input((2,)), bn])
    batches = [x[0:4], x[4:8], x[8:12]]
    assert swa_batch_norm_update(model, batches, steps=2) == 8
    np.testing.assert_allclose(bn.moving_mean.numpy(), x[:8].mean(0),
                               rtol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), x[:8].var(0),
                               rtol=1e-6)
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert swa_batch_norm_update(plain, batches) == 0


@pytest.mark.parametrize("kwargs, error, text", [
    ({"start_step": -1}, ValueError, "start_step=-1"),
    ({"start_step": 2.0}, TypeError, "start_step=2.0"),
    ({"average_period": 0}, ValueError, "average_period=0"),
    ({"optimizer": None}, TypeError, "optimizer=None"),
    ({"weight_decay": 0.1}, ValueError, "weight_decay=0.1"),
])
def test_bad_arguments(kwargs, error, text):
    arguments = {"optimizer": Adam(), "start_step": 5}
    arguments.update(kwargs)
    with pytest.raises(error, match=text):
        SWA(**arguments)


def test_bad_batch_norm_update_arguments():
    model = keras.Sequential([keras.Input((2,)),
                              keras.layers.BatchNormalization()])
    with pytest.raises(ValueError, match="steps=0"):
        swa_batch_norm_update(model, [np.ones((2, 2))], steps=0)
    with pytest.raises(ValueError, match="data=\\[\\]"):
        swa_batch_norm_update(model, [])
    with pytest.raises(ValueError, match="steps=0"):
        SWACallback(steps=0)
