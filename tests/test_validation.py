"""Bad hyperparameters raise before anything is built, naming the argument
and the value received. The cases are data."""

import re

import numpy as np
import pytest

from keras_optlab import optimizers
from keras_optlab import schedules
from tests.optimizer_table import TABLE

ALL = [r.name for r in TABLE]

# (optimizer names, kwargs, exception, text the message must contain)
CASES = [
    (ALL, {"learning_rate": -0.1}, ValueError, "Received: learning_rate=-0.1"),
    (ALL, {"learning_rate": "fast"}, TypeError, "learning_rate='fast'"),
    (ALL, {"learning_rate": True}, TypeError, "learning_rate=True"),
    (ALL, {"learning_rate": float("nan")}, ValueError, "learning_rate=nan"),
    (ALL, {"weight_decay": -1.0}, ValueError, "weight_decay=-1.0"),
    (ALL, {"clipnorm": -1.0}, ValueError, "clipnorm=-1.0"),
    (ALL, {"clipvalue": 0.0}, ValueError, "clipvalue=0.0"),
    (ALL, {"global_clipnorm": "x"}, TypeError, "global_clipnorm='x'"),
    (ALL, {"gradient_accumulation_steps": 1}, ValueError,
     "gradient_accumulation_steps=1"),
    (ALL, {"gradient_accumulation_steps": 2.5}, TypeError,
     "gradient_accumulation_steps=2.5"),
    (ALL, {"ema_momentum": 1.5}, ValueError, "ema_momentum=1.5"),
    (ALL, {"loss_scale_factor": 0.0}, ValueError, "loss_scale_factor=0.0"),
    (["momentum", "nesterov", "rmsprop"], {"momentum": 1.0}, ValueError,
     "momentum=1.0"),
    (["momentum", "nesterov", "rmsprop"], {"momentum": -0.5}, ValueError,
     "momentum=-0.5"),
    (["adam", "adamw", "adamax", "nadam"], {"beta_1": 1.0}, ValueError,
     "beta_1=1.0"),
    (["adam", "adamw", "adamax", "nadam"], {"beta_1": -0.1}, ValueError,
     "beta_1=-0.1"),
    (["adam", "adamw", "adamax", "nadam"], {"beta_2": 1.5}, ValueError,
     "beta_2=1.5"),
    (["adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam"],
     {"epsilon": -1.0}, ValueError, "Received: epsilon=-1.0"),
    (["adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam"],
     {"epsilon": 0.0}, ValueError, "epsilon=0.0"),
    (["adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam"],
     {"epsilon": 1.5}, ValueError, "epsilon=1.5"),
    (["adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam"],
     {"epsilon": 1e-50}, ValueError, "epsilon=1e-50"),
    (ALL, {"clipnorm": 1e-50}, ValueError, "clipnorm=1e-50"),
    # Subnormal in float32: TensorFlow flushes it to 0 (Adam: 0 / 0 = NaN).
    (["adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam"],
     {"epsilon": 1e-40}, ValueError, "epsilon=1e-40"),
    (["adam", "adamw", "nadam", "adagrad"], {"epsilon_mode": "kingma"},
     ValueError, "epsilon_mode='kingma'"),
    (["adadelta", "rmsprop"], {"rho": 1.5}, ValueError, "rho=1.5"),
    (["adadelta", "rmsprop"], {"rho": -0.1}, ValueError, "rho=-0.1"),
    (["rmsprop"], {"centered": "yes"}, TypeError, "centered='yes'"),
    (["adam", "adamw"], {"amsgrad": 1}, TypeError, "amsgrad=1"),
    (["adagrad"], {"initial_accumulator_value": -0.1}, ValueError,
     "initial_accumulator_value=-0.1"),
    (["adamw"], {"weight_decay": None}, ValueError, "weight_decay=None"),
    (["nadam"], {"momentum_decay": 0.0}, ValueError, "momentum_decay=0.0"),
]

PARAMS = [
    pytest.param(name, kwargs, error, text, id=f"{name}-{text}")
    for names, kwargs, error, text in CASES
    for name in names
]


@pytest.mark.parametrize("name, kwargs, error, text", PARAMS)
def test_bad_hyperparameter(name, kwargs, error, text):
    with pytest.raises(error, match=re.escape(text)) as info:
        optimizers.get(name, **kwargs)
    argument = next(iter(kwargs))
    assert f"`{argument}`" in str(info.value)


@pytest.mark.parametrize("name", ALL)
def test_number_types_accepted(name):
    for learning_rate in (1, np.float32(0.01), np.float64(0.5), 0.0):
        optimizer = optimizers.get(name, learning_rate=learning_rate)
        assert optimizer.get_config()["learning_rate"] == pytest.approx(
            float(learning_rate))


@pytest.mark.parametrize("name", ["adam", "adamw", "nadam", "adamax",
                                  "adagrad", "rmsprop", "adadelta"])
@pytest.mark.parametrize("epsilon", [1.0, 0.1, 1e-8])
def test_epsilon_up_to_one_accepted(name, epsilon):
    assert optimizers.get(name, epsilon=epsilon).epsilon == epsilon


@pytest.mark.parametrize("cls, kwargs, error, text", [
    (schedules.InverseSqrtDecay, {"initial_learning_rate": -1.0}, ValueError,
     "initial_learning_rate=-1.0"),
    (schedules.StepDecay, {"initial_learning_rate": 0.1, "step_size": 0},
     ValueError, "step_size=0"),
    (schedules.StepDecay, {"initial_learning_rate": 0.1, "step_size": 1.5},
     TypeError, "step_size=1.5"),
    (schedules.StepDecay, {"initial_learning_rate": 0.1, "step_size": 10,
                           "gamma": 0.0}, ValueError, "gamma=0.0"),
    (schedules.Warmup, {"schedule": 0.1, "warmup_steps": 0}, ValueError,
     "warmup_steps=0"),
    (schedules.Warmup, {"schedule": "cosine", "warmup_steps": 5}, TypeError,
     "schedule='cosine'"),
    (schedules.Warmup, {"schedule": 0.1, "warmup_steps": 5,
                        "initial_learning_rate": -0.5}, ValueError,
     "initial_learning_rate=-0.5"),
])
def test_bad_schedule_argument(cls, kwargs, error, text):
    with pytest.raises(error, match=re.escape(text)):
        cls(**kwargs)
