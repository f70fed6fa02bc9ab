"""Optimizers on test functions: trajectories and pictures.

`functions` holds the test functions (quadratics, Rosenbrock, Beale, the
saddle, Rastrigin), `run` moves a real Keras optimizer over one, and
`plot_trajectories` / `animate_trajectories` draw the paths over contours.
"""

from keras_optlab.lab.landscape.functions import FUNCTIONS
from keras_optlab.lab.landscape.functions import TestFunction
from keras_optlab.lab.landscape.functions import get
from keras_optlab.lab.landscape.plotting import animate_trajectories
from keras_optlab.lab.landscape.plotting import plot_trajectories
from keras_optlab.lab.landscape.trajectory import make_optimizer
from keras_optlab.lab.landscape.trajectory import run

__all__ = [
    "FUNCTIONS",
    "TestFunction",
    "animate_trajectories",
    "get",
    "make_optimizer",
    "plot_trajectories",
    "run",
]
