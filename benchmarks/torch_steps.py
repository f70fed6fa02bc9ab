"""Update-step time on Keras' torch backend: ours against Keras' built-ins.

    KERAS_BACKEND=torch python benchmarks/torch_steps.py [--size N] [--repeats R]

One `optimizer.apply(grads, variables)` (eager, as `model.fit` runs it on
torch) for each optimizer that Keras also has with the same math: ours
eager (`fused="auto"`, Keras' generic per-variable loop), ours compiled
(`fused=True`: that loop through `torch.compile`, see
keras_optlab/engine/torch_compiled.py) and Keras' own (Adam, AdamW,
SGD, RMSprop, Adagrad, Adadelta, Adamax and Nadam have `torch._foreach`
implementations), alternating each repeat; medians and p10/p90 in ms, and
the first call of the compiled one (compilation) in s.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_optlab  # noqa: E402
from keras_optlab.lab.bench import setup  # noqa: E402

NAMES = ("gradient_descent", "momentum", "nesterov", "adagrad", "adadelta",
         "rmsprop", "adam", "adamw", "adamax", "nadam")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--optimizers", default=",".join(NAMES))
    args = parser.parse_args(argv)
    assert keras.backend.backend() == "torch", "set KERAS_BACKEND=torch"
    import torch

    shapes = setup.variable_shapes(args.size)
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, Keras {keras.__version__}, "
          f"{torch.get_num_threads()} threads, {args.size:,} parameters in "
          f"{len(shapes)} variables, median (p10-p90) ms of {args.repeats}")
    print("| optimizer | ours | ours compiled | keras | ours / keras | "
          "compiled / keras | compile s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.optimizers.split(","):
        setting = setup.SETTINGS.get(name, {"learning_rate": 1e-3})
        ours = keras_optlab.optimizers.get(name, **setting)
        builtin = setup.keras_builtin(name, ours.get_config())
        compiled = keras_optlab.optimizers.get(name, fused=True, **setting)
        variables = [keras.Variable(rng.normal(size=s).astype("float32"))
                     for s in shapes]
        grads = [keras.ops.convert_to_tensor(
            rng.normal(size=s).astype("float32")) for s in shapes]
        start = time.perf_counter()
        compiled.apply(grads, variables)
        compile_s = time.perf_counter() - start
        times = {"ours": [], "compiled": [], "keras": []}
        pairs = (("ours", ours), ("compiled", compiled), ("keras", builtin))
        for repeat in range(args.repeats + 2):
            for label, optimizer in pairs:
                start = time.perf_counter()
                optimizer.apply(grads, variables)
                if repeat >= 2:
                    times[label].append(time.perf_counter() - start)
        cells = []
        for label in ("ours", "compiled", "keras"):
            values = np.array(times[label]) * 1e3
            cells.append(f"{np.median(values):.1f} "
                         f"({np.percentile(values, 10):.1f}-"
                         f"{np.percentile(values, 90):.1f})")
        keras_median = statistics.median(times["keras"])
        ratio = statistics.median(times["ours"]) / keras_median
        compiled_ratio = statistics.median(times["compiled"]) / keras_median
        print(f"| {name} | {cells[0]} | {cells[1]} | {cells[2]} | "
              f"{ratio:.2f} | {compiled_ratio:.2f} | {compile_s:.1f} |",
              flush=True)
        del variables, grads


if __name__ == "__main__":
    main()
