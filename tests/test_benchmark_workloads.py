"""The bundled benchmark workloads (keras_optlab/lab/benchmark/workloads.py):
fixed splits of the stated sizes, and each trains in quick mode with Adam
(learning rate from benchmarks/BENCHMARK_TARGETS.md) to a stated decrease of
its validation loss. The README's own-workload example runs as written."""

import pathlib
import re

import pytest

from keras_optlab.lab.benchmark import run
from keras_optlab.lab.benchmark import workloads

# name -> (train, validation, test samples)
SIZES = {"digits_mlp": (1150, 287, 360), "mnist1d_cnn": (3200, 800, 1000),
         "mnist1d_gru": (3200, 800, 1000), "diabetes": (282, 71, 89),
         "deep_sigmoid": (1150, 287, 360),
         "digits_autoencoder": (1150, 287, 360)}

# name -> (Adam's learning rate, the validation loss at the end of the
# quick run is at most this fraction of the loss before training).
# Measured (seed 0): 0.08, 0.27, 0.51, 0.30, 0.71, 0.23, each run reaching
# its quick target.
QUICK = {
    "digits_mlp": (3e-3, 0.2),
    "mnist1d_cnn": (1e-2, 0.45),
    "mnist1d_gru": (1e-2, 0.75),
    "diabetes": (1e-2, 0.5),
    "deep_sigmoid": (1e-2, 0.85),
    "digits_autoencoder": (1e-2, 0.4),
}


def test_the_bundled_workloads_and_their_splits(mnist1d_cache):
    assert list(workloads.bundled()) == list(SIZES)
    for name, sizes in SIZES.items():
        workload = workloads.get(name)
        data = workload.data()
        assert (len(data.x_train), len(data.x_val), len(data.x_test)) == \
            sizes
        quick = workloads.get(name, quick=True)
        assert quick.max_epochs < workload.max_epochs
        assert workload.reached(workload.target)
    with pytest.raises(ValueError, match="workload='nosuch'"):
        workloads.get("nosuch")


@pytest.mark.parametrize("name", list(QUICK))
def test_each_workload_trains_in_quick_mode(name, mnist1d_cache):
    learning_rate, fraction = QUICK[name]
    workload = workloads.get(name, quick=True)
    record = run.train_trial(workload, "adam",
                             {"learning_rate": learning_rate}, seed=0)
    assert not record["diverged"]
    final_loss = record["curve"][-1][4]
    assert final_loss <= fraction * record["initial_validation_loss"]
    assert record["test"] is not None


def test_readme_example_runs(tmp_path, monkeypatch):
    readme = pathlib.Path(__file__).parents[1] / "README.md"
    section = readme.read_text().split("## Benchmark", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    records = run.load_records(str(tmp_path / "runs" / "mine"))
    assert [r["optimizer"] for r in records] == ["adam", "keras:sgd"]
    assert (tmp_path / "runs" / "mine" / "report.md").is_file()
