"""Adan, AdaBound, QHAdam, LARS and Prodigy: what the reference table does
not cover.

Closed-form first steps, AdaBound's bounds
closing on SGD, LARS' trust ratio, Prodigy's distance estimate and its
once-per-step shared state under tf.function, model.fit and
MirroredStrategy, and save-and-reload of the state. Bad hyperparameters:
tests/test_validation.py, from each class's table.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_optlab import optimizers
from tests import helpers
from tests import references as refs

NEW = ("adan", "adabound", "qhadam", "lars", "prodigy")

@pytest.mark.parametrize("name", NEW)
def test_registered_with_family(name):
    info = {row.name: row for row in optimizers.available()}[name]
    assert info.family == ("sgd" if name == "lars" else "adam")
    assert info.cls.__name__ in optimizers.__all__


@pytest.mark.parametrize("name", NEW)
def test_config_round_trip(name):
    optimizer = optimizers.get(name, learning_rate=0.5)
    config = keras.optimizers.serialize(optimizer)
    restored = keras.optimizers.deserialize(config)
    assert type(restored) is type(optimizer)
    assert restored.get_config() == optimizer.get_config()


@pytest.mark.parametrize("name", NEW)
def test_model_fit_equals_eager_apply(name):
    """model.fit (compiled train step) and eager `apply` give the same
    weights: shared state and first-step logic survive tf.function."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")

    def make_model():
        keras.utils.set_random_seed(5)
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])

    kwargs = {"lars": {"learning_rate": 5.0}}.get(name, {})
    model = make_model()
    model.compile(optimizer=optimizers.get(name, **kwargs), loss="mse")
    model.fit(x, y, batch_size=32, epochs=12, shuffle=False, verbose=0)

    eager = make_model()
    optimizer = optimizers.get(name, **kwargs)
    for _ in range(12):
        with tf.GradientTape() as tape:
            loss = keras.losses.mean_squared_error(y, eager(x))
            loss = tf.reduce_mean(loss)
        grads = tape.gradient(loss, eager.trainable_variables)
        optimizer.apply(grads, eager.trainable_variables)
    for fitted, applied in zip(model.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(fitted, applied, rtol=1e-4, atol=1e-6)
    assert not np.allclose(model.get_weights()[0], make_model().get_weights()[0])


# --- Adan --------------------------------------------------------------------


def _adan_denominator(n, eps, epsilon_mode):
    if epsilon_mode == "inside":
        return np.sqrt(n + eps)
    return np.sqrt(n) + eps


@pytest.mark.parametrize("epsilon_mode", ["inside", "outside"])
def test_adan_first_step_is_sign_like_with_proximal_decay(epsilon_mode):
    """m_0 = g_0, v_0 = 0, n_0 = g_0^2: the first step is
    theta_1 = (theta_0 - lr g / denominator(g^2)) / (1 + lambda lr)."""
    theta0 = np.array([1.0, -2.0, 3.0])
    g = np.array([0.5, -4.0, 0.0])
    lr, lam, eps = 0.1, 0.2, 1e-4
    optimizer = optimizers.get("adan", learning_rate=lr, weight_decay=lam,
                               epsilon=eps, epsilon_mode=epsilon_mode)
    (variable,) = helpers.make_variables([theta0])
    optimizer.apply([g], [variable])
    lr, lam, eps = (helpers.as_float32(x) for x in (lr, lam, eps))
    expected = (theta0 - lr * g / _adan_denominator(g * g, eps, epsilon_mode)
                ) / (1 + lam * lr)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=helpers.RTOL64,
                               atol=helpers.ATOL64)


