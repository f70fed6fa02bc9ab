"""The whole benchmark: every optimizer at every size, then memory and fit."""

import time

from keras_optlab.lab.bench.fit import time_fit
from keras_optlab.lab.bench.hardware import COPY_ELEMENTS
from keras_optlab.lab.bench.hardware import machine
from keras_optlab.lab.bench.hardware import memory_bandwidth
from keras_optlab.lab.bench.memory import step_memory
from keras_optlab.lab.bench.setup import QUICK_SIZES
from keras_optlab.lab.bench.setup import QUICK_VARIABLES
from keras_optlab.lab.bench.setup import SIZES
from keras_optlab.lab.bench.setup import VARIABLES
from keras_optlab.lab.bench.setup import parameter_count
from keras_optlab.lab.bench.timing import time_optimizer
from keras_optlab.lab.bench.timing import time_optimizer_isolated


def run_benchmark(quick=False, sizes=None, optimizers=None, repeats=None,
                  warmup=None, fit=True, memory=True, progress=print):
    """The whole benchmark as a dict (see the module docstring)."""
    import tensorflow as tf

    import keras_optlab

    # Every candidate is a new tf.function: TensorFlow's retracing warning
    # says nothing here.
    tf.get_logger().setLevel("ERROR")
    sizes = tuple(sizes or (QUICK_SIZES if quick else SIZES))
    names = optimizers or [info.name
                           for info in keras_optlab.optimizers.available()]
    repeats = repeats or (3 if quick else 11)
    warmup = 1 if quick and warmup is None else (warmup or 2)
    bandwidth = memory_bandwidth(COPY_ELEMENTS // 64 if quick
                                 else COPY_ELEMENTS, 3 if quick else 7)
    progress(f"copy bandwidth: TF {bandwidth['tensorflow_gb_s']:.1f} GB/s, "
             f"NumPy {bandwidth['numpy_gb_s']:.1f} GB/s")
    results = []
    variables = QUICK_VARIABLES if quick else VARIABLES
    # Peak memory at one size (the second, where there are several): the
    # child process runs every optimizer's candidates once more.
    memory_size = sizes[min(1, len(sizes) - 1)] if memory else None
    for size in sizes:
        for name in names:
            start = time.perf_counter()
            timing = time_optimizer if quick else time_optimizer_isolated
            result = timing(name, size, repeats, warmup, variables)
            results.append(result)
            c = result["candidates"]
            keras_ms = c.get("keras", {}).get("median_ms")
            progress(f"{size:>11,} {name:<17} fused "
                     f"{c['fused']['median_ms']:8.2f} ms  plain "
                     f"{c['plain']['median_ms']:8.2f} ms  keras "
                     f"{keras_ms if keras_ms is None else round(keras_ms, 2)}"
                     f"  ({time.perf_counter() - start:.0f} s)")
        if size == memory_size:
            start = time.perf_counter()
            measured = step_memory(names, size, variables)
            if measured is None:
                progress("peak memory: not measurable here")
            for result in results:
                if measured is None or result["params"] != parameter_count(
                        size, variables):
                    continue
                result["memory_method"] = measured["method"]
                for label, stats in measured["results"][
                        result["optimizer"]].items():
                    result["candidates"][label].update(stats)
            progress(f"peak memory: {time.perf_counter() - start:.0f} s")
    report = {
        "machine": machine(),
        "quick": quick,
        "repeats": repeats,
        "warmup": warmup,
        "variables_per_model": QUICK_VARIABLES if quick else VARIABLES,
        "bandwidth": bandwidth,
        "steps": results,
    }
    if fit:
        report["fit"] = (time_fit(epochs=3, vocabulary=2000, samples=512)
                         if quick else time_fit())
        progress(f"fit: {report['fit']['speedup']:.2f}x")
    return report
