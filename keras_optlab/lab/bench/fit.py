"""Seconds per epoch of `model.fit` with our Adam and Keras', alternating."""

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
    times = {label: [] for label in models}
    for epoch in range(epochs):
        for label, model in models.items():
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0,
                      shuffle=False)
            if epoch > 0:
                times[label].append(time.perf_counter() - start)
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
