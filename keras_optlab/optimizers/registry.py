"""The table of optimizers: short names, descriptions and papers.

Every optimizer class registers itself here with `register`, which also
registers it with `keras.saving` under the package name `keras_optlab`, so a
saved model that uses it reloads with no `custom_objects` once `keras_optlab`
is imported. `keras_optlab.optimizers.get`, `available()`, `optlab list` and
the tuning search spaces all read this one table.
"""

import dataclasses

import keras

from keras_optlab.optimizers import spec

PACKAGE = "keras_optlab"

_REGISTRY = {}


@dataclasses.dataclass(frozen=True)
class OptimizerInfo:
    """One row of the table.

    Attributes:
        name: the short name, lower case (`"adam"`).
        cls: the optimizer class.
        description: one line saying what the method does.
        reference: the paper (authors, year, title) the update rule comes from.
        family: `"sgd"` (plain and momentum methods), `"adaptive"` (per
            coordinate step sizes without first-moment bias correction) or
            `"adam"` (Adam-like moment estimates).
    """

    name: str
    cls: type
    description: str
    reference: str
    family: str

    @property
    def weight_decay(self):
        """"coupled" where the paper puts `weight_decay` inside its update
        rule (LARS, Adan, Prodigy, NovoGrad), else "decoupled"."""
        return spec.weight_decay_kind(self.cls)

    @property
    def spec_rows(self):
        """The class's `spec.Hyperparameter` rows."""
        return self.cls.hyperparameters

    def row(self, argument):
        """The `spec.Hyperparameter` row of `argument` (a KeyError if
        none)."""
        return self.cls.row(argument)

    @property
    def hyperparameters(self):
        """The class's hyperparameter table as rows of text: argument,
        default, accepted values, searched range, paper default, meaning
        (`spec.TABLE_HEADER`)."""
        return spec.table_rows(self.cls)


FAMILIES = ("sgd", "adaptive", "adam")


def register(name, *, description, reference, family):
    """Class decorator adding an optimizer to the table and to keras.saving."""
    if family not in FAMILIES:
        raise ValueError(f"Unknown family. Received: family={family!r}")

    def decorate(cls):
        if name in _REGISTRY:
            raise ValueError(f"Optimizer name already registered: {name!r}")
        cls = keras.saving.register_keras_serializable(package=PACKAGE)(cls)
        _REGISTRY[name] = OptimizerInfo(
            name, cls, description, reference, family
        )
        return cls

    return decorate


def lookup(name):
    """The row for a short name or a class name, or None."""
    key = name.lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    for info in _REGISTRY.values():
        if info.cls.__name__ == name:
            return info
    return None


def rows():
    return list(_REGISTRY.values())
