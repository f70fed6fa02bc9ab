"""Bad hyperparameters raise before anything is built, naming the argument
and the value received. The cases are data: the base-class options, the
checks a bound cannot express, and one case per value just outside each
bound of every row of every optimizer's hyperparameter table (spec.py)."""

import math
import re

import keras
import numpy as np
import pytest

from keras_optlab import optimizers
from keras_optlab import schedules
from tests.optimizer_table import TABLE

ALL = [r.name for r in TABLE]


def names_of(cls):
    return {row.name for row in cls.hyperparameters}

# The options every optimizer takes from the base class:
# (optimizer names, kwargs, exception, text the message must contain).
CASES = [
    (ALL, {"learning_rate": -0.1}, ValueError, "Received: learning_rate=-0.1"),
    (ALL, {"learning_rate": "fast"}, TypeError, "learning_rate='fast'"),
    (ALL, {"learning_rate": True}, TypeError, "learning_rate=True"),
    (ALL, {"learning_rate": float("nan")}, ValueError, "learning_rate=nan"),
    (ALL, {"weight_decay": -1.0}, ValueError, "weight_decay=-1.0"),
    (ALL, {"clipnorm": -1.0}, ValueError, "clipnorm=-1.0"),
    (ALL, {"clipvalue": 0.0}, ValueError, "clipvalue=0.0"),
    (ALL, {"global_clipnorm": "x"}, TypeError, "global_clipnorm='x'"),
    (ALL, {"gradient_accumulation_steps": 1}, ValueError,
     "gradient_accumulation_steps=1"),
    (ALL, {"gradient_accumulation_steps": 2.5}, TypeError,
     "gradient_accumulation_steps=2.5"),
    (ALL, {"ema_momentum": 1.5}, ValueError, "ema_momentum=1.5"),
    (ALL, {"loss_scale_factor": 0.0}, ValueError, "loss_scale_factor=0.0"),
    (ALL, {"clipnorm": 1e-50}, ValueError, "clipnorm=1e-50"),
]

EPSILON_TAKERS = [name for name in ALL
                  if "epsilon" in names_of(optimizers.lookup(name).cls)]

# What the bounds of the table cannot say: float32's smallest normal number
# (TensorFlow flushes subnormals to 0: Adam then gives 0 / 0 = NaN on a zero
# gradient), and checks of several arguments together.
SPECIAL = [
    (EPSILON_TAKERS, {"epsilon": 1e-50}, ValueError, "epsilon=1e-50"),
    (EPSILON_TAKERS, {"epsilon": 1e-40}, ValueError, "epsilon=1e-40"),
    # 1.0 in float32, where 1 - beta_2^t is then 0 (NaN in Adam's step).
    (["adam", "adan"], {"beta_2": 1 - 2e-16}, ValueError,
     "below 1.0 in float32"),
    (["momentum", "rmsprop"], {"momentum": 1 - 1e-9}, ValueError,
     "below 1.0 in float32"),
    (["adamw"], {"weight_decay": None}, ValueError,
     "(use Adam for none). Received: weight_decay=None"),
    # rho_inf = 19 for beta_2 = 0.9: the adaptive step would never come.
    (["radam"], {"beta_2": 0.9, "sma_threshold": 19.5}, ValueError,
     "Received: sma_threshold=19.5, beta_2=0.9"),
    # rho_inf = 3 < 4 for beta_2 = 0.5, whatever the threshold.
    (["radam"], {"beta_2": 0.5}, ValueError, "beta_2=0.5"),
    # Each valid alone; the product underflows to 0 in float32 (0 / 0).
    (["prodigy"], {"d0": 1e-15, "epsilon": 1e-30}, ValueError,
     "Received: d0=1e-15, epsilon=1e-30"),
]


def outside(row):
    """(value, exception) pairs that `row` must refuse: just outside each
    finite bound, far outside, NaN, inf where not accepted, wrong types."""
    if row.kind == "bool":
        return [(1, TypeError), ("yes", TypeError), (None, TypeError)]
    if row.kind == "choice":
        # None is a value of an optional choice (Shampoo's grafting=None).
        return [("no-such-mode", ValueError)] + (
            [] if row.optional else [(None, ValueError)])
    if row.kind == "patterns":
        return [("bias", TypeError), ([1], TypeError), (["("], ValueError)]
    if row.kind == "int":
        cases = [(2.5, TypeError), (10.0, TypeError), ("10", TypeError),
                 (True, TypeError), (math.nan, TypeError)]
        if not row.optional:
            cases.append((None, TypeError))
        if row.low is not None:
            cases += [(row.low - 1, ValueError), (row.low - 10, ValueError)]
        return cases
    cases = [(math.nan, ValueError), ("0.1", TypeError), (True, TypeError),
             ([0.1], TypeError)]
    if not row.optional:
        cases.append((None, ValueError if row.none_hint else TypeError))
    if row.high != math.inf:
        cases.append((math.inf, ValueError))
    if row.low is not None:
        just_below = row.low if row.closed[0] == "(" else float(
            np.nextafter(row.low, -math.inf))
        cases += [(just_below, ValueError), (row.low - 1.0, ValueError)]
    if row.high is not None and math.isfinite(row.high):
        just_above = row.high if row.closed[1] == ")" else float(
            np.nextafter(row.high, math.inf))
        cases += [(just_above, ValueError), (row.high + 0.5, ValueError)]
    return cases


