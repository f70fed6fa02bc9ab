"""keras_optlab: the optimizer lab for Keras 3."""

from keras_optlab import _moved
from keras_optlab import optimizers
from keras_optlab import saving
from keras_optlab import schedules
from keras_optlab import training

_moved.install()

__version__ = "0.1.0"

__all__ = ["optimizers", "saving", "schedules", "training", "__version__"]
