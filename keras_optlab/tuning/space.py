"""The search space: optimizer, its own hyperparameters, learning rate, batch
size and dropout, declared as Keras Tuner hyperparameters.

The optimizer choice comes from the registry (`keras_optlab.optimizers.
available()`), so an optimizer added later joins the search with no change
here. Every optimizer-specific hyperparameter is conditional on the choice
(Keras Tuner's `conditional_scope`) and named `"<optimizer>/<argument>"`, for
example `"adam/epsilon"`; it appears in a trial only when its optimizer does.

What is searched, and over which range, comes from each optimizer's own
hyperparameter table (`cls.hyperparameters`, keras_optlab/optimizers/
spec.py): every row with a `search` range, the learning rate first. So
`momentum` is searched for `momentum`, `nesterov`, `rmsprop` and `lars` but
not for `gradient_descent`, and `epsilon` (log scale up to 1.0, the value
used for Inception on ImageNet) for the Adam family.
"""

import dataclasses

from keras_optlab import optimizers
from keras_optlab.optimizers import keras_builtins
from keras_optlab.optimizers.spec import Choices
from keras_optlab.optimizers.spec import DEFAULT_LEARNING_RATE_SEARCH
from keras_optlab.optimizers.spec import FloatRange

OPTIMIZER = "optimizer"
BATCH_SIZE = "batch_size"
DROPOUT = "dropout"
LEARNING_RATE = "learning_rate"

# For an optimizer that is not registered here (a Keras built-in with no
# equivalent in `keras_optlab.lab.compare`).
DEFAULT_LEARNING_RATE_RANGE = DEFAULT_LEARNING_RATE_SEARCH


def searched_ranges(info):
    """`{argument: range}` of the hyperparameter rows of a registry row (or
    a Keras optimizer's `KerasOptimizerInfo`) that are searched, in
    declaration order (the learning rate first)."""
    return {row.name: row.search for row in info.spec_rows
            if row.search is not None}


def default_learning_rate_range(info):
    """The learning-rate range searched for one registry row."""
    return searched_ranges(info).get(LEARNING_RATE,
                                         DEFAULT_LEARNING_RATE_RANGE)


def conditional_arguments(info):
    """The optimizer arguments searched for one registry row, besides the
    learning rate."""
    return [name for name in searched_ranges(info)
            if name != LEARNING_RATE]


def search_kinds():
    """`{argument: "log" | "linear" | "choices"}` for the learning rate and
    every conditional argument: how a recipe writes its range."""
    kinds = {}
    for info in optimizers.available():
        for name, value_range in searched_ranges(info).items():
            kinds.setdefault(name, "choices" if isinstance(
                value_range, Choices) else value_range.sampling)
    return kinds


def conditional_names():
    """Every argument searched for some registered optimizer (what a
    recipe's `space.conditional` may name), in registry order."""
    names = {}
    for info in optimizers.available():
        names.update(dict.fromkeys(conditional_arguments(info)))
    return list(names)


def hp_name(optimizer, argument):
    return f"{optimizer}/{argument}"


@dataclasses.dataclass
class SearchSpace:
    """What a search varies.

    Args:
        optimizers: registry names, or `"keras:<name>"` for Keras' own
            optimizers (searched over the ranges of our optimizer with the
            same rule), to choose from; `None` means every registered
            optimizer.
        batch_sizes: the batch sizes to choose from.
        dropout: a `FloatRange` for the dropout rate, or a float to fix it.
        conditional: the optimizer arguments to search (a subset of
            `conditional_names()`); `None` means all that apply.
        ranges: overrides, `{argument: {optimizer name: range}}`, e.g.
            `{"learning_rate": {"adam": FloatRange(1e-4, 1.0, "log")}}`.
    """

    optimizers: list = None
    batch_sizes: tuple = (32, 64, 128)
    dropout: object = dataclasses.field(
        default_factory=lambda: FloatRange(0.0, 0.5))
    conditional: list = None
    ranges: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        known = {info.name: info for info in optimizers.available()}
        names = list(known) if self.optimizers is None else self.optimizers
        if not names:
            raise ValueError("A search needs at least one optimizer. "
                             "Received: optimizers=[]")
        self._infos = {}
        for name in names:
            if keras_builtins.is_keras_name(name):
                self._infos[name] = keras_builtins.lookup(name)
            elif name in known:
                self._infos[name] = known[name]
            else:
                raise ValueError(
                    f"Unknown optimizer. Received: optimizers={name!r}. "
                    f"Known names: {', '.join(known)}, or keras:<name> "
                    "for a Keras optimizer")
        self.optimizers = list(names)
        if self.conditional is not None:
            known_arguments = conditional_names()
            for argument in self.conditional:
                if argument not in known_arguments:
                    raise ValueError(
                        "Unknown conditional hyperparameter. Received: "
                        f"conditional={argument!r}. Known: "
                        f"{', '.join(known_arguments)}")
        if not self.batch_sizes:
            raise ValueError("A search needs at least one batch size. "
                             "Received: batch_sizes=()")
        self.batch_sizes = tuple(int(b) for b in self.batch_sizes)

    def info(self, optimizer):
        """The registry row of a chosen optimizer, or the
        `KerasOptimizerInfo` of a `"keras:<name>"`."""
        return self._infos[optimizer]

    def arguments(self, optimizer):
        """The searched constructor arguments of one optimizer, with ranges:
        `{"learning_rate": FloatRange(...), "epsilon": ...}`."""
        info = self._infos[optimizer]
        result = {LEARNING_RATE: self._override(
            LEARNING_RATE, optimizer, default_learning_rate_range(info))}
        for argument, value_range in searched_ranges(info).items():
            if argument == LEARNING_RATE or (
                    self.conditional is not None
                    and argument not in self.conditional):
                continue
            result[argument] = self._override(argument, optimizer,
                                              value_range)
        return result

    def _override(self, argument, optimizer, default):
        return self.ranges.get(argument, {}).get(optimizer, default)

    def declare(self, hp):
        """Declares every hyperparameter of the space on `hp` (a
        `keras_tuner.HyperParameters`); conditional ones under their
        optimizer's scope."""
        hp.Choice(OPTIMIZER, self.optimizers)
        for optimizer in self.optimizers:
            with hp.conditional_scope(OPTIMIZER, [optimizer]):
                for argument, value_range in self.arguments(optimizer).items():
                    value_range.declare(hp, hp_name(optimizer, argument))
        hp.Choice(BATCH_SIZE, list(self.batch_sizes))
        if isinstance(self.dropout, FloatRange):
            self.dropout.declare(hp, DROPOUT)
        else:
            hp.Fixed(DROPOUT, float(self.dropout))

    def optimizer_config(self, hp):
        """`(name, {argument: value})` of the optimizer a trial chose."""
        name = hp.get(OPTIMIZER)
        return name, {
            argument: hp.get(hp_name(name, argument))
            for argument in self.arguments(name)
        }

    def build_optimizer(self, hp):
        """The optimizer a trial chose, built with its searched values."""
        name, kwargs = self.optimizer_config(hp)
        return optimizers.get(name, **kwargs)
