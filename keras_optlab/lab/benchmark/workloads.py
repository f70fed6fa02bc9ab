"""Workloads: what an optimizer is benchmarked on.

A `Workload` fixes everything but the optimizer: the data split (train,
validation, test), the model (`build_model()` returns a new, uncompiled
model), the loss, the validation metric and whether higher or lower is
better, the validation target, and the budget (epochs and/or steps, batch
size). `quick` overrides some of these for a run in seconds (CI,
`optlab benchmark --quick`).

The bundled workloads run offline on 2 CPU cores in a few minutes each:

| name | data | model | loss | metric | target (full / quick) | budget (full / quick) |
|---|---|---|---|---|---|---|
| `digits_mlp` | digits 8x8 (1150 train, 287 val, 360 test) | MLP 128-64 ReLU | cross-entropy | accuracy, max | 0.98 / 0.95 | 30 / 5 epochs, batch 64 |
| `mnist1d_cnn` | MNIST-1D (3200 train, 800 val, 1000 test) | the paper's 1-D CNN | cross-entropy | accuracy, max | 0.90 / 0.72 | 40 / 4 epochs, batch 64 |
| `mnist1d_gru` | MNIST-1D | the paper's bidirectional GRU | cross-entropy | accuracy, max | 0.84 / 0.45 | 30 / 3 epochs, batch 64 |
| `diabetes` | scikit-learn diabetes (282 train, 71 val, 89 test), standardised | MLP 32 ReLU | MSE | MSE, min | 0.57 / 0.60 | 100 / 15 epochs, batch 32 |
| `deep_sigmoid` | digits | 6 Dense-sigmoid layers of 32 | cross-entropy | accuracy, max | 0.84 / 0.24 | 40 / 8 epochs, batch 64 |
| `digits_autoencoder` | digits (inputs are targets) | 64-32-8-32-64 | MSE | MSE, min | 0.022 / 0.042 | 40 / 6 epochs, batch 64 |

How each target was set (AlgoPerf's way: a little below what a tuned
baseline reaches): Adam over the learning rates 1e-3, 3e-3, 1e-2 (3e-4 too
for the GRU, 3e-2 too for the deep network), seed 0, the workload's full
budget; the quick budget is the first epochs of the same runs. Each target
is the best run's best validation value within that budget, moved 1-11%
towards the easier side and rounded. The measurements, on a shared 2-core
machine, are in `benchmarks/BENCHMARK_TARGETS.md`
(`python benchmarks/benchmark_targets.py` reruns them). One baseline seed:
the targets are provisional until a run over several seeds confirms them.

Split seeds are fixed (`SPLIT_SEED`), so every optimizer, study and trial
sees the same samples; the model's initial weights and the data order come
from the trial's seed.
"""

import dataclasses
import functools
import math
import os

import numpy as np

#: The seed of every bundled split (not the trial's seed).
SPLIT_SEED = 0
DIRECTIONS = ("max", "min")
#: What a quick variant may override.
QUICK_FIELDS = ("target", "max_epochs", "max_steps", "batch_size")


