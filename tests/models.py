"""Small models and data shared by the training tests."""

import numpy as np
import keras


def regression_data(n=96, features=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    w = rng.normal(size=(features, 1)).astype("float32")
    y = (np.tanh(x @ w) + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    return x, y


def dense_model(features=6, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((features,)),
        keras.layers.Dense(8, activation="tanh"),
        keras.layers.Dense(1),
    ])


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]


def assert_same_weights(a, b, rtol=0.0, atol=0.0):
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol,
                                   err_msg=f"weight {i}")


def linear_model(optimizer, jit_compile=False):
    """Dense(1) on 3 inputs, compiled with `optimizer` (the model that
    tests/wrapper_references.py's `linear_problem` trains)."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    return model
