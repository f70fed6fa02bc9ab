"""Each optimizer of a search at its defaults (keras_optlab/tuning/
baseline.py): the baseline builds every optimizer exactly at its defaults,
is trained as a trial is (same folds, never the test set), resumes after an
interruption without training a configuration twice, and the comparison
says by how much the search beat it and whether that exceeds the
fold-to-fold spread."""

import json

import keras_tuner as kt
import numpy as np
import pytest

from keras_optlab import optimizers
from keras_optlab.optimizers.spec import FloatRange
from keras_optlab.tuning import baseline
from keras_optlab.tuning import recipes
from keras_optlab.tuning import space as space_module
from keras_optlab.tuning.search import run_search
from tests.test_tuning_folds import rows_of
from tests.test_tuning_folds import seen  # noqa: F401 (a fixture)
from tests.test_tuning_folds import tiny_recipe


def test_defaults_space_builds_each_optimizer_exactly_at_its_defaults():
    names = ["momentum", "adam", "prodigy", "adafactor", "keras:adam",
             "keras:lion"]
    space = space_module.SearchSpace(optimizers=names, batch_sizes=(16, 64),
                                     dropout=FloatRange(0.0, 0.5))
    defaults = baseline.defaults_space(space, 64, 0.25)
    for name in names:
        hp = kt.HyperParameters()
        hp.values[space_module.OPTIMIZER] = name
        defaults.declare(hp)
        # A grid of one point per optimizer: every other value is fixed.
        assert hp.get(space_module.BATCH_SIZE) == 64
        assert hp.get(space_module.DROPOUT) == 0.25
        for declared in hp.space:
            if declared.name != space_module.OPTIMIZER:
                assert len(list(declared.values)) == 1, declared
        built = defaults.build_optimizer(hp).get_config()
        plain = optimizers.get(name).get_config()
        built.pop("name")
        plain.pop("name")
        assert built == plain, name


def summary(value, std=None, test=None):
    found = {"trial": "03", "objective": "val_loss", "value": value,
             "optimizer": "adam", "optimizer_config": {"learning_rate": 1e-3},
             "batch_size": 32, "dropout": 0.1}
    if std is not None:
        found["std"] = std
    if test is not None:
        found["test_value"] = test
    return found


@pytest.mark.parametrize("direction, best, at_defaults, gain, words", [
    ("max", 0.95, 0.92, 0.03, "the search is 0.0300 better"),
    ("max", 0.90, 0.92, -0.02, "the search is 0.0200 worse"),
    ("min", 0.30, 0.35, 0.05, "the search is 0.0500 better"),
    ("min", 0.40, 0.35, -0.05, "the search is 0.0500 worse"),
    ("max", 0.92, 0.92, 0.0, "the search ties the defaults"),
])
def test_gain_is_positive_where_the_search_is_better(direction, best,
                                                     at_defaults, gain,
                                                     words):
    found = baseline.compare(summary(best), summary(at_defaults), direction)
    assert found["gain"] == pytest.approx(gain)
    assert found["spread"] is None and found["beats_spread"] is None
    assert "test_value" not in found
    assert baseline.describe(found)[1].startswith(words)


@pytest.mark.parametrize("stds, spread, beats", [
    ((0.01, 0.02), 0.02, True),
    ((0.035, 0.01), 0.035, False),
    ((None, 0.04), 0.04, False),
])
def test_the_gain_is_weighed_against_the_larger_fold_spread(stds, spread,
                                                            beats):
    found = baseline.compare(summary(0.95, stds[0], test=0.94),
                             summary(0.92, stds[1], test=0.91), "max")
    assert found["spread"] == spread and found["beats_spread"] is beats
    assert (found["test_value"], found["defaults_test_value"]) == (0.94, 0.91)
    lines = baseline.describe(found)
    assert ("tuning paid" in lines[1]) is beats
    assert ("the defaults do as well within the noise" in lines[1]) is (
        not beats)
    assert "on the test set 0.9400 against 0.9100 at defaults" in lines[1]


