"""The `optlab` command (`optlab = "keras_optlab.cli:main"`).

`app` holds the parser and the dispatch, `checks` the argument checks that
every command runs before any work, and `commands/` one module per
sub-command. Importing this package, and `optlab --help`, load neither
Keras nor its backends; a command imports what it needs when it runs.
"""

from keras_optlab.cli.app import main

__all__ = ["main"]
