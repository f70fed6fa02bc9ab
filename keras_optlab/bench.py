"""Speed of the optimizers' update steps, side by side with Keras' own.

For each registered optimizer and model size (parameters split over
`VARIABLES` float32 variables) one `apply_gradients` inside a `tf.function`
is timed for these candidates:

- `fused`: ours with `fused=True` (one XLA-compiled update for all
  variables, the default), the step function itself not compiled;
- `per-variable`: the same with one compiled update per variable (what a
  multi-replica strategy runs);
- `plain`: ours with `fused=False` (Keras' per-variable loop of kernels);
- `keras`: Keras' built-in with the same math, where one exists;
- `fused+xla`, `keras+xla`: the step function compiled (`jit_compile=True`).

The candidates of one optimizer share the parameters and gradients and are
run in rotation, one step each per repeat, so that drift on a shared
machine hits them all alike; medians and p10/p90 over the repeats, after
warm-up steps. The first call of each (trace and XLA compilation) is timed
separately.

The memory-bandwidth bound: a step must read the parameter, the gradient
and each per-element state slot once and write the parameter and each slot
once, `itemsize * (3 + 2 * slots + extra reads)` bytes per parameter
(Adam, 2 slots: 28 bytes), slots counted from the optimizer's own
variables. The extra reads are the passes that reductions over a whole
variable need by the rule's math (LARS' norms, NovoGrad's layer-wise
moment, Prodigy's sum of |s|), declared with their reasons in
`EXTRA_READS`. The bandwidth is
measured in the same rotation as the candidates: a float32 copy of as many
elements as the model has parameters, by TensorFlow (`dst.assign(-src)`,
one read and one write of each element), timed between the candidates of
every repeat, so the bound sees the same load they do. A copy of
`COPY_ELEMENTS` elements by TensorFlow and by NumPy (`np.copyto`) at the
start of the run is reported too.

`run_benchmark` returns a JSON-serialisable dict; `to_markdown` formats it.
"""

import gc
import json
import os
import platform
import statistics
import time

import numpy as np

VARIABLES = 20
QUICK_VARIABLES = 4
SIZES = (1_000_000, 10_000_000, 50_000_000)
QUICK_SIZES = (20_000,)
COPY_ELEMENTS = 32 * 2**20
COLUMNS = 500

# Settings shared by ours and Keras' built-in (same math); others default.
SETTINGS = {
    "gradient_descent": {"learning_rate": 1e-3},
    "momentum": {"learning_rate": 1e-3, "momentum": 0.9},
    "nesterov": {"learning_rate": 1e-3, "momentum": 0.9},
    "nadam": {"learning_rate": 1e-3, "momentum_decay": 1.0},
}


# The traffic model: a step reads the parameter, the gradient and each
# per-element state slot and writes the parameter and each slot, once each,
# `3 + 2 * slots` elements per parameter. Rules whose update needs a value
# that depends on a whole variable before (or after) the element-wise update
# must read some tensors once more; these extra reads per parameter (at the
# benchmark's settings, SETTINGS) and the reason, by the update rule's math:
EXTRA_READS = {
    "lars": (2, "the trust ratio needs ||w|| and ||g|| before any element "
                "can be updated: one pass reads w and g"),
    "novograd": (1, "the layer-wise second moment needs ||g||^2 before any "
                    "element can be updated: one pass reads g"),
    "prodigy": (1, "d_{k+1} needs sum |s| over every variable after all "
                   "updates (the inner product <g, x0 - x> can share the "
                   "update's pass): one pass reads s"),
}
# Adan's previous gradient and Prodigy's x0 are per-element slots, counted
# (read and written) by the slot rule; RAdam's rectification is a scalar.


