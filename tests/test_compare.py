"""optlab compare: same start for every run, table, curves, TensorBoard."""

import numpy as np
import pytest
from PIL import Image

from keras_optlab import cli
from keras_optlab import optimizers
from keras_optlab.lab import compare
from keras_optlab.tuning import recipes
from keras_optlab.tuning import space
from tests.event_files import read_scalars


def test_identical_rules_give_identical_runs_and_the_best_rate_is_chosen():
    # Our GradientDescent and Keras' SGD are the same rule: with the same
    # initial weights and data order their curves must coincide.
    best, runs = compare.compare(["gradient_descent", "keras:SGD"],
                                 learning_rates=[0.3, 0.01], epochs=2)
    assert [(r.optimizer, r.learning_rate) for r in runs] == [
        ("gradient_descent", 0.3), ("gradient_descent", 0.01),
        ("keras:SGD", 0.3), ("keras:SGD", 0.01)]
    np.testing.assert_allclose(runs[0].val_loss, runs[2].val_loss, rtol=1e-5)
    np.testing.assert_allclose(runs[1].val_loss, runs[3].val_loss, rtol=1e-5)
    for name in ("gradient_descent", "keras:SGD"):
        mine = [r for r in runs if r.optimizer == name]
        assert best[name].best_accuracy == max(r.best_accuracy for r in mine)
    assert best["gradient_descent"].learning_rate == 0.3  # 0.01 is too slow


def test_runs_are_benchmark_trials_and_their_tensorboard_view(tmp_path):
    """A comparison's run is the benchmark's trial on the problem without a
    target (every epoch trained) seen per epoch; its TensorBoard run holds
    the run's own values where Keras' callback would put them."""
    best, runs = compare.compare(["adam"], learning_rates=[0.01], epochs=3,
                                 log_dir=str(tmp_path))
    (run,) = runs
    assert len(run.val_accuracy) == len(run.val_loss) == 3
    assert len(run.train_loss) == len(run.epoch_seconds) == 3
    assert all(seconds > 0 for seconds in run.epoch_seconds)
    directory = compare.run_dir(str(tmp_path), "adam", 0.01)
    validation = read_scalars(directory + "/validation")
    train = read_scalars(directory + "/train")
    for tag, values, got in [
            ("epoch_accuracy", run.val_accuracy, validation),
            ("epoch_loss", run.val_loss, validation),
            ("epoch_loss", run.train_loss, train)]:
        assert [step for step, _ in got[tag]] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in got[tag]], values,
                                   rtol=1e-6)


def test_epochs_and_seconds_to_target():
    run = compare.Run("adam", 1e-3, [0.5, 0.9, 0.96, 0.97], [1, 0.5, 0.2, 0.1],
                      [2.0, 1.0, 1.0, 1.0])
    assert run.epochs_to(0.95) == 3 and run.seconds_to(0.95) == 4.0
    assert run.epochs_to(0.99) is None and run.seconds_to(0.99) is None
    table = compare.format_table({"adam": run}, 0.95)
    assert "| `adam` | 0.001 | 0.9700 | 0.1000 | 3 | 4.00 |" in table


def test_default_grids_have_three_rates_each():
    for name in ("gradient_descent", "adam", "adagrad", "adadelta",
                 "keras:SGD", "keras:Adam"):
        assert len(compare.default_grid(name)) == 3
    with pytest.raises(ValueError, match="optimizer='nope'"):
        compare.default_grid("nope")


def test_optlab_compare_writes_table_curves_and_tensorboard_runs(
        tmp_path, capsys):
    status = cli.main(["compare", "--optimizers", "momentum,adam",
                       "--lrs", "0.01", "--epochs", "2",
                       "--out", str(tmp_path)])
    assert status == 0
    assert "| `momentum` | 0.01 |" in capsys.readouterr().out
    assert "| `adam` | 0.01 |" in (tmp_path / "compare.md").read_text()
    with Image.open(tmp_path / "curves.png") as image:
        assert image.format == "PNG"
    scalars = read_scalars(tmp_path / "tensorboard" / "adam" / "lr=0.01"
                           / "validation")
    assert [step for step, _ in scalars["epoch_accuracy"]] == [0, 1]