def table_cases():
    """Every registered optimizer x every row of its hyperparameter table
    (the learning rate too) x every value `outside` that row."""
    for info in optimizers.available():
        for row in info.cls.hyperparameters:
            for value, error in outside(row):
                yield pytest.param(
                    info.name, {row.name: value}, error,
                    f"Received: {row.name}={value!r}",
                    id=f"{info.name}-{row.name}={value!r}")


PARAMS = [
    pytest.param(name, kwargs, error, text, id=f"{name}-{text}")
    for names, kwargs, error, text in CASES + SPECIAL
    for name in names
] + list(table_cases())


@pytest.mark.parametrize("name, kwargs, error, text", PARAMS)
def test_bad_hyperparameter(name, kwargs, error, text):
    with pytest.raises(error, match=re.escape(text)) as info:
        optimizers.get(name, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert all(f"{argument}=" in message for argument in kwargs)
    # The argument whose rule failed, quoted (for RAdam's beta_2=0.5 that
    # is the threshold it leaves no room for).
    assert re.search(r"`(%s)`" % "|".join(
        list(kwargs) + ["sma_threshold", r"d0 \* epsilon"]), message)


def test_bad_hyperparameter_leaves_no_state():
    """Refused before Keras' constructor: no variable is made (the
    iteration counter would be the first)."""
    made = []
    original = keras.Variable.__init__

    def record(self, *args, **kwargs):
        made.append(kwargs.get("name"))
        original(self, *args, **kwargs)

    keras.Variable.__init__ = record
    try:
        for info in optimizers.available():
            with pytest.raises(ValueError):
                optimizers.get(info.name, learning_rate=-1.0)
            with pytest.raises(ValueError):
                optimizers.get(info.name, weight_decay=-1.0)
    finally:
        keras.Variable.__init__ = original
    assert made == []


@pytest.mark.parametrize("name", ALL)
def test_number_types_accepted(name):
    for learning_rate in (1, np.float32(0.01), np.float64(0.5), 0.0):
        optimizer = optimizers.get(name, learning_rate=learning_rate)
        assert optimizer.get_config()["learning_rate"] == pytest.approx(
            float(learning_rate))


@pytest.mark.parametrize("name", EPSILON_TAKERS)
@pytest.mark.parametrize("epsilon", [2.0, 1.5, 1.0, 0.1, 1e-8])
def test_any_positive_epsilon_accepted(name, epsilon):
    """As Keras accepts it (its own AdamW test uses epsilon=2.0); up to
    0.1.0 epsilon above 1 was refused."""
    assert optimizers.get(name, epsilon=epsilon).epsilon == epsilon


@pytest.mark.parametrize("cls, kwargs, error, text", [
    (schedules.InverseSqrtDecay, {"initial_learning_rate": -1.0}, ValueError,
     "initial_learning_rate=-1.0"),
    (schedules.StepDecay, {"initial_learning_rate": 0.1, "step_size": 0},
     ValueError, "step_size=0"),
    (schedules.StepDecay, {"initial_learning_rate": 0.1, "step_size": 1.5},
     TypeError, "step_size=1.5"),
    (schedules.StepDecay, {"initial_learning_rate": 0.1, "step_size": 10,
                           "gamma": 0.0}, ValueError, "gamma=0.0"),
    (schedules.Warmup, {"schedule": 0.1, "warmup_steps": 0}, ValueError,
     "warmup_steps=0"),
    (schedules.Warmup, {"schedule": "cosine", "warmup_steps": 5}, TypeError,
     "schedule='cosine'"),
    (schedules.Warmup, {"schedule": 0.1, "warmup_steps": 5,
                        "initial_learning_rate": -0.5}, ValueError,
     "initial_learning_rate=-0.5"),
])
def test_bad_schedule_argument(cls, kwargs, error, text):
    with pytest.raises(error, match=re.escape(text)):
        cls(**kwargs)
