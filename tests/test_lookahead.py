"""Lookahead follows its NumPy reference over the inner optimizer's."""

import numpy as np
import keras
import pytest

import keras_optlab
from keras_optlab.optimizers import Adam
from keras_optlab.optimizers import Lookahead
from tests import helpers
from tests import models
from tests import references as refs
from tests import wrapper_references as wrefs

RTOL, ATOL = helpers.RTOL64, helpers.ATOL64
LR = 0.05


def _reference(inner_ref, params, sync_period, slow_step_size, **hyper):
    return wrefs.LookaheadRef(inner_ref(params, **hyper), sync_period,
                              slow_step_size)


def _run_reference(reference, grads, lr):
    history = []
    for step_grads in grads:
        reference.step(step_grads, lr)
        history.append([p.copy() for p in reference.params])
    return history


@pytest.mark.parametrize(
    "make_inner, inner_ref, hyper, sync_period, slow_step_size",
    [
        (lambda: Adam(LR), refs.AdamRef, {}, 5, 0.5),
        (lambda: Adam(LR, epsilon=1.0, epsilon_mode="outside"), refs.AdamRef,
         {"epsilon": 1.0, "epsilon_mode": "outside"}, 3, 0.8),
        # 0.75 is exact in float32, to which Keras' SGD rounds momentum.
        (lambda: keras.optimizers.SGD(LR, momentum=0.75), refs.MomentumRef,
         {"momentum": 0.75}, 4, 0.5),
        (lambda: keras.optimizers.SGD(LR), refs.GradientDescentRef, {}, 1,
         0.3),
    ],
    ids=["adam", "adam-paper-eps1", "keras-sgd-momentum", "keras-sgd-k1"],
)
def test_follows_reference(make_inner, inner_ref, hyper, sync_period,
                           slow_step_size):
    params, grads = helpers.random_problem(23, seed=11)
    optimizer = Lookahead(make_inner(), sync_period, slow_step_size)
    actual = helpers.run_keras(optimizer, params, grads)
    reference = _reference(inner_ref, params, sync_period, slow_step_size,
                           **hyper)
    expected = _run_reference(reference, grads, helpers.as_float32(LR))
    helpers.assert_trajectories_close(actual, expected, RTOL, ATOL)
    for slow, want in zip(optimizer.slow_weights, reference.slow):
        np.testing.assert_allclose(slow.numpy(), want, rtol=RTOL, atol=ATOL)
    assert optimizer.iterations.numpy() == 23


def test_slow_step_size_one_is_the_inner_optimizer():
    params, grads = helpers.random_problem(12, seed=2)
    wrapped = helpers.run_keras(Lookahead(Adam(LR), 3, 1.0), params, grads)
    alone = helpers.run_keras(Adam(LR), params, grads)
    helpers.assert_trajectories_close(wrapped, alone, 1e-12, 1e-14)


def test_gradient_accumulation_counts_real_updates():
    """With 2 accumulation steps, k = 2 means 4 gradient batches."""
    params, grads = helpers.random_problem(16, seed=5)
    inner = keras.optimizers.SGD(LR, gradient_accumulation_steps=2)
    actual = helpers.run_keras(Lookahead(inner, 2, 0.5), params, grads)
    reference = _reference(refs.GradientDescentRef, params, 2, 0.5)
    lr = helpers.as_float32(LR)
    for k in range(0, 16, 2):
        mean = [(a + b) / 2 for a, b in zip(grads[k], grads[k + 1])]
        reference.step(mean, lr)
        helpers.assert_trajectories_close([actual[k + 1]],
                                          [reference.params], RTOL, ATOL)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_follows_reference(jit_compile):
    x, y = wrefs.linear_problem()
    model = models.linear_model(
        Lookahead(keras.optimizers.SGD(0.1, momentum=0.5), 3, 0.5),
        jit_compile)
    params = [w.numpy() for w in model.weights]
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    reference = _reference(refs.MomentumRef, params, 3, 0.5, momentum=0.5)
    wrefs.run_on_batches(reference, x, y, 8, 2, helpers.as_float32(0.1))
    for got, want in zip(model.weights, reference.params):
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-5, atol=1e-6)
    assert int(model.optimizer.iterations.numpy()) == 8


