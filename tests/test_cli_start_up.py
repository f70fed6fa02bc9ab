"""Start-up: `optlab --help` loads no framework, `import keras_optlab` is
cheap and still registers its classes with Keras, and `optlab` commands
keep TensorFlow's C++ start-up lines off stderr unless `--verbose`."""

import importlib
import os
import pathlib
import re
import subprocess
import sys

import keras
import pytest

import keras_optlab
from keras_optlab.cli import app
from keras_optlab.cli import start
from keras_optlab.optimizers import Adam
from keras_optlab.schedules import InverseSqrtDecay
from keras_optlab.schedules import Warmup

FRAMEWORKS = {"keras", "tensorflow", "jax", "jaxlib", "torch"}


def _python(*args, env=None):
    return subprocess.run([sys.executable, *args], capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def _imported(importtime_stderr):
    """Top-level names of the modules `python -X importtime` reports."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name.split(".")[0])
    return names


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["--verbose"],
    *([importlib.import_module(name).NAME, "--help"]
      for name in app.COMMANDS)])
def test_help_imports_no_framework(argv):
    result = _python("-X", "importtime", "-m", "keras_optlab.cli", *argv)
    # The help asked for: status 0; no command: the help and status 2.
    status = 0 if "--help" in argv else 2
    assert result.returncode == status, result.stderr[-2000:]
    assert "usage: optlab" in result.stdout
    imported = _imported(result.stderr)
    assert "keras_optlab" in imported  # the parse worked
    assert not imported & FRAMEWORKS, sorted(imported & FRAMEWORKS)


def test_import_keras_optlab_loads_no_framework():
    result = _python("-X", "importtime", "-c", "import keras_optlab, "
                     "keras_optlab.cli, keras_optlab.cli.commands.tune")
    assert result.returncode == 0, result.stderr[-2000:]
    imported = _imported(result.stderr)
    assert "keras_optlab" in imported
    assert not imported & FRAMEWORKS, sorted(imported & FRAMEWORKS)


LOAD = """
import sys
{first}
{second}
model = keras.saving.load_model(sys.argv[1])
print(type(model.optimizer).__module__, type(model.optimizer).__name__,
      type(model.optimizer._learning_rate).__name__)
print(*sorted(name for name in sys.modules if name.startswith("keras_optlab")))
"""


def _registering_modules():
    """The modules that register a class with keras.saving."""
    package = pathlib.Path(keras_optlab.__file__).parent
    decorator = re.compile(r"^@(register\(|keras\.saving\."
                           r"register_keras_serializable)", re.M)
    return {".".join(path.relative_to(package.parent).with_suffix("").parts)
            for path in package.rglob("*.py")
            if decorator.search(path.read_text())}


@pytest.mark.parametrize("first, second", [
    ("import keras", "import keras_optlab"),
    ("import keras_optlab", "import keras"),
    # TensorFlow imports keras while it is itself half-imported
    ("import keras_optlab", "import tensorflow; import keras"),
    # keras first imported by one of our modules, half-executed then
    ("import keras_optlab", "from keras_optlab import backends; "
                            "import keras"),
])
def test_saved_model_loads_once_keras_optlab_is_imported(tmp_path, first,
                                                         second):
    """README: `keras.saving.load_model` needs no custom_objects once
    keras_optlab is imported, whichever of keras and keras_optlab comes
    first."""
    path = str(tmp_path / "model.keras")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=Adam(Warmup(InverseSqrtDecay(1e-3),
                                        warmup_steps=5)), loss="mse")
    model.save(path)
    result = _python("-c", LOAD.format(first=first, second=second), path)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded, modules = result.stdout.splitlines()
    assert loaded.split() == ["keras_optlab.optimizers.adam", "Adam",
                              "Warmup"]
    # Every class keras.saving may meet is registered, not only these.
    registering = _registering_modules()
    assert "keras_optlab.training.sam" in registering
    assert registering <= set(modules.split()), registering - set(
        modules.split())


def test_lazy_attributes():
    assert keras_optlab.optimizers.Adam is Adam
    assert keras_optlab.schedules.Warmup is Warmup
    assert keras_optlab.saving.load_model is not None
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        keras_optlab.nonexistent  # noqa: B018


# --- TensorFlow's C++ start-up lines ----------------------------------------

def _native_lines(stderr):
    """The start-up lines, without the time stamps and thread ids that
    differ between runs."""
    return {re.sub(r"^(\S+ )?\S+ +\d+ ", "", line)
            for line in stderr.splitlines() if start.is_start_up_noise(line)}


def test_command_stderr_has_no_start_up_lines_unless_verbose():
    env_without = {k: v for k, v in os.environ.items()
                   if k != "TF_CPP_MIN_LOG_LEVEL"}
    bare = subprocess.run(
        [sys.executable, "-c", "import keras_optlab.cli.start as s; "
         "s.import_backend()"], capture_output=True, text=True,
        timeout=120, env=env_without)
    assert bare.returncode == 0, bare.stderr[-2000:]
    quiet = subprocess.run(
        [sys.executable, "-m", "keras_optlab.cli", "list"],
        capture_output=True, text=True, timeout=120, env=env_without)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert quiet.stderr == ""
    assert "adam" in quiet.stdout
    verbose = subprocess.run(
        [sys.executable, "-m", "keras_optlab.cli", "--verbose", "list"],
        capture_output=True, text=True, timeout=120, env=env_without)
    assert verbose.returncode == 0, verbose.stderr[-2000:]
    assert verbose.stdout == quiet.stdout
    # --verbose shows whatever TensorFlow prints on its own (on TF 2.21:
    # the absl, oneDNN, CUDA-driver and cuInit lines).
    assert _native_lines(bare.stderr) <= _native_lines(verbose.stderr)


def test_hidden_start_up_lines_let_real_errors_through(capfd):
    noise = ("WARNING: All log messages before absl::InitializeLog() is "
             "called are written to STDERR\n"
             "I0000 00:00:1796086317.213871    3320 port.cc:153] oneDNN "
             "custom operations are on.\n"
             "E0000 00:00:1796086358.593002    4289 cuda_platform.cc:52] "
             "failed call to cuInit: INTERNAL: CUDA error\n")
    real = ("E0000 00:00:1796086358.593002    4289 bfc_allocator.cc:1] "
            "Allocator ran out of memory\n"
            "F0000 00:00:1796086358.593002    4289 a.cc:2] Check failed\n"
            "/x.py:1: UserWarning: a Python warning\n")
    with pytest.raises(RuntimeError, match="raised inside"):
        with start.native_start_up_lines_hidden():
            os.write(2, (noise + real + noise).encode())
            raise RuntimeError("raised inside")
    assert capfd.readouterr().err == real


def test_start_up_error_reaches_the_user():
    """A backend that cannot start is an error the user sees."""
    result = _python("-m", "keras_optlab.cli", "list",
                     env={"KERAS_BACKEND": "nonsense"})
    assert result.returncode == 1
    assert "Unable to import backend : nonsense" in result.stderr
