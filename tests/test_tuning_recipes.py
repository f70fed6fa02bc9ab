"""Recipes: the shipped ones load; bad ones fail before any training with one
line naming the field and the value."""

import pathlib

import pytest

from keras_optlab import cli
from keras_optlab.tuning import recipes
from keras_optlab.tuning.space import FloatRange

RECIPES = pathlib.Path(__file__).resolve().parents[1] / "tuning"

GOOD = """
[data]
dataset = "digits"
[search]
max_trials = 2
epochs = 1
[space]
optimizers = ["adam", "momentum"]
"""


def write(tmp_path, text, name="r.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["digits", "imagenet_style", "mnist1d",
                                  "quick"])
def test_shipped_recipes_load(name):
    recipe = recipes.load_recipe(RECIPES / f"{name}.toml")
    assert recipe.name == name
    assert recipe.space.optimizers


def test_imagenet_style_searches_epsilon_up_to_one():
    recipe = recipes.load_recipe(RECIPES / "imagenet_style.toml")
    arguments = recipe.space.arguments("adam")
    assert set(arguments) == {"learning_rate", "epsilon"}
    assert arguments["epsilon"] == FloatRange(1e-8, 1.0, "log")
    assert recipe.model == "conv"


def test_digits_is_valid():
    recipe = recipes.load_recipe(RECIPES / "digits.toml")
    assert recipe.dataset == "digits" and recipe.objective == "val_accuracy"
    assert recipe.tuner in ("random", "bayesian")


def test_the_main_job_cross_validates_mnist1d_and_weighs_the_defaults():
    from keras_optlab.cli.commands import tune

    path = tune.find_recipe(None)
    assert pathlib.Path(path).name == "mnist1d_mlp.toml"
    recipe = recipes.load_recipe(path)
    assert recipe.dataset == "mnist1d" and recipe.model == "mlp"
    assert recipe.model_options == {"units": (100, 100)}
    assert recipe.folds == 3 and recipe.baseline
    assert recipe.objective == "val_accuracy"


def test_defaults_and_overrides(tmp_path):
    recipe = recipes.load_recipe(write(tmp_path, GOOD + """
[space.learning_rate]
adam = [1e-4, 0.5]
[space.momentum]
momentum = [0.8, 0.95]
"""))
    assert recipe.name == "r" and recipe.tuner == "random"
    assert recipe.direction == "max"
    assert recipe.space.arguments("adam")["learning_rate"] == FloatRange(
        1e-4, 0.5, "log")
    assert recipe.space.arguments("momentum")["momentum"] == FloatRange(
        0.8, 0.95, "linear")