@pytest.mark.slow  # 2 trials + 2 at defaults, 2 folds each, twice: ~25 s
def test_baseline_trains_each_optimizer_at_its_defaults_like_a_trial(
        tmp_path, seen):  # noqa: F811 (the fixture)
    path = tiny_recipe(tmp_path, name="bl", samples=200, trials=2, epochs=2,
                       data="folds = 2")
    recipe = recipes.load_recipe(path)
    data = recipe.load_data()
    runs = str(tmp_path / "runs")
    lines = []
    result = run_search(recipe, directory=runs, data=data,
                        progress=lines.append)
    assert any(line.startswith("at defaults: trial 2 of 2 done")
               for line in lines)
    # The baseline's folds are the search's, and never the test set.
    assert len(seen) == 2 * 2 * 2 + 2 * 2 * 2
    search_folds = [rows_of(x) for x in seen[:8]]
    defaults_folds = [rows_of(x) for x in seen[8:]]
    assert defaults_folds[:4] == search_folds[:4]
    test_rows = rows_of(data.x_test)
    for x in seen:
        assert not rows_of(x) & test_rows

    rows = result.defaults.rows
    assert [row["optimizer"] for row in rows] == ["adam", "momentum"]
    for row in rows:
        assert row["status"] == "COMPLETED" and row["pruned"] is False
        # The config holds the float32 variable's value.
        assert row["learning_rate"] == pytest.approx(optimizers.get(
            row["optimizer"]).get_config()["learning_rate"], rel=1e-7)
        assert row["batch_size"] == recipe.middle_batch_size == 64
        assert row["dropout"] == recipe.fixed_dropout == 0.0
        assert set(row) >= {"fold0_val_accuracy", "fold1_val_accuracy"}

    best_default = max(rows, key=lambda row: row["val_accuracy"])
    comparison = result.comparison
    assert comparison["optimizer"] == best_default["optimizer"]
    assert comparison["gain"] == pytest.approx(
        result.best["value"] - best_default["val_accuracy"])
    assert comparison["spread"] == pytest.approx(max(
        result.best["std"], best_default["val_accuracy_std"]))
    assert comparison["test_value"] == result.best["test_value"]
    assert 0 <= comparison["defaults_test_value"] <= 1
    with open(result.paths["comparison"]) as f:
        assert json.load(f) == comparison

    # Run again: nothing is trained twice, the same comparison comes back.
    del seen[:]
    again = run_search(recipe, directory=runs, data=data, progress=None)
    assert seen == [] and again.comparison == comparison


@pytest.mark.slow  # a search and a baseline interrupted and resumed: ~20 s
def test_an_interrupted_baseline_resumes_without_repeating_a_trial(tmp_path):
    path = tiny_recipe(tmp_path, name="cut", samples=200, trials=1, epochs=1)
    recipe = recipes.load_recipe(path)
    data = recipe.load_data()
    runs = str(tmp_path / "runs")

    def interrupt_after_first_default(line):
        if line.startswith("at defaults: trial 1 of 2 done"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_search(recipe, directory=runs, data=data,
                   progress=interrupt_after_first_default)
    lines = []
    result = run_search(recipe, directory=runs, data=data,
                        progress=lines.append)
    started = [line for line in lines
               if line.startswith("at defaults: trial ") and " done" not in
               line]
    assert started == ["at defaults: trial 2 of 2: optimizer=momentum, "
                       "batch_size=64, dropout=0, momentum/learning_rate="
                       "0.01"]
    assert not any(line.startswith("trial ") for line in lines)
    assert [row["optimizer"] for row in result.defaults.rows] == [
        "adam", "momentum"]
    assert all(row["status"] == "COMPLETED" for row in result.defaults.rows)


def test_no_baseline_when_switched_off(tmp_path):
    path = tiny_recipe(tmp_path, name="off", samples=120, trials=1, epochs=1)
    recipe = recipes.load_recipe(path)
    result = run_search(recipe, directory=str(tmp_path / "runs"),
                        progress=None, baseline=False)
    assert result.defaults is None and result.comparison is None
    assert "comparison" not in result.paths
    assert np.isfinite(result.best["value"])


def test_a_models_own_hyperparameters_stay_at_their_defaults(tmp_path):
    """A `build_model` may declare hyperparameters of its own: the search
    tunes them, the baseline keeps their defaults (one trial per
    optimizer, not a grid over the model's choices)."""
    import keras

    path = tiny_recipe(tmp_path, name="own", samples=120, trials=2, epochs=1)
    recipe = recipes.load_recipe(path)

    def build_model(hp, dropout_rate):
        units = hp.Choice("units", [4, 8, 16])
        return keras.Sequential([keras.Input((8, 8, 1)),
                                 keras.layers.Flatten(),
                                 keras.layers.Dense(units, activation="relu"),
                                 keras.layers.Dense(10)])

    result = run_search(recipe, directory=str(tmp_path / "runs"),
                        progress=None, build_model=build_model)
    assert all("units" in row for row in result.rows)
    rows = result.defaults.rows
    assert [row["optimizer"] for row in rows] == ["adam", "momentum"]
    assert [row["units"] for row in rows] == [4, 4]
