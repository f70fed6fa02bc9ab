"""Comparing optimizers fairly: the same model, data, initial weights, data
order and learning-rate budget for each.

The model and data are the digits MLP by default, or those of a tuning
recipe (tuning/*.toml, see `keras_optlab.tuning.recipes`). For each
optimizer, every learning rate of its small grid is tried for the same
number of epochs; the best rate is the one with the highest validation
accuracy (ties: lower validation loss). The table reports the best run of
each optimizer; its learning curves are drawn, and every run is also a
TensorBoard run (`<log_dir>/<optimizer>/lr=<lr>/{train,validation}`).
"""

import dataclasses
import math
import os

import keras
import numpy as np

from keras_optlab import atomic
from keras_optlab.lab.landscape.trajectory import make_optimizer
from keras_optlab.optimizers import keras_builtins
from keras_optlab.optimizers import validation
from keras_optlab.tuning import recipes
from keras_optlab.tuning import space as space_module

# A learning-rate budget of three per optimizer, around where each family
# trains a small MLP on the digits. A property of that task, not of the
# optimizers: their own defaults and search ranges are in their
# hyperparameter tables (keras_optlab/optimizers/spec.py), which
# `learning_rate_range` reads.
DEFAULT_GRIDS = {
    "sgd": (0.3, 0.1, 0.03),
    "adaptive": (0.03, 0.01, 0.003),
    "adam": (0.01, 0.003, 0.001),
}
SPECIAL_GRIDS = {"adadelta": (3.0, 1.0, 0.3), "adagrad": (0.3, 0.1, 0.03),
                 # Lion's sign step moves every weight by lr: 3-10x below
                 # Adam's rates.
                 "lion": (1e-3, 3e-4, 1e-4)}

DIGITS_TARGET = 0.95


def _registered(name):
    """The registry row whose grid and range `name` uses, or None (a Keras
    optimizer with no rule of ours)."""
    info = keras_builtins.resolve(name)
    if keras_builtins.is_keras_name(name):
        return info.same_rule
    return info


def default_grid(name):
    """The learning rates tried for an optimizer name on the digits MLP."""
    info = _registered(name)
    if info is None:
        return DEFAULT_GRIDS["adam"]
    return SPECIAL_GRIDS.get(info.name, DEFAULT_GRIDS[info.family])


def learning_rate_range(name, search_space=None):
    """The search range of an optimizer's learning rate (a log-scale
    `FloatRange`), from `keras_optlab.tuning.space`: the recipe's own range
    when `search_space` (a recipe's `SearchSpace`) sets one, else the range
    `optlab tune` searches for that optimizer. A Keras optimizer gets the
    range of the registered optimizer of the same rule (`keras:Adam` that of
    `adam`, `keras:SGD` that of `gradient_descent`), else the default."""
    info = _registered(name)
    if info is None:
        return space_module.DEFAULT_LEARNING_RATE_RANGE
    if search_space is not None and info.name in search_space.optimizers:
        return search_space.arguments(info.name)[space_module.LEARNING_RATE]
    return space_module.default_learning_rate_range(info)


def log_grid(value_range, count=3):
    """`count` learning rates spread evenly over a log-scale range, away
    from its ends: for three, its quartiles in log space (1e-5..1e-1 gives
    1e-4, 1e-3, 1e-2), rounded to two significant digits."""
    count = validation.check_int("count", count, 1)
    low, high = math.log10(value_range.low), math.log10(value_range.high)
    return tuple(
        float(f"{10 ** (low + (high - low) * (i + 1) / (count + 1)):.2g}")
        for i in range(count))


def learning_rate_grid(name, recipe=None, count=3):
    """The learning rates tried for one optimizer: `default_grid(name)` on
    the digits MLP; with a recipe, `count` rates from that optimizer's own
    range (`learning_rate_range`), so each optimizer gets the same budget
    over the range where it trains."""
    if recipe is None:
        return default_grid(name)
    return log_grid(learning_rate_range(name, recipe.space), count)


def digits_data(seed=0):
    """scikit-learn's 8x8 digits in [0, 1]: a stratified 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int32")
    return train_test_split(x, y, test_size=0.2, random_state=seed,
                            stratify=y)


def digits_model():
    return keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


@dataclasses.dataclass
class Problem:
    """What every optimizer trains on.

    Attributes:
        data: `(x_train, y_train, x_val, y_val)`, integer labels.
        build_model: a function returning a new uncompiled model.
        loss: the compiled loss.
    """

    data: tuple
    build_model: object
    loss: object


def digits_problem(seed=0):
    """The digits MLP (64 hidden units, softmax) on a stratified split."""
    return Problem(tuple(digits_data(seed)[i] for i in (0, 2, 1, 3)),
                   digits_model, "sparse_categorical_crossentropy")


def recipe_problem(recipe, data=None):
    """A recipe's dataset (`recipe.load_data()`, split with its seed, unless
    `data` is given) and bundled model (logits, trained with cross-entropy
    from logits)."""
    data = recipe.load_data() if data is None else data
    return Problem(
        (data.x_train, data.y_train, data.x_val, data.y_val),
        recipe.model_builder(data),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def as_recipe(recipe):
    """A `Recipe`, or a recipe file's path loaded and checked."""
    if recipe is None or isinstance(recipe, recipes.Recipe):
        return recipe
    return recipes.load_recipe(recipe)


