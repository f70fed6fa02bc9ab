"""Intervals of numbers, checked and described one way everywhere: the
optimizers' arguments (keras_optlab/optimizers/validation.py), recipes'
fields and ranges (keras_optlab/tuning/recipes.py) and command-line options
(keras_optlab/cli/checks.py, which must not import Keras). Pure Python.
"""


def describe_interval(low, high, closed="[]"):
    """The interval as text, e.g. `(0.0, inf)`; None is unbounded (an open
    end, whatever `closed` says)."""
    left = "[" if closed[0] == "[" and low is not None else "("
    right = "]" if closed[1] == "]" and high is not None else ")"
    low_text = "-inf" if low is None else repr(low)
    high_text = "inf" if high is None else repr(high)
    return f"{left}{low_text}, {high_text}{right}"


def in_interval(value, low=None, high=None, closed="[]"):
    """True when the number `value` lies in the interval of `low`, `high`
    (None: unbounded), each end included (`[`, `]`) or not (`(`, `)`)."""
    too_low = low is not None and (
        value < low or (closed[0] == "(" and value == low)
    )
    too_high = high is not None and (
        value > high or (closed[1] == ")" and value == high)
    )
    return not (too_low or too_high)
