"""Optimizers that wrap another optimizer: `Lookahead`, `SWA`, `Cautious`,
and their base `OptimizerWrapper`."""

from keras_optlab.optimizers.wrappers.cautious import Cautious
from keras_optlab.optimizers.wrappers.lookahead import Lookahead
from keras_optlab.optimizers.wrappers.swa import SWA
from keras_optlab.optimizers.wrappers.wrapper import OptimizerWrapper

__all__ = ["Cautious", "Lookahead", "OptimizerWrapper", "SWA"]
