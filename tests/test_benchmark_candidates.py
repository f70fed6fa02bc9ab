"""Benchmark candidates: an optimizer, optionally wrapped (Lookahead,
Cautious), optionally on a learning-rate schedule over the trial's budget;
external draws shared by every candidate of one optimizer."""

import math

import keras
import pytest

from keras_optlab import cli
from keras_optlab import optimizers
from keras_optlab.lab.benchmark import candidates
from keras_optlab.lab.benchmark import run
from tests.test_benchmark_run import toy


@pytest.mark.parametrize("written, optimizer, wrapper, schedule", [
    ("adam", "adam", None, None),
    ("keras:lion", "keras:lion", None, None),
    ("lookahead(adam)", "adam", "lookahead", None),
    ("Cautious(adamw)", "adamw", "cautious", None),
    ("adam@cosine", "adam", None, "cosine"),
    ("cautious(keras:lion)@warmup_cosine", "keras:lion", "cautious",
     "warmup_cosine"),
    ("momentum@onecycle", "momentum", None, "onecycle"),
])
def test_a_written_candidate_names_its_parts(written, optimizer, wrapper,
                                             schedule):
    candidate = candidates.parse(written)
    assert (candidate.name, candidate.optimizer, candidate.wrapper,
            candidate.schedule) == (written, optimizer, wrapper, schedule)
    assert candidate.draw_name == optimizer


@pytest.mark.parametrize("written, message", [
    ("swa(adam)", "Unknown wrapper"),
    ("adam@linear", "Unknown schedule"),
    ("cautious(lookahead(adam))", "A candidate is"),
    ("adam@", "A candidate is"),
    ("lookahead(nosuch)", "Unknown optimizer"),
])
def test_bad_candidates_are_one_line_errors_naming_the_value(tmp_path,
                                                             capsys, written,
                                                             message):
    out = tmp_path / "out"
    status = cli.main(["benchmark", "--quick", "--workloads", "digits_mlp",
                       "--optimizers", f"adam,{written}", "--out", str(out)])
    error = capsys.readouterr().err.strip()
    assert status == 2 and len(error.splitlines()) == 1, error
    assert message in error
    assert "Received: --optimizers=" in error
    assert not out.exists()


def test_wrappers_wrap_the_optimizer_with_its_arguments():
    built = candidates.build("cautious(adamw)", {"learning_rate": 0.02,
                                                 "weight_decay": 0.1})
    assert isinstance(built, optimizers.Cautious)
    assert isinstance(built.inner_optimizer, optimizers.AdamW)
    assert float(built.inner_optimizer.weight_decay) == pytest.approx(0.1)
    built = candidates.build("lookahead(keras:sgd)", {"learning_rate": 0.1})
    assert isinstance(built, optimizers.Lookahead)
    assert type(built.inner_optimizer) is keras.optimizers.SGD


def test_schedules_start_from_or_peak_at_the_optimizers_rate():
    """cosine: the rate, decayed to 0 at the budget's last step;
    warmup_cosine: 0, the rate after 5% of the steps, 0 at the end;
    onecycle: peaks at the rate. Without a drawn rate, the optimizer's
    default (Adam's 1e-3)."""
    total = 200

    def rate(written, step, arguments=None):
        # A Keras optimizer's `learning_rate` is its schedule's value at
        # its `iterations`.
        optimizer = candidates.build(written, arguments, total)
        optimizer.iterations.assign(step)
        return float(optimizer.learning_rate)

    assert rate("adam@cosine", 0, {"learning_rate": 0.01}) == \
        pytest.approx(0.01)
    assert rate("adam@cosine", total // 2, {"learning_rate": 0.01}) == \
        pytest.approx(0.005)
    assert rate("adam@cosine", total, {"learning_rate": 0.01}) == \
        pytest.approx(0.0, abs=1e-9)
    assert rate("adam@cosine", 0) == pytest.approx(1e-3)
    warmup = round(candidates.WARMUP_FRACTION * total)
    assert rate("adam@warmup_cosine", 0, {"learning_rate": 0.01}) == 0.0
    assert rate("adam@warmup_cosine", warmup, {"learning_rate": 0.01}) == \
        pytest.approx(0.01)
    assert rate("adam@warmup_cosine", total, {"learning_rate": 0.01}) == \
        pytest.approx(0.0, abs=1e-9)
    peak = max(rate("adam@onecycle", step, {"learning_rate": 0.01})
               for step in range(0, total + 1, 10))
    assert peak == pytest.approx(0.01)
    assert rate("adam@onecycle", 0, {"learning_rate": 0.01}) < 0.001


class _RateAtEpochEnd(keras.callbacks.Callback):
    """(steps, learning rate) of the optimizer after each epoch."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_begin(self, logs=None):
        self.kind = type(self.model.optimizer).__name__

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        self.rates.append((int(inner.iterations.numpy()),
                           float(inner.learning_rate)))


def test_a_schedule_spans_the_trials_budget_and_the_wrapper_trains():
    """Two epochs of 5 steps (160 samples, batch 32) that never reach the
    target: after the first epoch the cosine is at half the rate, after
    the last at 0; the wrapped candidate trains its wrapper."""
    workload = toy(max_epochs=2, target=2.0)
    assert run.budget_steps(workload, 5) == 10
    callback = _RateAtEpochEnd()
    record = run.train_trial(workload, "lookahead(adam)@cosine",
                             {"learning_rate": 0.02}, seed=0,
                             callbacks=[callback])
    assert callback.kind == "Lookahead"
    assert record["epochs"] == 2 and not record["reached"]
    (first_steps, first), (last_steps, last) = callback.rates
    assert (first_steps, last_steps) == (5, 10)
    assert first == pytest.approx(0.01, rel=1e-5)
    assert last == pytest.approx(0.0, abs=1e-9)


def test_every_candidate_of_one_optimizer_trains_the_same_draws(tmp_path):
    """External tuning: `adam`, `lookahead(adam)` and `adam@cosine` get the
    same drawn settings trial for trial, so their differences are the
    wrapper's and the schedule's; each is its own TensorBoard run."""
    names = ["adam", "lookahead(adam)", "adam@cosine"]
    records = run.run_benchmark([toy(max_epochs=2)], names,
                                ruleset="external", trials=2,
                                out=str(tmp_path), progress=None)
    by_trial = {}
    for record in records:
        by_trial.setdefault(record["trial"], {})[record["optimizer"]] = (
            record["hyperparameters"])
    for trial, drawn in by_trial.items():
        assert set(drawn) == set(names)
        assert drawn["lookahead(adam)"] == drawn["adam"] == \
            drawn["adam@cosine"] == run.draw_arguments(
                "adam", "external", 0, trial)
        assert "learning_rate" in drawn["adam"]
    assert all(math.isfinite(r["best_validation"]) for r in records)
    runs = tmp_path / "tensorboard" / "toy"
    assert sorted(p.name for p in runs.iterdir()) == [
        "adam", "adam_cosine", "lookahead_adam_"]
