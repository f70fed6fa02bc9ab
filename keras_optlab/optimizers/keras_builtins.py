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

`same_math(name, config)` is the other direction: the Keras optimizer that
runs exactly the update of a configured optimizer of ours, or None. The
tests follow it step by step against ours (tests/test_keras_equivalence.py)
and the speed harness times it beside ours (keras_optlab/lab/bench/).
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


def resolve(name):
    """The registry row of a registered name, or the `KerasOptimizerInfo`
    of `"keras:<name>"`; a ValueError naming the value when unknown."""
    if is_keras_name(name):
        return lookup(name)
    info = registry.lookup(name) if isinstance(name, str) else None
    if info is None:
        known = ", ".join(row.name for row in registry.rows())
        raise ValueError(f"Unknown optimizer (known: {known}, or "
                         f"keras:<name>). Received: optimizer={name!r}")
    return info


def check_names(names):
    """Fails, naming the value, on an unknown or repeated optimizer name
    (registered, or `"keras:<name>"`), or on none at all; called before
    any data is read or model trained."""
    names = list(names)
    if not names:
        raise ValueError("At least one optimizer is needed. Received: "
                         "names=[]")
    for name in names:
        resolve(name)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"An optimizer is listed twice. Received: "
                         f"optimizer={repeated[0]!r}")


# `same_math`: for each registered name, the Keras optimizer with our update
# rule, built from our optimizer's full config (every hyperparameter
# explicit), or None where that setting leaves Keras' rule.


def _sgd(nesterov=False):
    def build(c):
        return keras.optimizers.SGD(c["learning_rate"],
                                    momentum=c.get("momentum", 0.0),
                                    nesterov=nesterov)
    return build


def _adagrad(c):
    if c["epsilon_mode"] != "inside":
        return None
    return keras.optimizers.Adagrad(
        c["learning_rate"], c["initial_accumulator_value"], c["epsilon"])


def _adam(cls):
    def build(c):
        if c["epsilon_mode"] != "hat":
            return None
        kwargs = {k: c[k] for k in ("beta_1", "beta_2", "epsilon", "amsgrad",
                                     "weight_decay")}
        return cls(c["learning_rate"], **kwargs)
    return build


def _nadam(c):
    if c["momentum_decay"] != 1.0 or c["epsilon_mode"] != "outside":
        return None
    kwargs = {k: c[k] for k in ("beta_1", "beta_2", "epsilon")}
    return keras.optimizers.Nadam(c["learning_rate"], **kwargs)


def _passthrough(cls, keys):
    def build(c):
        return cls(c["learning_rate"], **{k: c[k] for k in keys})
    return build


def _lion(c):
    # Keras' Lion refuses beta_1 = 0 (signSGD); same rule otherwise.
    if c["beta_1"] == 0.0:
        return None
    return keras.optimizers.Lion(c["learning_rate"], beta_1=c["beta_1"],
                                 beta_2=c["beta_2"],
                                 weight_decay=c["weight_decay"])


def _lamb(c):
    # Keras' Lamb decays outside its trust ratio (decoupled): the same rule
    # only without weight decay (the difference is in the README).
    if c["weight_decay"]:
        return None
    return keras.optimizers.Lamb(c["learning_rate"], beta_1=c["beta_1"],
                                 beta_2=c["beta_2"], epsilon=c["epsilon"])


def _muon(c):
    """keras.optimizers.Muon where its rule is ours: its shape factor is
    rms_rate (0.2 sqrt(max(rows, cols)), or none), it sends every variable
    of rank other than 2 to its AdamW, whose epsilon is "hat", and its
    Newton-Schulz epsilon is fixed at 1e-7; one decay for both kinds."""
    if (c["shape_scaling"] == "original" or c["flatten_kernels"]
            or c["adam_epsilon_mode"] != "hat" or c["epsilon"] != 1e-7):
        return None
    rms_rate = 0.2 if c["shape_scaling"] == "match_rms_adamw" else None
    return keras.optimizers.Muon(
        c["learning_rate"], adam_beta_1=c["adam_beta_1"],
        adam_beta_2=c["adam_beta_2"], epsilon=c["adam_epsilon"],
        weight_decay=c["weight_decay"], adam_weight_decay=c["weight_decay"],
        exclude_layers=c["exclude_layers"],
        exclude_embeddings=c["exclude_embeddings"],
        adam_lr_ratio=c["adam_lr_ratio"], momentum=c["momentum"],
        ns_steps=c["ns_steps"], nesterov=c["nesterov"], rms_rate=rms_rate)


def _schedule_free_adamw(c):
    # Keras averages with c = 1/t and decays y (its base class): the same
    # rule where ours also averages with 1/t (r = 0, and weight_lr_power =
    # 0 or a constant learning rate without warm-up) and without decay.
    # Only on JAX: on TensorFlow and torch Keras 3.15 reads z after
    # updating it where the paper reads z_t (`momentum.value` aliases the
    # variable there), measured in the README; on JAX the values are the
    # paper's.
    if keras.backend.backend() != "jax":
        return None
    if c["r"] or c["weight_decay"] or not isinstance(
            c["learning_rate"], float):
        return None
    if c["weight_lr_power"] and c["warmup_steps"]:
        return None
    return keras.optimizers.ScheduleFreeAdamW(
        c["learning_rate"], beta_1=c["beta_1"], beta_2=c["beta_2"],
        epsilon=c["epsilon"], warmup_steps=c["warmup_steps"])


def _adafactor(c):
    """keras.optimizers.Adafactor where its rule is ours: rho_t = min(lr,
    1/sqrt(t)) (which Keras 3.15 takes whatever its `relative_step`), the
    parameter scale, update clipping, no first moment."""
    if (not c["relative_step"] or not c["scale_parameter"] or c["beta_1"]
            or c["clip_threshold"] is None):
        return None
    return keras.optimizers.Adafactor(
        c["learning_rate"], beta_2_decay=c["beta_2_decay"],
        epsilon_1=c["epsilon_1"], epsilon_2=c["epsilon_2"],
        clip_threshold=c["clip_threshold"], relative_step=True,
        weight_decay=c["weight_decay"])


SAME_MATH = {
    "gradient_descent": _sgd(),
    "momentum": _sgd(),
    "nesterov": _sgd(nesterov=True),
    "adagrad": _adagrad,
    "adadelta": _passthrough(keras.optimizers.Adadelta, ("rho", "epsilon")),
    "rmsprop": _passthrough(keras.optimizers.RMSprop,
                            ("rho", "momentum", "epsilon", "centered")),
    "adam": _adam(keras.optimizers.Adam),
    "adamw": _adam(keras.optimizers.AdamW),
    "adamax": _passthrough(keras.optimizers.Adamax,
                           ("beta_1", "beta_2", "epsilon")),
    "nadam": _nadam,
    # For dense gradients; sparse ones are lazy (not Keras' rule).
    "lazyadam": _adam(keras.optimizers.Adam),
    "lion": _lion,
    "lamb": _lamb,
    "muon": _muon,
    "schedule_free_adamw": _schedule_free_adamw,
    "adafactor": _adafactor,
}


def same_math(name, config):
    """Keras' built-in optimizer that runs the update of our registered
    optimizer `name` configured by `config` (its full `get_config()`), or
    None where Keras has no such optimizer or that setting leaves its
    rule."""
    build = SAME_MATH.get(name)
    return None if build is None else build(config)
