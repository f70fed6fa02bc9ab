"""The speed harness: `python benchmarks/harness.py [--quick] ...`.

The code lives in `keras_optlab.lab.bench` (so that `optlab bench` ships with
the package); this module re-exports it and runs the same command. The
latest full run is in benchmarks/RESULTS.md.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

from keras_optlab.lab.bench import *  # noqa: E402,F401,F403
from keras_optlab.lab.bench import memory_bandwidth  # noqa: E402,F401
from keras_optlab.lab.bench import run_benchmark  # noqa: E402,F401
from keras_optlab.lab.bench import time_fit  # noqa: E402,F401
from keras_optlab.lab.bench import time_optimizer  # noqa: E402,F401
from keras_optlab.lab.bench import to_markdown  # noqa: E402,F401

if __name__ == "__main__":
    from keras_optlab import cli

    sys.exit(cli.main(["bench"] + sys.argv[1:]))
