"""Adafactor's mechanisms that the table's generic tests do not check: the
factored state's size, the bound update clipping puts on the step, a
factored step that stays finite where the second moment underflows, and
the blocked axis sums of its compiled form. (Its trajectory against the
NumPy reference, Keras' twin and Keras' own test file: the table row.)"""

import keras
import numpy as np
import pytest

from keras_optlab.optimizers import Adafactor
from tests import helpers


def _state_shapes(optimizer, variables):
    optimizer.build(variables)
    return sorted(tuple(v.shape) for v in optimizer.variables
                  if v.name not in ("iteration", "learning_rate"))


def test_state_is_n_plus_m_for_a_matrix():
    """An n x m matrix keeps R (n) and C (m); a rank-3 tensor one R and C
    per matrix of its last two axes; vectors and scalars a whole V; beta_1
    adds a full first moment."""
    variables = [keras.Variable(np.zeros(s)) for s in
                 [(64, 33), (2, 8, 5), (7,), ()]]
    assert _state_shapes(Adafactor(), variables) == sorted(
        [(64,), (33,), (2, 8), (2, 5), (7,), ()])
    variables = [keras.Variable(np.zeros((64, 33)))]
    assert _state_shapes(Adafactor(beta_1=0.9), variables) == sorted(
        [(64,), (33,), (64, 33)])


@pytest.mark.parametrize("shape", [(6, 5), (9,), (2, 3, 4)])
def test_update_clipping_bounds_the_rms_of_the_step(shape):
    """With rho_t = lr = 1 and no parameter scale the step is Uh_t, whose
    RMS is at most d, and d where clipping acts (RMS(U_1) = 1 for a vector,
    about 1 for a matrix: above d = 0.5)."""
    d = 0.5
    params, grads = helpers.random_problem(8, seed=3, shapes=[shape])
    optimizer = Adafactor(1.0, relative_step=False, scale_parameter=False,
                          clip_threshold=d)
    history = helpers.run_keras(optimizer, params, grads)
    previous = params[0]
    rms = []
    for (x,) in history:
        rms.append(np.sqrt(np.mean((previous - x) ** 2)))
        previous = x
    assert max(rms) <= d * (1 + 1e-12), rms
    assert rms[0] == pytest.approx(d, rel=1e-12), rms


def test_factored_step_is_finite_where_the_second_moment_underflows():
    """float32, G = [[1e6, 0], [0, 0]]: R_1 C_1 / mean(R) is 1e-60 / 2.5e11,
    0 in float32, so G / sqrt(V) would be 0 / 0 (keras.optimizers.Adafactor
    gives NaN everywhere, measured). Ours takes the row and column factors
    apart: the step is the float64 value, only x_00 moves by 0.01."""
    variable = keras.Variable(np.ones((2, 2), "float32"))
    gradient = keras.ops.convert_to_tensor(
        np.array([[1e6, 0.0], [0.0, 0.0]], "float32"))
    Adafactor().apply([gradient], [variable])
    np.testing.assert_allclose(np.asarray(variable),
                               [[0.99, 1.0], [1.0, 1.0]], rtol=1e-6)
