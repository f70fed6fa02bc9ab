"""Seconds per epoch of `model.fit`, optimizers alternating epoch by epoch:
our Adam against Keras' on an Embedding + MLP model (`time_fit`), and the
matrix methods (Shampoo, SOAP, Muon) against Adam on the digits CNN
(`time_digits_cnn_fit`), so users see what a preconditioner costs."""

import statistics
import time

import numpy as np

from keras_optlab.lab.bench.hardware import summary


def _fit_model(optimizer, vocabulary, width):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16,), dtype="int32"),
        keras.layers.Embedding(vocabulary, width),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def time_fit(epochs=6, vocabulary=300_000, width=64, samples=2048,
             batch_size=128):
    """Seconds per epoch of `model.fit` for an Embedding + MLP model with
    our Adam (default `fused="auto"`) and Keras' Adam, epochs alternating
    between the two; the first epoch (tracing, compilation) is left out."""
    import keras

    import keras_optlab

    rng = np.random.default_rng(0)
    x = rng.integers(0, vocabulary, size=(samples, 16)).astype("int32")
    y = rng.normal(size=(samples, 1)).astype("float32")
    models = {
        "ours_adam": _fit_model(keras_optlab.optimizers.Adam(1e-3),
                                vocabulary, width),
        "keras_adam": _fit_model(keras.optimizers.Adam(1e-3), vocabulary,
                                 width),
    }
    times = _alternating_epochs(models, x, y, epochs, batch_size)
    params = models["ours_adam"].count_params()
    return {
        "params": params,
        "embedding_params": vocabulary * width,
        "steps_per_epoch": samples // batch_size,
        "jit_compile": bool(models["ours_adam"].jit_compile),
        "seconds_per_epoch": {
            label: summary(values) for label, values in times.items()},
        "speedup": statistics.median(times["keras_adam"])
        / statistics.median(times["ours_adam"]),
    }


def _alternating_epochs(models, x, y, epochs, batch_size):
    """{label: seconds of each epoch but the first} for each compiled model,
    the models taking turns epoch by epoch (so a slow spell of the machine
    falls on all of them); the first epoch (tracing, compilation) is left
    out."""
    times = {label: [] for label in models}
    for epoch in range(epochs):
        for label, model in models.items():
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0,
                      shuffle=False)
            if epoch > 0:
                times[label].append(time.perf_counter() - start)
    return times


MATRIX_METHODS = ("adam", "shampoo", "soap", "muon")


def time_digits_cnn_fit(optimizers=MATRIX_METHODS, epochs=8, batch_size=32,
                        samples=None):
    """Seconds per epoch of `model.fit` of the bundled conv net
    (keras_optlab.tuning.models.conv_net: two 3x3 convolutions of 16 and 32
    filters, a Dense layer of 64) on scikit-learn's digits (8 x 8 x 1), one
    model per optimizer at its defaults, epochs alternating; each
    optimizer's median against the first's (`ratio`)."""
    import keras
    from sklearn.datasets import load_digits

    from keras_optlab import optimizers as optimizers_module
    from keras_optlab.tuning.models import conv_net

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)[:samples]
    y = y.astype("int32")[:samples]
    models = {}
    for name in optimizers:
        keras.utils.set_random_seed(0)
        model = conv_net((8, 8, 1), 10, 0.0)
        model.compile(optimizer=optimizers_module.get(name),
                      loss=keras.losses.SparseCategoricalCrossentropy(
                          from_logits=True))
        models[name] = model
    times = _alternating_epochs(models, x, y, epochs, batch_size)
    first = statistics.median(times[optimizers[0]])
    return {
        "params": models[optimizers[0]].count_params(),
        "steps_per_epoch": -(-len(x) // batch_size),
        "seconds_per_epoch": {
            name: summary(values) for name, values in times.items()},
        "ratio": {name: statistics.median(values) / first
                  for name, values in times.items()},
    }
