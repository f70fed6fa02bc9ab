"""Peak memory of one step, measured in a fresh process per optimizer."""

import gc
import os

import numpy as np

from keras_optlab.lab.bench.processes import in_child
from keras_optlab.lab.bench.setup import SETTINGS
from keras_optlab.lab.bench.setup import VARIABLES
from keras_optlab.lab.bench.setup import Candidate
from keras_optlab.lab.bench.setup import variable_shapes


def _read_status(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


# Environment of the memory child process. TensorFlow's CPU allocator
# (oneDNN's, a BFC pool) keeps every buffer it ever allocated, and glibc's
# malloc raises its mmap threshold after the first large free and then
# reuses freed heap: either way a step's temporaries reuse memory resident
# since the warm-up, and the resident set cannot show them. With oneDNN's
# allocator off and a fixed mmap threshold, every buffer of 16 KiB or more
# is mapped on allocation and unmapped on free, so the high-water mark of
# the resident set sees each step's peak.
MEMORY_ENV = {
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "MALLOC_MMAP_THRESHOLD_": str(16 * 1024),
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": "tensorflow",
}

MEMORY_LABELS = ("fused", "plain", "keras")


def _reset_peak(device):
    import tensorflow as tf

    if device is not None:
        tf.config.experimental.reset_memory_stats(device)
        return tf.config.experimental.get_memory_info(device)["current"]
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets VmHWM to the current VmRSS
    return _read_status("VmRSS")


def _read_peak(device):
    import tensorflow as tf

    if device is not None:
        return tf.config.experimental.get_memory_info(device)["peak"]
    return _read_status("VmHWM")


def step_memory_child(names, size, variables, steps=2):
    """Run in the memory child process: for each optimizer and candidate,
    the bytes a step holds at its peak beyond what was held before it."""
    import keras
    import tensorflow as tf

    import keras_optlab
    from keras_optlab.optimizers import keras_builtins

    tf.get_logger().setLevel("ERROR")
    gpus = tf.config.list_logical_devices("GPU")
    device = "GPU:0" if gpus else None
    shapes = variable_shapes(size, variables)
    params = sum(int(np.prod(s)) for s in shapes)
    results = {}
    for name in names:
        rng = np.random.default_rng(0)
        weights = [keras.Variable(rng.normal(size=s).astype("float32") * 0.1)
                   for s in shapes]
        gradients = [tf.constant(rng.normal(size=s).astype("float32"))
                     for s in shapes]
        setting = SETTINGS.get(name, {"learning_rate": 1e-3})
        config = keras_optlab.optimizers.get(name, **setting).get_config()
        results[name] = {}
        for label in MEMORY_LABELS:
            if label == "keras":
                optimizer = keras_builtins.same_math(name, config)
                if optimizer is None:
                    continue
            else:
                optimizer = keras_optlab.optimizers.get(
                    name, fused=label == "fused", **setting)
            step = Candidate(label, optimizer, weights, False).step
            step(gradients)  # trace, compile, build the state
            before = _reset_peak(device)
            for _ in range(steps):
                step(gradients)
            extra = max(0, _read_peak(device) - before)
            state = sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize
                        for v in optimizer.variables)
            held = params * 8 + state  # float32 params and gradients
            results[name][label] = {
                "step_peak_extra_bytes": extra,
                "held_bytes": held,
                "step_peak_extra_fraction": extra / held,
            }
            del step, optimizer
            gc.collect()
        del weights, gradients
        gc.collect()
    return {"method": "gpu_peak" if device else "vmhwm", "results": results}


def step_memory(names, size, variables=VARIABLES, timeout=1800):
    """Peak memory of one step per optimizer and candidate, measured in a
    fresh process (see MEMORY_ENV); None where it cannot be measured (not
    Linux, or the child failed)."""
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    # One process per optimizer, for the reason `time_optimizer_isolated`
    # gives.
    merged = None
    for name in names:
        try:
            measured = in_child("step_memory_child",
                                 [[name], size, variables], MEMORY_ENV,
                                 timeout)
        except RuntimeError:
            return None
        if merged is None:
            merged = measured
        else:
            merged["results"].update(measured["results"])
    return merged
