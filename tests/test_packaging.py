"""The package as a user gets it from a wheel: installed (not editable)
into a fresh environment, with the bundled recipes inside it."""

import csv
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run(*command, cwd, env):
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (command, result.stdout[-3000:],
                                    result.stderr[-3000:])
    return result


@pytest.mark.slow
def test_wheel_runs_bundled_recipe_from_an_empty_folder(tmp_path):
    # Only the installed copy may be found: no PYTHONPATH to a checkout.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # Built from a copy of the repository, so the build leaves no build/ or
    # *.egg-info in the checkout; offline (--no-index), with the setuptools
    # of the `test` extra (--no-build-isolation).
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", "*.egg-info", "build", "dist", ".venv",
        ".pytest_cache", ".hypothesis", ".ruff_cache", ".benchmarks",
        "optlab_runs", "optlab_compare"))
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", ".", "--no-deps",
         "--no-build-isolation", "--no-index", "-w", wheels, cwd=source,
         env=env)
    (wheel,) = wheels.glob("keras_optlab-*.whl")

    # A fresh environment that takes TensorFlow, Keras and the rest from
    # this one; keras_optlab itself only from the wheel.
    environment = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--system-site-packages",
         environment, cwd=tmp_path, env=env)
    bin_dir = environment / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    _run(python, "-m", "pip", "install", "--no-deps", "--no-index", wheel,
         cwd=tmp_path, env=env)

    empty = tmp_path / "empty"
    empty.mkdir()
    where = _run(python, "-c", "import keras_optlab; "
                 "from keras_optlab.cli.commands import tune; "
                 "print(keras_optlab.__file__); "
                 "print(tune.find_recipe('quick'))", cwd=empty, env=env)
    package, recipe = map(pathlib.Path, where.stdout.split())
    site = package.resolve().parents[1]
    assert site.is_relative_to(environment.resolve()), package
    assert not package.resolve().is_relative_to(ROOT), package
    assert recipe.resolve() == site / "keras_optlab" / "recipes" / \
        "quick.toml"
    assert recipe.read_bytes() == (ROOT / "tuning" / "quick.toml").read_bytes()

    search = _run(bin_dir / "optlab", "tune", "quick", "--directory", "runs",
                  cwd=empty, env=env)
    assert search.stdout.startswith(f"recipe: {recipe} ("), search.stdout
    assert "best: trial " in search.stdout
    results = empty / "runs" / "quick" / "results"
    with open(results / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["trial"] for row in rows] == ["0", "1", "2"]
    assert all(row["status"] == "COMPLETED" for row in rows)
    for name in ("trials.json", "best_hyperparameters.json",
                 "best_model.keras"):
        assert (results / name).is_file(), name
    assert sorted(p.name for p in empty.iterdir()) == ["runs"]
