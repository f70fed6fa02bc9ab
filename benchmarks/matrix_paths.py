"""The step of an optimizer that multiplies matrices (Muon, Shampoo, SOAP),
each path side by side in one process: the plain (uncompiled) update,
`fused="auto"` (the default: it leaves matrix products plain and compiles
the rest), the fused update compiled once for all variables (`fused=True`),
the fused update compiled per variable, and for Muon keras.optimizers.Muon
with the same math. 20 variables (`--variables`) of 1000 x 500 float32
(10M parameters, the size of `optlab bench`'s middle row); medians of interleaved repeats
(benchmarks/RESULTS.md). A repeat is `precondition_frequency` steps where
the optimizer has one, so that each holds one recomputation of the
preconditioners.

`--inter-op-threads 1` runs TensorFlow's graph with one inter-op thread, so
that no two variables' updates run at once: the test of whether the graph
paths gain from running two variables' matrix products side by side on the
cores, which one XLA program for all variables cannot.

    python benchmarks/matrix_paths.py [--optimizer muon] [--repeats 7]
        [--variables 20] [--inter-op-threads N]
"""

import os
import sys
import time

from side_by_side import compiled_step
from side_by_side import interleaved_seconds
from side_by_side import positive_integer
from side_by_side import summary
from side_by_side import timing_arguments

VARIABLES = 20
SHAPE = (1000, 500)
OPTIMIZERS = ("muon", "shampoo", "soap")


def main():
    parser = timing_arguments(__doc__, repeats=7, variables=VARIABLES)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="muon")
    parser.add_argument("--inter-op-threads",
                        type=positive_integer("--inter-op-threads"))
    arguments = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_optlab
    from keras_optlab.engine import fused as fused_engine
    from keras_optlab.lab.bench.setup import SETTINGS

    if arguments.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(
            arguments.inter_op_threads)
    name = arguments.optimizer
    # For Muon, Keras' shape factor, so that ours and Keras' do the same
    # math (as in `optlab bench`).
    setting = SETTINGS.get(name, {})
    labels = {"plain": False, "auto": "auto", "fused, one program": True,
              "fused, per variable": True}
    if name == "muon":
        labels["keras"] = None
    rng = np.random.default_rng(0)
    candidates = []
    for label, fused in labels.items():
        variables = [keras.Variable(rng.normal(size=SHAPE).astype("float32")
                                    * 0.1)
                     for _ in range(arguments.variables)]
        if label == "keras":
            optimizer = keras.optimizers.Muon(learning_rate=0.02)
        else:
            optimizer = keras_optlab.optimizers.get(name, fused=fused,
                                                    **setting)
            if label == "fused, per variable":
                fused_engine.compile_per_variable(optimizer)
        optimizer.build(variables)
        steps = getattr(optimizer, "precondition_frequency", 1)
        gradients = [tf.constant(rng.normal(size=SHAPE).astype("float32"))
                     for _ in range(arguments.variables)]
        step = compiled_step(optimizer, variables)

        def repeat(gradients, step=step, steps=steps):
            for _ in range(steps):
                step(gradients)

        start = time.perf_counter()
        repeat(gradients)
        first = time.perf_counter() - start
        start = time.perf_counter()
        repeat(gradients)
        print(f"{name}  {label}: first repeat {first:.1f} s, second "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr,
              flush=True)
        candidates.append((label, repeat, gradients))

    threads = arguments.inter_op_threads or "default"
    for label, seconds in interleaved_seconds(
            candidates, arguments.repeats).items():
        print(f"{name}  inter-op threads {threads}  {label:20s} "
              f"{summary(seconds)}  (a repeat: {steps} steps)")


if __name__ == "__main__":
    main()