def test_an_interrupted_comparison_resumes_without_training_again(
        tmp_path, capsys):
    """The runs a comparison finished are lines of <out>/records.jsonl; a
    rerun with the same --out takes them (same optimizer, rate, epochs,
    batch size, seed and model) and trains only the others."""
    out = tmp_path / "out"
    base = ["compare", "--lrs", "0.01", "--epochs", "2", "--out", str(out)]
    assert cli.main(base + ["--optimizers", "adam"]) == 0
    first = capsys.readouterr().out
    assert "[1/1] adam lr 0.01" in first and "from records" not in first
    adam_row = next(line for line in first.splitlines()
                    if line.startswith("| `adam`"))
    # As if the first command had been killed after Adam's run.
    assert cli.main(base + ["--optimizers", "adam,momentum"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("[1/2] adam lr 0.01") and
               line.endswith("(from records.jsonl)") for line in lines)
    assert any(line.startswith("[2/2] momentum lr 0.01") and
               "from records" not in line for line in lines)
    assert adam_row in lines
    records = (out / "records.jsonl").read_text().splitlines()
    assert len(records) == 2
    # Another seed is another comparison: trained, not taken.
    assert cli.main(base + ["--optimizers", "adam", "--seed", "3"]) == 0
    assert "from records" not in capsys.readouterr().out
    assert len((out / "records.jsonl").read_text().splitlines()) == 3


def test_optlab_compare_rejects_unknown_optimizers(capsys):
    assert cli.main(["compare", "--optimizers", "adam,nope"]) == 2
    assert "optimizer='nope'" in capsys.readouterr().err


# --recipe: a recipe's data and model, per-optimizer learning-rate ranges.

TOY_RECIPE = """
[data]
dataset = "toy.npz"
validation_split = 0.25

[model]
kind = "mlp"
units = [8]

[search]
epochs = 2
seed = 5

[space]
optimizers = ["gradient_descent", "adam"]
batch_sizes = [16, 32, 64]
dropout = 0.2
"""


def write_toy_recipe(folder, text=TOY_RECIPE):
    # Three well separated Gaussian blobs with string labels.
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 160)
    centres = np.eye(3, 6) * 3.0
    x = centres[labels] + rng.normal(0.0, 0.5, (160, 6))
    np.savez(folder / "toy.npz", x=x.astype("float32"),
             y=np.array(["a", "b", "c"])[labels])
    path = folder / "toy.toml"
    path.write_text(text)
    return path


def test_recipe_grids_are_quartiles_of_each_optimizers_range(tmp_path):
    recipe = recipes.load_recipe(write_toy_recipe(
        tmp_path, TOY_RECIPE + "[space.learning_rate]\nadam = [1e-4, 1.0]\n"))
    # The recipe's own range for adam, 10^-4 .. 10^0: quartiles 10^-3,
    # 10^-2, 10^-1; keras:Adam gets the same budget.
    assert compare.learning_rate_grid("adam", recipe) == (1e-3, 1e-2, 1e-1)
    assert compare.learning_rate_grid("keras:Adam", recipe) == (
        1e-3, 1e-2, 1e-1)
    # momentum is not in the recipe: its own range (Momentum's table),
    # 10^-4 .. 10^-1, gives 10^-3.25, 10^-2.5, 10^-1.75 to two digits.
    assert space.default_learning_rate_range(
        optimizers.lookup("momentum")) == space.FloatRange(1e-4, 1e-1, "log")
    assert compare.learning_rate_grid("momentum", recipe) == (
        0.00056, 0.0032, 0.018)
    assert recipe.middle_batch_size == 32
    assert recipe.fixed_dropout == 0.2
    with pytest.raises(ValueError, match="optimizer='keras:Nope'"):
        compare.learning_rate_grid("keras:Nope", recipe)


