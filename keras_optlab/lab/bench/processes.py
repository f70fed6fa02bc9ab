"""Running one benchmark function in a fresh Python process."""

import json
import os


def in_child(function, arguments, env=None, timeout=1800):
    """`bench.<function>(*arguments)` run in a fresh Python process, its
    JSON result. A child that fails or times out raises RuntimeError with
    the last line it wrote to stderr."""
    import subprocess
    import sys

    import keras_optlab

    # The folder holding this keras_optlab, so the child imports the same.
    root = os.path.dirname(os.path.dirname(keras_optlab.__file__))
    env = dict(os.environ, **(env or {}))
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    code = (f"import json, sys; from keras_optlab.lab import bench; "
            f"print(json.dumps(bench.{function}(*json.loads(sys.argv[1]))))")
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, json.dumps(arguments)], env=env,
            capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"bench.{function} took more than {timeout} s "
                           "in its child process") from None
    if done.returncode != 0:
        errors = done.stderr.strip().splitlines() or ["(no output)"]
        raise RuntimeError(f"bench.{function} failed in its child process "
                           f"(exit {done.returncode}): {errors[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
