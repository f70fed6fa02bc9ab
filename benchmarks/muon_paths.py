"""Muon's step four ways, side by side in one process: the plain (uncompiled)
update, the fused update compiled once for all variables (the default), the
fused update compiled per variable, and keras.optimizers.Muon with the same
math. 20 variables of 1000 x 500 float32, each taking the Newton-Schulz
step; medians of interleaved repeats (benchmarks/RESULTS.md).

`--inter-op-threads 1` runs TensorFlow's graph with one inter-op thread, so
that no two variables' updates run at once: the test of whether the graph
paths gain from running two Newton-Schulz chains side by side on the cores,
which one XLA program for all variables cannot.

    python benchmarks/muon_paths.py [--repeats 7] [--inter-op-threads N]
"""

import argparse
import os

from side_by_side import compiled_step
from side_by_side import interleaved_seconds
from side_by_side import positive_integer
from side_by_side import summary

VARIABLES = 20
SHAPE = (1000, 500)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=positive_integer("--repeats"),
                        default=7)
    parser.add_argument("--inter-op-threads",
                        type=positive_integer("--inter-op-threads"))
    arguments = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_optlab.engine import fused as fused_engine
    from keras_optlab.optimizers import Muon

    if arguments.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(
            arguments.inter_op_threads)
    rng = np.random.default_rng(0)
    candidates = []
    for label in ("plain", "fused, one program", "fused, per variable",
                  "keras"):
        variables = [keras.Variable(rng.normal(size=SHAPE).astype("float32")
                                    * 0.1) for _ in range(VARIABLES)]
        if label == "keras":
            optimizer = keras.optimizers.Muon(learning_rate=0.02)
        else:
            # Keras' shape factor, so that the four do the same math.
            optimizer = Muon(learning_rate=0.02,
                             shape_scaling="match_rms_adamw",
                             fused=label != "plain")
            if label == "fused, per variable":
                fused_engine.compile_per_variable(optimizer)
        optimizer.build(variables)
        gradients = [tf.constant(rng.normal(size=SHAPE).astype("float32"))
                     for _ in range(VARIABLES)]
        step = compiled_step(optimizer, variables)
        step(gradients)
        step(gradients)
        candidates.append((label, step, gradients))

    threads = arguments.inter_op_threads or "default"
    for label, seconds in interleaved_seconds(
            candidates, arguments.repeats).items():
        print(f"inter-op threads {threads}  {label:20s} {summary(seconds)}")


if __name__ == "__main__":
    main()
