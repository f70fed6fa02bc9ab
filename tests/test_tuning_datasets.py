"""Datasets: digits, generated images, user .npz and .csv files, and the
keras.datasets error when nothing is cached and the download fails."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_optlab.tuning import datasets
from keras_optlab.tuning.datasets import DatasetError
from keras_optlab.tuning.datasets import load_dataset


def test_digits():
    data = load_dataset("digits", validation_split=0.25)
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10
    # A fixed fifth (360) is the test set; the split takes the rest.
    assert len(data.x_train) + len(data.x_val) == 1797 - 360
    assert len(data.x_val) == round((1797 - 360) * 0.25)
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    small = load_dataset("digits", max_samples=100)
    assert len(small.x_train) == 100 and len(small.x_val) == 100
    assert len(small.x_test) == 100


def test_synthetic_images_shapes_and_labels():
    x, y = datasets.synthetic_images(samples=50, image_size=12,
                                     num_classes=4, seed=1)
    assert x.shape == (50, 12, 12, 3) and x.dtype == np.float32
    assert set(np.unique(y)) <= {0, 1, 2, 3}
    again, _ = datasets.synthetic_images(samples=50, image_size=12,
                                         num_classes=4, seed=1)
    np.testing.assert_array_equal(x, again)


def test_npz_with_and_without_validation(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)), rng.choice([3, 7, 9], size=40)
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=y)
    data = load_dataset(str(path), validation_split=0.25, seed=0)
    assert data.num_classes == 3 and data.class_names == ["3", "7", "9"]
    assert len(data.x_train) == 30 and len(data.x_val) == 10
    # Labels are mapped in sorted order: 3 -> 0, 7 -> 1, 9 -> 2.
    original = {tuple(np.float32(r)): label for r, label in zip(x, y)}
    for row, label in zip(data.x_train, data.y_train):
        assert [3, 7, 9][label] == original[tuple(row)]
    split = tmp_path / "s.npz"
    np.savez(split, x=x[:30], y=y[:30], x_val=x[30:], y_val=y[30:])
    data = load_dataset(str(split))
    np.testing.assert_allclose(data.x_val, x[30:].astype("float32"))


def test_npz_errors(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, features=np.zeros((4, 2)))
    with pytest.raises(DatasetError, match="needs arrays 'x' and 'y'. "
                       "Found: features"):
        load_dataset(str(path))
    with pytest.raises(DatasetError, match="not found. Received: dataset="):
        load_dataset(str(tmp_path / "absent.npz"))


def test_csv_last_column_and_named_column(tmp_path):
    path = tmp_path / "d.csv"
    rows = ["a,label,b"] + [f"{i},{'cat' if i % 2 else 'dog'},{i * 2}"
                            for i in range(20)]
    path.write_text("\n".join(rows) + "\n")
    data = load_dataset(str(path), label_column="label",
                        validation_split=0.2)
    assert data.input_shape == (2,) and data.class_names == ["cat", "dog"]
    for features, label in zip(data.x_train, data.y_train):
        i = int(features[0])
        assert features[1] == 2 * i
        assert label == (0 if i % 2 else 1)
    plain = tmp_path / "p.csv"
    plain.write_text("".join(f"{i},{i + 1},{i % 3}\n" for i in range(12)))
    data = load_dataset(str(plain), validation_split=0.25)
    assert data.input_shape == (2,) and data.num_classes == 3
    for features, label in zip(data.x_val, data.y_val):
        assert label == int(features[0]) % 3


def test_csv_errors(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y,label\n1,2,0\n3,4,1\n5,6,0\n")
    with pytest.raises(DatasetError, match="label_column='target'"):
        load_dataset(str(path), label_column="target")
    ragged = tmp_path / "r.csv"
    ragged.write_text("1,2,0\n3,1\n5,6,0\n")
    with pytest.raises(DatasetError, match="line 2: 2 cells, expected 3"):
        load_dataset(str(ragged))


def test_unknown_dataset():
    with pytest.raises(DatasetError, match="dataset='imagenet'"):
        load_dataset("imagenet")


def test_keras_dataset_without_cache_or_network_says_what_to_do(tmp_path):
    # Keras reads KERAS_HOME when it is imported, so the empty cache is set
    # up in a fresh process. This machine reaches no dataset host, so the
    # download fails there (it would succeed with network access).
    code = textwrap.dedent("""
        from keras_optlab.tuning.datasets import DatasetError, load_dataset
        try:
            load_dataset("fashion_mnist")
        except DatasetError as error:
            print("ERROR:", error)
        else:
            print("LOADED")
    """)
    env = dict(os.environ, KERAS_HOME=str(tmp_path / "empty_keras_home"),
               TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env,
                         capture_output=True, text=True, timeout=120).stdout
    if "LOADED" in out:
        pytest.skip("this machine could download fashion_mnist")
    line = next(line for line in out.splitlines() if line.startswith("ERROR"))
    assert "dataset='fashion_mnist'" in line
    assert "Keras cache" in line and "downloading it failed" in line


# --- bad files: one line naming the file and what was expected ---------------

def _npz(tmp_path, **arrays):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return path


X = np.arange(40, dtype="float32").reshape(20, 2)
Y = np.arange(20) % 2


@pytest.mark.parametrize("arrays, expected", [
    ({"x": np.arange(20.0), "y": Y},
     "array 'x' has shape (20,); expected (samples, features...)"),
    ({"x": X, "y": np.zeros((20, 3))},
     "array 'y' has shape (20, 3); expected (samples,) or (samples, 1)"),
    ({"x": X, "y": Y[:15]},
     "'y' has 15 labels but the features have 20 samples"),
    ({"x": np.where(np.arange(40).reshape(20, 2) == 13, np.nan, X), "y": Y},
     "array 'x' holds NaN or inf (or numbers beyond float32's range) in 1 "
     "samples, the first at index 6"),
    ({"x": np.full((20, 2), 1e300), "y": Y}, "beyond float32's range"),
    ({"x": np.where(X == 5, np.inf, X), "y": Y}, "holds NaN or inf"),
    ({"x": X, "y": Y + 0.5}, "'y' holds 0.5 at index 0; expected integer "
     "or string class labels"),
    ({"x": X, "y": np.where(Y == 1, np.nan, Y)}, "'y' holds nan at index 1"),
    ({"x": np.array([["a", "b"]] * 20), "y": Y},
     "array 'x' holds <U1; expected numbers"),
    ({"x": X[:0], "y": Y[:0]}, "expected (samples, features...) with at "
     "least one sample"),
    ({"x": X, "y": Y, "x_val": X}, "only one of 'x_val' and 'y_val'"),
    ({"x": X, "y": Y, "x_val": X[:, :1], "y_val": Y},
     "'x_val' samples have shape (1,), 'x' samples (2,)"),
    ({"x": X, "y": Y, "x_val": X, "y_val": Y[:3]},
     "'y_val' has 3 labels but the features have 20 samples"),
    ({"x": X, "y": Y, "x_val": X, "y_val": Y.astype(str)},
     "expected labels of one kind"),
])
def test_bad_npz_one_line_naming_file_and_expectation(tmp_path, arrays,
                                                      expected):
    path = _npz(tmp_path, **arrays)
    with pytest.raises(DatasetError) as info:
        load_dataset(str(path))
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert expected in message


@pytest.mark.parametrize("content, expected", [
    (b"", "the file is empty; expected a .npz dataset"),
    (b"garbage, not numpy", "not a .npz file (expected a zip archive"),
    ("truncated", "cannot read it as .npz"),
])
def test_unreadable_npz(tmp_path, content, expected):
    path = tmp_path / "d.npz"
    if content == "truncated":
        np.savez(path, x=X, y=Y)
        content = path.read_bytes()[:200]
    path.write_bytes(content)
    with pytest.raises(DatasetError, match="^" + str(path)) as info:
        load_dataset(str(path))
    assert expected in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("text, expected", [
    ("a,b,label\n", "found a header and 0 data rows of 3 columns; a CSV "
     "dataset needs at least 2 columns and 2 data rows"),
    ("1,2,0\n", "found 1 data row of 3 columns"),
    ("\n\n", "the CSV file is empty; expected one sample per row"),
    ("1,nan,0\n3,4,1\n5,6,0\n", "array 'features' holds NaN or inf"),
    ("1,2,0.5\n3,4,1\n5,6,0\n", "'label column' holds 0.5 at index 0"),
    ("1,2,inf\n3,4,1\n5,6,0\n", "'label column' holds inf at index 0"),
    ("1,2,0\n3,x,1\n5,6,0\n", "line 2: could not convert string to float"),
    (b"1,2,\xff\n3,4,1\n", "not UTF-8 text"),
    (b"1,2,0\n3,\x004,1\n5,6,0\n", "line 2: could not convert"),
])
def test_bad_csv_one_line_naming_file_and_expectation(tmp_path, text,
                                                      expected):
    path = tmp_path / "d.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DatasetError) as info:
        load_dataset(str(path))
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert expected in message


def test_directory_and_missing_and_empty_paths(tmp_path):
    folder = tmp_path / "data.csv"
    folder.mkdir()
    with pytest.raises(DatasetError, match="is a directory; expected a .csv"):
        load_dataset(str(folder))
    with pytest.raises(DatasetError, match="Dataset file not found"):
        load_dataset(str(tmp_path / "none.npz"))
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(DatasetError, match="the file is empty; expected a "
                       ".csv dataset"):
        load_dataset(str(empty))


def test_recipe_with_bad_data_fails_in_the_check_before_any_training(
        tmp_path, capsys):
    """`optlab tune --check` (and `tune`) read the data before a tuner
    exists: a NaN in the file is one line, and nothing is written."""
    from keras_optlab import cli

    np.savez(tmp_path / "d.npz", x=np.where(X == 7, np.nan, X), y=Y)
    (tmp_path / "r.toml").write_text('[data]\ndataset = "d.npz"\n')
    runs = tmp_path / "runs"
    for extra in (["--check"], []):
        status = cli.main(["tune", str(tmp_path / "r.toml"), "--directory",
                           str(runs)] + extra)
        err = capsys.readouterr().err.strip()
        assert status == 2 and "\n" not in err
        assert "d.npz: array 'x' holds NaN or inf" in err
    assert not runs.exists()
    (tmp_path / "c.toml").write_text(
        '[data]\ndataset = "flat.csv"\n[model]\nkind = "conv"\n')
    (tmp_path / "flat.csv").write_text(
        "".join(f"{i},{i + 1},{i % 2}\n" for i in range(20)))
    assert cli.main(["tune", str(tmp_path / "c.toml"), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert '`model.kind` = "conv" does not fit the data' in err
    assert "\n" not in err


# --- MNIST-1D and the held-out test set -----------------------------------

def rows(x):
    """Each sample's bytes, to compare sets of samples by content."""
    return {np.ascontiguousarray(sample).tobytes() for sample in x}


