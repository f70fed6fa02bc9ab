"""Search recipes: small TOML files saying what to search and on what data.

Every field is checked when the recipe is loaded, before any data is read or
any model trained; a bad field raises `RecipeError` with one line naming the
file, the field and the value, e.g.

    tuning/x.toml: `space.learning_rate.adam` is an empty range (min 0.1 >
    max 0.001). Received: space.learning_rate.adam=[0.1, 0.001]

The fields (all optional except where said; see tuning/digits.toml):

    name = "digits"                 # project name; the file's stem by default
    description = "..."

    [data]
    dataset = "digits"              # see keras_optlab.tuning.datasets; paths
                                    # are relative to the recipe's folder
    validation_split = 0.2
    test_split = 0.2                # held-out test fraction (stratified,
                                    # fixed seed) for data without a test
                                    # split; digits: 0.2 by default
    folds = 5                       # K-fold cross-validation (K >= 2)
                                    # instead of the validation split
    label_column = "label"          # CSV: header name or 0-based index
    max_samples = 5000              # cap on training/validation samples
    [data.synthetic]                # options of datasets.synthetic_images
    samples = 2000
    image_size = 32
    num_classes = 10

    [model]
    kind = "mlp"                    # "mlp", "conv", "conv1d" or "gru"
    units = [128, 64]               # MLP hidden widths; GRU cells per
                                    # direction, per layer
    filters = [16, 32]              # conv / conv1d filters per block
    dense_units = 64                # conv net dense width

    [search]
    tuner = "random"                # random, bayesian, hyperband, grid
    max_trials = 10
    epochs = 10                     # the most epochs of a trial
    objective = "val_accuracy"
    direction = "max"               # inferred for accuracy and loss names
    seed = 1
    initial_points = 8              # bayesian: random trials before the
                                    # Gaussian process (Keras Tuner's
                                    # default is 3 per hyperparameter)
    hyperband_iterations = 4        # hyperband: how many times its
                                    # brackets run (Keras Tuner's default
                                    # is 1); more use a longer budget
    baseline = true                 # then each optimizer at its defaults
                                    # (keras_optlab/tuning/baseline.py)
    refit = true                    # the best configuration retrained on
                                    # training + validation data for the
                                    # epochs its trial chose; that model is
                                    # saved and tested (always with folds)

    [space]
    optimizers = ["momentum", "adam"]   # registry names, or keras:<name>
                                        # for Keras' own; all by default
    batch_sizes = [32, 64, 128]
    dropout = [0.0, 0.5]            # a range, or one number to fix it
    conditional = ["momentum", "beta_2", "epsilon", "weight_decay"]
    [space.learning_rate]           # per optimizer, [min, max], log scale
    adam = [1e-4, 1.0]
    [space.epsilon]                 # also momentum, weight_decay: [min, max]
    adam = [1e-8, 1.0]
    [space.beta_2]                  # choices
    adam = [0.99, 0.999]

    [early_stopping]
    enabled = true
    patience = 3

    [pruning]
    enabled = true
    n_startup_trials = 3
    n_warmup_steps = 2
"""

import dataclasses
import functools
import math
import os
import tomllib

from keras_tuner.engine import metrics_tracking

from keras_optlab import optimizers
from keras_optlab.optimizers import keras_builtins
from keras_optlab import intervals
from keras_optlab.tuning import datasets
from keras_optlab.tuning import folds as folds_module
from keras_optlab.tuning import models
from keras_optlab.tuning import space as space_module
from keras_optlab.tuning.tuners import TUNERS


class RecipeError(ValueError):
    """A recipe that cannot run; the message is one line."""


# argument -> sampling of its [min, max] range in the recipe ("choices" for
# a list of values), from the optimizers' hyperparameter tables.
RANGE_KINDS = space_module.search_kinds()

FIELDS = {
    "": {"name", "description", "data", "model", "search", "space",
         "early_stopping", "pruning"},
    "data": {"dataset", "validation_split", "test_split", "folds",
             "label_column", "max_samples", "synthetic"},
    "data.synthetic": {"samples", "image_size", "num_classes", "noise"},
    "model": {"kind", "units", "filters", "dense_units"},
    "search": {"tuner", "max_trials", "epochs", "objective", "direction",
               "seed", "initial_points", "hyperband_iterations", "baseline",
               "refit"},
    "space": {"optimizers", "batch_sizes", "dropout", "conditional"}
    | set(RANGE_KINDS),
    "early_stopping": {"enabled", "patience"},
    "pruning": {"enabled", "n_startup_trials", "n_warmup_steps"},
}


