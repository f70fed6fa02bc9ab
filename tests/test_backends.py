"""The optimizer table on Keras' JAX and torch backends.

Keras fixes its backend when it is first imported, so each backend runs in a
fresh `pytest` process with KERAS_BACKEND set, over the test files that do
not depend on TensorFlow itself (sparse IndexedSlices, tf.distribute, XLA
and the TensorFlow-only features of keras_optlab.backends.LIMITS stay in the
TensorFlow run). In those processes the float64 comparisons use floatx
float64 (tests/conftest.py).
"""

import os
import re
import subprocess
import sys

import keras
import pytest

PORTABLE = [
    "tests/test_references.py",
    "tests/test_keras_equivalence.py",
    "tests/test_serialization.py",
    "tests/test_validation.py",
    "tests/test_spec.py",
    "tests/test_keras_test_files.py",
    "tests/test_schedules.py",
    "tests/test_backend_limits.py",
    "tests/test_nonfinite.py",
    "tests/test_mixed_precision.py",
    "tests/test_lookahead.py",
    "tests/test_swa.py",
    "tests/test_sam.py",
    "tests/test_cautious.py",
    "tests/test_muon.py",
    "tests/test_schedule_free.py",
    "tests/test_adafactor.py",
    "tests/test_soap.py",
]
# Per backend, on top of PORTABLE. test_base_options.py stays in the
# TensorFlow run: on torch Keras' own clipnorm/global_clipnorm compute the
# norm at float32 (ops.norm), and on JAX its eager gradient-accumulation cond
# compiles at every call (25 s a test).
EXTRA = {
    "jax": ["tests/test_xla_forms.py"],
    "torch": ["tests/test_torch_fused.py"],
}

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Each backend's files in two processes of about equal length, so that the
# suite's two workers share the four (one process per backend took a
# worker for four minutes).
HALVES = {
    "references": PORTABLE[:7],
    "training": PORTABLE[7:],
}


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="started once, from the TensorFlow run")
@pytest.mark.parametrize("half", list(HALVES))
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_optimizer_table_on_backend(backend, half):
    env = {**os.environ, "KERAS_BACKEND": backend}
    files = HALVES[half] + (EXTRA[backend] if half == "training" else [])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-n", "0", "-x", *files],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    tail = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout, tail
    # "6 xfailed" is fine (strict xfails of Keras' own test files).
    assert not re.search(r"\b\d+ failed", result.stdout), tail
