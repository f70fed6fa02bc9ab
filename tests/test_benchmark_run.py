"""`optlab benchmark`'s trials, records, resuming and report
(keras_optlab/lab/benchmark/run.py, report.py) on a toy workload of a few
hundred samples: a run interrupted mid-trial resumes to the records of an
uninterrupted run; the report's times to target are the records' own; the
external ruleset's draws come from each optimizer's search space."""

import json
import math
import os

import numpy as np
import pytest

from keras_optlab.lab.benchmark import report
from keras_optlab.lab.benchmark import run
from keras_optlab.lab.benchmark.workloads import Data
from keras_optlab.lab.benchmark.workloads import Workload


def toy_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    return Data(x[:160], y[:160], x[160:200], y[160:200], x[200:], y[200:])


def toy_model():
    import keras

    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])


def toy(**changes):
    import keras

    fields = dict(name="toy", load_data=toy_data, build_model=toy_model,
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True),
                  metric="accuracy", direction="max", target=0.9,
                  max_epochs=1, batch_size=32)
    fields.update(changes)
    return Workload(**fields)


OPTIMIZERS = ["adam", "momentum", "keras:sgd"]
# Fields that are measured wall-clock times: they differ between runs.
TIMES = ("time_to_target", "train_seconds", "curve")


def _without_times(record):
    return {k: v for k, v in record.items() if k not in TIMES}


def test_interrupted_run_resumes_without_repeating_trials(tmp_path):
    import keras

    out = str(tmp_path / "interrupted")
    finished = []

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if len(finished) == 1 and batch == 2:
                raise KeyboardInterrupt  # mid-epoch of the second trial

    with pytest.raises(KeyboardInterrupt):
        run.run_benchmark([toy()], OPTIMIZERS, out=out,
                          progress=finished.append, callbacks=[Interrupt()])
    with open(os.path.join(out, run.RECORDS_FILE)) as f:
        before = f.read().splitlines()
    assert len(before) == 1 and json.loads(before[0])["optimizer"] == "adam"

    resumed_lines = []
    records = run.run_benchmark([toy()], OPTIMIZERS, out=out,
                                progress=resumed_lines.append)
    assert len(resumed_lines) == 2  # only the two unfinished trials ran
    with open(os.path.join(out, run.RECORDS_FILE)) as f:
        after = f.read().splitlines()
    assert after[0] == before[0]  # the finished trial is kept as it was
    assert [r["optimizer"] for r in records] == OPTIMIZERS
    # Self-tuning: 3 times the workload's budget of 1 epoch.
    assert [r["max_epochs"] for r in records] == [3, 3, 3]

    fresh = run.run_benchmark([toy()], OPTIMIZERS,
                              out=str(tmp_path / "fresh"), progress=None)
    assert [_without_times(r) for r in records] == \
        [_without_times(r) for r in fresh]
    # A rerun of a finished run trains nothing.
    again = []
    run.run_benchmark([toy()], OPTIMIZERS, out=out, progress=again.append)
    assert again == []
    # Another seed or target in the same folder is refused, not mixed in.
    with pytest.raises(ValueError, match="seed 0 and target 0.9.*seed 5"):
        run.run_benchmark([toy()], OPTIMIZERS, out=out, seed=5)
    with pytest.raises(ValueError, match="target 0.9.*target 0.8"):
        run.run_benchmark([toy(target=0.8)], OPTIMIZERS, out=out)


def test_a_trial_stops_at_the_target_and_times_only_training():
    record = run.train_trial(toy(target=0.6, max_epochs=20), "adam",
                             {"learning_rate": 0.05}, seed=0)
    assert record["reached"] and not record["diverged"]
    assert record["epochs_to_target"] == record["epochs"] < 20
    assert record["steps_to_target"] == record["steps"] == 5 * record[
        "epochs"]
    last = record["curve"][-1]
    assert last[0] == record["steps"]
    assert last[1] == pytest.approx(record["time_to_target"], abs=1e-3)
    assert last[2] >= 0.6 and record["best_validation"] == last[2]
    assert record["test"] is not None


def regression_data():
    data = toy_data()
    def target(x):
        return x.sum(axis=1, keepdims=True)
    return Data(data.x_train, target(data.x_train), data.x_val,
                target(data.x_val), data.x_test, target(data.x_test))


def regression_model():
    import keras

    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])