@dataclasses.dataclass
class Data:
    """A workload's arrays: train, validation (the target is read on it)
    and test (used once, on the model a trial ends with; None in a
    comparison without a test set, `optlab compare`)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclasses.dataclass
class Workload:
    """One benchmark problem (see the module docstring).

    Attributes:
        name: a short name, used in records, tables and `--workloads`.
        load_data: a function returning a `Data` (or a 6-tuple `x_train,
            y_train, x_val, y_val, x_test, y_test`).
        build_model: a function returning a new uncompiled Keras model.
        loss: what `model.compile(loss=...)` takes.
        metric: the validation metric: a Keras metric name (`"accuracy"`,
            `"mse"`) or `"loss"` for the loss itself.
        direction: `"max"` (accuracy) or `"min"` (an error).
        target: the validation value to reach (`>=` for max, `<=` for min);
            None for a comparison without one (`optlab compare`: every
            trial trains its whole budget; a benchmark refuses it).
        max_epochs: the budget in epochs; `None` for no epoch limit.
        max_steps: the budget in optimizer steps, checked after each epoch
            (the validation metric is read once per epoch, so a run may end
            up to one epoch past it); `None` for no step limit.
        batch_size: the training batch size.
        quick: overrides for the quick variant, e.g. `{"max_epochs": 3,
            "target": 0.9}` (fields of this class).
        description: one line for tables and `--help`.
    """

    name: str
    load_data: object
    build_model: object
    loss: object
    metric: str
    direction: str
    target: float
    max_epochs: int = None
    max_steps: int = None
    batch_size: int = 64
    quick: dict = dataclasses.field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        self.check()

    def check(self):
        """A one-line ValueError naming the field and the value for a
        workload that cannot run; called on creation and before training."""
        if not isinstance(self.name, str) or not self.name or any(
                c in self.name for c in " ,/\\"):
            raise ValueError("A workload name is a non-empty string without "
                             "spaces, commas or slashes. Received: "
                             f"name={self.name!r}")
        for field in ("load_data", "build_model"):
            if not callable(getattr(self, field)):
                raise ValueError(
                    f"Workload {self.name!r}: {field} must be callable. "
                    f"Received: {field}={getattr(self, field)!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"Workload {self.name!r}: direction must be "
                             "'max' or 'min'. Received: "
                             f"direction={self.direction!r}")
        if self.target is not None and (not isinstance(
                self.target, (int, float)) or isinstance(
                self.target, bool) or not math.isfinite(self.target)):
            raise ValueError(f"Workload {self.name!r}: target must be a "
                             f"finite number. Received: target="
                             f"{self.target!r}")
        if self.max_epochs is None and self.max_steps is None:
            raise ValueError(
                f"Workload {self.name!r}: a budget needs max_epochs or "
                "max_steps. Received: max_epochs=None, max_steps=None")
        for field in ("max_epochs", "max_steps", "batch_size"):
            value = getattr(self, field)
            if value is None and field != "batch_size":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or \
                    value < 1:
                raise ValueError(f"Workload {self.name!r}: {field} must be "
                                 f"an integer >= 1. Received: {field}="
                                 f"{value!r}")
        unknown = sorted(set(self.quick) - set(QUICK_FIELDS))
        if unknown:
            raise ValueError(f"Workload {self.name!r}: quick may override "
                             f"{', '.join(QUICK_FIELDS)}. Received: quick key "
                             f"{unknown[0]!r}")

    def quick_variant(self):
        """The same workload with the `quick` overrides applied."""
        return dataclasses.replace(self, **self.quick, quick={})

    def reached(self, value):
        """True when a validation value meets the target (never without
        one)."""
        if self.target is None or value is None or not math.isfinite(value):
            return False
        if self.direction == "max":
            return value >= self.target
        return value <= self.target

    def better(self, a, b):
        """The better of two validation values (None or NaN loses)."""
        if a is None or not math.isfinite(a):
            return b
        if b is None or not math.isfinite(b):
            return a
        return max(a, b) if self.direction == "max" else min(a, b)

    def data(self):
        """The arrays, as a `Data`."""
        data = self.load_data()
        if not isinstance(data, Data):
            data = Data(*data)
        return data

    def check_budget(self, data):
        """A ValueError for a budget that cannot train: a batch larger than
        the training set."""
        if self.batch_size > len(data.x_train):
            raise ValueError(
                f"Workload {self.name!r}: batch_size={self.batch_size} is "
                f"larger than its {len(data.x_train)} training samples")

    def steps_per_epoch(self, samples):
        return math.ceil(samples / self.batch_size)


# --- the bundled data ----------------------------------------------------

@functools.lru_cache(maxsize=None)
def _digits():
    from keras_optlab.tuning import datasets

    d = datasets.load_dataset("digits", seed=SPLIT_SEED)
    flat = [a.reshape(len(a), -1) for a in (d.x_train, d.x_val, d.x_test)]
    return d, flat


def digits_images():
    """digits as 8x8x1 images in [0, 1], integer labels; the test part is
    `tuning.datasets`' fixed stratified fifth."""
    d, _ = _digits()
    return Data(d.x_train, d.y_train, d.x_val, d.y_val, d.x_test, d.y_test)


