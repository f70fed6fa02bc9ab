"""Reading TensorBoard event files back with TensorBoard's own reader."""

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator


def read_scalars(run_dir):
    """{tag: [(step, value), ...]} for every scalar written with
    `tf.summary.scalar` in run_dir (tf.summary v2 stores them as tensors)."""
    accumulator = event_accumulator.EventAccumulator(
        str(run_dir), size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    scalars = {}
    for tag in accumulator.Tags()["tensors"]:
        events = accumulator.Tensors(tag)
        values = [tf.make_ndarray(e.tensor_proto) for e in events]
        if all(np.ndim(v) == 0 and v.dtype.kind in "fiu" for v in values):
            scalars[tag] = [(e.step, float(v)) for e, v in zip(events, values)]
    return scalars


def tensor_tags(run_dir):
    accumulator = event_accumulator.EventAccumulator(str(run_dir))
    accumulator.Reload()
    return set(accumulator.Tags()["tensors"])
