"""Starting Keras' backend for a command, without TensorFlow's start-up
lines.

TensorFlow 2.19 and later write lines to stderr from C++ while it loads and
when it first looks for devices, whatever `TF_CPP_MIN_LOG_LEVEL` says:
`WARNING: All log messages before absl::InitializeLog() is called ...`,
`I0000 ... port.cc] oneDNN custom operations are on ...`, `I0000 ...
cudart_stub.cc] Could not find cuda drivers ...` and, on a machine without
a GPU, `E0000 ... failed call to cuInit ...`, which reads like an error and
is not one. `start_backend` sets `TF_CPP_MIN_LOG_LEVEL=2` (unless set),
then imports Keras (and its backend) and lists the devices with stderr's
file descriptor pointed at a temporary file, and afterwards writes every
captured line back to stderr except those start-up lines: INFO and WARNING
lines in absl's or TensorFlow's format (what level 2 means to hide) and the
known harmless errors in `HARMLESS_ERRORS`. Anything else written then (a
Python warning, an unexpected C++ error, a traceback) reaches the user. With
`optlab --verbose` nothing is set or hidden.
"""

import contextlib
import os
import re
import sys
import tempfile

# The C++ errors a working CPU-only (or GPU) start prints.
HARMLESS_ERRORS = (
    "failed call to cuInit",
    "Unable to register cuFFT factory",
    "Unable to register cuDNN factory",
    "Unable to register cuBLAS factory",
)

_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    # absl: I0000 00:00:1796086317.213871    3320 port.cc:153] ...
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] "
    # TensorFlow's own: 2025-09-17 14:44:05.157831: I path/file.cc:32] ...
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] [^ \]]+:\d+\] "
    # the second line of cpu_feature_guard's notice
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|(E\d{4} \d\d:\d\d:\d+\.\d+ +\d+"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: E) [^ \]]+:\d+\] .*("
    + "|".join(re.escape(e) for e in HARMLESS_ERRORS) + ")")


def is_start_up_noise(line):
    """Whether `line` is one of the start-up lines described above."""
    return _NOISE.match(line) is not None


@contextlib.contextmanager
def native_start_up_lines_hidden():
    """Within the block, stderr (file descriptor 2, so C++ writes too) goes
    to a temporary file; afterwards every line of it except start-up noise
    is written to stderr, also when the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                captured.seek(0)
                text = captured.read().decode("utf-8", errors="replace")
                kept = [line for line in text.splitlines(keepends=True)
                        if not is_start_up_noise(line)]
                if kept:
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()
    finally:
        os.close(saved)


def start_backend(verbose=False):
    """Imports Keras and its backend, and finds the devices, before a
    command runs; quietly unless `verbose`."""
    if verbose:
        import_backend()
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_start_up_lines_hidden():
        import_backend()


def import_backend():
    """Imports Keras (and so its backend) and, on TensorFlow, lists the
    devices: what writes the start-up lines."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # The first device query writes the cuInit line.
        tf.config.list_physical_devices()
