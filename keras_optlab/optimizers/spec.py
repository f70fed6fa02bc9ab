"""Each optimizer's hyperparameters, declared once.

An optimizer class lists its hyperparameters as `Hyperparameter` rows in
`hyperparameters` (the learning rate first). Everything else reads those
rows: the checks in `__init__` (`OptlabOptimizer`), `get_config`, the table
in docs/optimizers.md and `optlab list`, the tuning search space
(keras_optlab/tuning/space.py), the bounds of recipe ranges, and the
property and bad-input tests.
"""

import dataclasses
import textwrap
import warnings

from keras_optlab import intervals
from keras_optlab.optimizers import validation

KINDS = ("float", "int", "bool", "choice", "patterns")


@dataclasses.dataclass(frozen=True)
class FloatRange:
    """A searched float: `low <= value <= high`, linear or log scale."""

    low: float
    high: float
    sampling: str = "linear"

    def declare(self, hp, name):
        return hp.Float(name, self.low, self.high, sampling=self.sampling,
                        default=self.default)

    @property
    def default(self):
        if self.sampling == "log":
            return float((self.low * self.high) ** 0.5)
        return float((self.low + self.high) / 2)

    def describe(self):
        return f"{self.sampling} [{self.low:g}, {self.high:g}]"


@dataclasses.dataclass(frozen=True)
class Choices:
    """A searched choice among fixed values."""

    values: tuple

    def declare(self, hp, name):
        return hp.Choice(name, list(self.values))

    def describe(self):
        return "one of " + ", ".join(f"{v:g}" for v in self.values)


# `paper_default` of a hyperparameter whose default is the paper's.
SAME_AS_DEFAULT = object()


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of one optimizer class.

    Attributes:
        name: the constructor argument.
        kind: `"float"`, `"int"` (an integer of at least `low`, e.g. a
            number of steps), `"bool"`, `"choice"` or `"patterns"` (None or
            a list of regular expressions).
        default: the constructor's default.
        low, high: a float's bounds; None is unbounded on that side (an
            int's `low` only).
        closed: two characters as in `validation.check_range`, e.g. `"[)"`.
        choices: the values a `"choice"` takes.
        optional: None is accepted (the feature is off).
        search: the range `optlab tune` searches (`FloatRange` or
            `Choices`), or None where it is not searched.
        paper_default: the paper's value where it differs from `default`.
        doc: one line for the docs table.
        deprecated: old values of a `"choice"` still accepted, each mapped
            to its new value (with a DeprecationWarning).
        none_hint: where None is refused, why (a ValueError then says so).
    """

    name: str
    kind: str
    default: object
    low: float = None
    high: float = None
    closed: str = "[]"
    choices: tuple = ()
    optional: bool = False
    search: object = None
    paper_default: object = SAME_AS_DEFAULT
    doc: str = ""
    deprecated: dict = dataclasses.field(default_factory=dict)
    none_hint: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Unknown kind. Received: kind={self.kind!r}")

    def check(self, value):
        """`value` checked and normalised (a float as a Python float), or a
        ValueError/TypeError naming the argument and the value."""
        if value is None and (self.optional or self.kind == "patterns"):
            return None
        if value is None and self.none_hint:
            raise ValueError(f"`{self.name}` must be a number in "
                             f"{self.bounds()} ({self.none_hint}). "
                             f"Received: {self.name}=None")
        if self.kind == "float":
            return validation.check_range(self.name, value, self.low,
                                          self.high, self.closed)
        if self.kind == "int":
            return validation.check_int(self.name, value, self.low)
        if self.kind == "bool":
            return validation.check_bool(self.name, value)
        if self.kind == "patterns":
            return validation.check_patterns(self.name, value)
        if isinstance(value, str) and value in self.deprecated:
            new = self.deprecated[value]
            warnings.warn(
                f"{self.name}={value!r} is deprecated; it now reads "
                f"{self.name}={new!r} (same placement).",
                DeprecationWarning, stacklevel=4)
            return new
        return validation.check_choice(self.name, value, self.choices)

    def bounds(self):
        """The accepted values as text: `(0.0, inf)`, `True or False`."""
        if self.kind == "float":
            text = intervals.describe_interval(self.low, self.high,
                                                self.closed)
            return text + (" or None" if self.optional else "")
        if self.kind == "int":
            text = "an integer" + ("" if self.low is None
                                   else f" >= {self.low}")
            return text + (" or None" if self.optional else "")
        if self.kind == "bool":
            return "True or False"
        if self.kind == "patterns":
            return "None or a list of regular expressions"
        return " or ".join(repr(c) for c in self.choices) + (
            " or None" if self.optional else "")


def learning_rate(default, search, doc="the step size"):
    """The learning rate's row: >= 0, or a schedule or callable (checked by
    `validation.check_learning_rate`)."""
    return Hyperparameter("learning_rate", "float", default, low=0.0,
                          search=search, doc=doc)


def beta(name, default, doc, search=None, **more):
    """A decay of an old moment estimate: [0, 1)."""
    return Hyperparameter(name, "float", default, 0.0, 1.0, "[)",
                          search=search, doc=doc, **more)


# The learning-rate range of an optimizer that declares none.
DEFAULT_LEARNING_RATE_SEARCH = FloatRange(1e-5, 1e-1, "log")
# Searched up to 1.0, the value used for Inception on ImageNet.
EPSILON_SEARCH = FloatRange(1e-8, 1.0, "log")
BETA_2_SEARCH = Choices((0.99, 0.999, 0.9999))
WEIGHT_DECAY_SEARCH = FloatRange(1e-5, 1e-1, "log")


# Rows that many classes share (same default, bounds, search and doc).
BETA_1 = beta("beta_1", 0.9, "decay of the first moment")
BETA_2 = beta("beta_2", 0.999, "decay of the second moment",
              search=BETA_2_SEARCH)
# 0.001, searched over 1e-5 .. 1e-2: most adaptive methods (RMSprop and
# the Adam family).
ADAPTIVE_LEARNING_RATE = learning_rate(0.001, FloatRange(1e-5, 1e-2, "log"))


def epsilon(default, doc="added to the denominator", search=None,
            **more):
    """Any epsilon > 0, as Keras accepts (it has no upper bound in the
    math; 1.0 and 0.1 are used on ImageNet)."""
    return Hyperparameter("epsilon", "float", default, 0.0, None, "()",
                          search=search, doc=doc, **more)


# The one vocabulary for where epsilon goes (see the README):
#   "inside":  sqrt(s + epsilon)
#   "outside": sqrt(s_hat) + epsilon, s_hat bias-corrected where the
#              method corrects
#   "hat":     sqrt(s) + epsilon before the bias correction is folded into
#              the step (Keras' and TensorFlow's Adam)
def epsilon_mode(default, choices, paper_means, doc, **more):
    """The `epsilon_mode` row; the 0.1.0 value "paper" still reads, as the
    placement `paper_means` it named in this class."""
    return Hyperparameter("epsilon_mode", "choice", default,
                          choices=choices, doc=doc,
                          deprecated={"paper": paper_means}, **more)


# Nadam's and RAdam's choice: their papers' placement, or Keras' Adam's.
OUTSIDE_OR_HAT = epsilon_mode(
    "outside", ("outside", "hat"), paper_means="outside",
    doc="where epsilon goes: sqrt(v_hat) + eps (outside) or sqrt(v) + eps "
    "in the folded step (hat)")


def weight_decay(doc, search=None, default=None, optional=True, **more):
    """Keras' `weight_decay` (None for none), where a class names it."""
    return Hyperparameter("weight_decay", "float", default, low=0.0,
                          optional=optional, search=search, doc=doc, **more)