def test_mnist1d_is_generated_offline_deterministically(monkeypatch,
                                                         mnist1d_cache):
    """No network: every socket connection fails during the generation;
    the arrays equal the cached ones (generated earlier in the session),
    and the global random generators the package seeds are left alone."""
    import random
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("MNIST-1D generation tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    np.random.seed(123)
    random.seed(123)
    expected_numpy, expected_python = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    arrays = datasets.generate_mnist1d()
    assert (np.random.random(), random.random()) == (expected_numpy,
                                                      expected_python)
    assert arrays["x"].shape == (4000, 40, 1) and arrays["x"].dtype == \
        np.float32
    assert arrays["x_test"].shape == (1000, 40, 1)
    assert set(np.unique(arrays["y"])) == set(range(10))
    cached = datasets.mnist1d(mnist1d_cache)
    for name in ("x", "y", "x_test", "y_test"):
        np.testing.assert_array_equal(arrays[name], cached[name])


def test_mnist1d_keeps_its_test_split_out_of_training(mnist1d_cache):
    data = load_dataset("mnist1d", validation_split=0.2, seed=4)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (
        3200, 800, 1000)
    assert data.input_shape == (40, 1) and data.num_classes == 10
    cached = datasets.mnist1d(mnist1d_cache)
    np.testing.assert_array_equal(data.x_test, cached["x_test"])
    assert rows(data.x_train) | rows(data.x_val) == rows(cached["x"])
    assert not rows(data.x_test) & (rows(data.x_train) | rows(data.x_val))
    # The file was written atomically: no temporary file is left.
    assert os.listdir(mnist1d_cache) == [datasets.MNIST1D_FILE]
    with pytest.raises(DatasetError, match=r"has its own test split.*"
                       r"Received: test_split=0\.1$"):
        load_dataset("mnist1d", test_split=0.1)


def test_mnist1d_cache_is_regenerated_when_damaged(tmp_path, monkeypatch):
    """The cache mechanics, with a stand-in for the (slower) generation:
    a damaged file is replaced, a good one is read without generating."""
    made = []

    def generate():
        made.append(1)
        return {"x": np.ones((4, 40, 1), "float32"), "y": np.arange(4),
                "x_test": np.zeros((2, 40, 1), "float32"),
                "y_test": np.arange(2)}

    monkeypatch.setattr(datasets, "generate_mnist1d", generate)
    (tmp_path / datasets.MNIST1D_FILE).write_bytes(b"not a zip")
    arrays = datasets.mnist1d(tmp_path)
    assert made == [1] and arrays["x"].shape == (4, 40, 1)
    again = datasets.mnist1d(tmp_path)
    assert made == [1]
    np.testing.assert_array_equal(again["y_test"], arrays["y_test"])
    assert os.listdir(tmp_path) == [datasets.MNIST1D_FILE]


def test_digits_test_part_is_fixed_stratified_and_apart():
    first = load_dataset("digits", seed=0)
    other = load_dataset("digits", seed=9, validation_split=0.3)
    np.testing.assert_array_equal(first.x_test, other.x_test)
    assert len(first.x_test) == 360
    assert len(first.x_train) + len(first.x_val) + len(first.x_test) == 1797
    counts = np.bincount(first.y_test, minlength=10)
    everything = np.bincount(datasets._digits()[1], minlength=10)
    # Stratified: each class's share of the test part is its share of all.
    assert np.all(np.abs(counts - everything * 0.2) <= 1)
    assert not rows(first.x_test) & (rows(first.x_train) | rows(first.x_val))
    assert not load_dataset("digits", test_split=0.0).has_test


def test_npz_test_arrays_and_test_split(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(60, 3)), rng.choice(["a", "b"], size=60)
    own = tmp_path / "own.npz"
    np.savez(own, x=x[:40], y=y[:40], x_test=x[40:], y_test=y[40:])
    data = load_dataset(str(own))
    np.testing.assert_allclose(data.x_test, x[40:].astype("float32"))
    assert [data.class_names[i] for i in data.y_test] == list(y[40:])
    with pytest.raises(DatasetError, match="Received: test_split=0.25$"):
        load_dataset(str(own), test_split=0.25)
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=x, y=y)
    data = load_dataset(str(plain), test_split=0.25)
    assert len(data.x_test) == 15
    assert len(data.x_train) + len(data.x_val) == 45
    assert not load_dataset(str(plain)).has_test
    half = tmp_path / "half.npz"
    np.savez(half, x=x, y=y, x_test=x[:5])
    with pytest.raises(DatasetError, match="only one of 'x_test' and "
                       "'y_test'"):
        load_dataset(str(half))