def _keras_builtin(name, config):
    """Keras' optimizer with our optimizer's math, or None."""
    import keras

    opt = keras.optimizers
    lr = config["learning_rate"]
    pick = {k: config[k] for k in config}
    if name == "gradient_descent":
        return opt.SGD(lr)
    if name in ("momentum", "nesterov"):
        return opt.SGD(lr, momentum=pick["momentum"],
                       nesterov=name == "nesterov")
    if name == "adagrad" and pick["epsilon_mode"] == "inside":
        return opt.Adagrad(lr, pick["initial_accumulator_value"],
                           pick["epsilon"])
    if name == "adadelta":
        return opt.Adadelta(lr, pick["rho"], pick["epsilon"])
    if name == "rmsprop":
        return opt.RMSprop(lr, pick["rho"], pick["momentum"],
                           pick["epsilon"], pick["centered"])
    if name in ("adam", "lazyadam") and pick["epsilon_mode"] == "hat":
        return opt.Adam(lr, pick["beta_1"], pick["beta_2"], pick["epsilon"],
                        pick["amsgrad"])
    if name == "adamw" and pick["epsilon_mode"] == "hat":
        return opt.AdamW(lr, pick["weight_decay"], pick["beta_1"],
                         pick["beta_2"], pick["epsilon"], pick["amsgrad"])
    if name == "adamax":
        return opt.Adamax(lr, pick["beta_1"], pick["beta_2"],
                          pick["epsilon"])
    if (name == "nadam" and pick["momentum_decay"] == 1.0
            and pick["epsilon_mode"] == "outside"):
        return opt.Nadam(lr, pick["beta_1"], pick["beta_2"], pick["epsilon"])
    return None


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


def _stats(seconds):
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


def _shapes(total, count=VARIABLES):
    rows = max(1, round(total / count / COLUMNS))
    return [(rows, COLUMNS)] * count


def _params(size, variables=VARIABLES):
    return sum(int(np.prod(s)) for s in _shapes(size, variables))


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

    tf.get_logger().setLevel("ERROR")
    gpus = tf.config.list_logical_devices("GPU")
    device = "GPU:0" if gpus else None
    shapes = _shapes(size, variables)
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
                optimizer = _keras_builtin(name, config)
                if optimizer is None:
                    continue
            else:
                optimizer = keras_optlab.optimizers.get(
                    name, fused=label == "fused", **setting)
            step = _Candidate(label, optimizer, weights, False).step
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