@pytest.mark.parametrize("epsilon_mode", ["inside", "outside"])
def test_adan_second_step_uses_raw_gradient_difference(epsilon_mode):
    """v_1 = g_1 - g_0 (not (1 - beta_2) times it), n_1 from n_0 = g_0^2;
    the betas are the defaults, decays of the old value."""
    b1, b2, b3, lr, eps = 0.98, 0.92, 0.99, 0.01, 1e-4
    g0, g1 = np.array([1.0, -1.0]), np.array([3.0, 0.5])
    optimizer = optimizers.get("adan", learning_rate=lr, epsilon=eps,
                               epsilon_mode=epsilon_mode)
    (variable,) = helpers.make_variables([np.zeros(2)])
    optimizer.apply([g0], [variable])
    after_first = variable.numpy().copy()
    optimizer.apply([g1], [variable])
    lr, eps = helpers.as_float32(lr), helpers.as_float32(eps)
    m1 = b1 * g0 + (1 - b1) * g1
    v1 = g1 - g0
    n1 = b3 * g0**2 + (1 - b3) * (g1 + b2 * (g1 - g0)) ** 2
    expected = after_first - lr * (m1 + b2 * v1) / _adan_denominator(
        n1, eps, epsilon_mode)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=helpers.RTOL64,
                               atol=helpers.ATOL64)


# --- AdaBound ----------------------------------------------------------------


def test_adabound_becomes_sgd_with_final_lr():
    """After many steps both bounds are within 1/(gamma t) of final_lr, so
    the step is final_lr * m_t, SGD with (EMA) momentum."""
    final_lr, gamma, beta_1 = 0.05, 1.0, 0.9
    optimizer = optimizers.get("adabound", learning_rate=1e-3,
                               final_lr=final_lr, gamma=gamma)
    (variable,) = helpers.make_variables([np.zeros(4)])
    rng = np.random.default_rng(1)
    m = np.zeros(4)

    @tf.function
    def apply(g):
        optimizer.apply([g], [variable])

    steps = 2000
    for t in range(1, steps + 1):
        # Adam's own step size here, lr / |g| ~ 1e-3 / 10 or 1e-3 / 1e-3,
        # lies far below or far above final_lr: the bounds decide.
        g = rng.normal(size=4) * np.array([10.0, 10.0, 1e-3, 1e-3])
        before = variable.numpy().copy()
        apply(tf.constant(g))
        m = beta_1 * m + (1 - beta_1) * g
    step = before - variable.numpy()
    np.testing.assert_allclose(step, final_lr * m,
                               rtol=1.0 / (gamma * steps) + 1e-12)


def test_adabound_first_steps_are_adam_when_bounds_are_loose():
    """Early on [eta_l, eta_u] is about [0, inf): AdaBound is Adam (hat)."""
    params, grads = helpers.random_problem(5, seed=2)
    adabound = optimizers.get("adabound", learning_rate=0.01, epsilon=1e-7)
    adam = optimizers.get("adam", learning_rate=0.01, epsilon=1e-7)
    helpers.assert_trajectories_close(
        helpers.run_keras(adabound, params, grads),
        helpers.run_keras(adam, params, grads), rtol=1e-12, atol=0)


def test_adabound_bounds_follow_a_decaying_schedule():
    schedule = keras.optimizers.schedules.ExponentialDecay(
        0.01, decay_steps=10, decay_rate=0.5)
    setting = {"final_lr": 0.02, "gamma": 0.2}
    params, grads = helpers.random_problem(40, seed=4)
    optimizer = optimizers.get("adabound", learning_rate=schedule, **setting)
    actual = helpers.run_keras(optimizer, params, grads)
    expected, _ = refs.run_reference(
        refs.AdaBoundRef, setting, params, grads,
        lambda k: helpers.as_float32(float(schedule(k))))
    helpers.assert_trajectories_close(actual, expected, rtol=1e-6, atol=1e-9)
    lower, upper = optimizer.bounds(optimizer.learning_rate, "float64")
    assert float(upper) < 0.02 * 0.5**3  # final_lr decayed with the schedule


# --- QHAdam ------------------------------------------------------------------


def test_qhadam_with_nu_one_is_adam_paper_form():
    params, grads = helpers.random_problem(20, seed=5)
    qhadam = optimizers.get("qhadam", learning_rate=0.01, nu_1=1.0,
                            nu_2=1.0, beta_1=0.9, epsilon=1e-8)
    adam = optimizers.get("adam", learning_rate=0.01, epsilon=1e-8,
                          epsilon_mode="outside")
    helpers.assert_trajectories_close(
        helpers.run_keras(qhadam, params, grads),
        helpers.run_keras(adam, params, grads), rtol=1e-10, atol=1e-12)


# --- LARS --------------------------------------------------------------------