BAD = [
    ('[space]\noptimizers = ["adamz"]\n', "`space.optimizers`",
     'space.optimizers="adamz"'),
    ('[space.learning_rate]\nadam = [0.1, 0.001]\n',
     "`space.learning_rate.adam` is an empty range",
     "space.learning_rate.adam=[0.1, 0.001]"),
    ('[space]\ndropout = [0.6, 0.2]\n', "empty range",
     "space.dropout=[0.6, 0.2]"),
    ('[data]\ndataset = "imagenet"\n', "`data.dataset`",
     'data.dataset="imagenet"'),
    ('[data]\ndataset = "missing.npz"\n', "is not a file",
     'data.dataset="missing.npz"'),
    ('[search]\ntuner = "evolution"\n', "`search.tuner`",
     'search.tuner="evolution"'),
    ('[search]\nmax_trials = 0\n', "`search.max_trials`",
     "search.max_trials=0"),
    ('[search]\nepochs = "ten"\n', "`search.epochs`", 'search.epochs="ten"'),
    ('[search]\nobjective = "my_score"\n', "set search.direction",
     'search.objective="my_score"'),
    ('[search]\ndirection = "up"\n', "`search.direction`",
     'search.direction="up"'),
    ('[search]\nlearning_rate = 0.1\n', "not a known field",
     "search.learning_rate=0.1"),
    ('[space.epsilon]\nmomentum = [1e-8, 1.0]\n', "not searched for momentum",
     "space.epsilon.momentum=[1e-08, 1.0]"),
    ('[space.momentum]\nmomentum = [0.5, 1.0]\n',
     "must lie within [0.0, 1.0)", "space.momentum.momentum=[0.5, 1.0]"),
    ('[space.epsilon]\nadam = [-1.0, 1.0]\n', "log scale",
     "space.epsilon.adam=[-1.0, 1.0]"),
    ('[space.beta_2]\nadam = [0.9, 1.0]\n', "numbers in [0.0, 1.0)",
     "space.beta_2.adam=[0.9, 1.0]"),
    ('[space.learning_rate]\nadam = [0.0, 0.1]\n', "log scale",
     "space.learning_rate.adam=[0.0, 0.1]"),
    ('[space]\nbatch_sizes = [32, 0]\n', "`space.batch_sizes`",
     "space.batch_sizes=[32, 0]"),
    ('[search]\ntuner = "random"\ninitial_points = 4\n',
     '`search.initial_points` applies only to tuner = "bayesian"',
     "search.initial_points=4"),
    ('[search]\ntuner = "random"\nhyperband_iterations = 2\n',
     '`search.hyperband_iterations` applies only to tuner = "hyperband"',
     "search.hyperband_iterations=2"),
    ('[search]\ntuner = "hyperband"\nhyperband_iterations = 0\n',
     "`search.hyperband_iterations` must be an integer",
     "search.hyperband_iterations=0"),
    ('[search]\nbaseline = "yes"\n', "`search.baseline` must be true or "
     "false", 'search.baseline="yes"'),
    ('[search]\nrefit = 1\n', "`search.refit` must be true or false",
     "search.refit=1"),
    ('[data]\nfolds = 3\n[search]\nrefit = false\n',
     "`search.refit` must be true with data.folds", "search.refit=false"),
    ('[model]\nkind = "transformer"\n', "`model.kind`",
     'model.kind="transformer"'),
    ('[pruning]\nn_startup_trials = 0\n', "`pruning.n_startup_trials`",
     "pruning.n_startup_trials=0"),
    ('[data]\nfolds = 1\n', "`data.folds` must be an integer in [2, 100]",
     "data.folds=1"),
    ('[data]\nfolds = "5"\n', "`data.folds`", 'data.folds="5"'),
    ('[data]\nfolds = 3\n[search]\ntuner = "hyperband"\n',
     '`data.folds` does not apply to search.tuner = "hyperband"',
     "data.folds=3"),
    ('[data]\ntest_split = 1.0\n', "`data.test_split` must be in [0.0, 1.0)",
     "data.test_split=1.0"),
    ('[data]\ndataset = "mnist1d"\ntest_split = 0.2\n',
     '`data.test_split` does not apply to dataset = "mnist1d"',
     "data.test_split=0.2"),
    ('[model]\nkind = "conv1d"\nunits = [8]\n',
     '`model.units` does not apply to model.kind="conv1d"',
     "model.units=[8]"),
    ('[model]\nkind = "gru"\nfilters = [8]\n',
     '`model.filters` does not apply to model.kind="gru"',
     "model.filters=[8]"),
]


@pytest.mark.parametrize("text, problem, received", BAD)
def test_bad_recipe_names_field_and_value(tmp_path, text, problem, received):
    path = write(tmp_path, text)
    with pytest.raises(recipes.RecipeError) as info:
        recipes.load_recipe(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert problem in message
    assert f"Received: {received}" in message


def test_ranges_are_bounded_by_what_the_optimizer_accepts(tmp_path):
    """Adam takes any epsilon > 0 (as Keras does), so a range up to 2.0 is
    accepted; 0.1.0 capped every epsilon range at 1.0."""
    recipe = recipes.load_recipe(write(
        tmp_path, "[space.epsilon]\nadam = [1e-8, 2.0]\n"))
    assert recipe.space.arguments("adam")["epsilon"] == FloatRange(
        1e-8, 2.0, "log")


def test_malformed_toml_and_missing_file(tmp_path):
    with pytest.raises(recipes.RecipeError, match="malformed TOML"):
        recipes.load_recipe(write(tmp_path, "[search\nmax_trials = 2\n"))
    with pytest.raises(recipes.RecipeError,
                       match="Recipe file not found. Received: recipe="):
        recipes.load_recipe(tmp_path / "nope.toml")


def test_cli_rejects_bad_recipe_before_training(tmp_path, capsys):
    path = write(tmp_path, '[space.learning_rate]\nadam = [0.1, 0.001]\n')
    runs = tmp_path / "runs"
    status = cli.main(["tune", str(path), "--directory", str(runs)])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.count("\n") == 0
    assert "space.learning_rate.adam=[0.1, 0.001]" in err
    assert not runs.exists()


def test_cli_unknown_recipe_name(tmp_path, capsys):
    assert cli.main(["tune", "no_such_recipe"]) == 2
    assert "recipe='no_such_recipe'" in capsys.readouterr().err
