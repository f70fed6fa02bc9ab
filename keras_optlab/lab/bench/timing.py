"""Time per step of every candidate of an optimizer, interleaved, against
the memory-bandwidth bound, and what XLA compiled."""

import gc
import statistics
import time

import numpy as np

from keras_optlab.lab.bench.hardware import copy_step
from keras_optlab.lab.bench.hardware import summary
from keras_optlab.lab.bench.processes import in_child
from keras_optlab.lab.bench.setup import EXTRA_READS
from keras_optlab.lab.bench.setup import VARIABLES
from keras_optlab.lab.bench.setup import candidates_for
from keras_optlab.lab.bench.setup import variable_shapes


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
        return in_child("time_optimizer",
                         [name, size, repeats, warmup, variables],
                         timeout=timeout)
    except RuntimeError as error:
        raise RuntimeError(
            f"Timing {name} at {size:,} parameters failed: {error}") from None


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


def _compiled_costs(candidates, gradients, variables, params):
    """What XLA made of each compiled candidate, from its optimized HLO
    (keras_optlab.engine.hlo): bytes moved and loops run per step,
    temporaries as a fraction of the arguments, copies."""
    from keras_optlab.engine import fused
    from keras_optlab.engine import hlo

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

    shapes = variable_shapes(size, variables)
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=s).astype("float32") * 0.1)
                 for s in shapes]
    gradients = [tf.constant(rng.normal(size=s).astype("float32"))
                 for s in shapes]
    params = sum(int(np.prod(s)) for s in shapes)
    candidates = candidates_for(name, variables)
    copy = copy_step(params)
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
    # What fused="auto" (the default) runs for variables of the benchmark's
    # sizes: the compiled update, except for rules that multiply matrices
    # (Muon, Shampoo, SOAP), which it leaves plain (keras_optlab/engine/
    # fused.py).
    from keras_optlab.engine import fused as fused_engine

    fused_candidate = next(c for c in candidates if c.label == "fused")
    default_path = ("plain" if fused_engine.multiplies_matrices(
        fused_candidate.optimizer) else "fused")
    result["default_path"] = default_path
    for candidate in candidates:
        stats = summary(candidate.times)
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
