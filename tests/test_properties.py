"""Property-based tests (Hypothesis) over every optimizer in the registry.

1. Valid hyperparameters, drawn from each optimizer's documented ranges, and
   finite float32 gradients of bounded magnitude (zeros, tiny and large
   values included): no NaN or Inf appears in the parameters or the state
   after a few steps.
2. Invalid input (out-of-range or non-finite floats, strings, None where a
   number is needed, bools, lists, unknown choices): `ValueError` or
   `TypeError` whose message names the argument, never another exception.

`RANGES` is the range of every hyperparameter of every optimizer, read
from its hyperparameter table (keras_optlab/optimizers/spec.py; that the
tables match the signatures is tests/test_spec.py's job).
"""

import dataclasses
import math

import numpy as np
import keras
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keras_optlab

settings.register_profile(
    "optlab",
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays stable
    suppress_health_check=[HealthCheck.function_scoped_fixture,
                           HealthCheck.too_slow],
)
PROFILE = settings.get_profile("optlab")


# Values in (0, ...) are drawn from 1e-30. This test found NaN on zero
# gradients from values below float32's smallest subnormal (1.4e-45), which
# are 0 in a float32 run (epsilon, clipnorm, AdaBound's gamma, Prodigy's
# d0); validation now rejects values below float32's smallest normal number
# (TensorFlow flushes subnormals to 0), and Prodigy rejects d0 * epsilon
# below it (tests/test_validation.py, tests/test_rule_mechanisms.py).
POSITIVE_DRAW_LOW = 1e-30
FLOAT32_BELOW_ONE = float(np.nextafter(np.float32(1.0), np.float32(0.0)))


@dataclasses.dataclass(frozen=True)
class Real:
    """A float in [low, high] (`closed` as in validation.check_range), drawn
    up to `draw_high` where the documented range is unbounded or wider
    than what finite float32 steps can take."""
    low: float = None
    high: float = None
    closed: str = "[]"
    draw_high: float = None
    optional: bool = False  # None is valid (the feature off)
    draw_low: float = None

    def valid(self):
        low = self.low if self.draw_low is None else self.draw_low
        if self.closed[0] == "(" and self.draw_low is None:
            low = POSITIVE_DRAW_LOW
        high = self.draw_high if self.draw_high is not None else self.high
        if high == 1.0 and self.closed[1] == ")":
            # Values this close to 1 are 1.0 in float32 and refused
            # (validation.check_range); the largest float32 below 1 is not.
            high = FLOAT32_BELOW_ONE
        drawn = st.floats(low, high, exclude_min=(self.closed[0] == "("
                                                  and low == self.low),
                          exclude_max=(self.closed[1] == ")"
                                       and high == self.high))
        return st.one_of(st.none(), drawn) if self.optional else drawn

    def contains(self, value):
        if value is None:
            return self.optional
        return ((self.low is None or value > self.low
                 or (value == self.low and self.closed[0] == "["))
                and (self.high is None or value < self.high
                     or (value == self.high and self.closed[1] == "]")))

    def invalid(self):
        wrong = [math.nan, "0.1", True, [0.1]]
        if not self.optional:
            wrong.append(None)
        if self.high is None or self.high != math.inf:
            wrong.append(math.inf)
        if self.low is not None:
            wrong.append(self.low - 1.0)
            if self.closed[0] == "(":
                wrong.append(self.low)
        if self.high is not None and self.high != math.inf:
            wrong.append(self.high + 0.5)
            if self.closed[1] == ")":
                wrong.append(self.high)
        return st.sampled_from(wrong)


@dataclasses.dataclass(frozen=True)
class Bool:
    def valid(self):
        return st.booleans()

    def contains(self, value):
        return isinstance(value, bool)

    def invalid(self):
        return st.sampled_from([1, 0, "True", None, [True]])