@dataclasses.dataclass
class Recipe:
    """A checked recipe. `path` is where it came from (or `None`)."""

    name: str
    path: str = None
    description: str = ""
    dataset: str = "digits"
    validation_split: float = 0.2
    test_split: float = None
    folds: int = None
    label_column: object = None
    max_samples: int = None
    synthetic: dict = dataclasses.field(default_factory=dict)
    model: str = "mlp"
    model_options: dict = dataclasses.field(default_factory=dict)
    tuner: str = "random"
    max_trials: int = 10
    epochs: int = 10
    objective: str = "val_accuracy"
    direction: str = "max"
    seed: int = 1
    initial_points: int = None
    hyperband_iterations: int = None
    baseline: bool = True
    refit: bool = True
    space: space_module.SearchSpace = None
    early_stopping: bool = True
    patience: int = 3
    pruning: bool = True
    n_startup_trials: int = 3
    n_warmup_steps: int = 2

    def load_data(self):
        return datasets.load_dataset(
            self.dataset, validation_split=self.validation_split,
            label_column=self.label_column, max_samples=self.max_samples,
            seed=self.seed, synthetic=self.synthetic,
            test_split=self.test_split)

    @property
    def fixed_dropout(self):
        """The dropout rate of the recipe's model outside a search:
        `space.dropout` when it is a number; for a range, the value a
        search starts from (the middle)."""
        dropout = self.space.dropout
        if isinstance(dropout, space_module.FloatRange):
            return dropout.default
        return float(dropout)

    @property
    def middle_batch_size(self):
        """The middle of `space.batch_sizes` (the lower of the two middle
        ones for an even count): the batch size outside a search."""
        sizes = sorted(self.space.batch_sizes)
        return sizes[(len(sizes) - 1) // 2]

    def model_builder(self, data):
        """A function returning a new, uncompiled model of the recipe for
        `data` (a loaded dataset: its input shape and classes) at
        `fixed_dropout`; its outputs are logits."""
        return functools.partial(
            models.MODELS[self.model], data.input_shape, data.num_classes,
            self.fixed_dropout, **self.model_options)


class _Checker:
    """Reads fields out of the parsed TOML, raising one-line errors."""

    def __init__(self, path):
        self.path = path

    def fail(self, field, problem, value):
        text = _toml_text(value)
        raise RecipeError(f"{self.path}: `{field}` {problem}. "
                          f"Received: {field}={text}")

    def table(self, document, section):
        table = document
        if section:
            for part in section.split("."):
                table = table.get(part, {})
            if not isinstance(table, dict):
                self.fail(section, "must be a table", table)
        for key in table:
            field = f"{section}.{key}" if section else key
            if key not in FIELDS[section]:
                known = ", ".join(sorted(FIELDS[section]))
                self.fail(field, f"is not a known field (known: {known})",
                          table[key])
        return table

    def string(self, table, section, key, default, choices=None):
        value = table.get(key, default)
        field = f"{section}.{key}" if section else key
        if not isinstance(value, str) or not value:
            self.fail(field, "must be a non-empty string", value)
        if choices is not None and value not in choices:
            self.fail(field, f"must be one of {', '.join(choices)}", value)
        return value

    def integer(self, table, section, key, default, low, high=None):
        value = table.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) \
                or value < low or (high is not None and value > high):
            want = (f">= {low}" if high is None
                    else f"in [{low}, {high}]")
            self.fail(f"{section}.{key}", f"must be an integer {want}",
                      value)
        return value

    def number(self, table, section, key, default, low, high,
               closed="[]"):
        value = table.get(key, default)
        field = f"{section}.{key}"
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            self.fail(field, "must be a number", value)
        if not intervals.in_interval(value, low, high, closed):
            self.fail(field, "must be in "
                      f"{intervals.describe_interval(low, high, closed)}",
                      value)
        return float(value)

    def boolean(self, table, section, key, default):
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"{section}.{key}", "must be true or false", value)
        return value

    def int_list(self, table, section, key, default, low, high):
        value = table.get(key, default)
        field = f"{section}.{key}"
        if not isinstance(value, list) or not value or len(value) > 64 or any(
                isinstance(v, bool) or not isinstance(v, int) or v < low
                or v > high for v in value):
            self.fail(field, "must be a list of 1 to 64 integers in "
                      f"[{low}, {high}]", value)
        return value

    def float_range(self, value, field, sampling, low=None, high=None,
                    closed="[]"):
        if not (isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                and math.isfinite(v) for v in value)):
            self.fail(field, "must be a range [min, max] of two numbers",
                      value)
        lo, hi = float(value[0]), float(value[1])
        if lo > hi:
            self.fail(field, f"is an empty range (min {value[0]} > max "
                      f"{value[1]})", value)
        if sampling == "log" and lo <= 0:
            self.fail(field, "is searched on a log scale, so min must be > 0",
                      value)
        if not (intervals.in_interval(lo, low, high, closed)
                and intervals.in_interval(hi, low, high, closed)):
            self.fail(field, "must lie within "
                      f"{intervals.describe_interval(low, high, closed)}",
                      value)
        return space_module.FloatRange(lo, hi, sampling)


