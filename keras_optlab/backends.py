"""What runs on which Keras backend, and the clear error where it does not.

Every optimizer in the registry runs on TensorFlow, JAX and torch (the math
is in `keras.ops`); tests/test_backends.py runs the optimizer table on each.
The features below use backend-specific machinery. Each entry is checked by
tests/test_backend_limits.py on every backend: where it is listed as
unsupported, using it raises `NotImplementedError` naming the backend and the
reason, before any work is done.
"""

import keras

# feature -> (backends it runs on, why not on the others)
LIMITS = {
    "OptimizerMonitor": (
        ("tensorflow",),
        "it computes probe gradients with tf.GradientTape and writes "
        "tf.summary events",
    ),
    "StabilityMonitor": (
        ("tensorflow",),
        "its Hessian-vector products use tf.autodiff.ForwardAccumulator",
    ),
}


def require(feature):
    """Raises NotImplementedError if `feature` does not run on this backend."""
    backends, reason = LIMITS[feature]
    backend = keras.backend.backend()
    if backend not in backends:
        raise NotImplementedError(
            f"{feature} does not run on the {backend!r} backend of Keras: "
            f"{reason}. It runs on: {', '.join(backends)}."
        )