@dataclasses.dataclass(frozen=True)
class Int:
    """An integer of at least `low`, drawn up to `draw_high`; None where
    optional."""
    low: int
    draw_high: int
    optional: bool = False

    def valid(self):
        drawn = st.integers(self.low, self.draw_high)
        return st.one_of(st.none(), drawn) if self.optional else drawn

    def contains(self, value):
        if value is None:
            return self.optional
        return isinstance(value, int) and value >= self.low

    def invalid(self):
        wrong = [self.low - 1, 2.5, "10", True, [1]]
        if not self.optional:
            wrong.append(None)
        return st.sampled_from(wrong)


@dataclasses.dataclass(frozen=True)
class Choice:
    options: tuple

    def valid(self):
        return st.sampled_from(self.options)

    def contains(self, value):
        return value in self.options

    def invalid(self):
        return st.sampled_from([value for value in
                                ["no-such-mode", None, 1, ["hat"]]
                                if value not in self.options])


@dataclasses.dataclass(frozen=True)
class Patterns:
    """None or a list of regular expressions."""

    def valid(self):
        return st.sampled_from([None, [], ["v0"], ["bias", "v[12]"]])

    def contains(self, value):
        return value is None or isinstance(value, list)

    def invalid(self):
        return st.sampled_from(["v0", [1], ["("], 3.0])


# How far up a valid run draws an argument whose range is unbounded (or
# wider than finite float32 steps take); what the range itself is comes
# from the optimizer's hyperparameter table (spec.py).
DRAW_HIGH = {
    "learning_rate": 1.0, "epsilon": 1.0, "weight_decay": 0.5,
    "initial_accumulator_value": 10.0, "momentum_decay": 1.0,
    "final_lr": 1.0, "gamma": 10.0, "eta": 1.0, "d0": 1.0,
    "growth_rate": 100.0,
    "clip_exponent": 1.0,  # ADOPT's c_t = t^clip_exponent (paper: 1/4)
    # sma_threshold must also stay below 2 / (1 - beta_2) - 1 (checked in
    # RAdam): beta_2 >= 0.8 (DRAW_LOW) puts that limit at 9 or above.
    "sma_threshold": 8.5,
    # AdEMAMix's weight of the slow EMA; its warm-up length (steps).
    "alpha": 100.0, "warmup_steps": 10,
}
# Issue 14 (muon): Newton-Schulz iterations; AdamW's learning-rate ratio
# and epsilon.
DRAW_HIGH.update({"ns_steps": 12, "adam_lr_ratio": 10.0, "adam_epsilon": 1.0})
# Found here: the denominator sqrt(v) + d * epsilon is 0 in float32 once
# d * epsilon is subnormal (d0 = 1e-15, epsilon = 1e-30), and a zero
# gradient then gives 0 / 0; Prodigy now rejects such pairs. Drawn where
# d0 * epsilon stays a float32 normal number, so every draw is valid.
DRAW_LOW = {("prodigy", "epsilon"): 1e-12, ("prodigy", "d0"): 1e-12,
            ("radam", "beta_2"): 0.8}
# Issue 14 (shampoo): Shampoo's step counts and block size, drawn small so
# a few steps recompute the roots and cut the test variables into blocks.
DRAW_HIGH.update({"precondition_frequency": 3,
                  "start_preconditioning_step": 3, "block_size": 4,
                  "grafting_epsilon": 1.0})
# Issue 14 (adafactor): Adafactor's epsilons and clipping threshold d.
DRAW_HIGH.update({"epsilon_1": 1.0, "epsilon_2": 1.0, "clip_threshold": 10.0})
# Issue 14 (soap): SOAP's largest factored dimension, drawn small so some
# test dimensions keep the identity basis.
DRAW_HIGH.update({"max_precondition_dim": 4})


def strategy_of(name, row):
    """The test strategy of one row of an optimizer's table."""
    if row.kind == "bool":
        return Bool()
    if row.kind == "choice":
        # An optional choice also takes None (Shampoo's grafting).
        return Choice(tuple(row.choices) + ((None,) if row.optional else ()))
    if row.kind == "patterns":
        return Patterns()
    if row.kind == "int":
        return Int(row.low, DRAW_HIGH[row.name], optional=row.optional)
    return Real(row.low, row.high, row.closed,
                draw_high=DRAW_HIGH.get(row.name), optional=row.optional,
                draw_low=DRAW_LOW.get((name, row.name)))