def test_lars_trust_ratio_closed_form():
    """w = (3, 4), g = (0.3, 0.4): ||w|| = 5, ||g|| = 0.5; with weight decay
    0.125 the trust ratio is eta * 5 / (0.5 + 0.625) and the first velocity
    lr * ratio * (g + 0.125 w)."""
    lr, eta, wd = 2.0, 0.01, 0.125
    optimizer = optimizers.get("lars", learning_rate=lr, eta=eta,
                               weight_decay=wd, momentum=0.9)
    w = np.array([3.0, 4.0])
    g = np.array([0.3, 0.4])
    (variable,) = helpers.make_variables([w])
    optimizer.apply([g], [variable])
    ratio = eta * 5.0 / (0.5 + wd * 5.0)
    first = lr * ratio * (g + wd * w)
    np.testing.assert_allclose(variable.numpy(), w - first, rtol=1e-12)
    assert float(optimizer.trust_ratio(
        tf.constant(g), tf.constant(w), tf.constant(wd, tf.float64))) == (
        pytest.approx(ratio, rel=1e-12))
    # Second step: momentum on the velocity, ratio from the new weights.
    optimizer.apply([g], [variable])
    w1 = w - first
    ratio1 = eta * np.linalg.norm(w1) / (0.5 + wd * np.linalg.norm(w1))
    second = 0.9 * first + lr * ratio1 * (g + wd * w1)
    np.testing.assert_allclose(variable.numpy(), w1 - second, rtol=1e-12)


@pytest.mark.parametrize("w, g", [(np.zeros(3), np.array([1.0, 2.0, 2.0])),
                                  (np.array([1.0, 2.0, 2.0]), np.zeros(3))])
def test_lars_trust_ratio_is_one_for_a_zero_norm(w, g):
    optimizer = optimizers.get("lars", learning_rate=0.1, momentum=0.0)
    (variable,) = helpers.make_variables([w])
    optimizer.apply([g], [variable])
    lr = helpers.as_float32(0.1)
    np.testing.assert_allclose(variable.numpy(), w - lr * g, rtol=1e-12)


def test_lars_excluded_variables_take_plain_momentum_steps():
    """A Dense bias matched by exclude_from_adaptation moves by lr * g, the
    kernel by lr * trust ratio * g."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    kernel, bias = model.trainable_variables
    kernel.assign([[3.0], [4.0]])
    bias.assign([1.0])
    optimizer = optimizers.get("lars", learning_rate=0.5, eta=0.01,
                               exclude_from_adaptation=["bias"])
    g_kernel = np.array([[0.3], [0.4]], "float32")
    g_bias = np.array([2.0], "float32")
    optimizer.apply([g_kernel, g_bias], [kernel, bias])
    np.testing.assert_allclose(bias.numpy(), 1.0 - 0.5 * 2.0, rtol=1e-6)
    np.testing.assert_allclose(
        kernel.numpy(), [[3.0], [4.0]] - 0.5 * (0.01 * 5.0 / 0.5) * g_kernel,
        rtol=1e-6)


# --- Prodigy -----------------------------------------------------------------


def test_prodigy_smallest_accepted_d0_times_epsilon_stays_finite():
    """d0 * epsilon = 2e-38, just above float32's smallest normal number
    (1.18e-38): accepted, and a zero gradient leaves everything finite;
    1e-38 (subnormal, flushed to 0 by TensorFlow: 0 / 0) is refused."""
    with pytest.raises(ValueError, match="d0=1e-19, epsilon=1e-19"):
        optimizers.get("prodigy", d0=1e-19, epsilon=1e-19)
    optimizer = optimizers.get("prodigy", d0=2e-19, epsilon=1e-19)
    (variable,) = helpers.make_variables([np.ones(3)], dtype="float32")
    for _ in range(3):
        optimizer.apply([tf.zeros(3)], [variable])
    for value in [variable] + list(optimizer.variables):
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(value)))


def _quadratic_run(optimizer, start, target, steps):
    (variable,) = helpers.make_variables([start])
    target = tf.constant(target)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = 0.5 * tf.reduce_sum(tf.square(variable - target))
        optimizer.apply(tape.gradient(loss, [variable]), [variable])

    ds = []
    for _ in range(steps):
        step()
        ds.append(optimizer.d)
    return variable, np.array(ds)


def test_prodigy_d_grows_from_d0_on_a_quadratic():
    """f(x) = 0.5 ||x - x*||^2 from 0, x* at distance D = 10: d starts at
    1e-6, grows monotonically by orders of magnitude, stays of the order of
    D (the quantity it estimates), and x reaches x*."""
    target = np.full(4, 5.0)  # ||x* - x0|| = 10, max |x*_i - x0_i| = 5
    optimizer = optimizers.get("prodigy")
    variable, ds = _quadratic_run(optimizer, np.zeros(4), target, 400)
    assert np.all(np.diff(ds) >= 0)
    assert ds[0] >= 1e-6 and ds[-1] > 1e4 * 1e-6
    assert 0.5 < ds[-1] < 20.0
    np.testing.assert_allclose(variable.numpy(), target, atol=1e-2)


def test_prodigy_keras_model_converges_without_tuning():
    """Default Prodigy on least squares reaches the closed-form minimum loss
    via model.fit, with no learning rate chosen."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(256, 5)).astype("float32")
    w_true = rng.normal(size=(5, 1)) * 3.0
    y = (x @ w_true + 2.0 + 0.1 * rng.normal(size=(256, 1))).astype("float32")
    design = np.hstack([x, np.ones((256, 1))])
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    best = float(np.mean((design @ solution - y) ** 2))

    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizers.get("prodigy"), loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=40, verbose=0)
    assert history.history["loss"][-1] < 1.5 * best
    assert model.optimizer.d > 100 * 1e-6