def digits_autoencoder_data():
    """digits flattened to 64 values in [0, 1]; the targets are the
    inputs."""
    _, (train, val, test) = _digits()
    return Data(train, train, val, val, test, test)


@functools.lru_cache(maxsize=None)
def mnist1d_data():
    """MNIST-1D (`tuning.datasets`): its own test split; 20% of its
    training part is the validation set."""
    from keras_optlab.tuning import datasets

    d = datasets.load_dataset("mnist1d", seed=SPLIT_SEED)
    return Data(d.x_train, d.y_train, d.x_val, d.y_val, d.x_test, d.y_test)


@functools.lru_cache(maxsize=None)
def diabetes_data():
    """scikit-learn's bundled diabetes data (442 patients, 10 features):
    20% test, then 20% of the rest validation (seed `SPLIT_SEED`); features
    and target standardised with the training part's mean and deviation,
    so an MSE of 1 is predicting the mean."""
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    x, y = load_diabetes(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, random_state=SPLIT_SEED)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.2, random_state=SPLIT_SEED)
    mx, sx = x_train.mean(0), x_train.std(0)
    my, sy = y_train.mean(), y_train.std()

    def fx(a):
        return ((a - mx) / sx).astype("float32")

    def fy(a):
        return ((a - my) / sy).astype("float32")[:, None]

    return Data(fx(x_train), fy(y_train), fx(x_val), fy(y_val), fx(x_test),
                fy(y_test))


# --- the bundled models --------------------------------------------------

def digits_mlp_model():
    from keras_optlab.tuning import models

    return models.mlp((8, 8, 1), 10, 0.0, units=(128, 64))


def mnist1d_cnn_model():
    from keras_optlab.tuning import models

    return models.conv1d_net((40, 1), 10, 0.0)


def mnist1d_gru_model():
    from keras_optlab.tuning import models

    return models.gru_net((40, 1), 10, 0.0)


