"""SOAP's own mechanisms, beyond the table's generic tests (its reference
agreement, 60 steps on MATRIX_SHAPES, is tests/test_references.py's).

- The bases are refreshed only on the steps the schedule names (eigh at
  t = f, a power iteration and QR at 2f, 3f, ...), also inside a compiled
  step, on a scalar, a vector, two matrices and a convolution kernel: the
  eigh basis diagonalises its factor in order of decreasing eigenvalue;
  each later basis is orthonormal and the Q of a QR of F Q_old (columns
  sorted by diag(Q_old^T F Q_old)), and V is permuted by that sort.
- Dimensions over `max_precondition_dim` get no factor (identity basis);
  a variable with none left is Keras' Adam, step for step.
- A factor that is not finite (a NaN written into it, or a float32
  overflow to inf) keeps the previous basis, counts the failure in
  `preconditioner_failures`, and puts no NaN or Inf in the weights.
"""

import keras
import numpy as np
import pytest

from tests import helpers

BACKEND = keras.backend.backend()

SHAPES = [(), (7,), (16, 9), (64, 33), (3, 3, 4, 8)]


def _optimizer(**kwargs):
    return helpers.make_optimizer("soap", **kwargs)


def _rotate(x, bases):
    """x in the bases: axis i contracted with Q_i's first index."""
    for axis, q in enumerate(bases):
        x = np.moveaxis(np.tensordot(q.T, x, axes=([1], [axis])), 0, axis)
    return x


def _state(optimizer, index):
    bases = [np.array(q) for q in optimizer._bases[index]]
    factors = [np.array(f) for f in optimizer._factors[index]]
    return bases, factors, np.array(optimizer._velocities[index])


def _check_refresh(t, frequency, before, after, gradient, beta_2):
    """The bases and V after the refreshing step t against those before
    it."""
    bases_before, _, v_before = before
    bases, factors, v = after
    # V before any permutation: this step's EMA in the old bases.
    v_expected = (beta_2 * v_before + (1 - beta_2)
                  * _rotate(gradient, bases_before) ** 2)
    for axis, (q_old, q, f) in enumerate(zip(bases_before, bases, factors)):
        n = len(f)
        np.testing.assert_allclose(q.T @ q, np.eye(n), atol=1e-12)
        if t == frequency:  # eigh: Q^T F Q diagonal, decreasing
            d = q.T @ f @ q
            scale = np.abs(d).max()
            np.testing.assert_allclose(d - np.diag(np.diag(d)), 0,
                                       atol=1e-11 * scale)
            assert np.all(np.diff(np.diag(d)) <= 1e-11 * scale)
            continue
        order = np.argsort(-np.diag(q_old.T @ f @ q_old), kind="stable")
        r = q.T @ f @ q_old[:, order]  # the R of F Q_sorted = Q R
        np.testing.assert_allclose(np.tril(r, -1), 0,
                                   atol=1e-10 * np.abs(r).max())
        v_expected = np.take(v_expected, order, axis=axis)
    np.testing.assert_allclose(v, v_expected, rtol=1e-9, atol=1e-15)


def test_bases_refreshed_on_schedule_on_every_kind_of_variable():
    """50 float64 steps, f = 5: eigh at 5, power iterations at 10, ..., 50
    on (16, 9), (64, 33) and the kernel's four factors; the scalar and the
    vector are Adam and have no factor. The full state is read around the
    refreshing steps; the first basis of (16, 9) at every step."""
    rng = np.random.default_rng(3)
    frequency, beta_2 = 5, 0.9
    optimizer = _optimizer(learning_rate=0.01,
                           precondition_frequency=frequency, beta_2=beta_2)
    variables = helpers.make_variables([rng.normal(size=s) for s in SHAPES])
    optimizer.build(variables)
    assert optimizer._bases[0] is None and optimizer._bases[1] is None
    assert [len(b) for b in optimizer._bases[2:]] == [2, 2, 4]
    refreshed, watched = [], np.eye(16)
    before = {i: _state(optimizer, i) for i in (2, 3, 4)}
    for t in range(1, 51):
        grads = [rng.normal(size=s) for s in SHAPES]
        optimizer.apply([keras.ops.convert_to_tensor(g, "float64")
                         for g in grads], variables)
        now = np.array(optimizer._bases[2][0])
        if not np.array_equal(now, watched):
            refreshed.append(t)
        watched = now
        if t % frequency == 0:
            for i in (2, 3, 4):
                _check_refresh(t, frequency, before[i], _state(optimizer, i),
                               grads[i], beta_2)
        if (t + 1) % frequency == 0:
            before = {i: _state(optimizer, i) for i in (2, 3, 4)}
    assert refreshed == list(range(5, 51, 5))
    assert optimizer.preconditioner_failures == 0


@pytest.mark.skipif(BACKEND == "torch",
                    reason="XLA compiles steps on TensorFlow and JAX; "
                    "torch's branch is Python, as in the eager test")
