"""K-fold cross-validation in searches and the held-out test set: folds are
disjoint, cover the training data and are stratified; the fold summary is
the mean and standard deviation of the per-fold values; median pruning
compares fold k with fold k of the other trials; a search never
sees the test set, which scores the best model once; a search interrupted
inside a trial's folds resumes without redoing finished folds."""

import glob
import json
import math
import os
import warnings

import keras
import numpy as np
import pytest

from keras_optlab import cli
from keras_optlab.tuning import folds
from keras_optlab.tuning import recipes
from keras_optlab.tuning import results
from keras_optlab.tuning import search as search_module
from keras_optlab.tuning.datasets import _digits
from keras_optlab.tuning.hypermodel import OptimizerHyperModel
from keras_optlab.tuning.search import run_search
from tests import helpers

TINY = """
name = "{name}"
[data]
dataset = "{dataset}"
max_samples = {samples}
{data}
[model]
kind = "{model}"
{model_options}
[search]
max_trials = {trials}
epochs = {epochs}
seed = 3
[space]
optimizers = ["adam", "momentum"]
batch_sizes = [64]
dropout = 0.0
[pruning]
enabled = {pruning}
n_startup_trials = 1
n_warmup_steps = 1
"""


def tiny_recipe(tmp_path, name="tiny", dataset="digits", samples=240,
                data="", model="mlp", model_options="units = [8]", trials=2,
                epochs=2, pruning="false"):
    path = tmp_path / f"{name}.toml"
    path.write_text(TINY.format(**locals()))
    return path


def rows_of(x):
    return {np.ascontiguousarray(sample).tobytes() for sample in x}


@pytest.fixture
def seen(monkeypatch):
    """Every array handed to a trial's fit (training and validation)."""
    arrays = []
    fit = OptimizerHyperModel.fit

    def spy(self, hp, model, x, y, **kwargs):
        arrays.append(x)
        if "validation_data" in kwargs:
            arrays.append(kwargs["validation_data"][0])
        return fit(self, hp, model, x, y, **kwargs)

    monkeypatch.setattr(OptimizerHyperModel, "fit", spy)
    return arrays


# --- the folds ------------------------------------------------------------

def test_folds_are_disjoint_cover_and_stratified():
    y = _digits()[1]
    splits = folds.split(y, 5, seed=2)
    held = [set(held_out.tolist()) for _, held_out in splits]
    assert set().union(*held) == set(range(len(y)))
    assert sum(len(h) for h in held) == len(y)  # disjoint
    everything = np.bincount(y, minlength=10)
    for train, held_out in splits:
        assert set(train.tolist()) == set(range(len(y))) - set(
            held_out.tolist())
        counts = np.bincount(y[held_out], minlength=10)
        assert np.all(np.abs(counts - everything / 5) <= 1)
    # The same seed gives the same folds; another seed others.
    again = folds.split(y, 5, seed=2)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    assert not np.array_equal(folds.split(y, 5, seed=3)[0][1], splits[0][1])


def test_regression_targets_and_rare_classes_use_plain_kfold():
    targets = np.linspace(0.0, 1.0, 23)  # not labels
    splits = folds.split(targets, 4, seed=0)
    assert sorted(np.concatenate([h for _, h in splits]).tolist()) == list(
        range(23))
    rare = np.array([0] * 10 + [1])  # one member: no stratification
    assert len(folds.split(rare, 3)) == 3


@pytest.mark.parametrize("value", [1, 0, True, 2.5, "3"])
def test_bad_folds_name_the_argument_and_value(value):
    with pytest.raises(ValueError) as info:
        folds.check_folds(value)
    assert str(info.value) == (
        "`folds` must be an integer >= 2 (K-fold cross-validation). "
        f"Received: folds={value!r}")


