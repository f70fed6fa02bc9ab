"""Adafactor's step three ways, side by side in one process: the compiled
(fused) update with its row and column sums whole (the code since stop 25),
the compiled update with those sums in blocks of 32 along the axis (the
code before, rebuilt here), and the uncompiled update. 20 variables of
ROWS x 500 float32; medians of interleaved repeats.

    python benchmarks/adafactor_sums.py REPEATS ROWS
"""
import os, sys, time, statistics
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, keras, tensorflow as tf
from keras import ops
from keras_optlab.engine import xla
from keras_optlab.optimizers import Adafactor
from keras_optlab.optimizers.base import scalar

def blocked_axis_sum(values, axis, keep_apart):
    values = ops.convert_to_tensor(values); rank = len(values.shape); axis %= rank
    for _ in range(2):
        size = values.shape[axis]
        if size is None or size <= 32: break
        padding = -size % 32
        if padding:
            widths = [(0, 0)] * rank; widths[axis] = (0, padding); values = ops.pad(values, widths)
        shape = tuple(values.shape); blocks = (size + padding) // 32
        sums = ops.sum(ops.reshape(values, shape[:axis] + (blocks, 32) + shape[axis + 1:]), axis=axis + 1)
        values = ops.where(keep_apart, sums, ops.zeros_like(sums))
    return ops.sum(values, axis=axis)

cls = [c for c in Adafactor.__mro__ if "mean_over" in c.__dict__][0]
new_mean_over = cls.mean_over
def old_mean_over(self, x, axis):
    size = scalar(float(x.shape[axis]), x.dtype)
    if self._step_order is not None or xla.tracing_for_xla(self.iterations):
        return ops.divide(blocked_axis_sum(x, axis, self._true_at_run_time()), size)
    return ops.divide(ops.sum(x, axis=axis), size)

rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
shapes = [(rows, 500)] * 20
rng = np.random.default_rng(0)
cands = []
for label in ["fused (whole sums)", "fused (blocked sums)", "unfused"]:
    cls.mean_over = old_mean_over if "blocked" in label else new_mean_over
    vs = [keras.Variable(rng.normal(size=s).astype("float32") * 0.1) for s in shapes]
    opt = Adafactor(fused=(label != "unfused")); opt.build(vs)
    gs = [tf.constant(rng.normal(size=s).astype("float32")) for s in shapes]
    def make(opt, vs):
        @tf.function(autograph=False)
        def step(gs):
            opt.apply(gs, vs)
        return step
    step = make(opt, vs); step(gs); step(gs)
    cands.append((label, step, gs))
cls.mean_over = new_mean_over
times = {l: [] for l, _, _ in cands}
for r in range(int(sys.argv[1])):
    order = cands[r % len(cands):] + cands[:r % len(cands)]
    for label, step, gs in order:
        t = time.perf_counter(); step(gs); times[label].append(time.perf_counter() - t)
for l, t in times.items():
    print(f"{rows}x500 x20  {l:22s} median {1e3*statistics.median(t):7.2f} ms  min {1e3*min(t):7.2f}")
