"""Datasets a search trains on.

* `"digits"`: scikit-learn's bundled 8x8 digits (1797 images, no download);
  a fixed stratified fifth (360 images, `DIGITS_TEST_SPLIT`) is the test set.
* `"mnist1d"`: MNIST-1D (Greydanus 2020, arXiv:2011.14439), 4000 training
  and 1000 test sequences of length 40 (shape `(40, 1)`), 10 classes,
  generated offline by the `mnist1d` package with its default arguments
  (`make_dataset(get_dataset_args())`, never its download) and cached in
  `<cache dir>/keras_optlab/` (`$KERAS_OPTLAB_CACHE`, else
  `$XDG_CACHE_HOME`, else `~/.cache`); its own test split is the test set.
* `"mnist"`, `"fashion_mnist"`, `"cifar10"`: `keras.datasets`, downloaded
  once into `~/.keras/datasets` (or `$KERAS_HOME/datasets`); the official
  test split is the validation set. With no network and no cached copy the
  error says where to put the file.
* `"synthetic_images"`: generated colour gratings, one orientation per class,
  for the ImageNet-style recipe when no dataset is given.
* a `.npz` file with arrays `x` and `y` (and optionally `x_val`, `y_val`,
  and `x_test`, `y_test`: a test set).
* a `.csv` file, one sample per row, the label in the last column or in
  `label_column` (a header name or a 0-based index); a header row is
  recognised when its cells are not numbers.

Labels of user files may be any integers or strings; they are mapped to
0 .. num_classes - 1 in sorted order.

A test set is used once, to score the best model of a search; it never
reaches a trial. Datasets without one of their own can hold one out with
`test_split` (a fraction, stratified, always drawn with `TEST_SEED` so it
does not move with the search's seed). The validation split (or the folds
of a cross-validated search) comes from what is left.
"""

import csv
import dataclasses
import os
import zipfile

import numpy as np

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10")
BUILTIN = ("digits", "mnist1d", "synthetic_images") + KERAS_DATASETS
#: The test part of digits when `test_split` is not given.
DIGITS_TEST_SPLIT = 0.2
#: The seed of every `test_split` hold-out, independent of the search seed.
TEST_SEED = 0
FILE_SUFFIXES = (".npz", ".csv")


class DatasetError(ValueError):
    """A dataset that cannot be found, read or downloaded."""


@dataclasses.dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int
    class_names: list = None
    x_test: np.ndarray = None
    y_test: np.ndarray = None

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])

    @property
    def has_test(self):
        return self.x_test is not None and len(self.x_test) > 0

    def __str__(self):
        test = (f", {len(self.x_test)} test samples (held out)"
                if self.has_test else "")
        return (f"{self.name}: {len(self.x_train)} training and "
                f"{len(self.x_val)} validation samples{test} of shape "
                f"{self.input_shape}, {self.num_classes} classes")


def is_known(dataset):
    """True for a built-in name or a path with a supported suffix."""
    return dataset in BUILTIN or str(dataset).lower().endswith(FILE_SUFFIXES)


