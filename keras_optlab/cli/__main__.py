"""`python -m keras_optlab.cli`: the `optlab` command."""

import sys

from keras_optlab.cli import main

sys.exit(main())
