"""Every base-class option of `keras.optimizers.Optimizer` works with every
optimizer: the trajectory equals the reference run under the same option as
Keras documents it (tests/references.py: run_reference). float64, 30 steps,
rtol 1e-9 as in test_references.py."""

import numpy as np
import pytest

from keras_optlab import schedules
from tests import helpers
from tests import references as refs
from tests.optimizer_table import TABLE

STEPS = 30
RTOL, ATOL = helpers.RTOL64, helpers.ATOL64

OPTIONS = {
    "weight_decay": {"weight_decay": 0.05},
    "clipnorm": {"clipnorm": 1.0},
    "clipvalue": {"clipvalue": 0.5},
    "global_clipnorm": {"global_clipnorm": 1.5},
    "ema": {"use_ema": True, "ema_momentum": 0.9},
    "accumulation": {"gradient_accumulation_steps": 3},
    "loss_scale": {"loss_scale_factor": 128.0},
}


def _split(row, setting, option):
    """(optimizer kwargs, reference hyper, driver options)."""
    hyper = {k: v for k, v in setting.items() if k != "learning_rate"}
    driver = dict(option)
    if "weight_decay" in hyper:
        hyper["weight_decay"] = helpers.as_float32(hyper["weight_decay"])
    if "weight_decay" in driver:
        driver["weight_decay"] = helpers.as_float32(driver["weight_decay"])
        if row.reference.handles_weight_decay:
            hyper["weight_decay"] = driver.pop("weight_decay")
    return {**setting, **option}, hyper, driver


@pytest.mark.parametrize("option", list(OPTIONS), ids=list(OPTIONS))
@pytest.mark.parametrize("row", TABLE, ids=[r.name for r in TABLE])
def test_option_matches_reference(row, option):
    setting = row.settings[0]
    kwargs, hyper, driver = _split(row, setting, OPTIONS[option])
    params, grads = helpers.random_problem(STEPS, seed=5)
    if option == "loss_scale":
        # What the optimizer sees after the loss was scaled by the factor.
        grads = [[g * 128.0 for g in step] for step in grads]
    optimizer = helpers.make_optimizer(row.name, **kwargs)
    variables = helpers.make_variables(params)
    actual = helpers.run_keras(optimizer, params, grads, variables=variables)

    lr = helpers.as_float32(setting["learning_rate"])
    expected, ema = refs.run_reference(row.reference, hyper, params, grads,
                                       lr, **driver)
    helpers.assert_trajectories_close(actual, expected, RTOL, ATOL)
    if ema is not None:
        optimizer.finalize_variable_values(variables)
        for variable, want in zip(variables, ema[-1]):
            np.testing.assert_allclose(variable.numpy(), want, RTOL, ATOL)
        assert not np.allclose(ema[-1][0], expected[-1][0])
    if option == "accumulation":
        # Only every third call updates: calls 1, 2, 4 and 5 leave the
        # parameters exactly as they were; call 3 moves them wherever the
        # reference's first update does (ADOPT's only sets its second
        # moment), and call 6 always does.
        np.testing.assert_array_equal(actual[0][0], params[0])
        for k in (1, 3, 4):
            np.testing.assert_array_equal(actual[k][0], actual[k - 1][0])
        if not np.array_equal(expected[2][0], params[0]):
            assert not np.array_equal(actual[2][0], params[0])
        assert not np.array_equal(actual[5][0], actual[4][0])


@pytest.mark.parametrize("row", TABLE, ids=[r.name for r in TABLE])
def test_learning_rate_schedule_matches_reference(row):
    setting = row.settings[0]
    base_lr = setting["learning_rate"]
    schedule = schedules.StepDecay(base_lr, step_size=7, gamma=0.5)
    params, grads = helpers.random_problem(STEPS, seed=9)
    optimizer = helpers.make_optimizer(
        row.name, **{**setting, "learning_rate": schedule})
    actual = helpers.run_keras(optimizer, params, grads)

    hyper = {k: v for k, v in setting.items() if k != "learning_rate"}
    if "weight_decay" in hyper:
        hyper["weight_decay"] = helpers.as_float32(hyper["weight_decay"])
    # Powers of 0.5 are exact in float32, so the schedule is exact too.
    expected, _ = refs.run_reference(
        row.reference, hyper, params, grads,
        lambda k: helpers.as_float32(base_lr) * 0.5 ** (k // 7))
    helpers.assert_trajectories_close(actual, expected, RTOL, ATOL)