def test_divergence_is_recorded():
    workload = toy(load_data=regression_data, build_model=regression_model,
                   loss="mse", metric="loss", direction="min", target=1e-9)
    record = run.train_trial(workload, "keras:sgd", {"learning_rate": 1e10},
                             seed=0)
    assert record["diverged"] and not record["reached"]
    assert record["epochs"] == 1


def _record(optimizer, study, trial, time, steps, best, test=0.5,
            diverged=False):
    return {"workload": "w", "optimizer": optimizer, "ruleset": "external",
            "quick": False, "study": study, "trial": trial,
            "metric": "accuracy", "direction": "max", "target": 0.9,
            "reached": time is not None, "time_to_target": time,
            "steps_to_target": steps, "best_validation": best,
            "test": test, "diverged": diverged}


def test_report_reads_time_to_target_from_the_records():
    records = [
        # a: study 0's fastest trial 2.0 s; study 1's 4.0 s; study 2 none.
        _record("a", 0, 0, 3.0, 30, 0.95), _record("a", 0, 1, 2.0, 20, 0.93),
        _record("a", 1, 0, None, None, 0.8), _record("a", 1, 1, 4.0, 40,
                                                     0.91),
        _record("a", 2, 0, None, None, 0.85, test=0.7),
        _record("a", 2, 1, None, None, 0.6, diverged=True),
        # b: every study reaches, 1.0 s; never diverges.
        _record("b", 0, 0, 1.0, 50, 0.92), _record("b", 0, 1, None, None,
                                                   0.1),
        _record("b", 1, 0, 1.0, 50, 0.92), _record("b", 1, 1, 1.0, 60, 0.9),
        _record("b", 2, 0, 1.0, 50, 0.92), _record("b", 2, 1, 9.0, 9, 0.99),
    ]
    result = report.build(records)
    rows = {r["optimizer"]: r for r in result["rows"]}
    # Medians over studies: a's (2, 4, inf) -> 4; b's (1, 1, 1) -> 1.
    assert rows["a"]["time_to_target"] == 4.0
    assert rows["a"]["steps_to_target"] == 40
    assert rows["a"]["reached_studies"] == 2
    assert rows["a"]["best_validation"] == 0.95
    assert rows["a"]["divergences"] == 1
    assert rows["a"]["test"] == 0.5  # median of 0.5, 0.5, 0.7
    assert rows["b"]["time_to_target"] == 1.0
    assert rows["b"]["steps_to_target"] == 50
    assert result["winners"] == {"w": ["b"]}
    assert result["overall_winner"] == ["b"]
    # One workload: b ratio 1 -> 1; a ratio 4 -> 0. On steps a is fastest.
    assert result["scores"] == {"a": 0.0, "b": 1.0}
    assert result["step_scores"]["a"] == 1.0
    assert result["step_scores"]["b"] == pytest.approx((4 - 1.25) / 3)
    text = report.markdown(result)
    assert "| `a` | 4.00 | 40 | 2/3 | 0.95 | 0.5 | 1 |" in text
    assert "| `b` | 1.00 | 50 | 3/3 |" in text


