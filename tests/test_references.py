"""Every optimizer follows its NumPy reference step by step.

float64 variables and gradients, 60 steps of random gradients (scales 0.1 to
3), three variables of different shapes. Tolerance on TensorFlow: rtol 1e-9,
atol 1e-12: the only differences allowed are float64 rounding from a
different order of operations (other backends: tests/helpers.py, RTOL64).
The learning rate is rounded to float32 for the reference because
Keras stores it in a float32 variable.

Each row's first setting runs eagerly (`optimizer.apply` call by call);
on TensorFlow its other settings run in a `tf.function`, the graph
`model.fit` runs, which costs 30-55% less than 60 eager calls, so both
paths follow the reference (on JAX and torch every setting runs eagerly:
compiling costs more there than it saves).
"""

import keras
import numpy as np
import pytest

import keras_optlab
from keras_optlab.engine.xla import blocked_sum
from tests import helpers
from tests import references as refs
from tests.optimizer_table import BY_NAME
from tests.optimizer_table import TABLE
from tests.optimizer_table import settings_params

STEPS = 60
RTOL, ATOL = helpers.RTOL64, helpers.ATOL64


def test_table_covers_registry():
    registered = {info.name for info in keras_optlab.optimizers.available()}
    assert registered == set(BY_NAME)


def test_every_row_has_several_settings():
    for row in TABLE:
        assert len(row.settings) >= 2, row.name


@pytest.mark.parametrize("row, setting", settings_params())
def test_follows_reference(row, setting):
    params, grads = helpers.random_problem(
        STEPS, seed=7, shapes=row.reference_shapes or helpers.SHAPES)
    optimizer = helpers.make_optimizer(row.name, **setting)
    compiled = (helpers.BACKEND == "tensorflow"
                and setting is not row.settings[0])
    actual = helpers.run_keras(optimizer, params, grads, compiled=compiled)

    hyper = {k: v for k, v in setting.items() if k != "learning_rate"}
    if "weight_decay" in hyper:
        hyper["weight_decay"] = helpers.as_float32(hyper["weight_decay"])
    # Keras' decoupled decay, for a rule that does not contain its own.
    base_weight_decay = None
    if not row.reference.handles_weight_decay:
        base_weight_decay = hyper.pop("weight_decay", None)
    lr = helpers.as_float32(setting["learning_rate"])
    expected, _ = refs.run_reference(row.reference, hyper, params, grads, lr,
                                     weight_decay=base_weight_decay)
    helpers.assert_trajectories_close(actual, expected, RTOL, ATOL)
    # The run must have moved the parameters, or the comparison is empty.
    assert not np.allclose(actual[-1][0], params[0])


# Sizes around the blocks of `blocked_sum`, which the norms of LARS,
# NovoGrad and LAMB use when compiled (the SHAPES above fit in one block): 1200 = 37
# blocks of 32 + 16, 2048 = 64 blocks, 1113 = 34 blocks + 25, and 7.
NORM_SHAPES = [(40, 30), (2048,), (3, 7, 53), (7,)]


@pytest.mark.parametrize(
    "size", [0, 1, 32, 33, 1023, 1024, 1025, 1056, 4096, 33_000, 100_003])
def test_blocked_sum_matches_numpy(size):
    x = np.random.default_rng(size).normal(size=size) * 3.0
    got = blocked_sum(keras.ops.convert_to_tensor(x, dtype="float64"),
                      keras.ops.convert_to_tensor(True))
    np.testing.assert_allclose(float(got), np.sum(x), rtol=1e-13,
                               atol=1e-13)


@pytest.mark.parametrize(
    "row, setting",
    [p for p in settings_params()
     if p.values[0].name in ("lars", "novograd", "lamb")])