@dataclasses.dataclass
class Run:
    """One (optimizer, learning rate) training run."""

    optimizer: str
    learning_rate: float
    val_accuracy: list  # per epoch
    val_loss: list
    epoch_seconds: list  # training only, the first epoch's tracing included
    train_loss: list = dataclasses.field(default_factory=list)

    @classmethod
    def from_record(cls, optimizer, learning_rate, record):
        """The run of a benchmark trial's record (its per-epoch curve)."""
        curve = record["curve"]

        def column(index):  # a record keeps a non-finite value as None
            return [math.nan if point[index] is None else point[index]
                    for point in curve]

        elapsed = [0.0] + column(1)
        return cls(optimizer, float(learning_rate), column(2), column(4),
                   [b - a for a, b in zip(elapsed, elapsed[1:])], column(3))

    @property
    def best_accuracy(self):
        return max(self.val_accuracy)

    @property
    def best_loss(self):
        return min(self.val_loss)

    def epochs_to(self, target):
        """First epoch (1-based) with val accuracy >= target, or None."""
        for epoch, accuracy in enumerate(self.val_accuracy, start=1):
            if accuracy >= target:
                return epoch
        return None

    def seconds_to(self, target):
        epochs = self.epochs_to(target)
        return None if epochs is None else sum(self.epoch_seconds[:epochs])


def compare(names, learning_rates=None, epochs=None, batch_size=None,
            target_accuracy=None, log_dir=None, seed=None, recipe=None):
    """Trains the same model with each optimizer under the same budget.

    Every run starts from the same initial weights and sees the data in the
    same order (the same seed before each run); each optimizer gets as many
    learning rates as the others.

    Args:
        names: registered optimizer names or `"keras:<Class>"`.
        learning_rates: one grid for every optimizer; None uses
            `learning_rate_grid(name, recipe)` (three rates per optimizer).
        epochs: per run, >= 1. Defaults to the recipe's `search.epochs`,
            or 10.
        batch_size: >= 1. Defaults to `recipe.middle_batch_size`, or 64.
        target_accuracy: checked here for the caller's table (see
            `resolve_target`): a number in (0, 1], `"auto"` or None.
        log_dir: where TensorBoard runs go; None writes none.
        seed: initial weights and data order (and the digits split).
            Defaults to the recipe's `search.seed`, or 0.
        recipe: a `Recipe` or a recipe file's path: its dataset, model and
            learning-rate ranges replace the digits MLP's. None: digits.

    Returns:
        (best, runs): the best `Run` per optimizer name, and all runs.

    Raises:
        ValueError: bad arguments, an unknown optimizer, or a bad recipe or
            dataset (`RecipeError`, `DatasetError`), before any training.
    """
    problem, grids, epochs, batch_size, seed = prepare(
        names, learning_rates, epochs, batch_size, target_accuracy, seed,
        recipe)
    return train_all(problem, grids, epochs, batch_size, log_dir, seed)


def prepare(names, learning_rates=None, epochs=None, batch_size=None,
            target_accuracy=None, seed=None, recipe=None):
    """Everything `compare` checks and loads before it trains (arguments as
    there): returns `(problem, grids, epochs, batch_size, seed)`. The
    model is built once on the data, so a model that does not fit the data
    fails here too."""
    recipe = as_recipe(recipe)
    epochs, batch_size, seed = settings(recipe, epochs, batch_size, seed)
    check_target(target_accuracy)
    names = list(names)
    keras_builtins.check_names(names)
    if learning_rates:
        learning_rates = tuple(
            validation.check_range("learning_rates", lr, 0.0, None, "()")
            for lr in learning_rates)
    grids = {name: learning_rates or learning_rate_grid(name, recipe)
             for name in names}
    for name, grid in grids.items():
        for lr in grid:
            make_optimizer(name, lr)
    problem = recipe_problem(recipe) if recipe else digits_problem(seed)
    if recipe:
        recipes.check_model_fits(recipe, problem.build_model)
    return problem, grids, epochs, batch_size, seed


