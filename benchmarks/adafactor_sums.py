"""Adafactor's step three ways, side by side in one process: the compiled
(fused) update with its row and column sums whole (the code since stop 25),
the compiled update with those sums in blocks of 32 along the axis (the
code before, rebuilt here), and the uncompiled update. 20 variables of
ROWS x 500 float32; medians of interleaved repeats (benchmarks/RESULTS.md).

    python benchmarks/adafactor_sums.py [--repeats 15] [--rows 1000]
"""

import os

from side_by_side import compiled_step
from side_by_side import interleaved_seconds
from side_by_side import positive_integer
from side_by_side import summary
from side_by_side import timing_arguments

VARIABLES = 20
COLUMNS = 500
BLOCK = 32


def blocked_axis_sum(values, axis, keep_apart):
    """The sum over `axis` in blocks of 32 along it, two levels, as the
    engine summed Adafactor's row and column means before stop 25."""
    from keras import ops

    values = ops.convert_to_tensor(values)
    rank = len(values.shape)
    axis %= rank
    for _ in range(2):
        size = values.shape[axis]
        if size <= BLOCK:
            break
        padding = -size % BLOCK
        if padding:
            widths = [(0, 0)] * rank
            widths[axis] = (0, padding)
            values = ops.pad(values, widths)
        shape = tuple(values.shape)
        sums = ops.sum(ops.reshape(values, shape[:axis] + (
            (size + padding) // BLOCK, BLOCK) + shape[axis + 1:]),
            axis=axis + 1)
        values = ops.where(keep_apart, sums, ops.zeros_like(sums))
    return ops.sum(values, axis=axis)


def blocked_mean_over(optimizer, x, axis):
    """`mean_over` as it was: blocked where XLA compiles the step."""
    from keras import ops
    from keras_optlab.engine import xla
    from keras_optlab.optimizers.base import scalar

    size = scalar(float(x.shape[axis]), x.dtype)
    if optimizer._step_order is not None or xla.tracing_for_xla(
            optimizer.iterations):
        return ops.divide(blocked_axis_sum(
            x, axis, optimizer._true_at_run_time()), size)
    return ops.divide(ops.sum(x, axis=axis), size)


def main():
    parser = timing_arguments(__doc__, repeats=15)
    parser.add_argument("--rows", type=positive_integer("--rows"),
                        default=1000)
    arguments = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_optlab.optimizers import Adafactor

    owner = next(c for c in Adafactor.__mro__ if "mean_over" in c.__dict__)
    whole_mean_over = owner.mean_over
    shapes = [(arguments.rows, COLUMNS)] * VARIABLES
    rng = np.random.default_rng(0)

    candidates = []
    for label in ("fused (whole sums)", "fused (blocked sums)", "unfused"):
        # Traced here, so each candidate keeps the form it was traced with.
        owner.mean_over = (blocked_mean_over if "blocked" in label
                           else whole_mean_over)
        variables = [keras.Variable(
            rng.normal(size=s).astype("float32") * 0.1) for s in shapes]
        optimizer = Adafactor(fused=label != "unfused")
        optimizer.build(variables)
        gradients = [tf.constant(rng.normal(size=s).astype("float32"))
                     for s in shapes]
        step = compiled_step(optimizer, variables)
        step(gradients)
        step(gradients)
        candidates.append((label, step, gradients))
    owner.mean_over = whole_mean_over

    times = interleaved_seconds(candidates, arguments.repeats)
    for label, seconds in times.items():
        print(f"{arguments.rows}x{COLUMNS} x{VARIABLES}  {label:22s} "
              f"{summary(seconds)}")


if __name__ == "__main__":
    main()