def test_summary_is_the_mean_and_std_of_the_folds():
    done = {"0": {"val_accuracy": 0.5, "val_loss": 1.0, "best_epoch": 1.0,
                  "epochs_run": 3.0, "pruned": 0.0, "seconds": 2.0},
            "2": {"val_accuracy": 0.9, "val_loss": 0.2, "best_epoch": 4.0,
                  "epochs_run": 5.0, "pruned": 0.0, "seconds": 3.0},
            "1": {"val_accuracy": 0.7, "val_loss": 0.6, "best_epoch": 2.0,
                  "epochs_run": 4.0, "pruned": 1.0, "seconds": 1.0}}
    summary = folds.summarize(done, "val_accuracy")
    assert summary["val_accuracy"] == pytest.approx(0.7)
    assert summary["val_accuracy_std"] == pytest.approx(
        np.std([0.5, 0.7, 0.9]))
    assert [summary[f"fold{k}_val_accuracy"] for k in range(3)] == [
        0.5, 0.7, 0.9]
    assert summary["val_loss"] == pytest.approx(0.6)
    assert summary["epochs_chosen"] == 3.0  # mean of 2, 3, 5 epochs
    assert summary["epochs_run"] == 5.0 and summary["folds_run"] == 3.0
    assert summary["pruned"] == 1.0 and summary["seconds"] == 6.0


# --- the test set never reaches a trial ------------------------------------

def test_search_never_sees_the_test_set_which_scores_the_best_model(
        tmp_path, seen):
    recipe = recipes.load_recipe(tiny_recipe(tmp_path, samples=200))
    data = recipe.load_data()
    result = run_search(recipe, directory=str(tmp_path / "runs"),
                        progress=None, data=data)
    test_rows = rows_of(data.x_test)
    # Two trials, then each of the two optimizers at its defaults.
    assert len(seen) == 4 + 4 and len(test_rows) == 200
    for x in seen:
        assert not rows_of(x) & test_rows
    best = result.best
    model = keras.saving.load_model(result.paths["best_model"])
    accuracy = model.evaluate(data.x_test, data.y_test, verbose=0,
                              return_dict=True)["accuracy"]
    assert best["test"]["test_accuracy"] == pytest.approx(accuracy)
    assert best["test_value"] == best["test"]["test_accuracy"]
    with open(result.paths["trials_json"]) as f:
        table = json.load(f)
    assert table["best_test"] == best["test"]
    marked = [t for t in table["trials"] if "test_accuracy" in t]
    assert [t["trial"] for t in marked] == [best["trial"]]


# --- a cross-validated search ---------------------------------------------

