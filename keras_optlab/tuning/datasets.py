"""Datasets a search trains on.

* `"digits"`: scikit-learn's bundled 8x8 digits (1797 images, no download).
* `"mnist"`, `"fashion_mnist"`, `"cifar10"`: `keras.datasets`, downloaded
  once into `~/.keras/datasets` (or `$KERAS_HOME/datasets`); the official
  test split is the validation set. With no network and no cached copy the
  error says where to put the file.
* `"synthetic_images"`: generated colour gratings, one orientation per class,
  for the ImageNet-style recipe when no dataset is given.
* a `.npz` file with arrays `x` and `y` (and optionally `x_val`, `y_val`).
* a `.csv` file, one sample per row, the label in the last column or in
  `label_column` (a header name or a 0-based index); a header row is
  recognised when its cells are not numbers.

Labels of user files may be any integers or strings; they are mapped to
0 .. num_classes - 1 in sorted order.
"""

import csv
import dataclasses
import os
import zipfile

import numpy as np

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10")
BUILTIN = ("digits", "synthetic_images") + KERAS_DATASETS
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

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])

    def __str__(self):
        return (f"{self.name}: {len(self.x_train)} training and "
                f"{len(self.x_val)} validation samples of shape "
                f"{self.input_shape}, {self.num_classes} classes")


def is_known(dataset):
    """True for a built-in name or a path with a supported suffix."""
    return dataset in BUILTIN or str(dataset).lower().endswith(FILE_SUFFIXES)


def load_dataset(dataset="digits", *, validation_split=0.2, label_column=None,
                 max_samples=None, seed=0, synthetic=None):
    """Loads a dataset by name or path (see the module docstring).

    Args:
        dataset: a built-in name or a `.npz`/`.csv` path.
        validation_split: the fraction held out for validation when the
            dataset has no validation split of its own.
        label_column: for CSV files, the label column's header name or
            index; the last column by default.
        max_samples: keep at most this many training samples (and as many
            validation samples), for quick runs.
        seed: the seed of the shuffle before the split.
        synthetic: options of `synthetic_images(...)`.
    """
    dataset = str(dataset)
    if dataset == "digits":
        x, y = _digits()
        data = _split("digits", x, y, validation_split, seed)
    elif dataset == "synthetic_images":
        x, y = synthetic_images(seed=seed, **(synthetic or {}))
        data = _split("synthetic_images", x, y, validation_split, seed)
    elif dataset in KERAS_DATASETS:
        data = _keras_dataset(dataset)
    elif dataset.lower().endswith(".npz"):
        data = _npz(dataset, validation_split, seed)
    elif dataset.lower().endswith(".csv"):
        data = _csv(dataset, label_column, validation_split, seed)
    else:
        raise DatasetError(
            f"Unknown dataset. Received: dataset={dataset!r}. Known: "
            f"{', '.join(BUILTIN)}, or a path ending in .npz or .csv")
    if max_samples is not None:
        data.x_train, data.y_train = (data.x_train[:max_samples],
                                      data.y_train[:max_samples])
        data.x_val, data.y_val = (data.x_val[:max_samples],
                                  data.y_val[:max_samples])
    return data


def _split(name, x, y, validation_split, seed, class_names=None):
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
    return Dataset(name, x[n_val:], y[n_val:], x[:n_val], y[:n_val],
                   num_classes, class_names)


def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    return x, digits.target.astype("int32")


def _keras_dataset(name):
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
    return Dataset(name, prepare(x_train), y_train.reshape(-1).astype("int32"),
                   prepare(x_val), y_val.reshape(-1).astype("int32"),
                   int(y_train.max()) + 1)


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


def _npz(path, validation_split, seed):
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
    if ("x_val" in found) != ("y_val" in found):
        raise DatasetError(f"{path}: holds only one of 'x_val' and 'y_val'; "
                           "expected both or neither")
    x = _check_features(path, "x", found["x"])
    y = _check_labels(path, "y", found["y"], len(x))
    has_val = "x_val" in found
    if not has_val:
        encoded, names = _encode_labels(y, path)
        return _split(path, x, encoded, validation_split, seed, names)
    x_val = _check_features(path, "x_val", found["x_val"])
    if x_val.shape[1:] != x.shape[1:]:
        raise DatasetError(f"{path}: 'x_val' samples have shape "
                           f"{x_val.shape[1:]}, 'x' samples {x.shape[1:]}; "
                           "expected the same")
    y_val = _check_labels(path, "y_val", found["y_val"], len(x_val))
    if y.dtype.kind in "US" and y_val.dtype.kind not in "US" or \
            y_val.dtype.kind in "US" and y.dtype.kind not in "US":
        raise DatasetError(f"{path}: 'y' holds {y.dtype} and 'y_val' "
                           f"{y_val.dtype}; expected labels of one kind")
    encoded, names = _encode_labels(np.concatenate([y, y_val]), path)
    n = len(y)
    return Dataset(path, x, encoded[:n], x_val, encoded[n:], len(names),
                   names)


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _csv(path, label_column, validation_split, seed):
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
    return _split(path, x, encoded, validation_split, seed, names)


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