def diabetes_model():
    import keras

    return keras.Sequential([
        keras.Input((10,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(1),
    ], name="diabetes_mlp")


def deep_sigmoid_model(depth=6, width=32):
    """A plain deep network: `depth` Dense-sigmoid layers, no
    normalisation, no skip connections, Glorot-uniform weights. Each
    sigmoid passes back at most a quarter of the gradient and its outputs
    are all positive, so the first layers barely move: on this budget Adam
    at 1e-2 climbs slowly, SGD with momentum at its defaults stays at
    chance. Six layers, not the twenty of the classic example: measured
    here, 8, 10 and 20 layers stayed at or near chance (validation
    accuracy at most 0.20) with Adam at learning rates 3e-4 to 1e-2 for
    25-40 epochs (benchmarks/BENCHMARK_TARGETS.md): a target no optimizer
    reaches scores nobody."""
    import keras

    layers = [keras.Input((8, 8, 1)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(width, activation="sigmoid")
               for _ in range(depth)]
    layers.append(keras.layers.Dense(10))
    return keras.Sequential(layers, name="deep_sigmoid")


def digits_autoencoder_model():
    import keras

    return keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(64, activation="sigmoid"),
    ], name="digits_autoencoder")


def _cross_entropy():
    import keras

    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def bundled():
    """The bundled workloads, `{name: Workload}` (built on each call: the
    loss objects are Keras objects, made fresh)."""
    ce = _cross_entropy()
    items = [
        Workload("digits_mlp", digits_images, digits_mlp_model, ce,
                 "accuracy", "max", 0.98, max_epochs=30, batch_size=64,
                 quick={"max_epochs": 5, "target": 0.95},
                 description="digits 8x8, MLP 128-64 (classification)"),
        Workload("mnist1d_cnn", mnist1d_data, mnist1d_cnn_model, ce,
                 "accuracy", "max", 0.90, max_epochs=40, batch_size=64,
                 quick={"max_epochs": 4, "target": 0.72},
                 description="MNIST-1D, the paper's 1-D CNN"),
        Workload("mnist1d_gru", mnist1d_data, mnist1d_gru_model, ce,
                 "accuracy", "max", 0.84, max_epochs=30, batch_size=64,
                 quick={"max_epochs": 3, "target": 0.45},
                 description="MNIST-1D, the paper's bidirectional GRU"),
        Workload("diabetes", diabetes_data, diabetes_model, "mse", "mse",
                 "min", 0.57, max_epochs=100, batch_size=32,
                 quick={"max_epochs": 15, "target": 0.60},
                 description="scikit-learn diabetes, MLP 32 (regression)"),
        Workload("deep_sigmoid", digits_images, deep_sigmoid_model, ce,
                 "accuracy", "max", 0.84, max_epochs=40, batch_size=64,
                 quick={"max_epochs": 8, "target": 0.24},
                 description="digits, 6 plain sigmoid layers (vanishing "
                             "gradients)"),
        Workload("digits_autoencoder", digits_autoencoder_data,
                 digits_autoencoder_model, "mse", "mse", "min", 0.022,
                 max_epochs=40, batch_size=64,
                 quick={"max_epochs": 6, "target": 0.042},
                 description="digits autoencoder 64-32-8-32-64 (MSE)"),
    ]
    return {w.name: w for w in items}


def names():
    return list(bundled())


#: Epochs of a recipe workload's quick variant (at most its own).
RECIPE_QUICK_EPOCHS = 3


def from_recipe(recipe, target):
    """A tuning recipe's problem as a workload (`optlab benchmark --recipe`):
    so a user benchmarks optimizers on their own data and model with the
    bundled workloads' method.

    Everything comes from the recipe: its data (`recipe.load_data()`: its
    train and validation split, and its held-out test set, which a trial
    scores once), its model at the recipe's fixed dropout with logits and
    cross-entropy, its search objective as the validation metric
    (`val_accuracy` -> accuracy, `val_loss` -> the loss) and direction, its
    `search.epochs` as the budget and the middle of `space.batch_sizes` as
    the batch size; the quick variant trains at most
    `RECIPE_QUICK_EPOCHS`. Only the target is the caller's: nobody knows
    what a new problem reaches before a tuned baseline has run (AlgoPerf
    sets its targets that way; see this module's docstring).

    The data are loaded here, once, so a recipe without a test set fails
    before any training.

    Args:
        recipe: a `Recipe` or a recipe file's path.
        target: the validation value to reach.

    Raises:
        ValueError: the recipe, its data or the target cannot make a
            workload (one line naming the field and the value).
    """
    from keras_optlab.tuning import recipes

    if not isinstance(recipe, recipes.Recipe):
        recipe = recipes.load_recipe(recipe)
    if recipe.name in bundled():
        raise ValueError(f"A recipe workload cannot take the name of a "
                         f"bundled workload. Received: name={recipe.name!r}")
    data = recipe.load_data()
    if not data.has_test:
        raise ValueError(
            f"{recipe.path or recipe.name}: a benchmark scores each trial's "
            "model once on a held-out test set, and this recipe's data have "
            "none: set `data.test_split` (or give the file x_test and "
            f"y_test). Received: data.test_split={recipe.test_split!r}")
    arrays = Data(data.x_train, data.y_train, data.x_val, data.y_val,
                  data.x_test, data.y_test)
    build_model = recipe.model_builder(data)
    recipes.check_model_fits(recipe, build_model)
    metric = recipe.objective.removeprefix("val_")
    workload = Workload(
        recipe.name, lambda: arrays, build_model, _cross_entropy(), metric,
        recipe.direction, target, max_epochs=recipe.epochs,
        batch_size=recipe.middle_batch_size,
        quick={"max_epochs": min(RECIPE_QUICK_EPOCHS, recipe.epochs)},
        description=f"recipe {recipe.name!r}: {recipe.model} on "
                    f"{os.path.basename(str(recipe.dataset))}")
    workload.check_budget(arrays)
    return workload


def get(name_or_workload, quick=False):
    """A bundled workload by name (or a `Workload`, returned as it is), its
    quick variant when `quick`; a ValueError naming the value for an
    unknown name."""
    if isinstance(name_or_workload, Workload):
        workload = name_or_workload
    else:
        found = bundled()
        if name_or_workload not in found:
            raise ValueError(f"Unknown workload (known: {', '.join(found)})"
                             f". Received: workload={name_or_workload!r}")
        workload = found[name_or_workload]
    return workload.quick_variant() if quick else workload