def load_dataset(dataset="digits", *, validation_split=0.2, label_column=None,
                 max_samples=None, seed=0, synthetic=None, test_split=None,
                 cache_dir=None):
    """Loads a dataset by name or path (see the module docstring).

    Args:
        dataset: a built-in name or a `.npz`/`.csv` path.
        validation_split: the fraction held out for validation when the
            dataset has no validation split of its own.
        label_column: for CSV files, the label column's header name or
            index; the last column by default.
        max_samples: keep at most this many training samples (and as many
            validation and test samples), for quick runs.
        seed: the seed of the shuffle before the validation split.
        synthetic: options of `synthetic_images(...)`.
        test_split: the fraction held out as the test set (stratified, drawn
            with `TEST_SEED`) for datasets without a test split of their
            own; `None`: `DIGITS_TEST_SPLIT` for digits, no test set for
            the others; `0`: no test set.
        cache_dir: where MNIST-1D is cached; see `cache_directory`.
    """
    dataset = str(dataset)
    if test_split is not None and not 0.0 <= test_split < 1.0:
        raise DatasetError("`test_split` must be in [0, 1). Received: "
                           f"test_split={test_split!r}")
    if dataset == "digits":
        x, y = _digits()
        if test_split is None:
            test_split = DIGITS_TEST_SPLIT
        x, y, test = _hold_out_test("digits", x, y, test_split)
        data = _split("digits", x, y, validation_split, seed, test=test)
    elif dataset == "mnist1d":
        _no_test_split(dataset, test_split, "its own test split")
        arrays = mnist1d(cache_dir)
        data = _split("mnist1d", arrays["x"], arrays["y"], validation_split,
                      seed, test=(arrays["x_test"], arrays["y_test"]))
    elif dataset == "synthetic_images":
        x, y = synthetic_images(seed=seed, **(synthetic or {}))
        x, y, test = _hold_out_test(dataset, x, y, test_split)
        data = _split("synthetic_images", x, y, validation_split, seed,
                      test=test)
    elif dataset in KERAS_DATASETS:
        data = _keras_dataset(dataset, test_split)
    elif dataset.lower().endswith(".npz"):
        data = _npz(dataset, validation_split, seed, test_split)
    elif dataset.lower().endswith(".csv"):
        data = _csv(dataset, label_column, validation_split, seed, test_split)
    else:
        raise DatasetError(
            f"Unknown dataset. Received: dataset={dataset!r}. Known: "
            f"{', '.join(BUILTIN)}, or a path ending in .npz or .csv")
    if max_samples is not None:
        data.x_train, data.y_train = (data.x_train[:max_samples],
                                      data.y_train[:max_samples])
        data.x_val, data.y_val = (data.x_val[:max_samples],
                                  data.y_val[:max_samples])
        if data.has_test:
            data.x_test, data.y_test = (data.x_test[:max_samples],
                                        data.y_test[:max_samples])
    return data


def _no_test_split(name, test_split, why):
    if test_split:
        raise DatasetError(f"{name} has {why}; it takes no `test_split`. "
                           f"Received: test_split={test_split!r}")


def _hold_out_test(name, x, y, test_split):
    """`(x_rest, y_rest, (x_test, y_test) or None)`: a stratified fraction
    `test_split` of the samples, always drawn with `TEST_SEED`."""
    if not test_split:
        return x, y, None
    from sklearn.model_selection import train_test_split

    counts = np.unique(y, return_counts=True)[1]
    n_test = int(np.ceil(len(y) * test_split))
    if counts.min() < 2 or n_test < len(counts) or \
            len(y) - n_test < len(counts):
        raise DatasetError(
            f"{name}: {len(y)} samples in {len(counts)} classes (the "
            f"smallest has {counts.min()}) are too few to hold out a "
            f"stratified test part. Received: test_split={test_split!r}")
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_split, stratify=y, random_state=TEST_SEED)
    return x_rest, y_rest, (x_test, y_test)


def _split(name, x, y, validation_split, seed, class_names=None, test=None):
    if not 0.0 < validation_split < 1.0:
        raise DatasetError("`validation_split` must be in (0, 1). Received: "
                           f"validation_split={validation_split!r}")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_val = max(1, int(round(len(x) * validation_split)))
    if n_val >= len(x):
        raise DatasetError(f"{name}: {len(x)} samples are too few to hold "
                           f"out validation_split={validation_split!r}")
    num_classes = int(max(y.max(), 0)) + 1
    if test is not None:
        num_classes = max(num_classes, int(test[1].max()) + 1)
    x_test, y_test = test if test is not None else (None, None)
    return Dataset(name, x[n_val:], y[n_val:], x[:n_val], y[:n_val],
                   num_classes, class_names, x_test, y_test)


def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    return x, digits.target.astype("int32")