RANGES = {
    info.name: {row.name: strategy_of(info.name, row)
                for row in info.cls.hyperparameters}
    for info in keras_optlab.optimizers.available()
}

# The options every optimizer takes from the base class, drawn in valid runs.
BASE = {
    "clipnorm": Real(0.0, None, "(]", draw_high=10.0, optional=True),
    "use_ema": Bool(),
    "on_nonfinite": Choice(("apply", "skip", "raise")),
}
BASE_INVALID = {
    "clipnorm": Real(0.0, None, "(]", optional=True),
    "global_clipnorm": Real(0.0, None, "(]", optional=True),
    "ema_momentum": Real(0.0, 1.0),
    "use_ema": Bool(),
    "on_nonfinite": Choice(("apply", "skip", "raise")),
}

NAMES = [info.name for info in keras_optlab.optimizers.available()]
SHAPES = [(3,), (2, 2)]
# |g| <= 1e6 keeps g^2 (1e12) and its sums inside float32; tiny values
# (1e-30, 1e-38, subnormal 3e-39: g^2 underflows to 0) and zeros included.
GRADIENT_VALUE = st.one_of(
    st.just(0.0),
    st.sampled_from([1e-30, -1e-30, 1e-38, -3e-39]),
    st.floats(-1e6, 1e6, width=32),
    st.floats(-2.0**-20, 2.0**-20, width=32),
)


def _gradient_steps(steps=3):
    return st.lists(
        st.tuples(*[
            st.lists(GRADIENT_VALUE, min_size=int(np.prod(s)),
                     max_size=int(np.prod(s)))
            for s in SHAPES
        ]),
        min_size=steps, max_size=steps,
    )


def _hyperparameters(name):
    specs = {**RANGES[name], **BASE}
    return st.fixed_dictionaries({k: spec.valid() for k, spec in
                                  specs.items()})


def test_ranges_hold_every_default():
    assert sorted(RANGES) == sorted(NAMES)
    for name in NAMES:
        for row in keras_optlab.optimizers.lookup(name).cls.hyperparameters:
            assert RANGES[name][row.name].contains(row.default), (name, row)


@pytest.mark.parametrize("name", NAMES)
def test_valid_hyperparameters_keep_everything_finite(name):
    @PROFILE
    @given(hyperparameters=_hyperparameters(name),
           gradient_steps=_gradient_steps())
    def check(hyperparameters, gradient_steps):
        optimizer = keras_optlab.optimizers.get(name, **hyperparameters)
        rng = np.random.default_rng(0)
        variables = [keras.Variable(rng.normal(size=s).astype("float32"),
                                    name=f"v{i}")
                     for i, s in enumerate(SHAPES)]
        for step in gradient_steps:
            grads = [keras.ops.convert_to_tensor(
                np.asarray(values, "float32").reshape(s))
                for values, s in zip(step, SHAPES)]
            optimizer.apply(grads, variables)
        for variable in variables + list(optimizer.variables):
            value = np.asarray(variable)
            assert np.isfinite(value).all(), (variable.path, value)

    check()


@pytest.mark.parametrize("name", NAMES)
def test_invalid_input_names_the_argument(name):
    specs = {**RANGES[name], **BASE_INVALID}

    @PROFILE
    @given(data=st.data())
    def check(data):
        key = data.draw(st.sampled_from(sorted(specs)), label="argument")
        value = data.draw(specs[key].invalid(), label="value")
        try:
            keras_optlab.optimizers.get(name, **{key: value})
        except (ValueError, TypeError) as error:
            assert f"{key}" in str(error), (key, value, str(error))
        else:
            raise AssertionError(f"{name}({key}={value!r}) was accepted")

    check()
