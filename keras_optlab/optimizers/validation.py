"""Argument checks shared by every optimizer and schedule.

Each check names the argument and repeats the value it received, e.g.
``ValueError: `epsilon` must be in (0.0, inf). Received: epsilon=-1.0``, and runs
before any variable is created, so a rejected optimizer leaves no state behind.
"""

import math
import numbers
import re

import keras
import numpy as np

from keras_optlab.intervals import describe_interval
from keras_optlab.intervals import in_interval


def check_real(name, value):
    """Returns `value` as a finite Python float, or raises naming `name`."""
    # bool is an int subclass: True as a learning rate is a bug, not 1.0.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a real number. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite. Received: {name}={value}")
    return value


# float32's smallest normal number. TensorFlow's CPU kernels flush smaller
# (subnormal) values to 0.
FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def positive_in_float32(value):
    """True when `value` stays > 0 in a float32 run (no subnormals)."""
    return abs(float(np.float32(value))) >= FLOAT32_TINY


def check_range(name, value, low=None, high=None, closed="[]"):
    """Checks that `value` lies in the interval given by `low`, `high`.

    Args:
        name: the argument's name, used in the error message.
        value: the value received.
        low, high: the bounds; `None` means unbounded on that side. A high
            of `math.inf` closed with `]` accepts inf itself (Prodigy's
            `growth_rate`); any other non-finite value is refused.
        closed: two characters, each `[`/`]` (bound included) or `(`/`)`
            (bound excluded), e.g. `"[)"` for `low <= value < high`.

    Returns:
        The value as a Python float.
    """
    if high == math.inf and closed[1] == "]" and not isinstance(value, bool) \
            and isinstance(value, numbers.Real) and value == math.inf:
        return math.inf
    value = check_real(name, value)
    if not in_interval(value, low, high, closed):
        raise ValueError(
            f"`{name}` must be in {describe_interval(low, high, closed)}. "
            f"Received: {name}={value!r}"
        )
    if high == 1.0 and closed[1] == ")" and np.float32(value) == 1.0:
        # An excluded 1 must stay excluded too: a decay that is 1.0 in
        # float32 makes Adam's bias correction 1 - beta_2^t zero (found by
        # tests/test_properties.py: beta_2 = 1 - 2e-16 gave NaN).
        raise ValueError(
            f"`{name}` must be below 1.0 in float32 (at most "
            f"{float(np.nextafter(np.float32(1), np.float32(0)))!r}; closer "
            f"values are 1.0 in training). Received: {name}={value!r}"
        )
    if low == 0.0 and closed[0] == "(" and not positive_in_float32(value):
        # An excluded zero must stay excluded where training runs: TensorFlow
        # flushes float32 subnormals to 0 (measured: Adam with
        # epsilon=1e-40 gives 0 / 0 = NaN on a zero gradient).
        raise ValueError(
            f"`{name}` must be at least {FLOAT32_TINY:.4g} (float32's "
            "smallest normal number; smaller values are 0 in training). "
            f"Received: {name}={value!r}"
        )
    return value


def check_int(name, value, low=None):
    """Returns `value` as an int no smaller than `low`, or raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{name}` must be an integer. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"`{name}` must be >= {low}. Received: {name}={value}")
    return value


def check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(
            f"`{name}` must be True or False. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    return value


def check_choice(name, value, choices):
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(
            f"`{name}` must be one of {options}. Received: {name}={value!r}"
        )
    return value


def check_learning_rate(value, name="learning_rate"):
    """A non-negative float, a `LearningRateSchedule`, or a callable."""
    if isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
        return value
    if callable(value):
        return value
    return check_range(name, value, low=0.0)


def check_optional_positive(name, value):
    if value is None:
        return None
    return check_range(name, value, low=0.0, closed="(]")


def check_patterns(name, patterns):
    """None, or a list or tuple of valid regular expressions, returned as a
    list (a string alone is refused: it would read as its characters)."""
    if patterns is None:
        return None
    if not isinstance(patterns, (list, tuple)) or not all(
        isinstance(p, str) for p in patterns
    ):
        raise TypeError(
            f"`{name}` must be a list of strings or None. "
            f"Received: {name}={patterns!r}"
        )
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(
                f"`{name}` holds an invalid regular expression ({error}). "
                f"Received: {name}={patterns!r}"
            ) from error
    return list(patterns)