def cache_directory(cache_dir=None):
    """Where generated datasets are cached: `cache_dir`, else
    `$KERAS_OPTLAB_CACHE`, else `$XDG_CACHE_HOME/keras_optlab`, else
    `~/.cache/keras_optlab`."""
    if cache_dir is not None:
        return os.fspath(cache_dir)
    if os.environ.get("KERAS_OPTLAB_CACHE"):
        return os.environ["KERAS_OPTLAB_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "keras_optlab")


#: The cached file's name; a new name whenever the generation changes.
MNIST1D_FILE = "mnist1d_default_args_v1.npz"


def generate_mnist1d():
    """MNIST-1D with the package's default arguments, generated here (no
    network): `{"x", "y", "x_test", "y_test"}`, `x` of shape `(n, 40, 1)`
    float32. The package seeds the global `random` and `numpy.random`
    generators; their states are restored afterwards."""
    import random

    try:
        from mnist1d.data import get_dataset_args
        from mnist1d.data import make_dataset
    except ImportError as error:
        raise DatasetError(
            "dataset='mnist1d' needs the `mnist1d` package (pip install "
            f"mnist1d); it could not be imported ({error})") from None
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        made = make_dataset(get_dataset_args())
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    return {"x": made["x"].astype("float32")[..., None],
            "y": made["y"].astype("int32"),
            "x_test": made["x_test"].astype("float32")[..., None],
            "y_test": made["y_test"].astype("int32")}


def mnist1d(cache_dir=None):
    """MNIST-1D's arrays (see `generate_mnist1d`), generated once and then
    read from `<cache_directory()>/mnist1d_default_args_v1.npz` (written
    atomically, so concurrent searches never read half a file)."""
    from keras_optlab import atomic

    folder = cache_directory(cache_dir)
    path = os.path.join(folder, MNIST1D_FILE)
    if os.path.isfile(path):
        try:
            with np.load(path, allow_pickle=False) as arrays:
                found = {k: arrays[k] for k in ("x", "y", "x_test", "y_test")}
            return found
        except (OSError, ValueError, KeyError, EOFError,
                zipfile.BadZipFile):
            pass  # not ours or damaged: generated again and replaced
    arrays = generate_mnist1d()
    try:
        os.makedirs(folder, exist_ok=True)
        atomic.write_atomically(path, lambda p: np.savez(p, **arrays))
    except OSError:
        pass  # a read-only cache: generated again next time
    return arrays


def _keras_dataset(name, test_split=None):
    import keras

    loader = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_val, y_val) = loader.load_data()
    except Exception as error:
        raise DatasetError(
            f"Could not load dataset={name!r} from keras.datasets: the file "
            "is not in the Keras cache (~/.keras/datasets, or "
            "$KERAS_HOME/datasets) and downloading it failed "
            f"({str(error).strip().splitlines()[-1][:200]}). Download it on "
            "a machine with network access and copy it there, or use "
            "dataset='digits' or a .npz/.csv file.") from error
    def prepare(x):
        x = x.astype("float32") / 255.0
        return x[..., None] if x.ndim == 3 else x
    # The official test split is the validation set; `test_split` holds a
    # test set out of the training split.
    x_train, y_train, test = _hold_out_test(
        name, prepare(x_train), y_train.reshape(-1).astype("int32"),
        test_split)
    x_test, y_test = test if test is not None else (None, None)
    return Dataset(name, x_train, y_train,
                   prepare(x_val), y_val.reshape(-1).astype("int32"),
                   int(y_train.max()) + 1, None, x_test, y_test)


def _check_file(path, kind):
    if os.path.isdir(path):
        raise DatasetError(f"{path}: is a directory; expected a {kind} "
                           f"file. Received: dataset={path!r}")
    if not os.path.isfile(path):
        raise DatasetError(f"Dataset file not found. Received: "
                           f"dataset={path!r}")
    if os.path.getsize(path) == 0:
        raise DatasetError(f"{path}: the file is empty; expected a {kind} "
                           "dataset")