def settings(recipe=None, epochs=None, batch_size=None, seed=None):
    """`(epochs, batch_size, seed)`, checked; None takes the recipe's
    (`search.epochs`, `Recipe.middle_batch_size`, `search.seed`), or 10, 64 and 0
    for the digits MLP."""
    defaults = ((recipe.epochs, recipe.middle_batch_size, recipe.seed)
                if recipe else (10, 64, 0))
    return (
        validation.check_int("epochs",
                             defaults[0] if epochs is None else epochs, 1),
        validation.check_int(
            "batch_size", defaults[1] if batch_size is None else batch_size,
            1),
        validation.check_int("seed", defaults[2] if seed is None else seed,
                             0),
    )


def describe(recipe=None):
    """One line on the model and data a comparison trains."""
    if recipe is None:
        return "Digits MLP (64 hidden units), stratified 80/20 split"
    options = ", ".join(
        f"{key}={list(value) if isinstance(value, tuple) else value}"
        for key, value in recipe.model_options.items())
    dataset = os.path.basename(recipe.dataset)
    limit = (f", at most {recipe.max_samples} samples"
             if recipe.max_samples else "")
    return (f"Recipe {recipe.name!r}: {recipe.model} model"
            f"{f' ({options})' if options else ''}, dropout "
            f"{recipe.fixed_dropout:g}, on {dataset} (validation split "
            f"{recipe.validation_split:g}{limit})")


def train_all(problem, grids, epochs, batch_size, log_dir=None, seed=0,
              out=None, problem_name="digits", progress=None):
    """Trains `problem` once per (optimizer, learning rate) of `grids`
    (`{name: rates}`); returns `(best, runs)` as `compare` does.

    Each run is one trial of the benchmark (`keras_optlab.lab.benchmark.
    run.train_trial`, the one training loop of the lab) on the problem as a
    workload without a target, so every run trains all `epochs`; the
    trial's seed fixes the initial weights and the data order, the same
    for every run. A comparison is a view of those trials: the best rate
    per optimizer, its table and curves, and a TensorBoard run per trial
    (`write_tensorboard_run`).

    With `out`, every finished run is also a line of `<out>/records.jsonl`
    (rewritten atomically after each run), and a rerun takes the runs it
    finds there with the same optimizer, learning rate, epochs, batch size,
    seed and `problem_name` instead of training them again: an interrupted
    comparison resumes where it stopped. `progress` is called with one line
    per run."""
    from keras_optlab.lab.benchmark import run as benchmark_run
    from keras_optlab.lab.benchmark import workloads

    x_train, y_train, x_val, y_val = problem.data
    data = workloads.Data(x_train, y_train, x_val, y_val, None, None)
    workload = workloads.Workload(
        "compare", lambda: data, problem.build_model, problem.loss,
        "accuracy", "max", None, max_epochs=epochs, batch_size=batch_size)
    records = []
    if out is not None:
        os.makedirs(out, exist_ok=True)
        records = benchmark_run.load_records(out)
    done = {_record_key(r): r for r in records}
    todo = [(name, float(lr)) for name, grid in grids.items() for lr in grid]
    runs = []
    for number, (name, lr) in enumerate(todo, 1):
        record = done.get(_run_key(name, lr, epochs, batch_size, seed,
                                   problem_name))
        resumed = record is not None
        if not resumed:
            keras.utils.clear_session()
            record = dict(
                benchmark_run.train_trial(workload, name,
                                          {"learning_rate": lr}, seed=seed,
                                          data=data),
                optimizer=name, learning_rate=lr, batch_size=batch_size,
                problem=problem_name)
            if out is not None:
                records.append(record)
                benchmark_run.write_records(out, records)
        run = Run.from_record(name, lr, record)
        runs.append(run)
        if log_dir is not None and not (resumed and os.path.isdir(
                run_dir(log_dir, name, lr))):
            write_tensorboard_run(log_dir, run)
        if progress is not None:
            progress(f"[{number}/{len(todo)}] {name} lr {lr:g}: best val "
                     f"accuracy {run.best_accuracy:.4f}"
                     + (" (from records.jsonl)" if resumed else ""))
    best = {}
    for run in runs:
        held = best.get(run.optimizer)
        if held is None or (run.best_accuracy, -run.best_loss) > (
                held.best_accuracy, -held.best_loss):
            best[run.optimizer] = run
    return best, runs


def _run_key(optimizer, learning_rate, epochs, batch_size, seed, problem):
    """What makes two compare runs the same run."""
    return (optimizer, learning_rate, epochs, batch_size, seed, problem)


def _record_key(record):
    return _run_key(record.get("optimizer"), record.get("learning_rate"),
                    record.get("max_epochs"), record.get("batch_size"),
                    record.get("seed"), record.get("problem"))


