"""Optimizers that wrap another optimizer: `Lookahead`, `SWA`, and their
base `OptimizerWrapper`."""

from keras_optlab.optimizers.wrappers.lookahead import Lookahead
from keras_optlab.optimizers.wrappers.swa import SWA
from keras_optlab.optimizers.wrappers.wrapper import OptimizerWrapper

__all__ = ["Lookahead", "OptimizerWrapper", "SWA"]
