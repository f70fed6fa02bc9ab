"""A benchmark in several processes (keras_optlab/lab/benchmark/
distributed.py): the plan oracle hands out each unfinished trial once and
then stops every worker; a worker talking to a chief over Keras Tuner's
gRPC service trains the records a single process trains; `optlab benchmark
--processes 2` (a chief and two worker processes on 127.0.0.1) does too,
and, killed mid-run, leaves no worker behind and resumes without training
a finished trial again."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from keras_optlab.lab.benchmark import distributed
from keras_optlab.lab.benchmark import run
from tests.test_benchmark_run import OPTIMIZERS
from tests.test_benchmark_run import _without_times
from tests.test_benchmark_run import toy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_plan_oracle_hands_out_each_index_once_then_stops(tmp_path):
    oracle = distributed.PlanOracle([2, 5, 7], str(tmp_path))
    first = oracle.create_trial("a")
    assert first.status == "RUNNING"
    assert first.hyperparameters.get(distributed.INDEX) == 2
    # A worker asking again before it ended its trial gets the same one
    # (Keras Tuner's rule: a restarted worker resumes its trial).
    assert oracle.create_trial("a").trial_id == first.trial_id
    second = oracle.create_trial("b")
    assert second.hyperparameters.get(distributed.INDEX) == 5
    oracle.update_trial(first.trial_id, {"reached": 1.0})
    first.status = "COMPLETED"
    oracle.end_trial(first)
    third = oracle.create_trial("a")
    assert third.hyperparameters.get(distributed.INDEX) == 7
    assert oracle.create_trial("c").status == "STOPPED"
    second.status = "FAILED"
    oracle.end_trial(second)
    assert oracle.create_trial("b").status == "STOPPED"
    assert not oracle.finished()  # "a" still trains index 7
    oracle.update_trial(third.trial_id, {"reached": 0.0})
    third.status = "COMPLETED"
    oracle.end_trial(third)
    assert not oracle.finished()  # "a" has not been told to stop
    assert oracle.create_trial("a").status == "STOPPED"
    assert oracle.finished()
    assert oracle.failed() == [5]


def test_records_of_workers_are_collected_once_and_merged(tmp_path):
    out = str(tmp_path)
    a, b, c = ({"workload": "w", "optimizer": o, "ruleset": "self",
                "quick": False, "study": 0, "trial": 0, "n": n}
               for n, o in enumerate(["adam", "sgd", "lion"]))
    run.write_records(out, [a])
    run.write_records(out, [b, dict(a, n=9)], run.shard_name("w1"))
    run.write_records(out, [c], run.shard_name("w2"))
    assert run.collect_records(out) == [a, b, c]
    run.merge_records(out)
    assert sorted(os.listdir(out)) == [run.RECORDS_FILE]
    assert run.load_records(out) == [a, b, c]


def _free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _in_thread(function, *args, **kwargs):
    import threading

    result = {}

    def target():
        try:
            result["value"] = function(*args, **kwargs)
        except BaseException as error:  # shown by the test that joins
            result["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def test_a_worker_trains_what_a_single_process_trains(tmp_path):
    """A chief (in a thread) and a worker in this process, talking over
    Keras Tuner's gRPC service on 127.0.0.1: the worker's records are a
    single run's, in its own file; what `out` already held is not handed
    out again; the chief returns once the worker has been told to stop."""
    out = str(tmp_path / "shared")
    single = run.run_benchmark([toy()], OPTIMIZERS, out=str(tmp_path / "one"),
                               progress=None)
    # The first trial is already done in the shared folder.
    os.makedirs(out)
    run.write_records(out, single[:1])
    chief_benchmark = run.Benchmark([toy()], OPTIMIZERS, out=out)
    assert chief_benchmark.pending() == [1, 2]
    port = _free_port()
    said = []
    chief, result = _in_thread(distributed.run_chief, chief_benchmark,
                               "127.0.0.1", port, progress=said.append,
                               poll_seconds=0.05)
    lines = []
    mine = distributed.run_worker(run.Benchmark([toy()], OPTIMIZERS, out=out),
                                  "127.0.0.1", port, "w1",
                                  progress=lines.append)
    chief.join(timeout=30)
    assert not chief.is_alive()
    assert result == {"value": []}  # no trial failed
    assert said == [f"chief: serving 2 of 3 trials at 127.0.0.1:{port}; "
                    "workers train them"]
    assert [r["optimizer"] for r in mine] == OPTIMIZERS[1:]
    assert lines[0] == f"worker w1: asking the chief at 127.0.0.1:{port} " \
                       "for trials"
    assert [line.split("]")[0] for line in lines[1:]] == ["[2/3", "[3/3"]
    shard = run.read_records_file(os.path.join(out, run.shard_name("w1")))
    assert shard == mine
    assert "KERASTUNER_ORACLE_IP" not in os.environ
    assert [_without_times(r) for r in run.collect_records(out)] == \
        [_without_times(r) for r in single]


def test_optlab_chief_and_worker_commands_write_the_report(tmp_path,
                                                            capsys):
    """`optlab benchmark --chief` and `--worker` (the chief's command in a
    thread): the worker trains, the chief merges the records and writes the
    report."""
    from keras_optlab import cli

    out = tmp_path / "out"
    port = _free_port()
    common = ["benchmark", "--quick", "--workloads", "digits_mlp",
              "--optimizers", "adam,momentum", "--out", str(out),
              "--oracle", f"127.0.0.1:{port}"]
    chief, result = _in_thread(cli.main, common + ["--chief"])
    assert cli.main(common + ["--worker", "w1"]) == 0
    chief.join(timeout=60)
    assert result == {"value": 0}
    printed = capsys.readouterr().out
    assert f"chief: serving 2 of 2 trials at 127.0.0.1:{port}" in printed
    assert "worker w1 done: 2 trials" in printed
    assert sorted(os.listdir(out)) == sorted([
        "curves.png", "profiles.png", "records.jsonl", "report.json",
        "report.md", "tensorboard", distributed.ORACLE_DIR])
    assert [r["optimizer"] for r in run.load_records(str(out))] == \
        ["adam", "momentum"]
    assert "### digits_mlp" in (out / "report.md").read_text()


def test_a_trial_that_raises_is_reported_failed_and_raised(tmp_path):
    import keras

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("boom")

    benchmark = run.Benchmark([toy()], ["adam"], out=str(tmp_path))
    oracle = distributed.PlanOracle(benchmark.pending(), str(tmp_path))
    with distributed.serving(oracle, "127.0.0.1", 0) as port:
        with pytest.raises(RuntimeError, match="boom"):
            distributed.run_worker(benchmark, "127.0.0.1", port, "w1",
                                   progress=None, callbacks=[Boom()])
    assert oracle.failed() == [0]
    assert run.collect_records(str(tmp_path)) == []


def test_bad_worker_ids_and_busy_ports_are_one_line_errors(tmp_path,
                                                           capsys):
    for worker in ["", "a/b", "chief", "x y", 3]:
        with pytest.raises(ValueError, match="Received: worker="):
            distributed.check_worker(worker)
    oracle = distributed.PlanOracle([0], str(tmp_path))
    with distributed.serving(oracle, "127.0.0.1", 0) as port:
        with pytest.raises(OSError, match=f"Received: oracle='127.0.0.1:"
                                          f"{port}'"):
            with distributed.serving(oracle, "127.0.0.1", port):
                pass
        # The command says it in one line, and writes nothing.
        from keras_optlab import cli

        out = tmp_path / "out"
        status = cli.main(["benchmark", "--quick", "--workloads",
                           "digits_mlp", "--optimizers", "adam", "--out",
                           str(out), "--chief", "--oracle",
                           f"127.0.0.1:{port}"])
        assert status == 1
        error = capsys.readouterr().err.strip()
        assert error == (f"optlab benchmark: error: The chief cannot listen "
                         f"at 127.0.0.1:{port} (in use, or not this "
                         f"machine's address). Received: oracle="
                         f"'127.0.0.1:{port}'")
        assert not out.exists()


def _children(pid):
    path = f"/proc/{pid}/task/{pid}/children"
    with open(path) as f:
        return [int(p) for p in f.read().split()]


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


BENCHMARK = ["benchmark", "--quick", "--workloads", "digits_mlp,diabetes",
             "--optimizers", "adam,momentum,rmsprop"]


@pytest.mark.slow  # three Python processes importing Keras, twice: ~60 s
def test_processes_killed_mid_run_resume_to_a_single_runs_records(tmp_path,
                                                                capsys):
    out = tmp_path / "parallel"
    command = [sys.executable, "-m", "keras_optlab.cli", *BENCHMARK,
               "--processes", "2", "--out", str(out)]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    first = subprocess.Popen(command, cwd=ROOT, env=environment,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and first.poll() is None and not any(
            n.startswith("records-") for n in (
                os.listdir(out) if out.exists() else [])):
        time.sleep(0.1)
    assert first.poll() is None, "finished before a record was written"
    workers = _children(first.pid)
    assert len(workers) == 2
    first.send_signal(signal.SIGKILL)  # the chief: no clean-up runs
    first.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "a worker outlived its chief"
    before = run.collect_records(str(out))
    assert 1 <= len(before) < 6

    second = subprocess.run(command, cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    printed = second.stdout
    assert f"chief: {6 - len(before)} of 6 trials to train in 2 processes" \
        in printed
    # Each trial trained once, by one of the two workers.
    trained = [line for line in printed.splitlines()
               if line.startswith("[local") and " study 0 trial 0: " in line]
    assert len(trained) == 6 - len(before)
    assert {line.split("]")[0] for line in trained} <= {"[local0", "[local1"}
    for record in before:
        assert f"{record['workload']} {record['optimizer']} study" not in \
            "\n".join(trained)
    # (A killed worker's half-written TensorBoard run stays hidden.)
    assert sorted(n for n in os.listdir(out) if n[0] != ".") == sorted([
        "curves.png", "profiles.png", "records.jsonl", "report.json",
        "report.md", "tensorboard", distributed.ORACLE_DIR])
    records = run.load_records(str(out))
    assert len(records) == 6
    # Nothing left: no worker is started (in this process, no training).
    from keras_optlab import cli

    capsys.readouterr()
    assert cli.main(BENCHMARK + ["--processes", "2", "--out", str(out)]) == 0
    third = capsys.readouterr().out
    assert "chief: all 6 trials have their record" in third
    assert "[local" not in third
    assert run.load_records(str(out)) == records
    assert all(record in records for record in before)  # kept as they were
    single = run.run_benchmark(["digits_mlp", "diabetes"],
                               ["adam", "momentum", "rmsprop"], quick=True,
                               out=str(tmp_path / "single"), progress=None)
    key = run.record_key
    assert sorted((key(r), json.dumps(_without_times(r), sort_keys=True))
                  for r in records) == \
        sorted((key(r), json.dumps(_without_times(r), sort_keys=True))
               for r in single)