def write_tensorboard_run(log_dir, run):
    """One run's curves where Keras' `TensorBoard` callback would put them:
    `run_dir(...)/validation` (`epoch_accuracy`, `epoch_loss`) and
    `/train` (`epoch_loss`), one point per epoch from 0."""
    import tensorflow as tf

    directory = run_dir(log_dir, run.optimizer, run.learning_rate)
    series = {
        "validation": {"epoch_accuracy": run.val_accuracy,
                       "epoch_loss": run.val_loss},
        "train": {"epoch_loss": run.train_loss},
    }
    for split, tags in series.items():
        writer = tf.summary.create_file_writer(os.path.join(directory,
                                                            split))
        with writer.as_default():
            for tag, values in tags.items():
                for epoch, value in enumerate(values):
                    tf.summary.scalar(tag, value, step=epoch)
        writer.close()
    return directory


def run_dir(log_dir, name, learning_rate):
    """The TensorBoard run of one (optimizer, learning rate)."""
    return os.path.join(log_dir, name.replace(":", "_"),
                        f"lr={learning_rate:g}")


def check_target(target):
    """None, `"auto"`, or a validation accuracy in (0, 1]."""
    if target is None or target == "auto":
        return target
    if isinstance(target, str):
        raise ValueError('`target_accuracy` must be a number in (0, 1] or '
                         f'"auto". Received: target_accuracy={target!r}')
    return validation.check_range("target_accuracy", target, 0.0, 1.0, "(]")


def resolve_target(target, best, recipe=None):
    """The validation accuracy that "epochs and seconds to target" measure.

    A number is used as given. `"auto"` (None's meaning with a recipe, whose
    reachable accuracy nobody knows beforehand) is the lowest of the
    optimizers' best validation accuracies, rounded down to 0.01: the
    highest level every optimizer reaches, so each gets a time to compare.
    None without a recipe is `DIGITS_TARGET` (0.95), which the digits MLP
    reaches in a few epochs.

    Returns:
        (target, how): the accuracy and a few words on how it was chosen.
    """
    check_target(target)
    if target is None and recipe is None:
        return DIGITS_TARGET, "default for the digits MLP"
    if target is None or target == "auto":
        lowest = min(run.best_accuracy for run in best.values())
        rounded = math.floor(lowest * 100) / 100
        return (rounded if rounded > 0 else lowest,
                "auto: the lowest best validation accuracy among the "
                "optimizers, rounded down to 0.01, so every optimizer "
                "reaches it")
    return float(target), "given"


def format_table(best, target_accuracy):
    """A Markdown table of the best run per optimizer."""
    lines = [
        f"| optimizer | best lr | best val accuracy | best val loss | "
        f"epochs to {target_accuracy:g} | seconds to {target_accuracy:g} |",
        "|---|---|---|---|---|---|",
    ]
    for name, run in best.items():
        epochs = run.epochs_to(target_accuracy)
        seconds = run.seconds_to(target_accuracy)
        lines.append(
            f"| `{name}` | {run.learning_rate:g} | {run.best_accuracy:.4f} "
            f"| {run.best_loss:.4f} | {epochs if epochs else '-'} | "
            f"{f'{seconds:.2f}' if seconds is not None else '-'} |")
    return "\n".join(lines)


def edge_notes(best, runs):
    """A line per optimizer whose winning rate is the smallest or largest it
    tried: its best rate may lie outside the budget."""
    notes = []
    for name, run in best.items():
        tried = sorted(r.learning_rate for r in runs if r.optimizer == name)
        if len(tried) > 1 and run.learning_rate in (tried[0], tried[-1]):
            end = "largest" if run.learning_rate == tried[-1] else "smallest"
            notes.append(f"`{name}` won with the {end} learning rate it "
                         f"tried ({run.learning_rate:g}); its best rate may "
                         "lie beyond the grid.")
    return notes


def plot_curves(best, path):
    """Validation accuracy and loss per epoch of each best run, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4), dpi=90)
    for index, (name, run) in enumerate(best.items()):
        epochs = np.arange(1, len(run.val_accuracy) + 1)
        label = f"{name} (lr {run.learning_rate:g})"
        left.plot(epochs, run.val_accuracy, "-o", ms=3, color=f"C{index}",
                  label=label)
        right.plot(epochs, run.val_loss, "-o", ms=3, color=f"C{index}",
                   label=label)
    left.set_title("validation accuracy", fontsize=10)
    right.set_title("validation loss", fontsize=10)
    right.set_yscale("log")
    for axes in (left, right):
        axes.set_xlabel("epoch")
        axes.legend(fontsize=8)
    figure.tight_layout()
    atomic.write_atomically(path, figure.savefig)
    pyplot.close(figure)
    return path
