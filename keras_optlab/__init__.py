"""keras_optlab: the optimizer lab for Keras 3.

`import keras_optlab` imports neither Keras nor its backend: subpackages
load on first use (`keras_optlab.optimizers.Adam`, `keras_optlab.tuning`),
so `optlab --help` answers at once. The optimizers, wrappers, schedules and
`SAMModel` are registered with `keras.saving` as soon as both keras_optlab
and Keras are imported, in either order (keras_optlab/_registration.py): a
model saved with them loads with `keras.saving.load_model` and no
`custom_objects`.
"""

import importlib

from keras_optlab import _moved
from keras_optlab import _registration

__version__ = "0.1.0"

__all__ = ["optimizers", "saving", "schedules", "training", "__version__"]


def __getattr__(name):
    # PEP 562: `keras_optlab.<subpackage>` imports it on first use.
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r}") from None


_moved.install()
_registration.register_now_or_after_keras()
