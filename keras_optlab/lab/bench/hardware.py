"""The machine: CPU, cores and library versions, copy bandwidth, and the
summary statistics of repeated timings."""

import os
import platform
import statistics
import time

import numpy as np

COPY_ELEMENTS = 32 * 2**20


def machine():
    """CPU model, cores and library versions."""
    import keras
    import tensorflow as tf

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "backend": keras.backend.backend(),
    }


def summary(seconds):
    values = sorted(seconds)

    def pct(q):
        return float(np.percentile(values, q)) * 1e3

    return {"median_ms": statistics.median(values) * 1e3,
            "p10_ms": pct(10), "p90_ms": pct(90), "n": len(values)}


def memory_bandwidth(elements=COPY_ELEMENTS, repeats=7):
    """Copy bandwidth in GB/s (1e9 bytes): TensorFlow and NumPy, float32,
    counting one read and one write of every element."""
    import tensorflow as tf

    source = tf.Variable(tf.random.uniform([elements]))
    target = tf.Variable(tf.zeros([elements]))

    @tf.function
    def copy():
        target.assign(tf.negative(source))

    copy()
    tf_times = []
    for _ in range(repeats):
        start = time.perf_counter()
        copy()
        tf_times.append(time.perf_counter() - start)
    a = np.random.default_rng(0).random(elements, dtype=np.float32)
    b = np.empty_like(a)
    np_times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(b, a)
        np_times.append(time.perf_counter() - start)
    moved = 2 * 4 * elements
    return {
        "bytes_moved": moved,
        "tensorflow_gb_s": moved / statistics.median(tf_times) / 1e9,
        "numpy_gb_s": moved / statistics.median(np_times) / 1e9,
    }


def copy_step(elements):
    import tensorflow as tf

    source = tf.Variable(tf.random.uniform([elements]))
    target = tf.Variable(tf.zeros([elements]))

    @tf.function
    def copy():
        target.assign(tf.negative(source))

    return copy