def test_norm_based_rules_follow_reference_on_larger_variables(row, setting):
    params, grads = helpers.random_problem(STEPS, seed=8, shapes=NORM_SHAPES)
    optimizer = helpers.make_optimizer(row.name, **setting)
    actual = helpers.run_keras(optimizer, params, grads)
    hyper = {k: v for k, v in setting.items() if k != "learning_rate"}
    if "weight_decay" in hyper:
        hyper["weight_decay"] = helpers.as_float32(hyper["weight_decay"])
    lr = helpers.as_float32(setting["learning_rate"])
    expected, _ = refs.run_reference(row.reference, hyper, params, grads, lr)
    helpers.assert_trajectories_close(actual, expected, RTOL, ATOL)
    assert not np.allclose(actual[-1][0], params[0])


def test_adam_epsilon_modes_differ_for_large_epsilon():
    """With epsilon 1.0 the two placements give clearly different steps."""
    params, grads = helpers.random_problem(5, seed=3)
    runs = {}
    for mode in ("hat", "outside"):
        opt = helpers.make_optimizer("adam", learning_rate=0.1, epsilon=1.0,
                                     epsilon_mode=mode)
        runs[mode] = helpers.run_keras(opt, params, grads)[0][0] - params[0]
    ratio = np.abs(runs["outside"]).sum() / np.abs(runs["hat"]).sum()
    # At t = 1, m = 0.1 g and v = 0.001 g^2, so with lr = 0.1:
    # hat:   alpha = lr sqrt(0.001) / 0.1;  step = alpha 0.1 |g| / (sqrt(0.001) |g| + 1)
    # outside: m_hat = g, v_hat = g^2;        step = lr |g| / (|g| + 1)
    lr, g = helpers.as_float32(0.1), np.abs(grads[0][0])
    hat_first = lr * np.sqrt(0.001) * g / (np.sqrt(0.001) * g + 1.0)
    outside_first = lr * g / (g + 1.0)
    np.testing.assert_allclose(np.abs(runs["hat"]), hat_first, rtol=RTOL)
    np.testing.assert_allclose(np.abs(runs["outside"]), outside_first, rtol=RTOL)
    assert ratio > 5


def test_nesterov_matches_lookahead_form():
    """The stored-parameter form equals Sutskever's look-ahead form with
    theta = Theta - mu V, on f(x) = 0.5 x^T A x - b^T x."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    a = a @ a.T + np.eye(4)
    b = rng.normal(size=4)
    mu, lr = 0.9, 0.02

    def grad(x):
        return a @ x - b

    lookahead = refs.NesterovLookaheadRef(np.ones(4), mu, grad)
    optimizer = helpers.make_optimizer("nesterov", learning_rate=lr,
                                       momentum=mu)
    (variable,) = helpers.make_variables([np.ones(4)])
    for _ in range(300):
        g = grad(np.array(variable.numpy()))
        optimizer.apply([g], [variable])
        lookahead.step(helpers.as_float32(lr))
        np.testing.assert_allclose(
            variable.numpy(), lookahead.theta - mu * lookahead.velocity,
            rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(variable.numpy(), np.linalg.solve(a, b),
                               atol=1e-3)


# Issue 14 (shampoo): a convolution kernel cut into blocks.


def test_shampoo_follows_reference_on_a_conv_kernel_in_blocks():
    """block_size 3 cuts a (3, 3, 4, 8) kernel into 1 x 1 x 2 x 3 blocks
    (sizes 3, 3, {3, 1}, {3, 3, 2}), each with four factors and roots
    ^(-1/8), recomputed at t = 2, 7, ..., 52 (11 times in 55 steps)."""
    params, grads = helpers.random_problem(55, seed=17,
                                           shapes=[(3, 3, 4, 8), (5, 3)])
    setting = {"block_size": 3, "precondition_frequency": 5,
               "start_preconditioning_step": 2, "beta_2": 0.95}
    optimizer = helpers.make_optimizer("shampoo", learning_rate=0.01,
                                       **setting)
    actual = helpers.run_keras(optimizer, params, grads)
    expected, _ = refs.run_reference(refs.ShampooRef, setting, params, grads,
                                     helpers.as_float32(0.01))
    helpers.assert_trajectories_close(actual, expected, RTOL, ATOL)
    assert len(optimizer._blocks[0][1]) == 6
    assert not np.allclose(actual[-1][0], params[0])