def test_bases_refreshed_on_schedule_in_a_compiled_step():
    """The branch on the step counter inside XLA: eigh at 4, QR at 8 and
    12, nothing between. TensorFlow's XLA eigh rebuilds a factor to about
    1e-8 relative (tests/test_shampoo.py), hence the bound 1e-6 on the
    diagonalisation there."""
    rng = np.random.default_rng(4)
    shapes = [(5, 4)]
    optimizer = _optimizer(learning_rate=0.01, precondition_frequency=4)
    variables = helpers.make_variables([rng.normal(size=s) for s in shapes])
    step = helpers.compiled_step(optimizer, variables, xla=True)
    refreshed, previous = [], None
    for t in range(1, 13):
        step([keras.ops.convert_to_tensor(rng.normal(size=s), "float64")
              for s in shapes])
        bases, factors, _ = _state(optimizer, 0)
        if previous is not None and not np.array_equal(bases[0], previous):
            refreshed.append(t)
            for q, f in zip(bases, factors):
                np.testing.assert_allclose(q.T @ q, np.eye(len(q)),
                                           atol=1e-6)
                if t == 4:
                    d = q.T @ f @ q
                    off = np.abs(d - np.diag(np.diag(d))).max()
                    assert off < 1e-6 * np.abs(d).max()
        previous = bases[0]
    assert refreshed == [4, 8, 12]
    assert optimizer.preconditioner_failures == 0


def test_dimensions_over_the_limit_keep_the_identity_and_adam_remains():
    """max_precondition_dim 12: (16, 9) gets a factor for its 9 only, the
    kernel for all four, (64, 33) none, and follows keras.optimizers.Adam
    (same betas and epsilon) step for step. The betas are exact in float32:
    Keras' Adam casts them through float32 (ops.cast of a Python float)."""
    shapes = [(64, 33), (16, 9), (3, 3, 4, 8)]
    params, grads = helpers.random_problem(12, seed=5, shapes=shapes)
    options = dict(learning_rate=0.01, beta_1=0.875, beta_2=0.984375,
                   epsilon=1e-7)
    optimizer = _optimizer(max_precondition_dim=12,
                           precondition_frequency=3, **options)
    ours = helpers.run_keras(optimizer, params, grads)
    assert optimizer._bases[0] is None
    assert optimizer._failures[0] is None
    assert [b is None for b in optimizer._bases[1]] == [True, False]
    assert [tuple(b.shape) for b in optimizer._bases[2]] == [
        (3, 3), (3, 3), (4, 4), (8, 8)]
    adam = keras.optimizers.Adam(**options)
    theirs = helpers.run_keras(adam, params[:1], [g[:1] for g in grads])
    for step_ours, step_adam in zip(ours, theirs):
        np.testing.assert_allclose(step_ours[0], step_adam[0], rtol=1e-12,
                                   atol=1e-14)
    assert optimizer.preconditioner_failures == 0


def test_non_finite_factor_keeps_the_previous_basis_and_is_counted():
    """A NaN in the left factor before the first eigh: that basis stays
    the identity (counted), the right one is the eigh's; at the power
    iteration of t = 4 the NaN factor fails again (its basis and V's
    order kept along it), the right basis moves; the weights stay
    finite."""
    rng = np.random.default_rng(0)
    optimizer = _optimizer(learning_rate=0.01, precondition_frequency=2)
    variables = helpers.make_variables([rng.normal(size=(6, 5)),
                                        rng.normal(size=(3,))])

    def step():
        optimizer.apply([keras.ops.convert_to_tensor(rng.normal(size=s),
                                                     "float64")
                         for s in ((6, 5), (3,))], variables)

    step()
    left, right = optimizer._factors[0]
    poisoned = np.array(left)
    poisoned[1, 2] = np.nan
    left.assign(poisoned)
    step()  # t = 2: eigh
    assert optimizer.preconditioner_failures == 1
    q_left, q_right = (np.array(q) for q in optimizer._bases[0])
    np.testing.assert_array_equal(q_left, np.eye(6))
    assert not np.allclose(q_right, np.eye(5))
    step()
    step()  # t = 4: power iteration and QR
    assert optimizer.preconditioner_failures == 2
    np.testing.assert_array_equal(np.array(optimizer._bases[0][0]), np.eye(6))
    assert not np.array_equal(np.array(optimizer._bases[0][1]), q_right)
    for variable in variables:
        assert np.isfinite(np.array(variable)).all()


def test_overflowed_factor_keeps_its_basis_in_float32():
    """A float32 factor that overflowed to inf (as G G^T does for
    gradients of about 1e19 and more) stays inf under the EMA, fails the
    power iterations at t = 6 and 9 (counted; its basis kept, the other
    factor's refreshed), and the weights stay finite. (Gradients large
    enough to overflow V itself make Adam's, and so SOAP's, step NaN, as
    in keras.optimizers.Adam.)"""
    rng = np.random.default_rng(1)
    optimizer = _optimizer(learning_rate=0.01, precondition_frequency=3)
    (variable,) = helpers.make_variables([rng.normal(size=(4, 3))],
                                         "float32")

    def steps(count):
        for _ in range(count):
            optimizer.apply([rng.normal(size=(4, 3)).astype("float32")],
                            [variable])

    steps(3)
    assert optimizer.preconditioner_failures == 0
    left, right = optimizer._factors[0]
    right.assign(np.full((3, 3), np.inf, "float32"))
    q_left, q_right = (np.array(q) for q in optimizer._bases[0])
    steps(3)
    assert optimizer.preconditioner_failures == 1
    assert np.isinf(np.array(right)).all()
    np.testing.assert_array_equal(np.array(optimizer._bases[0][1]), q_right)
    assert not np.array_equal(np.array(optimizer._bases[0][0]), q_left)
    steps(3)
    assert optimizer.preconditioner_failures == 2
    assert np.isfinite(np.array(variable)).all()
