"""Test functions with known minima, written in `keras.ops`.

Each takes a point as a 1-D tensor (length 1 or 2) and returns a scalar.
"""

import dataclasses
import math
from typing import Callable

from keras import ops


@dataclasses.dataclass(frozen=True)
class TestFunction:
    """A function to optimise, with what is known about it.

    Attributes:
        name: the short name (`"rosenbrock"`).
        formula: the function in plain text.
        value: point (1-D tensor) -> scalar tensor, in `keras.ops`.
        minima: the global minimisers (a tuple of points; empty for the
            saddle, which has none).
        start: the default starting point.
        bounds: ((x_min, x_max),) or ((x_min, x_max), (y_min, y_max)) for the
            pictures.
        log_contours: draw contour levels on a log scale (steep valleys).
    """

    __test__ = False  # not a pytest class

    name: str
    formula: str
    value: Callable
    minima: tuple
    start: tuple
    bounds: tuple
    log_contours: bool = False

    @property
    def dimension(self):
        return len(self.start)

    def __call__(self, point):
        return self.value(ops.convert_to_tensor(point))


def _quadratic(point):
    x = point[0]
    return x * x - 2.0 * x + 1.0


def _steep_quadratic(point):
    x = point[0]
    return 4.0 * x * x - 4.0 * x + 1.0


def _rosenbrock(point):
    x, y = point[0], point[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _beale(point):
    x, y = point[0], point[1]
    return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2
            + (2.625 - x + x * y**3) ** 2)


def _saddle(point):
    return point[0] ** 2 - point[1] ** 2


def _rastrigin(point):
    return 20.0 + sum(
        point[i] ** 2 - 10.0 * ops.cos(2.0 * math.pi * point[i])
        for i in range(2)
    )


FUNCTIONS = {f.name: f for f in (
    TestFunction("quadratic", "x^2 - 2x + 1 = (x - 1)^2", _quadratic,
                 ((1.0,),), (5.0,), ((-4.0, 6.0),)),
    TestFunction("steep_quadratic", "4x^2 - 4x + 1 = (2x - 1)^2",
                 _steep_quadratic, ((0.5,),), (5.0,), ((-5.0, 6.0),)),
    TestFunction("rosenbrock", "(1 - x)^2 + 100 (y - x^2)^2", _rosenbrock,
                 ((1.0, 1.0),), (-1.2, 1.0), ((-2.0, 2.0), (-1.0, 3.0)),
                 log_contours=True),
    TestFunction("beale", "(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 "
                 "+ (2.625 - x + xy^3)^2", _beale, ((3.0, 0.5),), (1.0, 1.5),
                 ((-4.5, 4.5), (-4.5, 4.5)), log_contours=True),
    TestFunction("saddle", "x^2 - y^2", _saddle, (), (1.0, 1e-3),
                 ((-1.5, 1.5), (-1.5, 1.5))),
    TestFunction("rastrigin", "20 + sum_i (x_i^2 - 10 cos(2 pi x_i))",
                 _rastrigin, ((0.0, 0.0),), (2.2, 2.7),
                 ((-5.12, 5.12), (-5.12, 5.12))),
)}


def get(name):
    try:
        return FUNCTIONS[name]
    except KeyError:
        raise ValueError(
            f"Unknown test function. Received: function={name!r}. "
            f"Known: {', '.join(FUNCTIONS)}") from None