def test_report_says_did_not_reach_and_writes_its_files(tmp_path):
    records = [_record("a", 0, 0, None, None, 0.5),
               _record("b", 0, 0, 2.0, 10, 0.95)]
    for r in records:
        r["ruleset"] = "self"
        r["curve"] = [[1, 0.5, 0.4, 1.0, 1.0], [2, 1.0, 0.3, 0.9, 0.9],
                      [3, 1.5, 0.5, 0.8, 0.8]]
    assert report.best_so_far(records[0]) == ([0.5, 1.0, 1.5],
                                              [0.4, 0.4, 0.5])
    result = report.write(records, str(tmp_path))
    text = (tmp_path / "report.md").read_text()
    assert "| `a` | did not reach | did not reach | 0/1 |" in text
    assert json.loads((tmp_path / "report.json").read_text())[
        "scores"] == {"a": 0.0, "b": 1.0}
    assert (tmp_path / "profiles.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert result["winners"] == {"w": ["b"]}


def test_external_draws_come_from_the_search_space():
    from keras_optlab.tuning.space import SearchSpace

    assert run.draw_arguments("adam", "self", 0, 0) == {}
    ranges = SearchSpace(optimizers=["adam"]).arguments("adam")
    draws = [run.draw_arguments("adam", "external", s, t)
             for s in range(2) for t in range(3)]
    for drawn in draws:
        assert set(drawn) == set(ranges)
        lr = ranges["learning_rate"]
        assert lr.low <= drawn["learning_rate"] <= lr.high
    assert run.draw_arguments("adam", "external", 1, 2) == draws[5]
    assert len({d["learning_rate"] for d in draws}) == 6
    keras_drawn = run.draw_arguments("keras:adam", "external", 0, 0)
    assert math.isfinite(keras_drawn["learning_rate"])


@pytest.mark.parametrize("change, message", [
    (dict(ruleset="both"), "ruleset='both'"),
    (dict(trials=0), "trials=0"),
    (dict(studies=1.5), "studies=1.5"),
    (dict(trials=3), "self-tuning.*trials=3"),
    (dict(optimizers=["adam", "nosuch"]), "optimizer='nosuch'"),
    (dict(optimizers=["adam", "adam"]), "optimizer='adam'"),
    (dict(workloads=["nosuch"]), "workload='nosuch'"),
    (dict(workloads=[]), "workloads=\\[\\]"),
    (dict(workloads=[toy(target=None)]), "needs a target.*target=None"),
    (dict(optimizers=["adam@linear"]), "optimizer='adam@linear'"),
])
def test_bad_plans_fail_before_training(tmp_path, change, message):
    arguments = dict(workloads=[toy()], optimizers=["adam"], ruleset="self",
                     trials=1, studies=1, out=str(tmp_path / "out"))
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        run.run_benchmark(**arguments)
    assert not (tmp_path / "out").exists()


def test_impossible_budget_fails_before_training(tmp_path):
    with pytest.raises(ValueError, match="batch_size=500"):
        run.run_benchmark([toy(batch_size=500)], ["adam"],
                          out=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("change, message", [
    (dict(max_epochs=None), "max_epochs=None, max_steps=None"),
    (dict(max_epochs=0), "max_epochs=0"),
    (dict(max_steps=-5), "max_steps=-5"),
    (dict(direction="up"), "direction='up'"),
    (dict(target=float("nan")), "target=nan"),
    (dict(name="two words"), "name='two words'"),
    (dict(build_model="mlp"), "build_model='mlp'"),
    (dict(quick={"loss": "mse"}), "quick key 'loss'"),
])
def test_bad_workload_definitions_are_one_line_errors(change, message):
    with pytest.raises(ValueError, match=message) as error:
        toy(**change)
    assert "\n" not in str(error.value)


def run_until_killed(out):
    """The child of `test_killed_process_resumes`: runs the toy benchmark,
    slowing down after the first record so the parent kills it mid-trial."""
    import time

    import keras

    class Slow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if os.path.exists(os.path.join(out, run.RECORDS_FILE)):
                time.sleep(0.5)

    run.run_benchmark([toy()], OPTIMIZERS, out=out, progress=None,
                      callbacks=[Slow()])


@pytest.mark.slow  # a second Python process importing Keras: ~15-30 s
def test_killed_process_resumes(tmp_path):
    import subprocess
    import sys
    import time

    out = str(tmp_path / "killed")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tests.test_benchmark_run "
         "import run_until_killed; run_until_killed(sys.argv[1])", out],
        cwd=root, env=dict(os.environ, PYTHONPATH=root),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = os.path.join(out, run.RECORDS_FILE)
    deadline = time.time() + 240
    while not os.path.exists(path) and child.poll() is None and \
            time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # inside the second trial's training
    child.kill()  # SIGKILL: no clean-up runs
    child.wait()
    before = run.load_records(out)
    assert [r["optimizer"] for r in before] == ["adam"]
    trained = []
    records = run.run_benchmark([toy()], OPTIMIZERS, out=out,
                                progress=trained.append)
    assert len(trained) == 2
    assert records[0] == before[0]
    fresh = run.run_benchmark([toy()], OPTIMIZERS,
                              out=str(tmp_path / "fresh"), progress=None)
    assert [_without_times(r) for r in records] == \
        [_without_times(r) for r in fresh]


def test_external_ruleset_trains_the_drawn_settings(tmp_path):
    records = run.run_benchmark([toy(max_epochs=2)], ["adam"],
                                ruleset="external", trials=2, studies=2,
                                out=str(tmp_path), progress=None)
    assert [(r["study"], r["trial"]) for r in records] == [
        (0, 0), (0, 1), (1, 0), (1, 1)]
    for r in records:
        assert r["ruleset"] == "external"
        assert r["hyperparameters"] == run.draw_arguments(
            "adam", "external", r["study"], r["trial"])
        assert r["seed"] == run.trial_seed(0, r["study"], r["trial"])
        assert r["max_epochs"] == 2  # the workload's own budget
    (row,) = report.build(records)["rows"]
    assert (row["studies"], row["trials"]) == (2, 4)


def test_each_trial_is_a_tensorboard_run_of_its_record(tmp_path):
    """Read back with TensorBoard's own reader: every epoch of the record's
    curve at its step, the target at the step it was reached; a run lost
    to a kill (record written, run not) is written by the next run, and a
    finished run is not written twice."""
    from tests.event_files import read_scalars

    out = str(tmp_path)
    # One workload whose target every trial reaches at once, one that none
    # reaches in its 3 x 2 epochs.
    workloads = [toy(target=0.2, max_epochs=2),
                 toy(name="toy_hard", target=0.99, max_epochs=2)]
    records = run.run_benchmark(workloads, ["adam", "keras:sgd"], out=out,
                                progress=None)
    assert [r["reached"] for r in records] == [True, True, False, False]
    for record in records:
        folder = report.tensorboard_run_path(out, record)
        assert os.path.isdir(folder)
        scalars = read_scalars(folder)
        curve = record["curve"]
        for tag, column in (("validation/accuracy", 2), ("train/loss", 3),
                            ("validation/loss", 4), ("train/seconds", 1)):
            assert [s for s, _ in scalars[tag]] == [p[0] for p in curve]
            np.testing.assert_allclose([v for _, v in scalars[tag]],
                                       [p[column] for p in curve],
                                       rtol=1e-6)
        if record["reached"]:
            assert scalars["target/reached"] == [
                (record["steps_to_target"], pytest.approx(0.2))]
        else:
            assert "target/reached" not in scalars
            assert len(curve) == 6
    assert "keras_sgd" in report.tensorboard_run_path(out, records[1])

    lost = report.tensorboard_run_path(out, records[1])
    import shutil

    shutil.rmtree(lost)
    kept = report.tensorboard_run_path(out, records[0])
    written = os.listdir(kept)
    trained = []
    run.run_benchmark(workloads, ["adam", "keras:sgd"], out=out,
                      progress=trained.append)
    assert trained == []  # nothing trained again
    assert os.listdir(kept) == written
    assert read_scalars(lost)["train/loss"]
    # Nothing half-written is left where TensorBoard looks.
    runs = [root for root, _, files in os.walk(
        os.path.join(out, report.TENSORBOARD_DIR)) if files]
    assert sorted(runs) == sorted(
        report.tensorboard_run_path(out, r) for r in records)


def test_a_loss_workload_logs_its_validation_loss_once(tmp_path):
    from tests.event_files import read_scalars

    (record,) = run.run_benchmark(
        [toy(metric="loss", direction="min", target=0.01)], ["adam"],
        out=str(tmp_path), progress=None)
    scalars = read_scalars(report.tensorboard_run_path(str(tmp_path),
                                                       record))
    assert [s for s, _ in scalars["validation/loss"]] == [
        p[0] for p in record["curve"]]


def test_schedule_free_trials_are_validated_at_x():
    """The record's validation values are the model's at x (the paper's
    evaluation point), read by a callback at the end of each epoch, not
    at y, where the variables are while training."""
    import keras

    from keras_optlab.training.schedule_free import schedule_free_evaluation

    data = toy_data()
    seen = {"x": [], "y": []}

    class Both(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            def loss():
                return self.model.evaluate(data.x_val, data.y_val,
                                           batch_size=256, verbose=0,
                                           return_dict=True)["loss"]
            with schedule_free_evaluation(self.model):
                seen["x"].append(loss())
            seen["y"].append(loss())

    record = run.train_trial(toy(max_epochs=3, target=1.01),
                             "schedule_free_sgd", {"learning_rate": 0.5},
                             data=data, callbacks=[Both()])
    validation_losses = [point[4] for point in record["curve"]]
    np.testing.assert_allclose(validation_losses, seen["x"], rtol=1e-6)
    assert not np.allclose(validation_losses, seen["y"], rtol=1e-3)


def test_pictures_name_the_best_ten_and_grey_the_rest():
    names = [f"o{i}" for i in range(13)]
    styles = report._styles(names)
    assert [styles[n]["color"] for n in names[:10]] == \
        [f"C{i}" for i in range(10)]
    assert all("label" not in styles[n] for n in names[:10])
    assert [styles[n]["label"] for n in names[10:]] == [
        "3 others", None, None]
    assert {styles[n]["color"] for n in names[10:]} == {"0.7"}
    assert report._styles(names[:4]) == {
        n: {"color": f"C{i}", "linewidth": 1.5, "zorder": 3}
        for i, n in enumerate(names[:4])}
