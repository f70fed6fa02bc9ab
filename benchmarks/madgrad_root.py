"""What MADGRAD's cube root costs: its fused step beside the same step
written by hand with the root (`pow(nu, 1/3)`) and with a square root in
its place, and beside programs that only stream the same bytes. Each is
one XLA program over `--variables` variables of 1000 x 500 float32 (10M
parameters, `optlab bench`'s middle row), medians of interleaved repeats
in one process (benchmarks/RESULTS.md).

MADGRAD's step reads x0, s, nu, x and the gradient and writes s, nu and x:
the "stream" program does that with additions only, the memory-bandwidth
floor of any MADGRAD step. If the hand-written step with a square root
runs near it and the one with the cube root near our step, the cube root
(XLA lowers pow to exp and log) is what holds the step off its bound.

    python benchmarks/madgrad_root.py [--repeats 7] [--variables 20]
"""

import os

from side_by_side import compiled_step
from side_by_side import interleaved_seconds
from side_by_side import summary
from side_by_side import timing_arguments

SHAPE = (1000, 500)
MOMENTUM, EPSILON, STEP_SIZE = 0.9, 1e-6, 1e-3


def main():
    arguments = timing_arguments(__doc__, repeats=7,
                                 variables=20).parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_optlab

    rng = np.random.default_rng(0)

    def tensors():
        return [rng.normal(size=SHAPE).astype("float32") * 0.1
                for _ in range(arguments.variables)]

    gradients = [tf.constant(g) for g in tensors()]

    def by_hand(root):
        """MADGRAD's update (Defazio and Jelassi 2021, Algorithm 1) on
        tf.Variables, the root given: one XLA program for all variables."""
        x = [tf.Variable(v) for v in tensors()]
        x0 = [tf.Variable(v) for v in tensors()]
        s = [tf.Variable(np.zeros(SHAPE, "float32")) for _ in x]
        nu = [tf.Variable(np.abs(v)) for v in tensors()]

        @tf.function(jit_compile=True, autograph=False)
        def step(gradients):
            for g, xi, x0i, si, nui in zip(gradients, x, x0, s, nu):
                si.assign_add(g * STEP_SIZE)
                nui.assign_add(tf.square(g) * STEP_SIZE)
                z = x0i - si / (root(nui) + EPSILON)
                xi.assign_add((z - xi) * (1.0 - MOMENTUM))
        return step

    def stream():
        """The same reads and writes, additions only."""
        x = [tf.Variable(v) for v in tensors()]
        x0 = [tf.Variable(v) for v in tensors()]
        s = [tf.Variable(v) for v in tensors()]
        nu = [tf.Variable(v) for v in tensors()]

        @tf.function(jit_compile=True, autograph=False)
        def step(gradients):
            for g, xi, x0i, si, nui in zip(gradients, x, x0, s, nu):
                si.assign_add(g)
                nui.assign_add(g)
                xi.assign_add(x0i + g)
        return step

    def ours():
        variables = [keras.Variable(v) for v in tensors()]
        optimizer = keras_optlab.optimizers.get("madgrad", fused=True)
        optimizer.build(variables)
        return compiled_step(optimizer, variables)

    candidates = [
        ("stream (bytes only)", stream()),
        ("by hand, sqrt", by_hand(tf.sqrt)),
        ("by hand, pow(1/3)", by_hand(lambda v: tf.pow(v, 1.0 / 3.0))),
        ("keras_optlab MADGRAD", ours()),
    ]
    for _, step in candidates:
        step(gradients)
        step(gradients)
    seconds = interleaved_seconds(
        [(label, step, gradients) for label, step in candidates],
        arguments.repeats)
    gigabytes = 8 * 4 * arguments.variables * SHAPE[0] * SHAPE[1] / 1e9
    print(f"{arguments.variables} variables of {SHAPE[0]} x {SHAPE[1]} "
          f"float32; {gigabytes:.2f} GB read and written per step")
    for label, values in seconds.items():
        print(f"{label:22s} {summary(values)}")


if __name__ == "__main__":
    main()