def _in_child(function, arguments, env=None, timeout=1800):
    """`bench.<function>(*arguments)` run in a fresh Python process, its
    JSON result. A child that fails or times out raises RuntimeError with
    the last line it wrote to stderr."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, **(env or {}))
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    code = (f"import json, sys; from keras_optlab import bench; "
            f"print(json.dumps(bench.{function}(*json.loads(sys.argv[1]))))")
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, json.dumps(arguments)], env=env,
            capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"bench.{function} took more than {timeout} s "
                           "in its child process") from None
    if done.returncode != 0:
        errors = done.stderr.strip().splitlines() or ["(no output)"]
        raise RuntimeError(f"bench.{function} failed in its child process "
                           f"(exit {done.returncode}): {errors[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


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
            measured = _in_child("step_memory_child",
                                 [[name], size, variables], MEMORY_ENV,
                                 timeout)
        except RuntimeError:
            return None
        if merged is None:
            merged = measured
        else:
            merged["results"].update(measured["results"])
    return merged


def time_optimizer_isolated(name, size, repeats, warmup,
                            variables=VARIABLES, timeout=1800):
    """`time_optimizer` in a fresh process. A process that makes, steps
    and deletes Keras optimizers keeps growing: with plain
    `keras.optimizers.Adam` on 5M parameters (Keras 3.15, TensorFlow 2.21),
    four rounds grew the resident memory by 75 MB each although Python had
    freed every optimizer and variable (`keras.backend.clear_session` did
    not help), where the same loop over `tf.Variable`s did not grow. A full
    run at 50M parameters in one process ran out of memory after ten
    optimizers."""
    try:
        return _in_child("time_optimizer",
                         [name, size, repeats, warmup, variables],
                         timeout=timeout)
    except RuntimeError as error:
        raise RuntimeError(
            f"Timing {name} at {size:,} parameters failed: {error}") from None


class _Candidate:
    def __init__(self, label, optimizer, variables, jit_compile):
        import tensorflow as tf

        self.label = label
        self.optimizer = optimizer
        self.times = []

        def apply(gradients):
            optimizer.apply(gradients, variables)

        self.step = tf.function(apply, jit_compile=jit_compile)


def _candidates(name, variables):
    import keras_optlab

    setting = SETTINGS.get(name, {"learning_rate": 1e-3})
    ours = keras_optlab.optimizers.get(name, **setting)
    config = ours.get_config()
    made = []

    def add(label, optimizer, jit):
        made.append(_Candidate(label, optimizer, variables, jit))

    add("fused", keras_optlab.optimizers.get(name, fused=True, **setting),
        False)
    per_variable = keras_optlab.optimizers.get(name, fused=True, **setting)
    per_variable._fused_grouping = "variable"
    add("per-variable", per_variable, False)
    add("plain", keras_optlab.optimizers.get(name, fused=False, **setting),
        False)
    builtin = _keras_builtin(name, config)
    if builtin is not None:
        add("keras", builtin, False)
    add("fused+xla", keras_optlab.optimizers.get(name, fused=True, **setting),
        True)
    builtin = _keras_builtin(name, config)
    if builtin is not None:
        add("keras+xla", builtin, True)
    return made


def _slots_per_parameter(optimizer, variables):
    """Per-element state slots (state variables shaped like a parameter) and
    all state bytes, per parameter."""
    params = sum(int(np.prod(v.shape)) for v in variables)
    shapes = {tuple(v.shape) for v in variables}
    elements = sum(int(np.prod(v.shape)) for v in optimizer.variables
                   if tuple(v.shape) in shapes)
    state_bytes = sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize
                      for v in optimizer.variables)
    return elements / params, state_bytes / params


def _copy_step(elements):
    import tensorflow as tf

    source = tf.Variable(tf.random.uniform([elements]))
    target = tf.Variable(tf.zeros([elements]))

    @tf.function
    def copy():
        target.assign(tf.negative(source))

    return copy


def _compiled_costs(candidates, gradients, variables, params):
    """What XLA made of each compiled candidate, from its optimized HLO
    (keras_optlab.optimizers.hlo): bytes moved and loops run per step,
    temporaries as a fraction of the arguments, copies."""
    from keras_optlab.optimizers import fused
    from keras_optlab.optimizers import hlo

    costs = {}
    for candidate in candidates:
        if candidate.label in ("fused", "per-variable"):
            texts = list(fused.compiled_hlo(candidate.optimizer).values())
        elif candidate.label.endswith("+xla"):
            texts = [hlo.compiler_ir(candidate.step, [gradients], variables)]
        else:
            continue
        if not texts:
            continue
        parts = [hlo.analyze(text) for text in texts]
        total = {key: sum(part[key] for part in parts) for key in parts[0]}
        costs[candidate.label] = {
            "traffic_bytes_per_param": total["traffic_bytes"] / params,
            "temporary_fraction": (total["temporary_bytes"]
                                   / total["argument_bytes"]),
            "loops": total["loops"],
            "copies": total["copies"],
        }
    return costs


def time_optimizer(name, size, repeats, warmup, variables=VARIABLES):
    """Times every candidate for `name` at `size` parameters."""
    import keras
    import tensorflow as tf

    shapes = _shapes(size, variables)
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=s).astype("float32") * 0.1)
                 for s in shapes]
    gradients = [tf.constant(rng.normal(size=s).astype("float32"))
                 for s in shapes]
    params = sum(int(np.prod(s)) for s in shapes)
    candidates = _candidates(name, variables)
    copy = _copy_step(params)
    copy()
    copy_times = []
    first_call = {}
    for candidate in candidates:
        start = time.perf_counter()
        candidate.step(gradients)
        first_call[candidate.label] = time.perf_counter() - start
    for _ in range(warmup):
        for candidate in candidates:
            candidate.step(gradients)
    for repeat in range(repeats):
        # Each repeat starts one candidate later, so that every candidate
        # follows every other equally often (caches, clock, allocator).
        shift = repeat % len(candidates)
        for candidate in candidates[shift:] + candidates[:shift]:
            start = time.perf_counter()
            candidate.step(gradients)
            candidate.times.append(time.perf_counter() - start)
        start = time.perf_counter()
        copy()
        copy_times.append(time.perf_counter() - start)
    bandwidth_gb_s = 8 * params / statistics.median(copy_times) / 1e9
    reference = candidates[0].optimizer
    slots, state_bytes = _slots_per_parameter(reference, variables)
    extra_reads = EXTRA_READS.get(name, (0, ""))[0]
    bytes_per_param = 4 * (3 + 2 * slots + extra_reads)
    bound_ms = bytes_per_param * params / (bandwidth_gb_s * 1e9) * 1e3
    result = {
        "optimizer": name,
        "params": params,
        "variables": len(shapes),
        "slots_per_param": slots,
        "extra_reads_per_param": extra_reads,
        "bytes_moved_per_param": bytes_per_param,
        "state_bytes_per_param": state_bytes,
        "copy_gb_s": bandwidth_gb_s,
        "bound_ms": bound_ms,
        "candidates": {},
    }
    # What fused="auto" (the default) runs at these sizes: the compiled
    # update, or the plain path for rules that opt out (`_fused_by_auto`).
    default_path = "fused" if reference._fused_by_auto else "plain"
    result["default_path"] = default_path
    for candidate in candidates:
        stats = _stats(candidate.times)
        stats["first_call_s"] = first_call[candidate.label]
        stats["fraction_of_bound"] = bound_ms / stats["median_ms"]
        result["candidates"][candidate.label] = stats
    result["default_fraction_of_bound"] = (
        result["candidates"][default_path]["fraction_of_bound"])
    result["compiled"] = _compiled_costs(candidates, gradients, variables,
                                         params)
    del candidates, variables, gradients, copy
    gc.collect()
    return result


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
            label: _stats(values) for label, values in times.items()},
        "speedup": statistics.median(times["keras_adam"])
        / statistics.median(times["ours_adam"]),
    }


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
                if measured is None or result["params"] != _params(
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


def _ms(stats):
    if stats is None:
        return "-"
    return (f"{stats['median_ms']:.2f} "
            f"({stats['p10_ms']:.2f}-{stats['p90_ms']:.2f})")


def _ratio(a, b):
    if a is None or b is None:
        return "-"
    return f"{b['median_ms'] / a['median_ms']:.2f}"


_MEMORY_METHODS = {
    "vmhwm": "Linux resident-set high-water mark in a fresh process, "
             "oneDNN's pooling allocator off and every buffer of 16 KiB "
             "or more mapped on allocation, unmapped on free",
    "gpu_peak": "TensorFlow's GPU allocator peak",
}


def to_markdown(report):
    """Markdown tables of a `run_benchmark` report."""
    m = report["machine"]
    bw = report["bandwidth"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, "
        f"TensorFlow {m['tensorflow']}, Keras {m['keras']}, NumPy "
        f"{m['numpy']}.",
        "",
        f"Copy bandwidth at the start (float32, read + write): TensorFlow "
        f"{bw['tensorflow_gb_s']:.1f} GB/s, NumPy {bw['numpy_gb_s']:.1f} "
        "GB/s. The bound of each row uses the copy timed in the same "
        "rotation (copy GB/s column).",
        "",
        f"Times: one `apply` in a `tf.function`, median (p10-p90) ms of "
        f"{report['repeats']} interleaved repeats after {report['warmup']} "
        "warm-up steps. `fused`: ours, fused=True (one compiled update for "
        "all variables); `per-variable`: one compiled update per "
        "variable; `plain`: ours, fused=False; `keras`: "
        "Keras' built-in with the same math; `+xla`: the step function "
        "compiled. B/param: bytes a step must move per parameter; "
        "bound: that traffic at the copy bandwidth (extra reads of LARS, "
        "NovoGrad and Prodigy included, see bench.EXTRA_READS); auto: "
        "what the default fused=\"auto\" runs (the fused update, or "
        "plain where marked); x keras: keras time / fused time; x keras "
        "at most: keras time / bound, the most any step could gain over "
        "Keras.",
        "",
    ]
    for size in sorted({r["params"] for r in report["steps"]}):
        rows = [r for r in report["steps"] if r["params"] == size]
        lines += [
            f"### {size:,} parameters in {rows[0]['variables']} variables",
            "",
            "| optimizer | B/param | state B/param | copy GB/s | bound ms | "
            "fused | "
            "per-variable | plain | keras | x keras | x keras at most | "
            "fused / bound | "
            "auto / bound | "
            "fused+xla | keras+xla | xla ratio | first call s: fused, "
            "per-variable, plain |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
            "---|---|",
        ]
        for r in rows:
            c = r["candidates"]
            keras_xla = c.get("keras+xla")
            xla_ratio = "-"
            if keras_xla is not None:
                ratio = c["fused+xla"]["median_ms"] / keras_xla["median_ms"]
                xla_ratio = f"{ratio:.2f}"
            lines.append(
                f"| {r['optimizer']} | {r['bytes_moved_per_param']:.0f} | "
                f"{r['state_bytes_per_param']:.1f} | {r['copy_gb_s']:.1f} | "
                f"{r['bound_ms']:.2f} | "
                f"{_ms(c['fused'])} | {_ms(c['per-variable'])} | "
                f"{_ms(c['plain'])} | {_ms(c.get('keras'))} | "
                f"{_ratio(c['fused'], c.get('keras'))} | "
                f"{_ratio({'median_ms': r['bound_ms']}, c.get('keras'))} | "
                f"{c['fused']['fraction_of_bound']:.2f} | "
                f"{r['default_fraction_of_bound']:.2f}"
                f"{' (plain)' if r['default_path'] == 'plain' else ''} | "
                f"{_ms(c['fused+xla'])} | {_ms(keras_xla)} | {xla_ratio} | "
                f"{c['fused']['first_call_s']:.1f}, "
                f"{c['per-variable']['first_call_s']:.1f}, "
                f"{c['plain']['first_call_s']:.1f} |")
        lines.append("")
        compiled = [r for r in rows if r.get("compiled")]
        if compiled:
            lines += [
                "What XLA compiled, read from the optimized HLO "
                "(keras_optlab.optimizers.hlo): bytes the compiled program "
                "moves per parameter (each loop's distinct operands read "
                "once, its result written), loops over the data, "
                "temporaries as a fraction of params + grads + state, and "
                "copies. B/param is what the rule itself must move.",
                "",
                "| optimizer | B/param | fused: B/param, loops, "
                "temporaries, copies | fused+xla B/param | keras+xla "
                "B/param |",
                "|---|---|---|---|---|",
            ]
            for r in compiled:
                c = r["compiled"]

                def moved(label):
                    if label not in c:
                        return "-"
                    return f"{c[label]['traffic_bytes_per_param']:.0f}"

                fused = c.get("fused")
                cell = "-" if fused is None else (
                    f"{fused['traffic_bytes_per_param']:.0f}, "
                    f"{fused['loops']}, {fused['temporary_fraction']:.2f}, "
                    f"{fused['copies']}")
                lines.append(
                    f"| {r['optimizer']} | {r['bytes_moved_per_param']:.0f} "
                    f"| {cell} | {moved('fused+xla')} | "
                    f"{moved('keras+xla')} |")
            lines.append("")
        peaks = [r for r in rows
                 if "step_peak_extra_fraction" in r["candidates"]["fused"]]
        if peaks:
            lines += [
                "Peak memory of a step beyond what the process held "
                "before it, as a fraction of params + grads + state "
                f"({_MEMORY_METHODS[rows[0].get('memory_method', 'vmhwm')]}"
                "):",
                "",
                "| optimizer | fused | plain | keras |",
                "|---|---|---|---|",
            ]
            for r in peaks:
                c = r["candidates"]
                cells = [
                    "-" if "step_peak_extra_fraction" not in c.get(k, {})
                    else f"{c[k]['step_peak_extra_fraction']:.2f} "
                    f"({c[k]['step_peak_extra_bytes'] / 1e6:.1f} MB)"
                    for k in MEMORY_LABELS]
                lines.append(f"| {r['optimizer']} | " + " | ".join(cells)
                             + " |")
            lines.append("")
    if "fit" in report:
        f = report["fit"]
        s = f["seconds_per_epoch"]
        lines += [
            f"### model.fit, Embedding ({f['embedding_params']:,}) + MLP, "
            f"{f['params']:,} parameters, {f['steps_per_epoch']} steps per "
            f"epoch, jit_compile={f['jit_compile']}",
            "",
            "| optimizer | s per epoch, median (p10-p90) |",
            "|---|---|",
        ]
        for label, stats in s.items():
            lines.append(
                f"| {label} | {stats['median_ms'] / 1e3:.3f} "
                f"({stats['p10_ms'] / 1e3:.3f}-{stats['p90_ms'] / 1e3:.3f}) |")
        lines += ["", f"Keras Adam / ours: {f['speedup']:.2f}x", ""]
    return "\n".join(lines)


def write(report, json_path=None, markdown_path=None):
    if json_path:
        with open(json_path, "w") as handle:
            json.dump(report, handle, indent=1)
    if markdown_path:
        with open(markdown_path, "w") as handle:
            handle.write(to_markdown(report))
