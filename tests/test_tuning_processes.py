"""Searches across processes: resuming after SIGKILL in the middle of a
trial, and a chief with two workers on 127.0.0.1."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RECIPE = """
name = "proc"
[data]
dataset = "digits"
max_samples = 300
[model]
kind = "mlp"
units = [16]
[search]
tuner = "random"
max_trials = {trials}
epochs = {epochs}
seed = 4
[space]
optimizers = ["momentum", "adam", "rmsprop"]
batch_sizes = [32, 64]
[early_stopping]
enabled = false
[pruning]
enabled = true
n_startup_trials = 100
"""


def start(args, env=None, stderr=subprocess.STDOUT, **kwargs):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP",
                 "KERASTUNER_ORACLE_PORT"):
        environment.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "keras_optlab.cli", "tune", *args], cwd=ROOT,
        env=environment, stdout=subprocess.PIPE, stderr=stderr, text=True,
        **kwargs)


def records(project):
    # The pruner's own reader: it skips the hidden temporary file a process
    # killed mid-write leaves (`.trial_2.tmp<pid>.json`, a stale "running"
    # record), which a plain listing read as the trial's.
    from keras_optlab.tuning.pruning import read_records

    return read_records(os.path.join(project, "epoch_records"))


def trials(project):
    found = {}
    for name in sorted(os.listdir(project)):
        path = os.path.join(project, name, "trial.json")
        if name.startswith("trial_") and os.path.isfile(path):
            with open(path) as f:
                found[name[len("trial_"):]] = json.load(f)
    return found


@pytest.mark.slow
def test_resume_after_sigkill_mid_trial(tmp_path):
    recipe = tmp_path / "proc.toml"
    recipe.write_text(RECIPE.format(trials=4, epochs=30))
    project = str(tmp_path / "runs" / "proc")
    # The search's resume is the subject: no baseline after it.
    args = [str(recipe), "--directory", str(tmp_path / "runs"),
            "--no-baseline"]
    first = start(args)
    deadline = time.time() + 240
    # Kill once trial 2 (the third) has trained at least one epoch.
    while time.time() < deadline:
        record = records(project).get("2")
        if record and record["values"]:
            break
        assert first.poll() is None, first.stdout.read()
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    interrupted = records(project)["2"]
    assert interrupted["state"] == "running"
    assert len(interrupted["values"]) < 30
    before = trials(project)
    assert before["2"]["status"] == "RUNNING"
    assert before["0"]["status"] == before["1"]["status"] == "COMPLETED"

    second = start(args)
    out, _ = second.communicate(timeout=300)
    assert second.returncode == 0, out
    assert "resuming: 2 trials done" in out
    assert "trial 3 of 4:" in out and "trial 1 of 4:" not in out
    after = trials(project)
    assert sorted(after) == ["0", "1", "2", "3"]
    assert all(t["status"] == "COMPLETED" for t in after.values())
    # The interrupted trial ran again with its own values; no values twice.
    assert after["2"]["hyperparameters"]["values"] == \
        before["2"]["hyperparameters"]["values"]
    values = [json.dumps(t["hyperparameters"]["values"], sort_keys=True)
              for t in after.values()]
    assert len(set(values)) == 4
    assert records(project)["2"]["state"] == "completed"
    assert len(records(project)["2"]["values"]) == 30
    with open(os.path.join(project, "results", "trials.json")) as f:
        assert len(json.load(f)["trials"]) == 4


# Every line `optlab tune` prints on stdout, on a chief or a worker.
OUR_LINES = re.compile(
    r"(recipe|data|search|chief|best|best model|TensorBoard): .*|"
    r"(cross-validation|test set \(held out, used once\)): .*|"
    r"  fold \d+ of \d+: .*|retraining trial .*|"
    r"trial \d+ of \d+(: | done in ).*|worker done in .*|search took .*|"
    r"results in .*:|  \w+\.(json|csv|keras)|"
    r"(best )?at defaults: .*|each optimizer at its defaults:|"
    r"the search is .*|"
    r" trial  optimizer .*|[ *]\d+  .*|")
# What TensorFlow's C++ side writes to stderr at start-up, before Python
# can configure it (absl's "before InitializeLog" lines); not ours, not from
# Keras Tuner.
TF_STARTUP = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) .*|"
    r"[IWE]\d{4} [\d:.]+ +\d+ \w+\.cc:\d+\] .*|"
    r"To enable the following instructions: .*")


def foreign_lines(stdout, stderr):
    """stdout lines `optlab tune` does not print itself, and stderr lines
    that are neither warnings nor TensorFlow's start-up log."""
    return ([line for line in stdout.splitlines()
             if not OUR_LINES.fullmatch(line)]
            + [line for line in stderr.splitlines()
               if not TF_STARTUP.fullmatch(line)
               and "warning" not in line.lower()])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_chief_and_two_workers(tmp_path):
    recipe = tmp_path / "proc.toml"
    recipe.write_text(RECIPE.format(trials=4, epochs=4))
    directory = str(tmp_path / "shared")
    oracle = f"127.0.0.1:{free_port()}"
    common = [str(recipe), "--directory", directory, "--oracle", oracle]
    chief = start(common + ["--chief"], stderr=subprocess.PIPE)
    workers = [start(common + ["--worker", name], stderr=subprocess.PIPE)
               for name in ("a", "b")]
    streams = [p.communicate(timeout=400) for p in workers]
    chief_streams = chief.communicate(timeout=200)
    for process, (out, err) in zip(workers + [chief],
                                   streams + [chief_streams]):
        assert process.returncode == 0, out + err
        # Keras Tuner 1.4.8 printed a bare "adam", "momentum", ... for each
        # conditional hyperparameter on every chief-worker message.
        assert foreign_lines(out, err) == [], out + err
        assert not {"adam", "momentum", "rmsprop"} & set(
            (out + err).splitlines())
    outputs = [out for out, _ in streams]
    chief_out = chief_streams[0]
    assert all("worker done" in out for out in outputs)
    assert "chief: serving the oracle" in chief_out
    assert "best: trial" in chief_out
    assert "at defaults: the baseline is not run by a chief" in chief_out

    project = os.path.join(directory, "proc")
    found = trials(project)
    assert sorted(found) == ["0", "1", "2", "3"]
    assert all(t["status"] == "COMPLETED" for t in found.values())
    runners = {r["trial_id"]: r["tuner_id"] for r in records(project).values()}
    assert sorted(runners) == sorted(found)
    assert set(runners.values()) <= {"worker_a", "worker_b"}
    # Each trial ran once: its start line appears in one worker's output.
    for trial in range(1, 5):
        starts = sum(out.count(f"trial {trial} of 4:") for out in outputs)
        assert starts == 1, (trial, outputs)
    with open(os.path.join(project, "results", "trials.json")) as f:
        assert len(json.load(f)["trials"]) == 4


def test_foreign_lines_are_found():
    """The filter the distributed test relies on catches a stray line."""
    ours = ("recipe: r.toml\ntrial 1 of 4: optimizer=adam\n\n"
            "*0      adam  0.1\n")
    assert foreign_lines(ours, "W0000 00:00:17.5  12 port.cc:153] x\n") == []
    assert foreign_lines(ours + "adam\n", "") == ["adam"]
    assert foreign_lines(ours, "momentum\n") == ["momentum"]
    assert foreign_lines(ours, "UserWarning: careful\n") == []


def test_condition_conversion_prints_nothing(capfd):
    """What a chief and its workers send each other: the proto of a
    conditional hyperparameter, converted without Keras Tuner's print;
    other prints from that module still reach stdout."""
    from keras_tuner.src.engine import conditions

    from keras_optlab.tuning.tuners import silence_condition_prints

    silence_condition_prints()
    silence_condition_prints()  # twice: still one layer
    proto = conditions.Parent("optimizer", ["adam", "nadam"]).to_proto()
    assert [v.string_value for v in proto.parent.values] == ["adam", "nadam"]
    conditions.print("kept")
    assert capfd.readouterr().out == "kept\n"