@pytest.mark.slow
def test_prodigy_mirrored_strategy_matches_single_device(mirrored_strategy):
    """Two replicas, each half the batch: d, r and the weights equal one
    device's run (gradients are summed over replicas, so the loss is
    averaged over the global batch)."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")

    def run(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(9)
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
            model.compile(optimizer=optimizers.get("prodigy"), loss="mse")
        model.fit(x, y, batch_size=16, epochs=15, shuffle=False, verbose=0)
        return model.get_weights(), model.optimizer.d

    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    single_weights, single_d = run(tf.distribute.OneDeviceStrategy(devices[0]))
    mirrored_weights, mirrored_d = run(mirrored_strategy)
    assert single_d > 1e-6
    assert mirrored_d == pytest.approx(single_d, rel=1e-4)
    for a, b in zip(mirrored_weights, single_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_prodigy_state_survives_save_and_reload(tmp_path):
    """d, r, x0 and s are saved with the model; training on after a reload
    continues exactly."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(32, 2)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizers.get("prodigy", weight_decay=0.01),
                  loss="mse")
    model.fit(x, y, batch_size=32, epochs=5, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.optimizer, optimizers.Prodigy)
    assert reloaded.optimizer.d == model.optimizer.d > 1e-6
    model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    reloaded.fit(x, y, batch_size=32, epochs=3, verbose=0)
    for a, b in zip(model.get_weights(), reloaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_prodigy_ignores_variables_without_gradients():
    """A variable whose gradient is None this step contributes neither its
    stale inner product nor its s to d."""
    a, b = helpers.make_variables([np.ones(2), np.ones(2)])
    both = optimizers.get("prodigy")
    both.apply([np.array([1.0, -1.0]), np.array([0.5, 0.5])], [a, b])
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        both.apply([np.array([2.0, 1.0]), None], [a, b])

    ref = refs.ProdigyRef([np.ones(2), np.ones(2)])
    ref.step([np.array([1.0, -1.0]), np.array([0.5, 0.5])], 1.0)
    # Step 2 of the reference on `a` alone, `b`'s state left as it is.
    only_a = refs.ProdigyRef([ref.params[0]])
    only_a.__dict__.update(
        t=ref.t, d=ref.d, r=ref.r, x0=ref.x0[:1], m=ref.m[:1], v=ref.v[:1],
        s=ref.s[:1])
    only_a.step([np.array([2.0, 1.0])], 1.0)
    np.testing.assert_allclose(a.numpy(), only_a.params[0], rtol=1e-12)
    assert both.d == pytest.approx(only_a.d, rel=1e-12)
    assert math.isfinite(both.d)