@pytest.mark.parametrize("value", [1.0, -0.1])
def test_test_split_out_of_range(value):
    with pytest.raises(DatasetError, match=r"^`test_split` must be in "
                       rf"\[0, 1\). Received: test_split={value}$"):
        load_dataset("digits", test_split=value)


def test_the_papers_models_have_its_parameter_counts():
    """Greydanus 2020's PyTorch models on length-40 MNIST-1D: ConvBase
    (Conv1d 1->25 k5, 25->25 k3, 25->25 k3, Linear 125->10) has 150 + 1900
    + 1900 + 1260 = 5210 parameters; GRUBase (bidirectional, 6 cells, Linear
    480->10) 2 * 3 * (6 + 36 + 6 + 6) + 4810 = 5134; the MLP 40-100-100-10
    15210."""
    from keras_optlab.tuning import models

    conv = models.conv1d_net((40, 1), 10, 0.0)
    assert conv.count_params() == 5210
    assert conv.layers[-4].output.shape[1:] == (5, 25)  # the last conv
    assert models.gru_net((40, 1), 10, 0.0).count_params() == 5134
    assert models.mlp((40, 1), 10, 0.0, (100, 100)).count_params() == 15210


def test_a_gru_search_on_mnist1d(tmp_path, mnist1d_cache):
    from keras_optlab.tuning import recipes
    from keras_optlab.tuning.search import run_search

    path = tmp_path / "m.toml"
    path.write_text('[data]\ndataset = "mnist1d"\nmax_samples = 200\n'
                    '[model]\nkind = "gru"\nunits = [4]\n'
                    '[search]\nmax_trials = 1\nepochs = 1\n'
                    '[space]\noptimizers = ["adam"]\nbatch_sizes = [100]\n')
    result = run_search(recipes.load_recipe(path),
                        directory=str(tmp_path / "runs"), progress=None)
    assert result.rows[0]["status"] == "COMPLETED"
    assert 0.0 <= result.best["test"]["test_accuracy"] <= 1.0
