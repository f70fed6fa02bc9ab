"""Exact resume: an interrupted `fit`, started again, ends with the weights
and optimizer state of the uninterrupted run, bit for bit.

First what `keras.callbacks.BackupAndRestore` does with our optimizers
(exact at epoch boundaries; replays batches when resumed mid-epoch; a
truncated checkpoint stops the restart), then `ExactResume` for every
optimizer and wrapper (interrupted in-process at a random batch), its
atomic writes, and a real SIGKILL of a training subprocess at random times.
"""

import os
import random
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_optlab.training.resume import ExactResume
from tests import resume_common
from tests.optimizer_table import TABLE

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="op determinism switch and subprocess runs on TensorFlow")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIMIZERS = [row.name for row in TABLE] + ["lookahead", "swa"]


class Interrupt(Exception):
    pass


class InterruptAt(keras.callbacks.Callback):
    """Raises after batch `batch` of epoch `epoch` (a crash, in-process)."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise Interrupt()


def _uninterrupted(name):
    model = resume_common.compiled_model(name)
    model.fit(*resume_common.data(), **resume_common.FIT)
    return resume_common.state_of(model)


def _interrupted_then_resumed(name, callback, at):
    x, y = resume_common.data()
    model = resume_common.compiled_model(name)
    with pytest.raises(Interrupt):
        model.fit(x, y, **resume_common.FIT,
                  callbacks=[callback(), InterruptAt(*at)])
    # A new process would start from a new model: so does the restart.
    keras.utils.clear_session(free_memory=False)
    model = resume_common.compiled_model(name)
    model.fit(x, y, **resume_common.FIT, callbacks=[callback()])
    return resume_common.state_of(model)


def test_backup_and_restore_is_exact_at_an_epoch_boundary(tmp_path):
    """It saves the optimizer variables with the weights: a restart from
    the end of an epoch is exact."""
    want = _uninterrupted("adam")
    got = _interrupted_then_resumed(
        "adam", lambda: keras.callbacks.BackupAndRestore(tmp_path),
        at=(2, 0))  # epochs 0 and 1 saved, then a crash in epoch 2
    resume_common.assert_same_state(got, want)


def test_backup_and_restore_replays_batches_mid_epoch(tmp_path):
    """With save_freq=N it restores the epoch only: the epoch's first
    batches are trained twice."""
    want = _uninterrupted("adam")
    got = _interrupted_then_resumed(
        "adam",
        lambda: keras.callbacks.BackupAndRestore(tmp_path, save_freq=2),
        at=(1, 2))
    assert any(not np.array_equal(a, b) for a, b in zip(got, want))
    # After the model's 4 weights, optimizer.variables[0] is `iterations`:
    # the replayed batches were counted twice.
    assert int(want[4]) == 4 * 5
    assert int(got[4]) > int(want[4])


def test_backup_and_restore_truncated_checkpoint_stops_the_restart(tmp_path):
    """A kill while `latest.weights.h5` is written leaves it truncated (it
    is written in place); the next fit fails instead of resuming."""
    x, y = resume_common.data()
    model = resume_common.compiled_model("adam")
    model.fit(x, y, **{**resume_common.FIT, "epochs": 1},
              callbacks=[keras.callbacks.BackupAndRestore(
                  tmp_path, delete_checkpoint=False)])
    path = tmp_path / "latest.weights.h5"
    path.write_bytes(path.read_bytes()[:1000])
    model = resume_common.compiled_model("adam")
    with pytest.raises(Exception):
        model.fit(x, y, **resume_common.FIT,
                  callbacks=[keras.callbacks.BackupAndRestore(tmp_path)])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_exact_resume_after_a_crash_at_a_random_batch(name, tmp_path):
    rng = random.Random(name)
    at = (rng.randrange(4), rng.randrange(5))
    want = _uninterrupted(name)
    got = _interrupted_then_resumed(
        name, lambda: ExactResume(tmp_path / "run", save_freq=3), at)
    resume_common.assert_same_state(got, want)
    assert not os.listdir(tmp_path / "run")  # deleted once fit completes


def test_exact_resume_per_epoch(tmp_path):
    want = _uninterrupted("adam")
    got = _interrupted_then_resumed(
        "adam", lambda: ExactResume(tmp_path), at=(2, 3))
    resume_common.assert_same_state(got, want)


def test_half_written_checkpoints_are_never_loaded(tmp_path):
    """Leftovers of a kill during a write (a truncated temporary weights
    file, a half-written pointer) are ignored: the restart resumes from
    the last committed checkpoint."""
    want = _uninterrupted("adam")
    x, y = resume_common.data()
    model = resume_common.compiled_model("adam")
    with pytest.raises(Interrupt):
        model.fit(x, y, **resume_common.FIT,
                  callbacks=[ExactResume(tmp_path, save_freq=3),
                             InterruptAt(1, 4)])
    (tmp_path / "ckpt-e1-b5-s10.tmp.weights.h5").write_bytes(b"\x89HDF\r")
    (tmp_path / "checkpoint.json.tmp").write_text('{"epoch": 3, "ba')
    keras.utils.clear_session(free_memory=False)
    model = resume_common.compiled_model("adam")
    model.fit(x, y, **resume_common.FIT,
              callbacks=[ExactResume(tmp_path, save_freq=3)])
    resume_common.assert_same_state(resume_common.state_of(model), want)


@pytest.mark.parametrize("kwargs, message", [
    ({"directory": ""}, "directory"),
    ({"directory": None}, "directory"),
    ({"directory": "d", "save_freq": 0}, "save_freq"),
    ({"directory": "d", "save_freq": "batch"}, "save_freq"),
    ({"directory": "d", "delete_on_end": "yes"}, "delete_on_end"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        ExactResume(**kwargs)


def _script(directory, output, optimizer, sleep):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow",
           "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    return [sys.executable, "-m", "tests.resume_script", str(directory),
            str(output), optimizer, str(sleep)], env


@pytest.mark.slow
def test_sigkill_at_random_points_then_restart_ends_exactly(tmp_path):
    """A training subprocess is killed with SIGKILL at random times (three
    kills over its run), started again each time, and its final weights and
    optimizer state equal those of a run never killed."""
    optimizer = "lookahead"  # wrapper state, inner Adam state, iterations
    reference = tmp_path / "reference.npz"
    command, env = _script(tmp_path / "ref", reference, optimizer, 0.0)
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=300)

    output = tmp_path / "killed.npz"
    command, env = _script(tmp_path / "run", output, optimizer, 0.15)
    rng = random.Random(7)
    kills = resumed = 0
    deadline = time.monotonic() + 240
    while not output.exists():
        assert time.monotonic() < deadline, "the run did not finish"
        process = subprocess.Popen(command, cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        if kills < 3:
            # Timed from this process' first batch, not from its start-up
            # (4-5 s of imports here, more on a slower machine). The 20
            # batches take about 3 s; a checkpoint is written every 3
            # (0.45 s), so each kill lands after one.
            if process.stdout.readline().strip() == "training":
                time.sleep(rng.uniform(0.6, 2.5))
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                kills += 1
                resumed += (tmp_path / "run" / "checkpoint.json").exists()
        _, stderr = process.communicate(timeout=300)
        if process.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(stderr[-3000:])
    assert kills >= 1 and resumed >= 1, (kills, resumed)
    got = np.load(output)
    want = np.load(reference)
    resume_common.assert_same_state([got[k] for k in got.files],
                                    [want[k] for k in want.files])
