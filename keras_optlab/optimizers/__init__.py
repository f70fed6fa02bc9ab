"""Optimizers written from their papers, one per module.

The update rules sit flat in this folder, one per file; `wrappers/` holds the
optimizers that wrap another (Lookahead, SWA, Cautious). How a step reaches a
rule (sparse rows, non-finite gradients, weight decay, XLA) is
keras_optlab/engine/.

`get(identifier)` builds one from a short name, a config or an instance;
`available()` lists the table with descriptions and papers.
"""

import keras

from keras_optlab import _moved

# The import order is the order of the table that `available()` returns.
from keras_optlab.optimizers.gradient_descent import GradientDescent  # isort: skip
from keras_optlab.optimizers.momentum import Momentum  # isort: skip
from keras_optlab.optimizers.nesterov import Nesterov  # isort: skip
from keras_optlab.optimizers.adagrad import Adagrad  # isort: skip
from keras_optlab.optimizers.adadelta import Adadelta  # isort: skip
from keras_optlab.optimizers.rmsprop import RMSprop  # isort: skip
from keras_optlab.optimizers.adam import Adam  # isort: skip
from keras_optlab.optimizers.adamw import AdamW  # isort: skip
from keras_optlab.optimizers.adamax import Adamax  # isort: skip
from keras_optlab.optimizers.nadam import Nadam  # isort: skip
from keras_optlab.optimizers.radam import RAdam  # isort: skip
from keras_optlab.optimizers.yogi import Yogi  # isort: skip
from keras_optlab.optimizers.adabelief import AdaBelief  # isort: skip
from keras_optlab.optimizers.novograd import NovoGrad  # isort: skip
from keras_optlab.optimizers.lazy_adam import LazyAdam  # isort: skip
from keras_optlab.optimizers.qhadam import QHAdam  # isort: skip
from keras_optlab.optimizers.adabound import AdaBound  # isort: skip
from keras_optlab.optimizers.adan import Adan  # isort: skip
from keras_optlab.optimizers.lars import LARS  # isort: skip
from keras_optlab.optimizers.prodigy import Prodigy  # isort: skip
# Issue 14: ADOPT, Lion, LAMB, MADGRAD, AdEMAMix.
from keras_optlab.optimizers.adopt import ADOPT  # isort: skip
from keras_optlab.optimizers.lion import Lion  # isort: skip
from keras_optlab.optimizers.lamb import LAMB  # isort: skip
from keras_optlab.optimizers.madgrad import MADGRAD  # isort: skip
from keras_optlab.optimizers.ademamix import AdEMAMix  # isort: skip
# Issue 14 (muon): Muon.
from keras_optlab.optimizers.muon import Muon  # isort: skip
# Issue 14 (sf): the Schedule-Free family.
from keras_optlab.optimizers.schedule_free_sgd import ScheduleFreeSGD  # isort: skip
from keras_optlab.optimizers.schedule_free_adamw import ScheduleFreeAdamW  # isort: skip
from keras_optlab.optimizers.schedule_free_radam import ScheduleFreeRAdam  # isort: skip
# Issue 14 (mars): MARS.
from keras_optlab.optimizers.mars import MARS  # isort: skip
# Issue 14 (dadapt): D-Adaptation.
from keras_optlab.optimizers.dadapt_adam import DAdaptAdam  # isort: skip
from keras_optlab.optimizers.dadapt_sgd import DAdaptSGD  # isort: skip
# Issue 14 (shampoo): Shampoo.
from keras_optlab.optimizers.shampoo import Shampoo  # isort: skip
# Issue 14 (adafactor): Adafactor.
from keras_optlab.optimizers.adafactor import Adafactor  # isort: skip
# Issue 14 (soap): SOAP.
from keras_optlab.optimizers.soap import SOAP  # isort: skip
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.wrappers import SWA
from keras_optlab.optimizers.wrappers import Cautious
from keras_optlab.optimizers.wrappers import Lookahead
from keras_optlab.optimizers.wrappers import OptimizerWrapper
from keras_optlab.optimizers.registry import OptimizerInfo
from keras_optlab.optimizers.registry import lookup
from keras_optlab.optimizers.registry import rows
from keras_optlab.optimizers import keras_builtins
from keras_optlab.optimizers import spec