@pytest.mark.slow  # 2 trials x 3 folds + the retraining: ~10 s on idle
# cores, 40 s when the 2 cores are shared
def test_cross_validated_search_end_to_end(tmp_path, capsys, seen):
    path = tiny_recipe(tmp_path, name="cv", samples=300, trials=2, epochs=2)
    runs = tmp_path / "runs"
    status = cli.main(["tune", str(path), "--directory", str(runs),
                       "--folds", "3"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "cross-validation: 3 folds of 587 samples" in out
    lines = out.splitlines()
    # Each trial's folds, then each optimizer's at its defaults.
    assert sum(line.startswith("  fold 3 of 3: val_accuracy=")
               for line in lines) == 2
    assert sum(line.startswith("at defaults:   fold 3 of 3: val_accuracy=")
               for line in lines) == 2
    assert " over 3 folds" in out
    assert "test set (held out, used once): test_accuracy=" in out

    data = recipes.load_recipe(path).load_data()
    pool = np.concatenate([data.x_train, data.x_val])
    # (trials + the two optimizers at defaults) x folds x (train, validation)
    assert len(seen) == (2 + 2) * 3 * 2
    test_rows = rows_of(data.x_test)
    for x in seen:
        assert not rows_of(x) & test_rows
    for train, held_out in zip(seen[0::2][:3], seen[1::2][:3]):
        assert len(train) + len(held_out) == len(pool)
        assert not rows_of(train) & rows_of(held_out)

    results = runs / "cv" / "results"
    with open(results / "trials.json") as f:
        table = json.load(f)
    for trial in table["trials"]:
        values = [trial[f"fold{k}_val_accuracy"] for k in range(3)]
        assert trial["val_accuracy"] == pytest.approx(np.mean(values))
        assert trial["val_accuracy_std"] == pytest.approx(np.std(values))
        assert 1 <= trial["epochs_chosen"] <= 2
    with open(results / "best_hyperparameters.json") as f:
        best = json.load(f)
    assert best["std"] == pytest.approx(np.std(best["folds"]))
    assert len(best["folds"]) == 3 and 0 <= best["test_value"] <= 1

    # The saved model is the retrained one: all 587 samples, batch 64, for
    # the epochs the folds chose.
    model = keras.saving.load_model(results / "best_model.keras")
    steps = best["epochs_chosen"] * math.ceil(len(pool) / 64)
    assert int(model.optimizer.iterations.numpy()) == steps
    # TensorBoard: each fold of each trial.
    for trial in ("0", "1"):
        for k in range(3):
            assert glob.glob(str(runs / "cv" / "tensorboard" / trial /
                                 f"fold{k}" / "validation" / "events.*"))


def test_pruning_compares_fold_k_with_fold_k_of_the_other_trials(tmp_path):
    # Grid order: Adam at a working learning rate, then gradient descent at
    # one too small to learn. Adam's trial meets no finished trial in
    # either fold and runs both; the second trial's fold 0 meets Adam's
    # fold 0, is pruned after the warm-up epoch, and its fold 1 never
    # runs.
    recipe = recipes.recipe_from_dict(helpers.adam_then_stalled_descent(
        {"max_samples": 400, "folds": 2}, [16], baseline=False))
    result = run_search(recipe, directory=str(tmp_path), progress=None)
    rows = {row["trial"]: row for row in result.rows}
    adam, descent = rows["0"], rows["1"]
    assert (adam["optimizer"], descent["optimizer"]) == (
        "adam", "gradient_descent")
    assert adam["pruned"] is False and adam["epochs_run"] == 4
    assert descent["pruned"] is True and descent["epochs_run"] == 2

    # One record directory per fold, none shared across folds.
    records = os.path.join(result.project_dir, "epoch_records")
    assert sorted(os.listdir(records)) == ["fold0", "fold1"]
    assert sorted(os.listdir(os.path.join(records, "fold0"))) == [
        "trial_0.json", "trial_1.json"]
    assert os.listdir(os.path.join(records, "fold1")) == ["trial_0.json"]
    # Fold k's record holds fold k's curve: its best value is fold k's
    # score in the trial's folds.json, and the two folds' curves differ.
    trial_dirs = {row["trial"]: os.path.join(result.project_dir,
                                             f"trial_{row['trial']}")
                  for row in result.rows}
    for trial, folds_run in (("0", 2), ("1", 1)):
        with open(os.path.join(trial_dirs[trial], folds.FILE)) as f:
            done = json.load(f)
        assert sorted(done) == [str(k) for k in range(folds_run)]
        for k in range(folds_run):
            with open(os.path.join(records, f"fold{k}",
                                   f"trial_{trial}.json")) as f:
                record = json.load(f)
            assert max(record["values"]) == pytest.approx(
                done[str(k)]["val_accuracy"])
    with open(os.path.join(records, "fold1", "trial_0.json")) as f:
        second_fold = json.load(f)["values"]
    with open(os.path.join(records, "fold0", "trial_0.json")) as f:
        assert json.load(f)["values"] != second_fold
    # The pruned fold's best value is below Adam's fold 0 at the same epoch.
    with open(os.path.join(records, "fold0", "trial_1.json")) as f:
        pruned = json.load(f)
    with open(os.path.join(records, "fold0", "trial_0.json")) as f:
        reference = json.load(f)["values"]
    assert pruned["state"] == "pruned" and len(pruned["values"]) == 2
    assert max(pruned["values"]) < reference[1]


@pytest.mark.parametrize("arguments, message", [
    (["--folds", "1"], "--folds wants an integer in [2, 100]. Received: "
     "--folds=1"),
    (["--folds", "3", "--tuner", "hyperband"],
     "Cross-validation does not apply to the Hyperband tuner. Received: "
     "folds=3, tuner=hyperband"),
    (["--folds", "3", "--no-refit"],
     "--no-refit does not apply to a cross-validated search: it keeps no "
     "trial's model, so its best configuration is always retrained. "
     "Received: --no-refit, folds=3"),
])
def test_cli_bad_folds_fail_before_any_work(tmp_path, capsys, arguments,
                                            message):
    runs = tmp_path / "runs"
    status = cli.main(["tune", "quick", "--directory", str(runs)]
                      + arguments)
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.count("\n") == 0
    assert message in err
    assert not runs.exists()


# --- the refit of a search with one validation split --------------------

def test_the_best_configuration_is_retrained_on_training_and_validation(
        tmp_path, seen, monkeypatch):
    """Without folds the best trial's configuration is trained again on
    the training and validation parts together, for the epochs its trial
    chose (its best epoch), and that model is saved and tested once;
    `refit=False` keeps the trial's own model."""
    path = tiny_recipe(tmp_path, samples=300, trials=2, epochs=3)
    recipe = recipes.load_recipe(path)
    assert recipe.refit
    data = recipe.load_data()
    pool = len(data.x_train) + len(data.x_val)
    refit_data = []
    retrain = search_module.retrain_best

    def spy(hypermodel, hp, epochs, x, y, seed):
        refit_data.append(x)
        return retrain(hypermodel, hp, epochs, x, y, seed)

    monkeypatch.setattr(search_module, "retrain_best", spy)
    lines = []
    result = run_search(recipe, directory=str(tmp_path / "refit"), data=data,
                        progress=lines.append, baseline=False)
    best = result.best
    with open(result.paths["trials_json"]) as f:
        table = json.load(f)
    trial = next(t for t in table["trials"] if t["trial"] == best["trial"])
    # The trial's best epoch (0-based) is in its metrics; 1-based here.
    chosen = int(result.tuner.oracle.get_trial(best["trial"]).metrics
                 .get_last_value("best_epoch")) + 1
    assert 1 <= chosen <= trial["epochs_run"]
    assert best["epochs_chosen"] == chosen
    assert best["refit"] == {"samples": pool, "epochs": chosen}
    assert f"retraining trial {best['trial']}'s configuration on all {pool} "\
        f"training samples for {chosen} epochs" in lines
    model = keras.saving.load_model(result.paths["best_model"])
    assert int(model.optimizer.iterations.numpy()) == \
        chosen * math.ceil(pool / 64)
    accuracy = model.evaluate(data.x_test, data.y_test, verbose=0,
                              return_dict=True)["accuracy"]
    assert best["test"]["test_accuracy"] == pytest.approx(accuracy)
    # The trials saw the two parts apart, the refit both together; the
    # test set reached no fit.
    assert len(seen) == 2 * 2 and len(refit_data) == 1
    assert rows_of(refit_data[0]) == rows_of(data.x_train) | rows_of(
        data.x_val)
    test_rows = rows_of(data.x_test)
    for x in seen + refit_data:
        assert not rows_of(x) & test_rows

    kept = run_search(recipe, directory=str(tmp_path / "kept"), data=data,
                      progress=None, refit=False)
    # The baseline at defaults follows: its test score then compares like
    # with like.
    assert "refit" not in kept.best and "refit" not in kept.defaults.best
    with open(kept.paths["trials_json"]) as f:
        table = json.load(f)
    trial = next(t for t in table["trials"]
                 if t["trial"] == kept.best["trial"])
    model = keras.saving.load_model(kept.paths["best_model"])
    # The trial's model: trained on the training part alone, for the
    # epochs it ran (early stopping restores the best weights, not the
    # step counter).
    assert int(model.optimizer.iterations.numpy()) == \
        trial["epochs_run"] * math.ceil(len(data.x_train) / 64)


def test_a_hyperband_trial_goes_on_with_its_parents_optimizer_state(
        tmp_path):
    """A continued Hyperband trial starts from its parent's checkpoint,
    the parent's best epoch, optimizer state included: its saved model's
    step count is the parent's steps to that epoch plus its own. Its
    epochs chosen (what the refit trains) add the parent's count to its
    own best epoch."""
    recipe = recipes.load_recipe(tiny_recipe(tmp_path, samples=200,
                                             epochs=3))
    data = recipe.load_data()
    steps_per_epoch = math.ceil(len(data.x_train) / 64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_search(recipe, tuner="hyperband", max_trials=20,
                            directory=str(tmp_path / "runs"), data=data,
                            progress=None, baseline=False)
    assert not [w for w in caught if "Skipping variable loading"
                in str(w.message)]
    oracle = result.tuner.oracle
    went_on = 0
    for trial in oracle.trials.values():
        if trial.status != "COMPLETED":
            continue
        values = trial.hyperparameters.values
        own = int(trial.metrics.get_last_value("best_epoch")) + 1
        before = 0
        if "tuner/trial_id" in values:
            went_on += 1
            before = results.epochs_chosen(
                oracle.get_trial(values["tuner/trial_id"]))
            assert values["tuner/initial_epoch"] >= before
        assert results.epochs_chosen(trial) == before + own
        model = keras.saving.load_model(os.path.join(
            result.tuner.get_trial_dir(trial.trial_id), "model.keras"))
        # Early stopping restores the best weights, not the step counter.
        epochs_run = int(trial.metrics.get_last_value("epochs_run"))
        assert int(model.optimizer.iterations.numpy()) == \
            (before + epochs_run) * steps_per_epoch
    assert went_on
    best = result.best
    assert best["epochs_chosen"] == best["refit"]["epochs"] == \
        results.epochs_chosen(oracle.get_trial(best["trial"]))


def test_refit_false_with_folds_fails_before_any_work(tmp_path):
    recipe = recipes.load_recipe(tiny_recipe(tmp_path))
    with pytest.raises(ValueError) as error:
        run_search(recipe, directory=str(tmp_path / "runs"), folds=3,
                   refit=False, progress=None)
    assert str(error.value) == (
        "refit=False does not apply to a cross-validated search: it keeps "
        "no trial's model, so its best configuration is always retrained. "
        "Received: refit=False, folds=3")
    assert not (tmp_path / "runs").exists()


class Interrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt (as a kill would end the process) when the
    `at`-th fit of the process begins."""

    fits = []

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_begin(self, logs=None):
        Interrupt.fits.append(1)
        if len(Interrupt.fits) == self.at:
            raise KeyboardInterrupt


@pytest.mark.slow  # three small searches of 2 trials x 3 folds: ~25 s on
# idle cores, 90 s when the 2 cores are shared
def test_resume_inside_a_trials_folds(tmp_path, monkeypatch, seen):
    """Interrupted in the second trial's third fold, the search resumes at
    that fold (the first two are not trained again), ends with the same
    trial table as an uninterrupted search with the same seed, and has no
    duplicate trials."""
    path = tiny_recipe(tmp_path, samples=150, trials=2, epochs=2,
                       data="folds = 3")
    recipe = recipes.load_recipe(path)
    data = recipe.load_data()
    # The search's own resume is the subject: no baseline after it.
    whole = run_search(recipe, directory=str(tmp_path / "whole"),
                       progress=None, data=data, baseline=False)
    assert len(seen) == 12

    build = search_module.build_callbacks
    Interrupt.fits.clear()
    monkeypatch.setattr(search_module, "build_callbacks",
                        lambda *a: build(*a) + [Interrupt(at=6)])
    with pytest.raises(KeyboardInterrupt):
        run_search(recipe, directory=str(tmp_path / "cut"), progress=None,
                   data=data, baseline=False)
    monkeypatch.setattr(search_module, "build_callbacks", build)
    before = len(seen)
    resumed = run_search(recipe, directory=str(tmp_path / "cut"),
                         progress=None, data=data, baseline=False)
    # Only trial 1's third fold was trained again (train + validation).
    assert len(seen) - before == 2
    assert [r["trial"] for r in resumed.rows] == ["0", "1"]
    keys = ("optimizer", "learning_rate", "val_accuracy", "val_accuracy_std",
            "fold0_val_accuracy", "fold1_val_accuracy", "fold2_val_accuracy",
            "epochs_chosen")
    for got, want in zip(resumed.rows, whole.rows):
        assert {k: got[k] for k in keys} == {k: want[k] for k in keys}


def test_a_search_resumes_only_with_the_folds_it_started_with(tmp_path):
    recipe = recipes.load_recipe(tiny_recipe(tmp_path))
    project = str(tmp_path / "p")

    def check(where, folds, has_trials, **options):
        search_module.check_same_settings(
            where, search_module.trial_settings(recipe, folds, 3),
            has_trials, **options)

    check(project, 3, has_trials=False)
    check(project, 3, has_trials=True)
    with pytest.raises(search_module.SettingsMismatch) as info:
        check(project, None, has_trials=True)
    assert str(info.value) == (
        f"The search in {project} was started with folds=3; resume it with "
        "the same folds, or start afresh with overwrite (--overwrite). "
        "Received: folds=None")
    # A search started before cross-validation existed had no folds.
    older = str(tmp_path / "older")
    with pytest.raises(search_module.SettingsMismatch, match="started with "
                       "folds=None;.*Received: folds=5$"):
        check(older, 5, has_trials=True)
    # One that recorded its folds alone, in the file of 0.x: read, then
    # replaced by the record of every setting.
    (tmp_path / "folds_only").mkdir()
    (tmp_path / "folds_only" / "cross_validation.json").write_text(
        '{"folds": 4}')
    with pytest.raises(search_module.SettingsMismatch,
                       match="started with folds=4;.*Received: folds=3$"):
        check(str(tmp_path / "folds_only"), 3, has_trials=True)
    check(str(tmp_path / "folds_only"), 4, has_trials=True)
    assert sorted(p.name for p in (tmp_path / "folds_only").iterdir()) == [
        "search_settings.json"]


def test_a_search_resumes_only_with_the_seed_and_data_it_started_with(
        tmp_path):
    """Keras Tuner's reloaded oracle keeps its first seed while the trials'
    Keras seeds and folds would follow the new one: a resumed search with
    another seed, data, model or training is refused, naming what
    differs."""
    recipe = recipes.load_recipe(tiny_recipe(tmp_path))
    project = str(tmp_path / "p")
    started = search_module.trial_settings(recipe, None, 11)
    search_module.check_same_settings(project, started, has_trials=False)
    with open(tmp_path / "p" / "search_settings.json") as f:
        assert json.load(f) == {
            "seed": 11, "folds": None, "dataset": "digits",
            "validation_split": recipe.validation_split,
            "test_split": recipe.test_split, "max_samples": 240,
            "model": "mlp", "model_options": {"units": [8]}, "epochs": 2,
            "objective": "val_accuracy", "direction": "max"}
    # Tuples come back from JSON as lists and still match.
    search_module.check_same_settings(
        project, dict(started, model_options={"units": (8,)}), True)
    with pytest.raises(search_module.SettingsMismatch) as info:
        search_module.check_same_settings(
            project, dict(started, seed=13), has_trials=True)
    assert str(info.value) == (
        f"The search in {project} was started with seed=11; resume it with "
        "the same seed, or start afresh with overwrite (--overwrite). "
        "Received: seed=13")
    changed = {"dataset": "mnist1d", "validation_split": 0.3,
               "test_split": 0.1, "max_samples": 300, "model": "cnn",
               "model_options": {"units": [16]}, "epochs": 3,
               "objective": "val_loss", "direction": "min"}
    for name, value in changed.items():
        with pytest.raises(search_module.SettingsMismatch,
                           match=f"started with {name}=.*; resume it with "
                           f"the same {name}, .* Received: {name}="):
            search_module.check_same_settings(
                project, dict(started, **{name: value}), has_trials=True)
    # Before seeds were recorded: the reloaded oracle's seed is the
    # search's, except for 0 (Keras Tuner draws one), taken on trust.
    for seed, oracle_seed, refused in [(13, 11, True), (11, 11, False),
                                       (0, 8365, False)]:
        older = tmp_path / f"older_{seed}"
        older.mkdir()
        settings = search_module.trial_settings(recipe, None, seed)
        if refused:
            with pytest.raises(search_module.SettingsMismatch,
                               match="started with seed=11;"):
                search_module.check_same_settings(
                    str(older), settings, True, oracle_seed)
            assert list(older.iterdir()) == []
        else:
            search_module.check_same_settings(
                str(older), settings, True, oracle_seed)
            assert [p.name for p in older.iterdir()] == [
                "search_settings.json"]
