"""The step of an optimizer that multiplies matrices (Muon, Shampoo, SOAP)
on Keras' JAX backend, as its trainer runs it: `stateless_apply` under
`jax.jit`, the state passed in and returned. For Muon, Keras' own Muon
beside ours. The companion of benchmarks/matrix_paths.py (TensorFlow's
paths), with the same layout: `--variables` variables of 1000 x 500
float32, a repeat of `precondition_frequency` steps where the optimizer
has one (so it holds one recomputation of the preconditioners), medians of
interleaved repeats; the first step (tracing and compiling) is timed
apart (benchmarks/RESULTS.md).

    python benchmarks/matrix_paths_jax.py [--optimizer shampoo]
        [--repeats 5] [--variables 1]
"""

import os
import time

from side_by_side import interleaved_seconds
from side_by_side import summary
from side_by_side import timing_arguments

SHAPE = (1000, 500)
OPTIMIZERS = ("muon", "shampoo", "soap")


def main():
    parser = timing_arguments(__doc__, repeats=5, variables=1)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="shampoo")
    arguments = parser.parse_args()

    os.environ["KERAS_BACKEND"] = "jax"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import jax
    import keras
    import numpy as np

    import keras_optlab
    from keras_optlab.lab.bench.setup import SETTINGS

    name = arguments.optimizer
    rng = np.random.default_rng(0)
    gradients = [jax.numpy.asarray(rng.normal(size=SHAPE).astype("float32"))
                 for _ in range(arguments.variables)]
    makers = {"ours": lambda: keras_optlab.optimizers.get(
        name, **SETTINGS.get(name, {}))}
    if name == "muon":
        makers["keras"] = lambda: keras.optimizers.Muon(learning_rate=0.02)

    candidates = []
    steps = getattr(makers["ours"](), "precondition_frequency", 1)
    for label, make in makers.items():
        variables = [keras.Variable(rng.normal(size=SHAPE).astype("float32")
                                    * 0.1)
                     for _ in range(arguments.variables)]
        optimizer = make()
        optimizer.build(variables)
        state = {"trainable": [v.value for v in variables],
                 "optimizer": [v.value for v in optimizer.variables]}

        @jax.jit
        def apply(optimizer_values, gradients, trainable_values,
                  optimizer=optimizer):
            return optimizer.stateless_apply(optimizer_values, gradients,
                                             trainable_values)

        def period(gradients, state=state, apply=apply):
            for _ in range(steps):
                state["trainable"], state["optimizer"] = apply(
                    state["optimizer"], gradients, state["trainable"])
            jax.block_until_ready(state["trainable"])

        start = time.perf_counter()
        state["trainable"], state["optimizer"] = apply(
            state["optimizer"], gradients, state["trainable"])
        jax.block_until_ready(state["trainable"])
        print(f"{label}: first step {time.perf_counter() - start:.1f} s "
              "(traces and compiles)")
        period(gradients)
        candidates.append((label, period, gradients))
    print(f"{name}, {arguments.variables} variable(s) of {SHAPE[0]} x "
          f"{SHAPE[1]} float32, ms per repeat of {steps} step(s):")
    for label, seconds in interleaved_seconds(
            candidates, arguments.repeats).items():
        print(f"{label:6s} {summary(seconds)}")


if __name__ == "__main__":
    main()
