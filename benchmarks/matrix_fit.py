"""What a preconditioner costs in `model.fit`: seconds per epoch of the
digits CNN with Shampoo, SOAP and Muon at their defaults against Adam's,
epochs alternating (keras_optlab.lab.bench.fit.time_digits_cnn_fit).

    python benchmarks/matrix_fit.py [--epochs 8] [--json out.json]

Prints a Markdown table; the latest run is in benchmarks/RESULTS.md."""

import argparse
import json

from keras_optlab.lab.bench.fit import MATRIX_METHODS
from keras_optlab.lab.bench.fit import time_digits_cnn_fit
from keras_optlab.lab.bench.hardware import machine


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--optimizers", default=",".join(MATRIX_METHODS))
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    result = time_digits_cnn_fit(args.optimizers.split(","), args.epochs)
    result["machine"] = machine()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(f"digits CNN, {result['params']:,} parameters, "
          f"{result['steps_per_epoch']} steps per epoch, median of "
          f"{args.epochs - 1} epochs each (the first left out)\n")
    print("| optimizer | ms per epoch (p10-p90) | ratio to adam |")
    print("|---|---|---|")
    for name, stats in result["seconds_per_epoch"].items():
        print(f"| {name} | {stats['median_ms']:.0f} ({stats['p10_ms']:.0f}"
              f"-{stats['p90_ms']:.0f}) | {result['ratio'][name]:.2f} |")


if __name__ == "__main__":
    main()
