"""The speed harness: `python benchmarks/harness.py [--quick] ...`, the same
as `optlab bench` (keras_optlab/lab/bench/). The latest full run is in
benchmarks/RESULTS.md."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

if __name__ == "__main__":
    from keras_optlab import cli

    sys.exit(cli.main(["bench"] + sys.argv[1:]))
