"""Mixed precision with every optimizer of the table.

- mixed_float16: float32 variables, float16 compute, and Keras'
  LossScaleOptimizer around ours (model.compile wraps it). Two epochs of a
  small regression must land on the float32 run's weights to float16
  accuracy (rtol 2e-2, atol 5e-3; LARS's trust ratio at lr 1.0 amplifies
  float16 rounding to 3e-3): a loss scale left in the gradients would be off
  by a factor of 2^15.
- bfloat16 variables: the optimizer's state is bfloat16 too (as in Keras);
  with 8 mantissa bits, a moment that moves by 0.1% a step cannot follow the
  float32 trajectory; the check is that on f(x) = 0.5 |x - c|^2 the
  distance to c at least halves in 300 steps at the row's parabola learning
  rate, with the state in bfloat16 and everything finite. (Keras' own Adam
  fails this: 0.999 is 1.0 in bfloat16, so its bias correction is 0 and the
  step too; ours computes bias corrections in float32.)
"""

import keras
import numpy as np
import pytest

from tests import helpers
from tests import models
from tests.optimizer_table import TABLE

ROWS = [pytest.param(r, id=r.name) for r in TABLE]


def _fit(row, loss_scaled=False, run_eagerly=False):
    x, y = models.regression_data(n=64)
    model = models.dense_model()
    optimizer = helpers.make_optimizer(row.name, **row.settings[0])
    if loss_scaled:
        # Keras' default initial scale 2^15 overflows float16 gradients of
        # this model on the first steps, which are then skipped by design;
        # 2^8 does not, so both runs take the same 8 steps.
        optimizer = keras.optimizers.LossScaleOptimizer(
            optimizer, initial_scale=2.0**8)
    model.compile(optimizer=optimizer, loss="mse", run_eagerly=run_eagerly)
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return model


def _under_policy(policy, function):
    # Restores the policy that was set before (on JAX and torch the tests
    # run with floatx float64, whose default policy is float64).
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        return function()
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


@pytest.mark.parametrize("row", ROWS)
def test_mixed_float16_with_loss_scaling(row):
    # Both runs start from the same float32 weights: the reference is the
    # float32 run whatever floatx is, run eagerly (cheaper than tracing a
    # step; the same kernels, and the tolerance is float16's anyway).
    plain = models.weights_of(_under_policy(
        "float32", lambda: _fit(row, run_eagerly=True)))
    model = _under_policy("mixed_float16", lambda: _fit(row, loss_scaled=True))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert int(model.optimizer.inner_optimizer.iterations.numpy()) == 8
    assert type(model.optimizer.inner_optimizer).__module__.startswith(
        "keras_optlab.")
    mixed = models.weights_of(model)
    assert all(w.dtype == np.float32 for w in mixed)
    models.assert_same_weights(mixed, plain, rtol=2e-2, atol=5e-3)


@pytest.mark.parametrize("row", ROWS)
def test_bfloat16_variables_make_progress(row):
    rates = row.convergence_learning_rates["parabola"]
    settings = rates if isinstance(rates, dict) else {"learning_rate": rates}
    if row.name == "prodigy":
        # Steps of d0 = 1e-6 are below bfloat16's resolution at |x| ~ 1, so x
        # never moves and d cannot grow: the Prodigy docstring says so.
        settings = {**settings, "d0": 1e-2}
    centre = np.array([1.0, -2.0, 0.5], "float32")
    variable = keras.Variable(np.array([-3.0, 3.0, 2.0]), dtype="bfloat16")
    optimizer = helpers.make_optimizer(row.name, **settings)
    start = np.abs(np.array([-3.0, 3.0, 2.0]) - centre).max()
    for _ in range(300):
        gradient = keras.ops.subtract(
            variable.value, keras.ops.cast(centre, "bfloat16"))
        optimizer.apply([gradient], [variable])
    state = [v for v in optimizer.variables if tuple(v.shape) == (3,)]
    assert all(v.dtype == "bfloat16" for v in state)
    final = keras.ops.convert_to_numpy(
        keras.ops.cast(variable.value, "float32"))
    assert np.isfinite(final).all()
    assert np.abs(final - centre).max() < 0.5 * start, final
