"""Test set-up shared by the whole suite.

TensorFlow fixes its devices at first use, so the two logical CPU devices that
the MirroredStrategy tests need are made here, before any test runs.

`pytest` runs the suite in two worker processes (pytest-xdist, `-n 2
--dist loadgroup` in pyproject.toml). The tests that use the session's
MirroredStrategy all go to one worker, in file order (xdist group
"mirrored"): collective ops of different strategies, or of one strategy
whose tests interleave with others' in one process, clash on their keys.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# XLA compiles thousands of small programs in this suite (TensorFlow's fused
# updates and jit_compile steps; on JAX every eager op of a new shape): its
# CPU backend then spends most of their time in LLVM's optimizer. Level 0
# leaves the HLO passes, and so what tests/test_xla_forms.py reads (copies,
# temporaries, loops), as they are; the JAX run's compile time fell from 170
# to 134 s and test_fused.py + test_xla_forms.py from 243 to 217 s. Set
# here, it reaches the subprocesses the tests start (tests/test_backends.py).
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=0").strip()

import keras  # noqa: E402
import pytest  # noqa: E402

if keras.backend.backend() == "jax":
    import jax

    # The reference tests compare in float64.
    jax.config.update("jax_enable_x64", True)

if keras.backend.backend() in ("jax", "torch"):
    # Keras converts bare Python floats at floatx on these backends (and on
    # torch returns floatx from ops.maximum/minimum/norm), so float64
    # comparisons need floatx float64; TensorFlow runs at the default.
    keras.config.set_floatx("float64")

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    _cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        _cpus[0],
        [tf.config.LogicalDeviceConfiguration(),
         tf.config.LogicalDeviceConfiguration()],
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "mirrored_strategy" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("mirrored"))


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One MirroredStrategy over the two logical CPUs for the whole run:
    many strategies in one process end in clashing collective-op keys."""
    import tensorflow as tf

    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    assert len(devices) == 2
    return tf.distribute.MirroredStrategy(devices)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # free_memory=True would run gc.collect(), about 0.6 s a test.
    keras.utils.clear_session(free_memory=False)
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture(scope="session")
def mnist1d_cache(tmp_path_factory):
    """A cache folder holding MNIST-1D, generated once per test session
    (per xdist worker) and pointed to by $KERAS_OPTLAB_CACHE, so tests that
    load `dataset="mnist1d"` read it instead of generating it (~3 s)."""
    from keras_optlab.tuning import datasets

    folder = tmp_path_factory.mktemp("optlab_cache")
    datasets.mnist1d(folder)
    previous = os.environ.get("KERAS_OPTLAB_CACHE")
    os.environ["KERAS_OPTLAB_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("KERAS_OPTLAB_CACHE", None)
    else:
        os.environ["KERAS_OPTLAB_CACHE"] = previous


def pytest_collection_finish(session):
    """Moves everything alive after collection (the modules of TensorFlow,
    Keras, JAX and torch and the collected tests, about half a million
    objects) out of the garbage collector's reach: they live for the whole
    run, yet every full collection scanned them, and Keras' `clear_session`
    (which Keras Tuner calls before each trial) collects in full, about
    0.2 s in a fresh worker and more as the run goes on. Objects created
    later are collected as before."""
    import gc

    gc.collect()
    gc.freeze()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After each test (its fixtures torn down), collects what it left
    behind and freezes the survivors. TensorFlow keeps each traced function's
    graphs alive after the model that traced them is gone (about 6,500
    objects per `fit`, held from C++), so a worker accumulates about a
    million objects over its run; unfrozen, every full collection scans them
    all, and Keras Tuner collects in full at every trial (a 2-trial search
    spent 18 of its 35 CPU-seconds in the collector after 48 resume tests,
    against 18 CPU-seconds in all in a fresh process). Frozen, a collection
    scans only what the current test created."""
    yield
    import gc

    gc.collect()
    gc.freeze()