def test_optlab_compare_recipe_end_to_end(tmp_path, capsys):
    path = write_toy_recipe(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["compare", "--recipe", str(path), "--out",
                     str(out)]) == 0
    recipe = recipes.load_recipe(path)
    report = (out / "compare.md").read_text()
    assert "2 epochs, batch 32, seed 5, 6 runs" in report
    assert "target accuracy" in report and "auto:" in report
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1]
            for line in report.splitlines() if line.startswith("| `")}
    assert set(rows) == {"`gradient_descent`", "`adam`"}
    for name in ("gradient_descent", "adam"):
        grid = compare.learning_rate_grid(name, recipe)
        cells = [cell.strip() for cell in rows[f"`{name}`"]]
        assert float(cells[0]) in grid
        # The table's best accuracy is the best epoch TensorBoard recorded
        # for the winning rate, and every rate of the grid has its run.
        for lr in grid:
            scalars = read_scalars(
                compare.run_dir(str(out / "tensorboard"), name, lr)
                + "/validation")
            accuracies = [v for _, v in scalars["epoch_accuracy"]]
            assert len(accuracies) == 2
            if lr == float(cells[0]):
                assert float(cells[1]) == pytest.approx(max(accuracies),
                                                        abs=1e-4)
    assert "| `adam` |" in capsys.readouterr().out
    with Image.open(out / "curves.png") as image:
        assert image.format == "PNG"


def test_recipe_runs_share_initial_weights_data_order_and_dropout(tmp_path):
    # Identical rules on the recipe's model (dropout 0.2): identical curves.
    best, runs = compare.compare(["gradient_descent", "keras:SGD"],
                                 learning_rates=[0.1],
                                 recipe=str(write_toy_recipe(tmp_path)))
    assert [r.optimizer for r in runs] == ["gradient_descent", "keras:SGD"]
    assert len(runs[0].val_loss) == 2
    np.testing.assert_allclose(runs[0].val_loss, runs[1].val_loss, rtol=1e-5)


@pytest.mark.parametrize("change, field, value", [
    (("\"adam\"]", "\"adam\", \"nope\"]"), "space.optimizers", '"nope"'),
    (("units = [8]", "units = [0]"), "model.units", "[0]"),
    (("\"toy.npz\"", "\"missing.npz\""), "data.dataset", '"missing.npz"'),
    (("epochs = 2", "epoch = 2"), "search.epoch", "2"),
])
def test_bad_recipes_fail_before_training(tmp_path, capsys, change, field,
                                          value):
    path = write_toy_recipe(tmp_path, TOY_RECIPE.replace(*change))
    out = tmp_path / "out"
    assert cli.main(["compare", "--recipe", str(path), "--out",
                     str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    assert f"`{field}`" in error and f"{field}={value}" in error
    assert not out.exists()


@pytest.mark.parametrize("names, value", [
    ("adam,nope", "nope"), ("adam,keras:Nope", "keras:Nope"),
    ("adam,adam", "adam")])
def test_bad_optimizer_names_with_a_recipe_fail_before_training(
        tmp_path, capsys, names, value):
    out = tmp_path / "out"
    assert cli.main(["compare", "--recipe",
                     str(write_toy_recipe(tmp_path)), "--optimizers", names,
                     "--out", str(out)]) == 2
    assert f"optimizer={value!r}" in capsys.readouterr().err
    assert not out.exists()


def test_target_is_given_default_or_the_level_every_optimizer_reaches():
    best = {"a": compare.Run("a", 0.1, [0.5, 0.876], [1.0, 0.5], [1.0, 1.0]),
            "b": compare.Run("b", 0.1, [0.9, 0.95], [1.0, 0.5], [1.0, 1.0])}
    assert compare.resolve_target(None, best)[0] == 0.95
    assert compare.resolve_target(0.9, best)[0] == 0.9
    target, how = compare.resolve_target("auto", best)
    assert target == 0.87 and how.startswith("auto")
    assert all(run.epochs_to(target) is not None for run in best.values())
    assert compare.resolve_target(None, best, recipe=object())[0] == 0.87
    with pytest.raises(ValueError, match="target_accuracy='most'"):
        compare.resolve_target("most", best)
