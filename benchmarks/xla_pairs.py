"""XLA on: our compiled step against Keras' built-in, two at a time.

    python benchmarks/xla_pairs.py [--size N] [--repeats R] [--optimizers a,b]

The harness (`optlab bench`) times six candidates per optimizer in one
rotation with a few repeats; at 1M parameters a step is 1-3 ms and its
XLA-on ratio moved by 10-20% between runs. Here only the two XLA-compiled
steps (`fused+xla`, `keras+xla`, built as in the harness) alternate, the
order swapped every repeat, many times; medians and p10/p90 in ms, and the
ratio ours / Keras. Both compile to the same loops (see
`keras_optlab.engine.hlo` and the harness' HLO table), so the ratio
should be 1 within noise.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

import numpy as np  # noqa: E402


def pair(name, size, repeats):
    import keras
    import tensorflow as tf

    from keras_optlab.lab.bench import setup
    from keras_optlab.lab.bench.hardware import summary

    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=s).astype("float32") * 0.1)
                 for s in setup.variable_shapes(size)]
    gradients = [tf.constant(rng.normal(size=v.shape).astype("float32"))
                 for v in variables]
    steps = {c.label: c.step for c in setup.candidates_for(name, variables)
             if c.label in ("fused+xla", "keras+xla")}
    if len(steps) < 2:
        return None
    for step in steps.values():
        for _ in range(3):
            step(gradients)
    times = {label: [] for label in steps}
    labels = list(steps)
    for repeat in range(repeats):
        for label in labels if repeat % 2 else labels[::-1]:
            start = time.perf_counter()
            steps[label](gradients)
            times[label].append(time.perf_counter() - start)
    return {label: summary(seconds) for label, seconds in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--optimizers", default=(
        "gradient_descent,momentum,nesterov,adagrad,adadelta,rmsprop,adam,"
        "adamw,adamax,nadam,lazyadam"))
    args = parser.parse_args(argv)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    print(f"TensorFlow {tf.__version__}, {args.size:,} parameters in 20 "
          f"variables, median (p10-p90) ms of {args.repeats}")
    print("| optimizer | fused+xla | keras+xla | ours / keras |")
    print("|---|---|---|---|")
    for name in args.optimizers.split(","):
        stats = pair(name, args.size, args.repeats)
        if stats is None:
            continue
        ours, theirs = stats["fused+xla"], stats["keras+xla"]
        cells = [f"{s['median_ms']:.3f} ({s['p10_ms']:.3f}-{s['p90_ms']:.3f})"
                 for s in (ours, theirs)]
        print(f"| {name} | {cells[0]} | {cells[1]} | "
              f"{ours['median_ms'] / theirs['median_ms']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
