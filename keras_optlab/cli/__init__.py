"""The `optlab` command (`optlab = "keras_optlab.cli:main"`).

`app` holds the parser and the dispatch, `checks` the argument checks that
every command runs before any work, and `commands/` one module per
sub-command. Importing this package, and `optlab --help`, load neither
Keras nor its backends; a command imports what it needs when it runs.
"""

from keras_optlab import _moved
from keras_optlab.cli.app import main

__all__ = ["main"]


def __getattr__(name):
    # UsageError and the argument checks lived here until 0.1.0.
    return _moved.moved_attribute(__name__, name)
