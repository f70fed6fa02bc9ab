"""`optlab benchmark` as a user runs it: bad arguments are one line naming
the option and the value, before any training or file; a quick run writes
its report and resumes."""

import json
import re

import pytest

from keras_optlab import cli


@pytest.mark.parametrize("arguments, message", [
    (["--workloads", "digits_mlp,nosuch"],
     "Unknown workload .*Received: --workloads='nosuch'"),
    (["--optimizers", "adam,nosuch"], "Received: --optimizers='nosuch'"),
    (["--optimizers", "adam,adam"], "listed twice. Received: "
                                    "--optimizers='adam'"),
    (["--optimizers", ","], "Received: --optimizers=','"),
    (["--ruleset", "external", "--trials", "0"], "--trials=.0."),
    (["--trials", "2"], "--trials=.2."),
    (["--studies", "x"], "--studies=.x."),
    (["--seed", "-1"], "--seed=.-1."),
    (["--target", "0.9"], "--target sets .*Received: --target='0.9'"),
    (["--recipe", "quick"], "needs --target.*Received: --recipe='quick'"),
    (["--recipe", "quick", "--target", "x"], "--target=.x."),
    (["--recipe", "nosuch", "--target", "0.9"],
     "Recipe file not found. Received: recipe='nosuch'"),
    (["--processes", "0"], "--processes wants an integer .*Received: "
                           "--processes=.0."),
    (["--processes", "2", "--chief"], "leave out --chief and --worker. "
                                      "Received: --processes='2'"),
    (["--worker", "a/b"], "without 'chief'. Received: --worker='a/b'"),
    (["--worker", "chief_1"], "Received: --worker='chief_1'"),
    (["--chief", "--oracle", "host:0"], "--oracle must be HOST:PORT.*"
                                        "Received: --oracle='host:0'"),
])
def test_bad_arguments_are_one_line_before_any_file(tmp_path, capsys,
                                                    arguments, message):
    out = tmp_path / "out"
    status = cli.main(["benchmark", "--quick", "--out", str(out),
                       *arguments])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert len(error.splitlines()) == 1, error
    assert error.startswith("optlab benchmark: error:")
    assert re.search(message, error), error
    assert not out.exists()


def test_check_passes_for_every_bundled_workload(tmp_path, capsys):
    assert cli.main(["benchmark", "--check", "--out",
                     str(tmp_path / "out")]) == 0
    assert "check passed" in capsys.readouterr().out


def test_quick_run_writes_its_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "out"
    arguments = ["benchmark", "--quick", "--workloads", "digits_mlp",
                 "--optimizers", "adam,keras:adam", "--out", str(out)]
    assert cli.main(arguments) == 0
    printed = capsys.readouterr().out
    assert printed.count("digits_mlp") >= 2 and "[2/2]" in printed
    records = [json.loads(line) for line in
               (out / "records.jsonl").read_text().splitlines()]
    assert [r["optimizer"] for r in records] == ["adam", "keras:adam"]
    report = json.loads((out / "report.json").read_text())
    shown = {r["optimizer"]: r["time_to_target"] for r in report["rows"]}
    assert shown == {r["optimizer"]: r["time_to_target"] for r in records}
    assert "### digits_mlp" in (out / "report.md").read_text()
    assert f"tensorboard --logdir {out / 'tensorboard'}" in printed
    assert (out / "tensorboard" / "digits_mlp" / "keras_adam").is_dir()
    assert cli.main(arguments) == 0  # resumed: nothing left to train
    assert "[1/2]" not in capsys.readouterr().out
    assert len((out / "records.jsonl").read_text().splitlines()) == 2
    # Another seed in the same folder: one line, nothing trained.
    assert cli.main(arguments + ["--seed", "3"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "seed 0 and target 0.95" in error and "--out=" in error


def _recipe_on_a_file(tmp_path, with_test):
    rng = __import__("numpy").random.default_rng(0)
    arrays = {"x": rng.normal(size=(120, 5)).astype("float32"),
              "y": rng.integers(0, 3, 120)}
    if with_test:
        arrays.update(x_test=arrays["x"][:30], y_test=arrays["y"][:30])
    __import__("numpy").savez(tmp_path / "mine.npz", **arrays)
    recipe = tmp_path / "mine.toml"
    recipe.write_text(
        'name = "mine"\n[data]\ndataset = "mine.npz"\n'
        '[search]\nepochs = 7\nobjective = "val_loss"\n'
        '[space]\noptimizers = ["adam"]\nbatch_sizes = [8, 16, 32]\n'
        "dropout = 0.0\n")
    return recipe


def test_a_recipe_without_a_test_set_is_refused_before_training(
        tmp_path, capsys):
    recipe = _recipe_on_a_file(tmp_path, with_test=False)
    out = tmp_path / "out"
    status = cli.main(["benchmark", "--recipe", str(recipe), "--target",
                       "1.0", "--out", str(out)])
    error = capsys.readouterr().err.strip()
    assert status == 2 and len(error.splitlines()) == 1, error
    assert "held-out test set" in error
    assert "Received: data.test_split=None" in error
    assert not out.exists()


def test_a_recipe_becomes_a_workload_with_its_own_settings(tmp_path):
    """Data, metric, direction, budget and batch size come from the
    recipe; only the target is the caller's."""
    from keras_optlab.lab.benchmark import workloads

    workload = workloads.from_recipe(
        str(_recipe_on_a_file(tmp_path, with_test=True)), target=0.8)
    assert (workload.name, workload.metric, workload.direction) == (
        "mine", "loss", "min")
    assert (workload.target, workload.max_epochs, workload.batch_size) == (
        0.8, 7, 16)
    assert workload.quick_variant().max_epochs == 3
    data = workload.data()
    assert len(data.x_test) == 30
    assert len(data.x_train) + len(data.x_val) == 120
    assert workload.build_model().output_shape == (None, 3)
    with pytest.raises(ValueError, match="bundled workload. Received: "
                                         "name='digits_mlp'"):
        recipe = tmp_path / "digits_mlp.toml"
        recipe.write_text('name = "digits_mlp"\n')
        workloads.from_recipe(str(recipe), target=0.9)


def test_a_recipe_workload_runs_its_optimizers_and_resumes(tmp_path,
                                                           capsys):
    """`optlab benchmark --recipe quick --target T`: the recipe's own
    optimizers on its data and model, recorded, reported and resumed like
    a bundled workload."""
    out = tmp_path / "out"
    arguments = ["benchmark", "--recipe", "quick", "--target", "0.5",
                 "--out", str(out)]
    assert cli.main(arguments) == 0
    printed = capsys.readouterr().out
    assert "[3/3] quick adam" in printed
    records = [json.loads(line) for line in
               (out / "records.jsonl").read_text().splitlines()]
    assert [r["optimizer"] for r in records] == [
        "gradient_descent", "momentum", "adam"]
    for record in records:
        assert record["workload"] == "quick"
        assert record["target"] == 0.5 and record["metric"] == "accuracy"
        # Self-tuning: 3x the recipe's 2 epochs, unless the target came
        # first.
        assert record["max_epochs"] == 6
        assert record["epochs"] <= 6
        assert 0.0 <= record["test"] <= 1.0
    assert "### quick" in (out / "report.md").read_text()
    assert cli.main(arguments) == 0  # resumed: nothing left to train
    assert "[1/3]" not in capsys.readouterr().out
    assert len((out / "records.jsonl").read_text().splitlines()) == 3