def _check_features(path, name, x):
    """`x` as float32: numbers, at least (samples, features), finite."""
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DatasetError(f"{path}: array {name!r} holds {x.dtype}; "
                           "expected numbers")
    if x.ndim < 2 or x.shape[0] == 0:
        raise DatasetError(f"{path}: array {name!r} has shape {x.shape}; "
                           "expected (samples, features...) with at least "
                           "one sample")
    with np.errstate(over="ignore"):  # float64 beyond float32's range
        x = x.astype("float32")
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if bad.any():
        raise DatasetError(
            f"{path}: array {name!r} holds NaN or inf (or numbers beyond "
            f"float32's range) in {int(bad.sum())} samples, the first at "
            f"index {int(np.argmax(bad))}; expected finite numbers")
    return x


def _check_labels(path, name, y, samples):
    """Class labels: shape (samples,) or (samples, 1); integers or strings
    (numbers with a fraction, NaN or inf are not classes)."""
    y = np.asarray(y)
    if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] != 1):
        raise DatasetError(f"{path}: array {name!r} has shape {y.shape}; "
                           "expected (samples,) or (samples, 1) class labels")
    y = y.reshape(-1)
    if len(y) != samples:
        raise DatasetError(f"{path}: {name!r} has {len(y)} labels but the "
                           f"features have {samples} samples; expected one "
                           "label per sample")
    if y.dtype.kind == "f":
        fractional = ~np.isfinite(y) | (y != np.round(y))
        if fractional.any():
            i = int(np.argmax(fractional))
            raise DatasetError(
                f"{path}: {name!r} holds {y[i].item()!r} at index {i}; expected "
                "integer or string class labels (this is a classification "
                "search)")
    elif y.dtype.kind not in "iubUS":
        raise DatasetError(f"{path}: {name!r} holds {y.dtype}; expected "
                           "integer or string class labels")
    return y


def _encode_labels(y, path):
    classes, encoded = np.unique(np.asarray(y), return_inverse=True)
    if len(classes) < 2:
        raise DatasetError(f"{path}: the labels hold {len(classes)} class; "
                           "a classification search needs at least 2")
    return encoded.astype("int32"), [str(c) for c in classes]