__all__ = [
    "ADOPT",
    "AdaBelief",
    "Adafactor",
    "AdaBound",
    "Adadelta",
    "Adagrad",
    "Adam",
    "Adamax",
    "AdamW",
    "Cautious",
    "AdEMAMix",
    "Adan",
    "DAdaptAdam",
    "DAdaptSGD",
    "GradientDescent",
    "LAMB",
    "LARS",
    "LazyAdam",
    "Lion",
    "Lookahead",
    "MADGRAD",
    "MARS",
    "Muon",
    "Momentum",
    "Nadam",
    "Nesterov",
    "NovoGrad",
    "OptimizerInfo",
    "OptimizerWrapper",
    "OptlabOptimizer",
    "Prodigy",
    "QHAdam",
    "RAdam",
    "RMSprop",
    "SOAP",
    "SWA",
    "ScheduleFreeAdamW",
    "ScheduleFreeRAdam",
    "ScheduleFreeSGD",
    "Shampoo",
    "Yogi",
    "available",
    "get",
    "hyperparameter_markdown",
]
# Issue 14 (muon).


def __getattr__(name):
    # SAMModel, sam_train_step, SWACallback and swa_batch_norm_update lived
    # here until 0.1.0; they are not optimizers (keras_optlab.training).
    return _moved.moved_attribute(__name__, name)


def available():
    """The registered optimizers as `OptimizerInfo` rows (name, class,
    description, reference, family; `weight_decay`: "coupled" or
    "decoupled"; `hyperparameters`: the class's table), in registration
    order."""
    return rows()


def hyperparameter_markdown():
    """The hyperparameter table of every registered optimizer as Markdown
    (docs/optimizers.md; `optlab list --hyperparameters`)."""
    return spec.markdown(rows())


def _unknown(identifier):
    names = ", ".join(info.name for info in rows())
    return ValueError(
        f"Unknown optimizer. Received: identifier={identifier!r}. "
        f"Known names: {names}"
    )


def get(identifier, **kwargs):
    """Returns an optimizer instance.

    Args:
        identifier: a short name (`"adam"`, `"nesterov"`) or class name
            (`"Adam"`); `"keras:<name>"` for Keras' own optimizer of that
            class name, case and underscores ignored (`"keras:lion"`); a config dict, either `{"class_name": ...,
            "config": {...}}` as written by `keras.optimizers.serialize` or
            with a short name as `class_name`; or an optimizer instance,
            returned as it is.
        **kwargs: hyperparameters for a name (`get("adam",
            learning_rate=1e-2)`).

    Raises:
        ValueError: for an unknown name or a dict that does not describe an
            optimizer. TypeError: for any other type.
    """
    if isinstance(identifier, keras.optimizers.Optimizer):
        return identifier
    if keras_builtins.is_keras_name(identifier):
        return keras_builtins.get(identifier, **kwargs)
    if isinstance(identifier, str):
        info = lookup(identifier)
        if info is None:
            raise _unknown(identifier)
        return info.cls(**kwargs)
    if isinstance(identifier, dict):
        class_name = identifier.get("class_name")
        if not isinstance(class_name, str):
            raise ValueError(
                "An optimizer config needs a string 'class_name'. "
                f"Received: identifier={identifier!r}"
            )
        config = dict(identifier.get("config", {}))
        info = lookup(class_name.split(">")[-1])
        if info is not None:
            return info.cls.from_config(config)
        try:
            optimizer = keras.saving.deserialize_keras_object(identifier)
        except (TypeError, ValueError) as error:
            raise _unknown(class_name) from error
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise _unknown(class_name)
        return optimizer
    raise TypeError(
        "An optimizer identifier must be a name, a config dict or an "
        f"optimizer. Received: identifier={identifier!r} of type "
        f"{type(identifier).__name__}"
    )
