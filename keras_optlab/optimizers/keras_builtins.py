"""Keras' own optimizers as choices beside ours: `"keras:<name>"`.

`"keras:lion"`, `"keras:Lion"` and `"keras:schedule_free_adamw"` all name
`keras.optimizers.Lion` / `ScheduleFreeAdamW`: the part after the prefix is
matched against Keras' optimizer class names, ignoring case and underscores.
`keras_optlab.optimizers.get`, recipes' `space.optimizers`, `optlab tune`,
`optlab compare` and the landscape pictures all resolve names here.

What is searched for a Keras optimizer comes from the hyperparameter table
of the registered optimizer with the same update rule (`SAME_RULE`), limited
to the arguments the Keras class takes under the same name, so ours and
Keras' are searched over the same ranges side by side.
"""

import dataclasses
import inspect

import keras

from keras_optlab.optimizers import registry
from keras_optlab.optimizers import spec

PREFIX = "keras:"

# Keras class name -> the registered optimizer with the same update rule
# (where the class names differ; otherwise the names match, e.g. Adam, Lion).
SAME_RULE = {"SGD": "gradient_descent"}

# Classes in keras.optimizers that are not optimizers of their own.
_NOT_CHOICES = ("Optimizer", "LossScaleOptimizer", "MultiOptimizer")


def is_keras_name(name):
    return isinstance(name, str) and name.lower().startswith(PREFIX)


def _key(text):
    return text.lower().replace("_", "")


def _classes():
    return {
        _key(name): cls for name, cls in vars(keras.optimizers).items()
        if isinstance(cls, type)
        and issubclass(cls, keras.optimizers.Optimizer)
        and name not in _NOT_CHOICES
    }


def names():
    """Every Keras optimizer as `"keras:<ClassName>"`, sorted."""
    return sorted(PREFIX + cls.__name__ for cls in _classes().values())


@dataclasses.dataclass(frozen=True)
class KerasOptimizerInfo:
    """A Keras optimizer as a choice, shaped like a registry row where the
    tuning space and `optlab compare` read one.

    Attributes:
        name: the name as the user wrote it (`"keras:lion"`).
        cls: the Keras class.
        same_rule: the registry row with the same update rule, or None.
    """

    name: str
    cls: type
    same_rule: object

    @property
    def family(self):
        return self.same_rule.family if self.same_rule else "adam"

    @property
    def spec_rows(self):
        """The same-rule optimizer's hyperparameter rows for the arguments
        the Keras class accepts by the same name; with no same rule, only a
        learning rate searched over the default range."""
        accepted = inspect.signature(self.cls.__init__).parameters
        if self.same_rule is None:
            return (spec.learning_rate(accepted["learning_rate"].default,
                                       spec.DEFAULT_LEARNING_RATE_SEARCH),)
        return tuple(row for row in self.same_rule.spec_rows
                     if row.name in accepted)

    def row(self, argument):
        """The hyperparameter row of `argument` (a KeyError if none)."""
        for row in self.spec_rows:
            if row.name == argument:
                return row
        raise KeyError(f"{self.name} has no searched hyperparameter "
                       f"{argument!r}")


def lookup(name):
    """The `KerasOptimizerInfo` of a `"keras:<name>"`; a ValueError naming
    the value when Keras has no such optimizer."""
    cls = _classes().get(_key(name[len(PREFIX):])) if is_keras_name(
        name) else None
    if cls is None:
        raise ValueError(
            f"Unknown Keras optimizer (known: {', '.join(names())}). "
            f"Received: optimizer={name!r}")
    class_name = cls.__name__
    same_rule = registry.lookup(SAME_RULE.get(class_name, class_name))
    return KerasOptimizerInfo(name, cls, same_rule)


def get(name, **kwargs):
    """A new Keras optimizer for `"keras:<name>"` with `kwargs`."""
    return lookup(name).cls(**kwargs)