def _npz(path, validation_split, seed, test_split=None):
    _check_file(path, ".npz")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            raise DatasetError(f"{path}: not a .npz file (expected a zip "
                               "archive of .npy arrays, as numpy.savez "
                               "writes)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = dict(arrays)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        problem = " ".join(str(error).split())[:200]
        raise DatasetError(f"{path}: cannot read it as .npz ({problem}); "
                           "expected numpy.savez's arrays 'x' and 'y' "
                           "without pickled objects") from None
    if "x" not in found or "y" not in found:
        raise DatasetError(
            f"{path}: a .npz dataset needs arrays 'x' and 'y'. Found: "
            f"{', '.join(sorted(found)) or 'no arrays'}")
    for part in ("val", "test"):
        if (f"x_{part}" in found) != (f"y_{part}" in found):
            raise DatasetError(f"{path}: holds only one of 'x_{part}' and "
                               f"'y_{part}'; expected both or neither")
    if "x_test" in found:
        _no_test_split(path, test_split, "arrays 'x_test' and 'y_test'")
    x = _check_features(path, "x", found["x"])
    y = _check_labels(path, "y", found["y"], len(x))
    parts = {"": (x, y)}
    for part in ("val", "test"):
        if f"x_{part}" not in found:
            continue
        x_part = _check_features(path, f"x_{part}", found[f"x_{part}"])
        if x_part.shape[1:] != x.shape[1:]:
            raise DatasetError(f"{path}: 'x_{part}' samples have shape "
                               f"{x_part.shape[1:]}, 'x' samples "
                               f"{x.shape[1:]}; expected the same")
        y_part = _check_labels(path, f"y_{part}", found[f"y_{part}"],
                               len(x_part))
        if (y.dtype.kind in "US") != (y_part.dtype.kind in "US"):
            raise DatasetError(f"{path}: 'y' holds {y.dtype} and 'y_{part}' "
                               f"{y_part.dtype}; expected labels of one kind")
        parts[part] = (x_part, y_part)
    encoded, names = _encode_labels(
        np.concatenate([labels for _, labels in parts.values()]), path)
    start = 0
    for part, (x_part, y_part) in list(parts.items()):
        parts[part] = (x_part, encoded[start:start + len(y_part)])
        start += len(y_part)
    x, y = parts[""]
    test = parts.get("test")
    if test is None:
        x, y, test = _hold_out_test(path, x, y, test_split)
    if "val" not in parts:
        return _split(path, x, y, validation_split, seed, names, test=test)
    x_test, y_test = test if test is not None else (None, None)
    return Dataset(path, x, y, *parts["val"], len(names), names, x_test,
                   y_test)


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _csv(path, label_column, validation_split, seed, test_split=None):
    _check_file(path, ".csv")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [row for row in csv.reader(f) if row]
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text ({error.reason} at byte "
                           f"{error.start}); expected a CSV file") from None
    except csv.Error as error:
        raise DatasetError(f"{path}: not a readable CSV file ({error})"
                           ) from None
    if not rows:
        raise DatasetError(f"{path}: the CSV file is empty; expected one "
                           "sample per row")
    header = None
    if not all(_is_number(cell) for cell in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    width = len(rows[0]) if rows else len(header)
    if width < 2 or len(rows) < 2:
        found = (f"{'a header and ' if header else ''}{len(rows)} data "
                 f"row{'s' if len(rows) != 1 else ''} of {width} "
                 f"column{'s' if width != 1 else ''}")
        raise DatasetError(f"{path}: found {found}; a CSV dataset needs at "
                           "least 2 columns and 2 data rows")
    if label_column is None:
        index = width - 1
    elif isinstance(label_column, int) and not isinstance(label_column, bool):
        index = label_column
        if not -width <= index < width:
            raise DatasetError(
                f"{path}: label_column={label_column!r} is out of range for "
                f"{width} columns")
        index %= width
    elif header is not None and label_column in header:
        index = header.index(label_column)
    else:
        raise DatasetError(
            f"{path}: no column named label_column={label_column!r}. "
            f"Columns: {', '.join(header) if header else 'no header row'}")
    labels, features = [], []
    for number, row in enumerate(rows, start=2 if header else 1):
        if len(row) != width:
            raise DatasetError(f"{path}, line {number}: {len(row)} cells, "
                               f"expected {width}")
        labels.append(row[index].strip())
        try:
            features.append([float(c) for i, c in enumerate(row)
                             if i != index])
        except ValueError as error:
            raise DatasetError(f"{path}, line {number}: {error}") from error
    if all(_is_number(label) for label in labels):
        labels = _check_labels(path, "label column",
                               np.array([float(v) for v in labels]),
                               len(labels))
    x = _check_features(path, "features", np.asarray(features))
    encoded, names = _encode_labels(labels, path)
    x, encoded, test = _hold_out_test(path, x, encoded, test_split)
    return _split(path, x, encoded, validation_split, seed, names, test=test)


def synthetic_images(samples=2000, image_size=32, num_classes=10, noise=0.35,
                     seed=0):
    """Colour gratings: class k has stripes at angle k * pi / num_classes,
    with random frequency, phase, colour and Gaussian noise. A small conv net
    learns them in a few epochs; an MLP on pixels does much worse."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=samples)
    coords = np.linspace(-1.0, 1.0, image_size, dtype="float32")
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    angle = labels * np.pi / num_classes + rng.normal(0, 0.05, samples)
    frequency = rng.uniform(3.0, 6.0, samples)
    phase = rng.uniform(0, 2 * np.pi, samples)
    projection = (np.cos(angle)[:, None, None] * xx +
                  np.sin(angle)[:, None, None] * yy)
    stripes = np.sin(frequency[:, None, None] * np.pi * projection +
                     phase[:, None, None])
    colour = rng.uniform(0.3, 1.0, size=(samples, 1, 1, 3))
    images = 0.5 + 0.5 * stripes[..., None] * colour
    images += rng.normal(0, noise, images.shape)
    return images.astype("float32"), labels.astype("int32")
