"""How the bundled benchmark workloads' targets were set (AlgoPerf's way).

Adam over a small learning-rate grid, seed 0 (`--seed`), each workload's
full budget with an unreachable target (so every run uses the whole
budget). The quick variant's budget is the first `quick["max_epochs"]`
epochs of the same runs (same seed, same data order), so one run measures
both. Prints a Markdown
table: the best validation value of each learning rate, within the full and
within the quick budget; the targets in keras_optlab/lab/benchmark/
workloads.py are set a little below the best of each column.

    PYTHONPATH=$PWD python benchmarks/benchmark_targets.py [--seed S]
        [workload ...]

A run with another `--seed` (other initial weights and data order, the same
split) checks that the targets hold beyond the seed they were set on.
"""

import argparse
import dataclasses

from keras_optlab.lab.benchmark import run
from keras_optlab.lab.benchmark import workloads

GRID = (1e-3, 3e-3, 1e-2)
WIDER = {"mnist1d_gru": (3e-4,) + GRID, "deep_sigmoid": GRID + (3e-2,)}


def best(workload, curve, epochs):
    values = [row[2] for row in curve[:epochs] if row[2] is not None]
    if not values:
        return None
    return max(values) if workload.direction == "max" else min(values)


def main(names, seed=0):
    print(f"Adam, seed {seed}:\n")
    print("| workload | lr | best val (full budget) | best val (quick "
          "budget) | epochs | training s |")
    print("|---|---|---|---|---|---|")
    for name in names or workloads.names():
        workload = workloads.get(name)
        never = 2.0 if workload.direction == "max" else -1.0
        unreachable = dataclasses.replace(workload, target=never)
        data = workload.data()
        quick_epochs = workload.quick["max_epochs"]
        for lr in WIDER.get(name, GRID):
            r = run.train_trial(unreachable, "adam", {"learning_rate": lr},
                                seed=seed, data=data)
            full, quick = best(workload, r["curve"], None), best(
                workload, r["curve"], quick_epochs)
            print(f"| {name} | {lr:g} | {full:.4f} | {quick:.4f} | "
                  f"{r['epochs']} | {r['train_seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("workloads", nargs="*")
    arguments = parser.parse_args()
    main(arguments.workloads, arguments.seed)
