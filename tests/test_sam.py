"""SAM steps against a NumPy reference of Foret et al.'s Algorithm 1.

Portable: runs on TensorFlow, JAX and torch (tests/test_backends.py), where
`sam_train_step` takes what the backend's `train_step` receives."""

import numpy as np
import keras
import pytest

from keras_optlab.optimizers import Adam
from keras_optlab.training import SAMModel
from keras_optlab.training import sam_train_step
from tests import helpers
from tests import references as refs
from tests import wrapper_references as wrefs

RHO = 0.05


def _problem(samples=24, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, 3)).astype("float32")
    y = (x @ rng.normal(size=(3, 2)) + [0.5, -1.0]).astype("float32")
    return x, y


def _dense(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def _sam(optimizer, rho=RHO, jit_compile=False):
    model = SAMModel(_dense(), rho=rho)
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    return model


def test_one_step_equals_numpy_reference():
    x, y = _problem(samples=8)
    model = _sam(keras.optimizers.SGD(0.1))
    params = [np.float64(w.numpy()) for w in model.model.weights]
    logs = model.train_on_batch(x, y, return_dict=True)

    g_sam = wrefs.sam_gradients(params, np.float64(x), np.float64(y), RHO)
    lr = helpers.as_float32(0.1)
    for got, p, g in zip(model.model.weights, params, g_sam):
        np.testing.assert_allclose(got.numpy(), p - lr * g, rtol=1e-5,
                                   atol=1e-6)
    # SAM's step differs from plain SGD's by much more than the tolerance.
    g = wrefs.mse_gradients(params, np.float64(x), np.float64(y))
    assert np.abs(g_sam[0] - g[0]).max() > 1e-3
    # The loss reported is the loss at w, before the perturbation.
    np.testing.assert_allclose(logs["loss"], wrefs.mse_loss(params, x, y),
                               rtol=1e-5)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_with_adam_follows_reference(jit_compile):
    """Three epochs of three batches with our Adam as base optimizer."""
    x, y = _problem()
    model = _sam(Adam(0.05), jit_compile=jit_compile)
    params = [np.float64(w.numpy()) for w in model.model.weights]
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)

    reference = refs.AdamRef(params)
    lr = helpers.as_float32(0.05)
    for _ in range(3):
        for start in range(0, 24, 8):
            batch = slice(start, start + 8)
            xb, yb = np.float64(x[batch]), np.float64(y[batch])
            reference.step(wrefs.sam_gradients(reference.params, xb, yb, RHO),
                           lr)
    for got, want in zip(model.model.weights, reference.params):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)
    assert int(model.optimizer.iterations.numpy()) == 9


@pytest.mark.parametrize("rho_as", ["keyword", "positional"])
def test_helper_in_a_custom_model(rho_as):
    """One `train_step(self, *args)` for every backend: (data), or
    (state, data) on JAX."""
    class SharpnessAware(keras.Model):
        def train_step(self, *args):
            if rho_as == "keyword":
                return sam_train_step(self, *args, rho=0.1)
            return sam_train_step(self, *args, 0.1)

    inputs = keras.Input((3,))
    keras.utils.set_random_seed(0)
    model = SharpnessAware(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    params = [np.float64(w.numpy()) for w in model.weights]
    x, y = _problem(samples=8)
    model.train_on_batch(x, y)
    g_sam = wrefs.sam_gradients(params, np.float64(x), np.float64(y), 0.1)
    lr = helpers.as_float32(0.1)
    for got, p, g in zip(model.weights, params, g_sam):
        np.testing.assert_allclose(got.numpy(), p - lr * g, rtol=1e-5,
                                   atol=1e-6)


def test_weights_restored_exactly_and_both_passes_update_batch_norm():
    """With a learning rate of 0 the step leaves the weights bit for bit
    (w + epsilon - epsilon would not); the moving statistics of a batch
    normalisation on the inputs are updated twice, the second time from the
    first update: m = momentum^2 m_0 + (1 - momentum^2) mean(x)."""
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([
        keras.Input((3,)),
        keras.layers.BatchNormalization(momentum=0.5),
        keras.layers.Dense(2),
    ])
    model = SAMModel(inner, rho=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    x, y = _problem(samples=8)
    before = [w.numpy().copy() for w in inner.trainable_weights]
    model.train_on_batch(x, y)
    for got, want in zip(inner.trainable_weights, before):
        np.testing.assert_array_equal(got.numpy(), want)
    norm = inner.layers[0]
    mean, variance = np.float64(x).mean(axis=0), np.float64(x).var(axis=0)
    np.testing.assert_allclose(norm.moving_mean.numpy(), 0.75 * mean,
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(norm.moving_variance.numpy(),
                               0.25 + 0.75 * variance, rtol=1e-6)


def test_save_and_reload_continues_identically(tmp_path):
    x, y = _problem()
    fit = dict(batch_size=8, shuffle=False, verbose=0)
    straight = _sam(Adam(0.05), rho=0.1)
    straight.fit(x, y, epochs=2, **fit)
    first = _sam(Adam(0.05), rho=0.1)
    first.fit(x, y, epochs=1, **fit)
    path = tmp_path / "sam.keras"
    first.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded, SAMModel) and reloaded.rho == 0.1
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0),
                                  first.predict(x, verbose=0))
    reloaded.fit(x, y, epochs=1, **fit)
    for got, want in zip(reloaded.weights, straight.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("kwargs, error, text", [
    ({"rho": 0.0}, ValueError, "rho=0.0"),
    ({"rho": -1.0}, ValueError, "rho=-1.0"),
    ({"rho": "big"}, TypeError, "rho='big'"),
    ({"model": "resnet"}, TypeError, "model='resnet'"),
])
def test_bad_arguments(kwargs, error, text):
    arguments = {"model": _dense(), "rho": RHO}
    arguments.update(kwargs)
    with pytest.raises(error, match=text):
        SAMModel(**arguments)


def test_helper_rejects_bad_arguments_before_any_work():
    model = _dense()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [w.numpy().copy() for w in model.weights]
    data = _problem(samples=4)
    step_args = ((None, data) if keras.backend.backend() == "jax"
                 else (data,))
    with pytest.raises(ValueError, match="rho=-0.1"):
        sam_train_step(model, *step_args, rho=-0.1)
    with pytest.raises(TypeError, match="positional arguments after `model`"):
        sam_train_step(model, *step_args, 0.1, 0.2, 0.3)
    for got, want in zip(model.weights, before):
        np.testing.assert_array_equal(got.numpy(), want)