def test_save_and_reload_mid_cycle_continues_identically(tmp_path):
    x, y = wrefs.linear_problem()
    fit = dict(batch_size=8, shuffle=False, verbose=0)

    straight = models.linear_model(Lookahead(Adam(0.05), sync_period=3))
    straight.set_weights([np.full((3, 1), 0.1), np.zeros(1)])
    straight.fit(x, y, epochs=2, **fit)

    first = models.linear_model(Lookahead(Adam(0.05), sync_period=3))
    first.set_weights([np.full((3, 1), 0.1), np.zeros(1)])
    first.fit(x, y, epochs=1, **fit)  # 4 steps: one step past a sync
    slow = [w.numpy() for w in first.optimizer.slow_weights]
    assert not np.allclose(slow[0], first.weights[0].numpy())
    path = tmp_path / "lookahead.keras"
    first.save(path)

    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.optimizer, Lookahead)
    assert isinstance(reloaded.optimizer.inner_optimizer, Adam)
    assert int(reloaded.optimizer.iterations.numpy()) == 4
    for got, want in zip(reloaded.optimizer.slow_weights, slow):
        np.testing.assert_array_equal(got.numpy(), want)
    reloaded.fit(x, y, epochs=1, **fit)
    for got, want in zip(reloaded.weights, straight.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    for got, want in zip(reloaded.optimizer.variables,
                         straight.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(got.numpy()),
                                      np.asarray(want.numpy()))


@pytest.mark.parametrize("inner", [
    lambda: Adam(0.01, beta_1=0.8),
    lambda: keras.optimizers.SGD(0.2, momentum=0.9, nesterov=True),
])
def test_config_round_trip(inner):
    optimizer = Lookahead(inner(), sync_period=7, slow_step_size=0.25,
                          name="la")
    config = optimizer.get_config()
    assert config["sync_period"] == 7 and config["slow_step_size"] == 0.25
    for restored in (
        Lookahead.from_config(config),
        keras.optimizers.deserialize(keras.optimizers.serialize(optimizer)),
    ):
        assert isinstance(restored, Lookahead)
        assert restored.get_config() == config
        assert type(restored.inner_optimizer) is type(optimizer.inner_optimizer)


def test_learning_rate_and_iterations_are_the_inner_optimizers():
    inner = Adam(0.01)
    optimizer = Lookahead(inner)
    assert optimizer.learning_rate is inner.learning_rate
    optimizer.learning_rate = 0.5
    assert float(inner.learning_rate.numpy()) == 0.5
    variables = helpers.make_variables([np.ones(3)])
    optimizer.apply([np.ones(3)], variables)
    assert optimizer.iterations is inner.iterations
    assert int(optimizer.iterations.numpy()) == 1


def test_registered_for_saving():
    name = keras.saving.get_registered_name(Lookahead)
    assert name == "keras_optlab>Lookahead"
    assert keras_optlab.optimizers.Lookahead is Lookahead
    registered = {info.name for info in keras_optlab.optimizers.available()}
    assert "lookahead" not in registered


@pytest.mark.parametrize("kwargs, error, text", [
    ({"sync_period": 0}, ValueError, "sync_period=0"),
    ({"sync_period": 2.5}, TypeError, "sync_period=2.5"),
    ({"slow_step_size": 0.0}, ValueError, "slow_step_size=0.0"),
    ({"slow_step_size": 1.5}, ValueError, "slow_step_size=1.5"),
    ({"optimizer": 3}, TypeError, "optimizer=3"),
    ({"optimizer": "no_such_optimizer"}, ValueError, "no_such_optimizer"),
    ({"learning_rate": 0.1}, ValueError, "learning_rate=0.1"),
    ({"clipnorm": 1.0}, ValueError, "clipnorm=1.0"),
])
def test_bad_arguments(kwargs, error, text):
    arguments = {"optimizer": Adam()}
    arguments.update(kwargs)
    with pytest.raises(error, match=text):
        Lookahead(**arguments)


def test_assign_slow_weights_to_model():
    x, y = wrefs.linear_problem()
    model = models.linear_model(Lookahead(Adam(0.05), sync_period=3))
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    slow = [w.numpy() for w in model.optimizer.slow_weights]
    assert not np.allclose(model.weights[0].numpy(), slow[0])
    model.optimizer.assign_slow_weights_to(model)
    for got, want in zip(model.weights, slow):
        np.testing.assert_array_equal(got.numpy(), want)
    with pytest.raises(ValueError, match="stranger"):
        model.optimizer.assign_slow_weights_to(
            [keras.Variable(np.zeros(1), name="stranger")])