def override(rows, *changed):
    """`rows` with each of `changed` replacing the row of its name, or
    added at the end (a subclass's table from its parent's)."""
    by_name = {row.name: row for row in changed}
    result = tuple(by_name.pop(row.name, row) for row in rows)
    return result + tuple(by_name.values())


def check_all(rows, values):
    """`{name: checked value}` for every row, in declaration order."""
    return {row.name: row.check(values[row.name]) for row in rows}


def weight_decay_kind(cls):
    """"coupled" where the paper puts weight decay inside the update rule
    (the class applies `weight_decay` itself), else "decoupled" (Keras'
    own: lr * weight_decay * theta subtracted before the step)."""
    if cls.couples_weight_decay:
        return "coupled"
    return "decoupled"


def table_rows(cls):
    """The docs table of one class: (argument, default, accepted values,
    searched range, paper default, what it is) per row."""
    result = []
    for row in cls.hyperparameters:
        search = "" if row.search is None else row.search.describe()
        paper = ("" if row.paper_default is SAME_AS_DEFAULT
                 else repr(row.paper_default))
        accepted = row.bounds()
        if row.name == "learning_rate":
            accepted += " or a schedule"
        result.append((row.name, repr(row.default), accepted, search,
                       paper, row.doc))
    return result


TABLE_HEADER = ("argument", "default", "accepted", "searched by optlab tune",
                "paper default", "what it is")


def markdown(infos):
    """docs/optimizers.md: one table per registered optimizer."""
    intro = (
        "Generated from each class's `hyperparameters` table "
        "(keras_optlab/optimizers/spec.py); tests/test_spec.py checks that "
        "this file equals `keras_optlab.optimizers.hyperparameter_markdown()"
        "` (`optlab list --hyperparameters` prints it). \"paper default\" "
        "is given where the paper's value differs from ours. Every "
        "optimizer also takes Keras' options (`weight_decay`, clipping, "
        "EMA, ...), `fused` and `on_nonfinite`. `weight_decay` is "
        "decoupled (Keras': lr * weight_decay * theta subtracted before "
        "the step) except where marked coupled: there the paper puts it "
        "inside its update rule, and the class applies it there."
    )
    lines = ["# Optimizer hyperparameters", "", textwrap.fill(intro, 79)]
    for info in infos:
        lines += [
            "",
            f"## `{info.name}` ({info.cls.__name__})",
            "",
            f"{info.description} Weight decay: "
            f"{weight_decay_kind(info.cls)}.",
            "",
            "| " + " | ".join(TABLE_HEADER) + " |",
            "|" + "---|" * len(TABLE_HEADER),
        ]
        for row in table_rows(info.cls):
            lines.append("| " + " | ".join(
                f"`{cell}`" if i == 0 else cell.replace("|", "\\|")
                for i, cell in enumerate(row)) + " |")
    return "\n".join(lines) + "\n"
