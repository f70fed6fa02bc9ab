"""Keras' own optimizers as choices by name ("keras:<name>") beside ours: in
`optimizers.get`, recipes' `space.optimizers`, a real search, `optlab
compare`'s grids and ranges; searched over the ranges of our optimizer with
the same rule."""

import keras
import keras_tuner as kt
import pytest

from keras_optlab import optimizers
from keras_optlab.lab import compare
from keras_optlab.optimizers import keras_builtins
from keras_optlab.tuning import recipes
from keras_optlab.tuning import space as space_module
from keras_optlab.tuning.search import run_search


@pytest.mark.parametrize("name, cls", [
    ("keras:lion", keras.optimizers.Lion),
    ("keras:Lion", keras.optimizers.Lion),
    ("keras:sgd", keras.optimizers.SGD),
    ("keras:adamw", keras.optimizers.AdamW),
    ("keras:schedule_free_adamw", keras.optimizers.ScheduleFreeAdamW),
    ("KERAS:Muon", keras.optimizers.Muon),
])
def test_get_builds_the_keras_class(name, cls):
    optimizer = optimizers.get(name, learning_rate=0.25)
    assert type(optimizer) is cls
    assert float(optimizer.learning_rate) == 0.25


@pytest.mark.parametrize("name", ["keras:nope", "keras:", "keras:Optimizer",
                                  "keras:LossScaleOptimizer"])
def test_unknown_keras_names_are_named(name):
    with pytest.raises(ValueError) as info:
        optimizers.get(name)
    message = str(info.value)
    assert f"Received: optimizer={name!r}" in message and "\n" not in message
    assert "keras:Lion" in message  # says what is known


def test_names_list_every_keras_optimizer_once():
    names = keras_builtins.names()
    assert len(names) == len(set(names))
    for expected in ("keras:Adam", "keras:SGD", "keras:Lion", "keras:Lamb",
                     "keras:Adafactor", "keras:Muon",
                     "keras:ScheduleFreeAdamW", "keras:Ftrl"):
        assert expected in names
    assert "keras:Optimizer" not in names


def test_search_ranges_come_from_the_optimizer_with_the_same_rule():
    space = space_module.SearchSpace(
        optimizers=["lion", "keras:lion", "adam", "keras:Adam", "keras:sgd",
                    "keras:ftrl"])
    assert space.arguments("keras:lion") == space.arguments("lion")
    assert space.arguments("keras:Adam") == space.arguments("adam")
    # Keras' SGD: the range of our gradient descent; Ftrl has no rule of
    # ours, so only its learning rate, over the default range.
    assert space.arguments("keras:sgd")["learning_rate"] == \
        space_module.default_learning_rate_range(
            optimizers.lookup("gradient_descent"))
    assert space.arguments("keras:ftrl") == {
        "learning_rate": space_module.DEFAULT_LEARNING_RATE_RANGE}


def test_only_arguments_the_keras_class_takes_are_searched():
    """Our AdaBelief-style extras never reach a Keras constructor: every
    searched argument of every Keras optimizer is one of its own."""
    import inspect
    space = space_module.SearchSpace(optimizers=keras_builtins.names())
    for name in space.optimizers:
        accepted = inspect.signature(space.info(name).cls.__init__).parameters
        assert set(space.arguments(name)) <= set(accepted), name


def test_a_trial_builds_the_keras_optimizer_with_its_values():
    space = space_module.SearchSpace(optimizers=["keras:adam"],
                                     batch_sizes=(16,))
    hp = kt.HyperParameters()
    space.declare(hp)
    hp.values["keras:adam/learning_rate"] = 0.0123
    optimizer = space.build_optimizer(hp)
    assert type(optimizer) is keras.optimizers.Adam
    assert float(optimizer.learning_rate) == pytest.approx(0.0123)
    for argument in space.arguments("keras:adam"):
        assert float(getattr(optimizer, argument)) == pytest.approx(
            hp.get(f"keras:adam/{argument}"))


def test_compare_grids_and_ranges_follow_the_same_rule():
    assert compare.default_grid("keras:lion") == compare.default_grid("lion")
    assert compare.default_grid("keras:Adadelta") == \
        compare.default_grid("adadelta")
    assert compare.default_grid("keras:SGD") == \
        compare.default_grid("gradient_descent")
    assert compare.learning_rate_range("keras:lion") == \
        compare.learning_rate_range("lion")


RECIPE = """
[data]
dataset = "digits"
max_samples = 400
[search]
max_trials = 2
epochs = 1
seed = 3
[space]
optimizers = ["keras:lion", "lion"]
batch_sizes = [64]
dropout = 0.0
[space.learning_rate]
"keras:lion" = [1e-4, 1e-3]
[pruning]
enabled = false
"""


def test_a_recipe_searches_keras_and_ours_side_by_side(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text(RECIPE)
    recipe = recipes.load_recipe(path)
    assert recipe.space.arguments("keras:lion")["learning_rate"] == \
        space_module.FloatRange(1e-4, 1e-3, "log")
    result = run_search(recipe, directory=str(tmp_path / "runs"),
                        progress=None)
    assert len(result.rows) == 2
    assert {row["optimizer"] for row in result.rows} <= {"keras:lion", "lion"}
    for row in result.rows:
        assert row["status"] == "COMPLETED" and row["val_accuracy"] > 0.0
        if row["optimizer"] == "keras:lion":
            assert 1e-4 <= row["learning_rate"] <= 1e-3


def test_a_recipe_with_an_unknown_keras_name_fails_naming_it(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[space]\noptimizers = ["keras:adamz"]\n')
    with pytest.raises(recipes.RecipeError) as info:
        recipes.load_recipe(path)
    assert 'Received: space.optimizers="keras:adamz"' in str(info.value)


def test_same_math_names_registered_optimizers_and_their_keras_classes():
    """`same_math` (which the tests follow step by step and the speed
    harness times) has an entry only for registered optimizers, and at
    their defaults builds the Keras class of the same rule."""
    registered = {info.name for info in optimizers.available()}
    assert set(keras_builtins.SAME_MATH) <= registered
    expected = {"adam": keras.optimizers.Adam, "lion": keras.optimizers.Lion,
                "lamb": keras.optimizers.Lamb,
                "adafactor": keras.optimizers.Adafactor,
                "nesterov": keras.optimizers.SGD}
    for name, cls in expected.items():
        config = optimizers.get(name).get_config()
        assert type(keras_builtins.same_math(name, config)) is cls, name
    # No Keras optimizer has RAdam's rule; with weight decay LAMB's differs.
    assert keras_builtins.same_math(
        "radam", optimizers.get("radam").get_config()) is None
    assert keras_builtins.same_math("lamb", optimizers.get(
        "lamb", weight_decay=0.01).get_config()) is None


def test_speed_harness_times_keras_twin_beside_ours():
    """The harness's candidates include Keras' optimizer with the same
    math wherever `same_math` has one (Muon at Keras' shape factor), and
    none where there is none."""
    from keras_optlab.lab.bench import setup

    variables = [keras.Variable(keras.ops.zeros((4, 3)))]
    for name, has_twin in [("lion", True), ("lamb", True),
                           ("adafactor", True), ("muon", True),
                           ("radam", False)]:
        labels = [c.label for c in setup.candidates_for(name, variables)]
        assert ("keras" in labels and "keras+xla" in labels) == has_twin, (
            name, labels)
        assert labels[:3] == ["fused", "per-variable", "plain"]
