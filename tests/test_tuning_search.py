"""End-to-end searches with real Keras Tuner: `optlab tune`, the trial table,
conditional hyperparameters, pruning, result files, TensorBoard logs."""

import csv
import glob
import json
import os
import pathlib

import keras
import pytest
import tensorflow as tf

from keras_optlab import cli
from keras_optlab.tuning import hypermodel as hm
from keras_optlab.tuning import recipes
from keras_optlab.tuning.hypermodel import OptimizerHyperModel
from keras_optlab.tuning.search import run_search
from keras_optlab.tuning.tuners import ORACLE_SEED_FOR_ZERO, make_tuner
from tests import helpers

QUICK = pathlib.Path(__file__).resolve().parents[1] / "tuning" / "quick.toml"


def event_summaries(path):
    """(tag, plugin name) of every summary value in a TensorBoard file."""
    found = []
    for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
            found.append((value.tag, value.metadata.plugin_data.plugin_name))
    return found


def test_optlab_tune_quick_end_to_end(tmp_path, capsys):
    runs = tmp_path / "runs"
    status = cli.main(["tune", str(QUICK), "--directory", str(runs),
                       "--max-trials", "4", "--seed", "5"])
    out = capsys.readouterr().out
    assert status == 0
    assert "trial 1 of 4" in out and "trial 4 of 4 done" in out
    assert "best so far val_accuracy=" in out
    assert "best: trial " in out
    # Then each of the three optimizers at its defaults, and the verdict.
    assert "at defaults: trial 3 of 3 done" in out
    assert "each optimizer at its defaults:" in out
    assert "best at defaults: " in out and "the search is " in out

    results = runs / "quick" / "results"
    # Written through temporary files, none left behind.
    assert sorted(os.listdir(results)) == [
        "best_hyperparameters.json", "best_model.keras", "comparison.json",
        "trials.csv", "trials.json"]
    with open(results / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["trial"] for r in rows] == ["0", "1", "2", "3"]
    recipe = recipes.load_recipe(QUICK)
    for row in rows:
        assert row["status"] == "COMPLETED"
        assert row["optimizer"] in recipe.space.optimizers
        lr = recipe.space.arguments(row["optimizer"])["learning_rate"]
        assert lr.low <= float(row["learning_rate"]) <= lr.high
        assert int(row["batch_size"]) in (64, 128)
        assert 0.0 <= float(row["dropout"]) <= 0.3
        assert 0.0 <= float(row["val_accuracy"]) <= 1.0
        assert 1 <= int(row["epochs_run"]) <= 2
        assert row["pruned"] in ("True", "False")
        assert float(row["seconds"]) > 0

    with open(results / "trials.json") as f:
        table = json.load(f)
    assert len({t["optimizer"] for t in table["trials"]}) >= 2
    for trial in table["trials"]:
        own = {k.split("/")[0] for k in trial if "/" in k}
        expected = set(recipe.space.arguments(trial["optimizer"])) - {
            "learning_rate"}
        assert own <= {trial["optimizer"]}
        assert {k.split("/")[1] for k in trial if "/" in k} == expected
    scores = [t["val_accuracy"] for t in table["trials"]]
    with open(results / "best_hyperparameters.json") as f:
        best = json.load(f)
    assert best["value"] == pytest.approx(max(scores))
    assert table["best_trial"] == best["trial"]
    # Both the search's best and the best at defaults were retrained on
    # training and validation data together.
    with open(runs / "quick" / "defaults" / "results" /
              "best_hyperparameters.json") as f:
        defaults_best = json.load(f)
    pool = best["refit"]["samples"]
    assert best["refit"] == {"samples": pool,
                             "epochs": best["epochs_chosen"]}
    assert defaults_best["refit"]["samples"] == pool
    assert f"retrained on all {pool} training samples" in out

    # The best model is saved with its optimizer and optimizer state.
    model = keras.saving.load_model(results / "best_model.keras")
    info_cls = type(model.optimizer).__name__.lower()
    assert info_cls.replace("gradientdescent", "gradient_descent") == \
        best["optimizer"]
    assert int(model.optimizer.iterations.numpy()) > 0
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(
        best["optimizer_config"]["learning_rate"], rel=1e-6)

    # TensorBoard: per-trial scalars and Keras Tuner's hparams summary.
    tensorboard = runs / "quick" / "tensorboard"
    for trial in ("0", "3"):
        root = tensorboard / trial / "execution0"
        validation = glob.glob(str(root / "validation" / "events.*"))
        tags = [tag for path in validation
                for tag, _ in event_summaries(path)]
        assert "epoch_loss" in tags and "epoch_accuracy" in tags
        plugins = [plugin for path in glob.glob(str(root / "events.*"))
                   for _, plugin in event_summaries(path)]
        assert "hparams" in plugins

    # Resumed with another seed: refused in one line before any training
    # (Keras Tuner's reloaded oracle would keep seed 5 while the trials
    # took 6), the project untouched.
    before = sorted(p.name for p in (runs / "quick").iterdir())
    status = cli.main(["tune", str(QUICK), "--directory", str(runs),
                       "--max-trials", "5", "--seed", "6"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err == (
        f"optlab tune: error: The search in {runs / 'quick'} was started "
        "with seed=5; resume it with the same seed, or start afresh with "
        "overwrite (--overwrite). Received: seed=6\n")
    assert "trial 5 of 5" not in captured.out
    assert sorted(p.name for p in (runs / "quick").iterdir()) == before


@pytest.mark.parametrize("direction,values", [
    ("max", [0.5, 0.9, 0.7, 0.9, 0.8]),
    ("max", [0.2, float("nan"), 0.2]),
    ("min", [1.0, 0.3, 0.3, float("nan"), 0.4]),
])
def test_best_epoch_is_the_epoch_early_stopping_restores(direction, values):
    """Of equal values the first, as Keras' `EarlyStopping` (and Keras
    Tuner's checkpoint) keep it: the refit's epoch count is that of the
    weights the trial saved."""
    stopping = keras.callbacks.EarlyStopping(monitor="val_accuracy",
                                             mode=direction, patience=99)
    stopping.set_model(keras.Sequential([keras.Input((1,)),
                                         keras.layers.Dense(1)]))
    stopping.on_train_begin()
    for epoch, value in enumerate(values):
        stopping.on_epoch_end(epoch, {"val_accuracy": value})
    history = keras.callbacks.History()
    history.history = {"val_accuracy": values}
    assert hm.best_epoch(history, "val_accuracy", direction) == \
        stopping.best_epoch


@pytest.mark.parametrize("kind", ["random", "bayesian", "grid"])
def test_seed_0_draws_the_same_trials_every_time(tmp_path, kind):
    """Keras Tuner's oracles take a seed of 0 for none and draw a random
    one; a search of seed 0 must still repeat itself."""
    recipe = recipes.load_recipe(QUICK)
    hypermodel = OptimizerHyperModel(
        recipe.space, model=recipe.model, input_shape=(64,), num_classes=10,
        model_options=recipe.model_options, epochs=1)
    drawn = []
    for attempt in range(2):
        tuner = make_tuner(
            kind, hypermodel, objective="val_accuracy", max_trials=3,
            directory=str(tmp_path / str(attempt)), project_name="p",
            seed=0, progress=None)
        assert tuner.oracle.seed == ORACLE_SEED_FOR_ZERO
        drawn.append([tuner.oracle.create_trial(f"t{k}").hyperparameters
                      .values for k in range(3)])
    assert drawn[0] == drawn[1]
    assert len({json.dumps(v, sort_keys=True) for v in drawn[0]}) > 1


def test_pruning_stops_a_clearly_worse_trial_never_the_first(tmp_path):
    # Grid search tries the default (first) optimizer first: Adam with a
    # working learning rate, then gradient descent with a learning rate so
    # small that the model cannot learn. The first trial is never pruned;
    # the second is stopped right after the warm-up epoch.
    recipe = recipes.recipe_from_dict(helpers.adam_then_stalled_descent(
        {"max_samples": 500}, [32]))
    calls = []

    def build_model(hp, dropout_rate):
        calls.append(dropout_rate)
        return keras.Sequential([keras.Input((8, 8, 1)),
                                 keras.layers.Flatten(),
                                 keras.layers.Dense(32, activation="relu"),
                                 keras.layers.Dropout(dropout_rate),
                                 keras.layers.Dense(10)])

    result = run_search(recipe, directory=str(tmp_path), build_model=build_model,
                        progress=None)
    rows = {row["trial"]: row for row in result.rows}
    assert [rows[t]["optimizer"] for t in sorted(rows)] == [
        "adam", "gradient_descent"]
    first, second = rows["0"], rows["1"]
    assert first["pruned"] is False and first["epochs_run"] == 4
    assert second["pruned"] is True and second["epochs_run"] == 2
    assert second["val_accuracy"] < first["val_accuracy"]
    assert set(calls) == {0.0}
    records = os.listdir(os.path.join(result.project_dir, "epoch_records"))
    assert sorted(records) == ["trial_0.json", "trial_1.json"]
    # The baseline builds the user's model too, never pruned.
    assert [r["optimizer"] for r in result.defaults.rows] == [
        "adam", "gradient_descent"]
    assert not any(r["pruned"] for r in result.defaults.rows)

    unpruned = run_search(recipe, directory=str(tmp_path / "off"),
                          build_model=build_model, pruning=False,
                          progress=None, baseline=False)
    assert [r["epochs_run"] for r in unpruned.rows] == [4, 4]
    assert not any(r["pruned"] for r in unpruned.rows)


def test_hyperband_runs_its_brackets_as_many_times_as_asked(tmp_path,
                                                            capsys):
    """Keras Tuner's Hyperband ends after one pass over its brackets
    (`hyperband_iterations=1`), however long the budget; the recipe's
    `hyperband_iterations` (and `optlab tune --hyperband-iterations`)
    repeat the pass, each time with fresh configurations."""
    def search(iterations, folder):
        recipe = recipes.recipe_from_dict({
            "data": {"dataset": "digits", "max_samples": 200},
            "model": {"kind": "mlp", "units": [4]},
            "search": {"tuner": "hyperband", "max_trials": 1000,
                       "epochs": 3, "seed": 5, "baseline": False,
                       "refit": False, "hyperband_iterations": iterations},
            "space": {"optimizers": ["adam", "momentum"], "conditional": [],
                      "batch_sizes": [64], "dropout": 0.0},
            "pruning": {"enabled": False},
        })
        oracle = run_search(recipe, directory=str(tmp_path / folder),
                            progress=None).tuner.oracle
        assert oracle.hyperband_iterations == iterations
        started = [t.hyperparameters.values for t in oracle.trials.values()]
        # A bracket's first round draws fresh configurations; later rounds
        # continue trials of the round before.
        return len(started), sum("tuner/trial_id" not in v for v in started)

    trials, fresh = {}, {}
    for iterations in (1, 2):
        trials[iterations], fresh[iterations] = search(iterations,
                                                       str(iterations))
    assert trials[2] == 2 * trials[1] and fresh[2] == 2 * fresh[1] > 0
    # Resumed with a second pass, the one-pass search goes on with it
    # (Keras Tuner's reloaded oracle would keep its saved count and stop).
    assert search(2, "1") == (trials[2], fresh[2])

    # The command line: the flag reaches the tuner (whose oracle saves it
    # before the first trial; one trial is enough to see it).
    status = cli.main(["tune", str(QUICK), "--tuner", "hyperband",
                       "--hyperband-iterations", "2", "--max-trials", "1",
                       "--no-baseline", "--no-refit", "--directory",
                       str(tmp_path / "cli")])
    out = capsys.readouterr().out
    assert status == 0, out
    with open(tmp_path / "cli" / "quick" / "oracle.json") as f:
        assert json.load(f)["hyperband_iterations"] == 2


def test_an_interrupted_grid_search_finishes_its_grid(tmp_path):
    """Keras Tuner's grid oracle, reloaded, started no new trial and ended
    the search with its grid unfinished (tuners.restore_grid_order); now
    the rerun trains the missing points, each once."""
    recipe = recipes.recipe_from_dict({
        "data": {"dataset": "digits", "max_samples": 200},
        "model": {"kind": "mlp", "units": [4]},
        "search": {"tuner": "grid", "max_trials": 10, "epochs": 1, "seed": 2,
                   "baseline": False},
        "space": {"optimizers": ["adam", "momentum"], "conditional": [],
                  "batch_sizes": [32, 64], "dropout": 0.0,
                  "learning_rate": {"adam": [0.01, 0.01],
                                    "momentum": [0.1, 0.1]}},
        "pruning": {"enabled": False},
    })

    def interrupt_after_two(line):
        if line.startswith("trial 2 of 10 done"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_search(recipe, directory=str(tmp_path),
                   progress=interrupt_after_two)
    lines = []
    result = run_search(recipe, directory=str(tmp_path), progress=lines.append)
    assert sorted((r["optimizer"], r["batch_size"]) for r in result.rows) == [
        ("adam", 32), ("adam", 64), ("momentum", 32), ("momentum", 64)]
    assert all(r["status"] == "COMPLETED" for r in result.rows)
    started = [line for line in lines
               if line.startswith("trial ") and " done in " not in line]
    assert len(started) == 2, lines