def check_model_fits(recipe, build_model):
    """Builds the model once (no training) and raises `RecipeError` when
    the recipe's model does not fit its data (a conv net on flat CSV rows,
    more pooling than the image has pixels)."""
    import keras

    try:
        build_model()
    except (ValueError, TypeError) as error:
        problem = " ".join(str(error).split())[:300]
        raise RecipeError(
            f"{recipe.path}: `model.kind` = \"{recipe.model}\" does not fit "
            f"the data ({problem}). Received: model.kind=\"{recipe.model}\""
        ) from None
    finally:
        keras.utils.clear_session(free_memory=False)


def _toml_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{...}"
    return repr(value)


# Upper bounds that keep a typo (units = [1000000000]) from exhausting the
# memory while the model is built or the data generated.
MAX_WIDTH = 65536
SYNTHETIC_BYTES = 4 * 2**30

def load_recipe(path):
    """Reads and checks a recipe file; returns a `Recipe`."""
    path = str(path)
    if not os.path.isfile(path):
        raise RecipeError(f"Recipe file not found. Received: recipe={path!r}")
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except UnicodeDecodeError as error:
        raise RecipeError(f"{path}: not UTF-8 text, as TOML must be "
                          f"({error.reason} at byte {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(f"{path}: malformed TOML: {error}") from None
    except OSError as error:
        raise RecipeError(f"{path}: cannot read the recipe: "
                          f"{error.strerror}") from None
    return recipe_from_dict(document, path)


def recipe_from_dict(document, path="<recipe>"):
    """Checks a parsed recipe; see the module docstring for the fields."""
    check = _Checker(path)
    top = check.table(document, "")
    default_name = os.path.splitext(os.path.basename(path))[0] \
        if path != "<recipe>" else "search"
    name = check.string(top, "", "name", default_name)
    if not name.replace("_", "").replace("-", "").isalnum():
        check.fail("name", "may hold only letters, digits, - and _", name)
    description = top.get("description", "")
    if not isinstance(description, str):
        check.fail("description", "must be a string", description)

    data = check.table(document, "data")
    dataset = check.string(data, "data", "dataset", "digits")
    if not datasets.is_known(dataset):
        check.fail("data.dataset", "is not a known dataset (known: "
                   f"{', '.join(datasets.BUILTIN)}, or a .npz or .csv file)",
                   dataset)
    if dataset.lower().endswith(datasets.FILE_SUFFIXES):
        base = os.path.dirname(os.path.abspath(path)) \
            if path != "<recipe>" else os.getcwd()
        resolved = os.path.join(base, os.path.expanduser(dataset))
        if os.path.isdir(resolved):
            check.fail("data.dataset", f"is a directory ({resolved}); "
                       "expected a .npz or .csv file", dataset)
        if not os.path.isfile(resolved):
            check.fail("data.dataset", f"is not a file ({resolved} does not "
                       "exist)", dataset)
        dataset = resolved
    validation_split = check.number(data, "data", "validation_split", 0.2,
                                    0.0, 1.0, "()")
    test_split = None
    if "test_split" in data:
        test_split = check.number(data, "data", "test_split", None, 0.0,
                                  1.0, "[)")
        if test_split and dataset == "mnist1d":
            check.fail("data.test_split", "does not apply to dataset = "
                       '"mnist1d" (it has its own test split)', test_split)
    folds = check.integer(data, "data", "folds", None, 2,
                          folds_module.MAX_FOLDS)
    label_column = data.get("label_column")
    if label_column is not None and (isinstance(label_column, bool) or
                                     not isinstance(label_column, (str, int))):
        check.fail("data.label_column", "must be a column name or index",
                   label_column)
    max_samples = check.integer(data, "data", "max_samples", None, 2)
    synthetic_table = check.table(document, "data.synthetic")
    synthetic = {}
    for key, low, high in (("samples", 10, 10**6), ("image_size", 4, 1024),
                           ("num_classes", 2, 1000)):
        if key in synthetic_table:
            synthetic[key] = check.integer(synthetic_table, "data.synthetic",
                                           key, None, low, high)
    image_bytes = (synthetic.get("samples", 2000)
                   * synthetic.get("image_size", 32) ** 2 * 3 * 4)
    if image_bytes > SYNTHETIC_BYTES:
        check.fail("data.synthetic", "would take "
                   f"{image_bytes / 2**30:.1f} GiB (samples x image_size^2 "
                   f"x 3 x 4 bytes; at most {SYNTHETIC_BYTES / 2**30:g} GiB)",
                   synthetic_table)
    if "noise" in synthetic_table:
        synthetic["noise"] = check.number(synthetic_table, "data.synthetic",
                                          "noise", None, 0.0, 10.0)

    model_table = check.table(document, "model")
    kind = check.string(model_table, "model", "kind", "mlp",
                        tuple(models.MODELS))
    model_options = {}
    if "units" in model_table:
        model_options["units"] = tuple(
            check.int_list(model_table, "model", "units", None, 1,
                           MAX_WIDTH))
    if "filters" in model_table:
        model_options["filters"] = tuple(
            check.int_list(model_table, "model", "filters", None, 1,
                           MAX_WIDTH))
    if "dense_units" in model_table:
        model_options["dense_units"] = check.integer(
            model_table, "model", "dense_units", None, 1, MAX_WIDTH)
    for key in model_options:
        if key not in models.OPTIONS[kind]:
            check.fail(f"model.{key}", f"does not apply to model.kind="
                       f'"{kind}"', model_table[key])

    search = check.table(document, "search")
    tuner = check.string(search, "search", "tuner", "random", tuple(TUNERS))
    max_trials = check.integer(search, "search", "max_trials", 10, 1)
    epochs = check.integer(search, "search", "epochs", 10, 1)
    objective = check.string(search, "search", "objective", "val_accuracy")
    direction = search.get("direction")
    if direction is None:
        direction = metrics_tracking.infer_metric_direction(objective)
        if direction is None:
            check.fail("search.objective", "has no known direction: set "
                       'search.direction = "max" or "min"', objective)
    elif direction not in ("max", "min"):
        check.fail("search.direction", 'must be "max" or "min"', direction)
    # numpy's legacy seeding (keras.utils.set_random_seed) takes < 2**32.
    seed = check.integer(search, "search", "seed", 1, 0, 2**32 - 1)
    initial_points = check.integer(search, "search", "initial_points", None,
                                   1)
    if folds is not None and tuner == "hyperband":
        check.fail("data.folds", 'does not apply to search.tuner = '
                   '"hyperband" (its brackets resume trials from '
                   "checkpoints, one model per trial)", folds)
    refit = check.boolean(search, "search", "refit", True)
    if folds is not None and not refit:
        check.fail("search.refit", "must be true with data.folds (a "
                   "cross-validated search keeps no trial's model; its best "
                   "configuration is always retrained)", refit)
    if initial_points is not None and tuner != "bayesian":
        check.fail("search.initial_points", 'applies only to tuner = '
                   '"bayesian"', initial_points)
    hyperband_iterations = check.integer(search, "search",
                                         "hyperband_iterations", None, 1)
    if hyperband_iterations is not None and tuner != "hyperband":
        check.fail("search.hyperband_iterations", 'applies only to tuner = '
                   '"hyperband"', hyperband_iterations)

    space_table = check.table(document, "space")
    known = [info.name for info in optimizers.available()]
    names = space_table.get("optimizers", known)
    if not isinstance(names, list) or not names:
        check.fail("space.optimizers", "must be a non-empty list of "
                   "optimizer names", names)
    for item in names:
        if keras_builtins.is_keras_name(item):
            try:
                keras_builtins.lookup(item)
            except ValueError:
                check.fail("space.optimizers", "names an unknown Keras "
                           f"optimizer (known: "
                           f"{', '.join(keras_builtins.names())})", item)
        elif item not in known:
            check.fail("space.optimizers", "names an unknown optimizer "
                       f"(known: {', '.join(known)}, or keras:<name>)", item)
    if len(set(names)) != len(names):
        check.fail("space.optimizers", "lists an optimizer twice", names)
    batch_sizes = check.int_list(space_table, "space", "batch_sizes",
                                 [32, 64, 128], 1, 2**20)
    dropout = space_table.get("dropout", [0.0, 0.5])
    if isinstance(dropout, list):
        dropout = check.float_range(dropout, "space.dropout", "linear",
                                    0.0, 0.95)
    else:
        dropout = check.number(space_table, "space", "dropout", None, 0.0,
                               0.95)
    conditional = space_table.get("conditional")
    if conditional is not None:
        if not isinstance(conditional, list):
            check.fail("space.conditional", "must be a list", conditional)
        for item in conditional:
            known_arguments = space_module.conditional_names()
            if item not in known_arguments:
                check.fail("space.conditional", "names an unknown "
                           "hyperparameter (known: " + ", ".join(
                               known_arguments) + ")", item)
    space = space_module.SearchSpace(optimizers=names, batch_sizes=batch_sizes,
                                     dropout=dropout, conditional=conditional)
    ranges = {}
    for argument, sampling in RANGE_KINDS.items():
        table = space_table.get(argument)
        if table is None:
            continue
        if not isinstance(table, dict):
            check.fail(f"space.{argument}", "must be a table of optimizer "
                       "name = range", table)
        for optimizer, value in table.items():
            field = f"space.{argument}.{optimizer}"
            if optimizer not in names:
                check.fail(field, "names an optimizer not in "
                           "space.optimizers", optimizer)
            if argument != "learning_rate" and \
                    argument not in space.arguments(optimizer):
                check.fail(field, f"is not searched for {optimizer} (it "
                           f"searches: {', '.join(space.arguments(optimizer))})",
                           value)
            # The bounds the optimizer itself enforces, checked here so a
            # bad range fails before training, not in the middle of a trial.
            row = space.info(optimizer).row(argument)
            if sampling == "choices":
                if not isinstance(value, list) or not value or any(
                        isinstance(v, bool) or not isinstance(v, (int, float))
                        or not intervals.in_interval(v, row.low, row.high,
                                                      row.closed)
                        for v in value):
                    check.fail(field, "must be a non-empty list of numbers "
                               f"in {row.bounds()}", value)
                parsed = space_module.Choices(tuple(float(v) for v in value))
            else:
                parsed = check.float_range(value, field, sampling, row.low,
                                           row.high, row.closed)
            ranges.setdefault(argument, {})[optimizer] = parsed
    space.ranges = ranges

    stopping = check.table(document, "early_stopping")
    pruning = check.table(document, "pruning")
    return Recipe(
        name=name, path=path, description=description, dataset=dataset,
        validation_split=validation_split, test_split=test_split,
        folds=folds, label_column=label_column,
        max_samples=max_samples, synthetic=synthetic, model=kind,
        model_options=model_options, tuner=tuner, max_trials=max_trials,
        epochs=epochs, objective=objective, direction=direction, seed=seed,
        initial_points=initial_points,
        hyperband_iterations=hyperband_iterations,
        baseline=check.boolean(search, "search", "baseline", True),
        refit=refit,
        space=space,
        early_stopping=check.boolean(stopping, "early_stopping", "enabled",
                                     True),
        patience=check.integer(stopping, "early_stopping", "patience", 3, 1),
        pruning=check.boolean(pruning, "pruning", "enabled", True),
        n_startup_trials=check.integer(pruning, "pruning", "n_startup_trials",
                                       3, 1),
        n_warmup_steps=check.integer(pruning, "pruning", "n_warmup_steps", 2,
                                     0),
    )
