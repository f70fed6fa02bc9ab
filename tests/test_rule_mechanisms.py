"""What the generic table tests cannot see: each rule's own mechanism,
checked in closed form or against a NumPy model of that mechanism.

RAdam's rho_t and its two branches, Yogi's signed update, AdaBelief's two
epsilons, NovoGrad's first step and its weight decay, LazyAdam's sparse
rows (against a NumPy lazy Adam, and inside model.fit), Adan's first steps,
AdaBound's bounds closing on SGD, QHAdam's limits, LARS' trust ratio,
Prodigy's distance estimate and its once-per-step shared state under
tf.function, model.fit, MirroredStrategy and save-and-reload, MADGRAD's
x_0 and dual-averaging point, AdEMAMix's beta_3 scheduler as a linear
half-life, MARS's clip on both sides of norm 1 and its first step. Step-by-step
agreement with the papers: tests/test_references.py; bad hyperparameters:
tests/test_validation.py.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_optlab
from keras_optlab import optimizers
from keras_optlab.optimizers import radam
from tests import helpers
from tests import references as refs
from tests.optimizer_table import BY_NAME


# --- RAdam ----------------------------------------------------------------


def _sma_length_as_average(beta, t):
    """rho_t as the SMA length: sum_k (2k + 1) beta^k / sum_k beta^k,
    k = 0 .. t-1, the form the closed one is derived from."""
    k = np.arange(t, dtype=np.float64)
    weights = beta**k
    return float(np.sum((2 * k + 1) * weights) / np.sum(weights))


@pytest.mark.parametrize("beta_2", [0.9, 0.99, 0.999, 0.9999])
def test_radam_sma_length_closed_forms(beta_2):
    rho = [float(radam.sma_length(beta_2, t)) for t in range(1, 61)]
    assert rho[0] == pytest.approx(1.0, abs=1e-9)
    assert rho[1] == pytest.approx((1 + 3 * beta_2) / (1 + beta_2), rel=1e-9)
    for t in range(1, 61):
        assert rho[t - 1] == pytest.approx(
            _sma_length_as_average(beta_2, t), rel=1e-9, abs=1e-9), t
    assert np.all(np.diff(rho) > 0)
    assert radam.sma_length_limit(beta_2) == pytest.approx(
        (1 + beta_2) / (1 - beta_2), rel=1e-12)
    far = float(radam.sma_length(beta_2, 1_000_000))  # beta_2^t < e^-100
    assert far == pytest.approx(radam.sma_length_limit(beta_2), rel=1e-9)


def _first_tractable_step(beta_2, threshold):
    t = 1
    while _sma_length_as_average(beta_2, t) <= threshold:
        t += 1
    return t


@pytest.mark.parametrize("beta_2, threshold, first_adaptive", [
    (0.999, 4.0, 5),   # the paper's threshold
    (0.999, 5.0, 6),   # TensorFlow Addons' sma_threshold
    (0.9, 15.0, 25),
])
def test_radam_branches_on_a_constant_gradient(beta_2, threshold,
                                               first_adaptive):
    """With g constant, m_hat_t = g and v_hat_t = g^2 exactly, so the step is
    lr * g before rho_t crosses the threshold and lr * r_t * g / (|g| +
    epsilon) after: both known in closed form."""
    assert _first_tractable_step(beta_2, threshold) == first_adaptive
    lr, epsilon = helpers.as_float32(0.01), 1e-7
    g = np.array([0.5, -2.0, 3.0])
    optimizer = helpers.make_optimizer(
        "radam", learning_rate=0.01, beta_2=beta_2, sma_threshold=threshold,
        epsilon=epsilon)
    (variable,) = helpers.make_variables([np.zeros(3)])
    rho_inf = (1 + beta_2) / (1 - beta_2)
    for t in range(1, first_adaptive + 3):
        before = np.array(variable.numpy())
        optimizer.apply([g], [variable])
        step = before - np.array(variable.numpy())
        if t < first_adaptive:
            expected = lr * g
        else:
            rho = _sma_length_as_average(beta_2, t)
            r = np.sqrt((rho - 4) * (rho - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho))
            expected = lr * r * g / (np.abs(g) + epsilon)
        np.testing.assert_allclose(step, expected, rtol=1e-7, err_msg=str(t))


def test_radam_table_settings_take_both_branches():
    params, grads = helpers.random_problem(60, seed=7)
    for setting in BY_NAME["radam"].settings:
        hyper = {k: v for k, v in setting.items() if k != "learning_rate"}
        reference = refs.RAdamRef(params, **hyper)
        for step_grads in grads:
            reference.step(step_grads, 0.01)
        steps = reference.tractable_steps
        assert 1 < steps[0] < 60 and steps == list(range(steps[0], 61)), (
            setting, steps[:3])


# --- Yogi -----------------------------------------------------------------


@pytest.mark.parametrize("v_0, direction", [
    (4.0, -1.0),   # v_0 > g^2: v moves down by (1 - beta_2) g^2
    (0.25, 1.0),   # v_0 < g^2: v moves up by (1 - beta_2) g^2
    (1.0, 0.0),    # v_0 = g^2: sign(0) = 0, v stays
])
def test_yogi_first_step_closed_form(v_0, direction):
    g, lr, beta_1, beta_2, epsilon = 1.0, 0.1, 0.9, 0.5, 1e-3
    optimizer = helpers.make_optimizer(
        "yogi", learning_rate=lr, beta_1=beta_1, beta_2=beta_2,
        epsilon=epsilon, initial_accumulator_value=v_0)
    (variable,) = helpers.make_variables([np.zeros(1)])
    optimizer.apply([np.array([g])], [variable])
    v_1 = v_0 + direction * (1 - beta_2) * g * g
    expected = -helpers.as_float32(lr) * (1 - beta_1) * g / (
        np.sqrt(v_1) + epsilon)
    np.testing.assert_allclose(variable.numpy(), [expected], rtol=1e-12)


def test_yogi_table_setting_flips_sign():
    """The second setting drives v both down and up within 60 steps."""
    params, grads = helpers.random_problem(60, seed=7)
    hyper = {k: v for k, v in BY_NAME["yogi"].settings[1].items()
             if k != "learning_rate"}
    reference = refs.YogiRef(params, **hyper)
    for step_grads in grads:
        reference.step(step_grads, 0.05)
    assert reference.sign_flips > 10


def test_yogi_debias_matches_tfa_scaling_at_step_one():
    """debias=True multiplies the first step by sqrt(1 - b2) / (1 - b1)."""
    steps = {}
    for debias in (False, True):
        optimizer = helpers.make_optimizer("yogi", learning_rate=0.01,
                                           debias=debias)
        (variable,) = helpers.make_variables([np.zeros(2)])
        optimizer.apply([np.array([1.0, -3.0])], [variable])
        steps[debias] = np.array(variable.numpy())
    np.testing.assert_allclose(steps[True], steps[False] * np.sqrt(0.001) / 0.1,
                               rtol=1e-12)


# --- AdaBelief ------------------------------------------------------------


def test_adabelief_epsilon_enters_twice():
    """beta_1 = 0 makes m_t = g_t, so (g - m)^2 = 0 and s_t is epsilon
    accumulated alone: s_t = eps (1 - b2^t) / (1 - b2), s_hat_t = eps / (1 -
    b2) at every t, and each step is lr g / (sqrt(eps / (1 - b2)) + eps).
    Epsilon only outside the root would give lr g / eps; only inside it,
    lr g / sqrt(eps / (1 - b2))."""
    lr, beta_2, epsilon = 0.01, 0.999, 0.1
    optimizer = helpers.make_optimizer(
        "adabelief", learning_rate=lr, beta_1=0.0, beta_2=beta_2,
        epsilon=epsilon)
    rng = np.random.default_rng(0)
    (variable,) = helpers.make_variables([np.zeros(4)])
    for _ in range(5):
        g = rng.normal(size=4)
        before = np.array(variable.numpy())
        optimizer.apply([g], [variable])
        expected = helpers.as_float32(lr) * g / (
            np.sqrt(epsilon / (1 - beta_2)) + epsilon)
        np.testing.assert_allclose(before - variable.numpy(), expected,
                                   rtol=1e-12)


def test_adabelief_amsgrad_keeps_belief_non_decreasing():
    """The paper's s_t = max(s_t, s_{t-1}): once the gradient settles, s no
    longer decays, so the steps stay smaller than without the maximum."""
    final = {}
    for amsgrad in (False, True):
        optimizer = helpers.make_optimizer(
            "adabelief", learning_rate=0.01, beta_2=0.9, amsgrad=amsgrad)
        (variable,) = helpers.make_variables([np.zeros(1)])
        beliefs = []
        for t in range(40):
            g = (5.0 if t % 2 else -5.0) if t < 10 else 1.0
            optimizer.apply([np.array([g])], [variable])
            beliefs.append(float(_state(optimizer, "belief")[0]))
        final[amsgrad] = beliefs
    assert np.all(np.diff(final[True]) >= 0)
    assert final[False][-1] < final[False][10]
    assert final[True][-1] > 10 * final[False][-1]


# --- NovoGrad -------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_novograd_first_step_is_normalised(scale):
    """v_1 = ||g_1||^2, m_1 = g_1 / (||g_1|| + eps): the first step has
    length lr whatever the gradient's scale (up to eps)."""
    rng = np.random.default_rng(1)
    g = rng.normal(size=(3, 4)) * scale
    optimizer = helpers.make_optimizer("novograd", learning_rate=0.1,
                                       epsilon=1e-12)
    (variable,) = helpers.make_variables([np.zeros((3, 4))])
    optimizer.apply([g], [variable])
    lr = helpers.as_float32(0.1)
    np.testing.assert_allclose(-variable.numpy(),
                               lr * g / (np.linalg.norm(g) + 1e-12),
                               rtol=1e-12)


def test_novograd_zero_first_gradient_gives_zero_step():
    optimizer = helpers.make_optimizer("novograd", learning_rate=0.1)
    (variable,) = helpers.make_variables([np.ones(3)])
    optimizer.apply([np.zeros(3)], [variable])
    np.testing.assert_array_equal(variable.numpy(), np.ones(3))


def test_novograd_weight_decay_is_applied_once_and_respects_exclusion():
    """With a zero gradient the only update is d * theta through the
    momentum: theta_1 = theta_0 (1 - lr d), not (1 - lr d)^2 as it would be
    if Keras' decoupled decay ran as well; an excluded variable stays."""
    lr, d = 0.1, 0.5
    optimizer = helpers.make_optimizer("novograd", learning_rate=lr,
                                       weight_decay=d)
    decayed, excluded = helpers.make_variables([np.full(2, 2.0),
                                                np.full(2, 2.0)])
    optimizer.exclude_from_weight_decay(var_list=[excluded])
    optimizer.apply([np.zeros(2), np.zeros(2)], [decayed, excluded])
    lr, d = helpers.as_float32(lr), helpers.as_float32(d)
    np.testing.assert_allclose(decayed.numpy(), 2.0 * (1 - lr * d),
                               rtol=1e-12)
    np.testing.assert_array_equal(excluded.numpy(), [2.0, 2.0])


def test_novograd_keeps_one_second_moment_per_variable():
    optimizer = helpers.make_optimizer("novograd")
    variables = helpers.make_variables([np.zeros((50, 20)), np.zeros(7)])
    optimizer.build(variables)
    sizes = [int(np.prod(v.shape)) for v in optimizer.variables]
    # iterations, learning rate, then m (full size) and v (one number).
    assert sorted(sizes) == [1, 1, 1, 1, 7, 1000]


# --- LazyAdam -------------------------------------------------------------


def _state(optimizer, kind):
    """The optimizer variables of one kind ('momentum', 'velocity', ...)
    for the first model variable, as NumPy."""
    (variable,) = [v for v in optimizer.variables
                   if v.path.endswith(f"_{kind}")][:1]
    return np.array(variable.numpy())


@pytest.mark.parametrize("setting", [
    {"learning_rate": 0.01},
    {"learning_rate": 0.01, "amsgrad": True, "epsilon": 1.0},
    {"learning_rate": 0.01, "epsilon_mode": "outside", "beta_1": 0.0},
])
def test_lazyadam_dense_is_adam_exactly(setting):
    params, grads = helpers.random_problem(20, seed=3)
    lazy = helpers.run_keras(helpers.make_optimizer("lazyadam", **setting),
                             params, grads)
    adam = helpers.run_keras(helpers.make_optimizer("adam", **setting),
                             params, grads)
    for lazy_step, adam_step in zip(lazy, adam):
        for a, b in zip(lazy_step, adam_step):
            np.testing.assert_array_equal(a, b)


SPARSE_STEPS = [  # (row indices, with repeats as an Embedding produces)
    [1, 4, 4, 7],
    [0, 1],
    [4, 4, 4],
    [7, 1, 0, 7],
    [2],
]
NEVER_NAMED = [3, 5, 6, 8, 9]


def test_lazyadam_sparse_rows_follow_numpy_lazy_adam():
    rng = np.random.default_rng(5)
    table = rng.normal(size=(10, 3))
    optimizer = helpers.make_optimizer("lazyadam", learning_rate=0.1)
    (variable,) = helpers.make_variables([table])
    reference = refs.LazyAdamRef(table)
    momentum_before_step_3 = None
    for step, indices in enumerate(SPARSE_STEPS):
        values = rng.normal(size=(len(indices), 3))
        gradient = tf.IndexedSlices(
            tf.constant(values), tf.constant(indices, dtype=tf.int64),
            tf.constant([10, 3], dtype=tf.int64))
        optimizer.apply([gradient], [variable])
        reference.step(indices, values, helpers.as_float32(0.1))
        np.testing.assert_allclose(variable.numpy(), reference.param,
                                   rtol=1e-12, atol=1e-15, err_msg=str(step))
        np.testing.assert_allclose(_state(optimizer, "momentum"), reference.m,
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(_state(optimizer, "velocity"), reference.v,
                                   rtol=1e-12, atol=1e-15)
        if step == 2:
            momentum_before_step_3 = _state(optimizer, "momentum")
    # Rows never named: parameters and both moments untouched.
    np.testing.assert_array_equal(variable.numpy()[NEVER_NAMED],
                                  table[NEVER_NAMED])
    np.testing.assert_array_equal(
        _state(optimizer, "momentum")[NEVER_NAMED], 0.0)
    np.testing.assert_array_equal(
        _state(optimizer, "velocity")[NEVER_NAMED], 0.0)
    # Row 4, last named at step 3: its momentum did not decay afterwards.
    np.testing.assert_array_equal(_state(optimizer, "momentum")[4],
                                  momentum_before_step_3[4])


def test_lazyadam_sparse_amsgrad_touches_only_named_rows():
    optimizer = helpers.make_optimizer("lazyadam", learning_rate=0.1,
                                       amsgrad=True)
    (variable,) = helpers.make_variables([np.ones((4, 2))])
    for indices in ([0, 2], [2, 2]):
        gradient = tf.IndexedSlices(
            tf.ones((len(indices), 2), tf.float64),
            tf.constant(indices, tf.int64), tf.constant([4, 2], tf.int64))
        optimizer.apply([gradient], [variable])
    v_max = _state(optimizer, "velocity_max")
    np.testing.assert_array_equal(v_max[[1, 3]], 0.0)
    assert np.all(v_max[[0, 2]] > 0)
    np.testing.assert_array_equal(variable.numpy()[[1, 3]], 1.0)


def _embedding_run(optimizer, epochs):
    """Fits a bag-of-embeddings regression; returns (row of token 0 after
    the first batch, after the first epoch, loss before, loss after)."""
    vocabulary, length = 40, 6
    rng = np.random.default_rng(0)
    token_weights = rng.normal(size=vocabulary)
    x = rng.integers(1, vocabulary, size=(256, length))
    x[:16, 0] = 0  # token 0 occurs in the first batch only
    y = token_weights[x].mean(axis=1, keepdims=True)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((length,), dtype="int32"),
        keras.layers.Embedding(vocabulary, 8),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(1),
    ])
    embedding = model.layers[0]
    model.compile(optimizer=optimizer, loss="mse")
    rows = []

    class RecordTokenZero(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0 and not rows:
                rows.append(np.array(embedding.embeddings.numpy()[0]))

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                rows.append(np.array(embedding.embeddings.numpy()[0]))

    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False,
                        verbose=0, callbacks=[RecordTokenZero()])
    return rows[0], rows[1], before, history.history["loss"][-1]


def test_lazyadam_trains_an_embedding_model_with_fit():
    """model.fit hands LazyAdam the Embedding's IndexedSlices: the row of a
    token seen only in the first batch stays as that batch left it for the
    rest of the epoch, where Adam's momentum keeps moving it; and the model
    learns."""
    after_batch, after_epoch, before, after = _embedding_run(
        keras_optlab.optimizers.LazyAdam(0.02), epochs=8)
    np.testing.assert_array_equal(after_batch, after_epoch)
    assert after < 0.1 * before, (before, after)

    adam_batch, adam_epoch, _, _ = _embedding_run(
        keras_optlab.optimizers.Adam(0.02), epochs=1)
    assert np.max(np.abs(adam_batch - adam_epoch)) > 1e-3


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


# The rules whose step size is a growing distance estimate d, with the
# same state to save and to sum over replicas (DAdaptSGD's own tests
# follow).
DISTANCE_ESTIMATES = ["prodigy", "dadaptadam"]


@pytest.mark.slow
@pytest.mark.parametrize("name", DISTANCE_ESTIMATES)
def test_distance_estimate_mirrored_strategy_matches_single_device(
        name, mirrored_strategy):
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
            model.compile(optimizer=optimizers.get(name), loss="mse")
        model.fit(x, y, batch_size=16, epochs=15, shuffle=False, verbose=0)
        return model.get_weights(), model.optimizer.d

    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    single_weights, single_d = run(tf.distribute.OneDeviceStrategy(devices[0]))
    mirrored_weights, mirrored_d = run(mirrored_strategy)
    assert single_d > 1e-6
    assert mirrored_d == pytest.approx(single_d, rel=1e-4)
    for a, b in zip(mirrored_weights, single_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", DISTANCE_ESTIMATES)
def test_distance_estimate_state_survives_save_and_reload(name, tmp_path):
    """d, r and the per-variable state (Prodigy's x0 and s, D-Adapt Adam's
    m, v and s) are saved with the model; training on after a reload
    continues exactly."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(32, 2)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizers.get(name, weight_decay=0.01),
                  loss="mse")
    model.fit(x, y, batch_size=32, epochs=5, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded.optimizer) is optimizers.lookup(name).cls
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


# --- ADOPT, Lion, LAMB (issue 14, opt-a) -----------------------------------


def test_adopt_first_call_only_sets_the_second_moment():
    """The paper's g_0: v_0 = g_0^2, m and theta unchanged; the next call
    normalises by |g_0| and clips at c_1 = 1^(1/4) = 1."""
    lr, b1 = 0.1, 0.9
    optimizer = helpers.make_optimizer("adopt", learning_rate=lr, beta_1=b1)
    theta = np.array([1.0, -2.0, 0.5])
    g_0 = np.array([0.5, -0.25, 2.0])
    (variable,) = helpers.make_variables([theta])
    optimizer.apply([g_0], [variable])
    np.testing.assert_array_equal(variable.numpy(), theta)
    m, v = optimizer._momentums[0], optimizer._velocities[0]
    np.testing.assert_array_equal(np.asarray(m.numpy()), 0.0)
    np.testing.assert_array_equal(np.asarray(v.numpy()), g_0**2)
    g_1 = np.array([0.25, 1.0, -3.0])  # g_1 / |g_0| = 0.5, 4 and -1.5
    optimizer.apply([g_1], [variable])
    clipped = np.array([0.5, 1.0, -1.0])
    np.testing.assert_allclose(
        variable.numpy(), theta - helpers.as_float32(lr) * (1 - b1) * clipped,
        rtol=1e-12)


def test_adopt_clip_grows_as_t_to_the_quarter():
    """v_0 = 1 and beta_2 = 0 keep v = 1; with beta_1 = 0 and a gradient of
    100 each step moves by exactly lr * c_t = lr * t^(1/4)."""
    lr = 0.5
    optimizer = helpers.make_optimizer("adopt", learning_rate=lr, beta_1=0.0,
                                       beta_2=0.0)
    (variable,) = helpers.make_variables([np.zeros(1)])
    optimizer.apply([np.ones(1)], [variable])  # g_0: v_0 = 1
    positions = []
    for _ in range(5):
        optimizer.apply([np.ones(1)], [variable])  # v stays 1
        positions.append(float(variable.numpy()[0]))
    optimizer_big = helpers.make_optimizer("adopt", learning_rate=lr,
                                           beta_1=0.0, beta_2=0.0)
    (big,) = helpers.make_variables([np.zeros(1)])
    optimizer_big.apply([np.ones(1)], [big])
    lr = helpers.as_float32(lr)
    for t in range(1, 6):
        before = float(big.numpy()[0])
        optimizer_big.apply([np.full(1, 100.0)], [big])
        np.testing.assert_allclose(before - float(big.numpy()[0]),
                                   lr * t**0.25, rtol=1e-12)
        # v_t = g_t^2 = 1e4 from here: undo it to keep the clip active.
        optimizer_big._velocities[0].assign(np.ones(1))
    np.testing.assert_allclose(positions, -lr * np.arange(1, 6), rtol=1e-12)


def test_lion_moves_every_coordinate_by_the_learning_rate():
    """|theta_t - theta_{t-1}| = lr wherever c_t != 0, whatever the size of
    the gradient."""
    lr = 0.01
    optimizer = helpers.make_optimizer("lion", learning_rate=lr)
    params, grads = helpers.random_problem(10, seed=4)
    history = helpers.run_keras(optimizer, params, grads)
    previous = params
    for step in history:
        for before, after in zip(previous, step):
            np.testing.assert_allclose(np.abs(after - before),
                                       helpers.as_float32(lr), rtol=1e-9)
        previous = step


def test_lamb_step_length_is_lr_times_the_norm_of_x():
    """The trust ratio makes ||x_t - x_{t-1}|| = lr ||x_{t-1}|| per
    variable, with and without weight decay."""
    for weight_decay in (None, 0.1):
        lr = 0.01
        optimizer = helpers.make_optimizer("lamb", learning_rate=lr,
                                           weight_decay=weight_decay)
        params, grads = helpers.random_problem(5, seed=5)
        history = helpers.run_keras(optimizer, params, grads)
        previous = params
        for step in history:
            for before, after in zip(previous, step):
                np.testing.assert_allclose(
                    np.linalg.norm(after - before),
                    helpers.as_float32(lr) * np.linalg.norm(before),
                    rtol=1e-9)
            previous = step


def test_lamb_trust_ratio_is_one_for_a_zero_variable():
    """A zero-initialised bias moves by lr * r (the box's ratio would be 0
    and keep it at 0 for ever); at t = 1 r = g / (|g| + eps)."""
    lr, eps = 0.1, 1e-6
    optimizer = helpers.make_optimizer("lamb", learning_rate=lr,
                                       epsilon=eps)
    (variable,) = helpers.make_variables([np.zeros(3)])
    g = np.array([1.0, -2.0, 0.5])
    optimizer.apply([g], [variable])
    np.testing.assert_allclose(
        variable.numpy(), -helpers.as_float32(lr) * g / (np.abs(g) + eps),
        rtol=1e-12)


def test_lamb_weight_decay_is_inside_the_ratio_and_respects_exclusion():
    """A zero gradient: u = lambda x, so the ratio is 1 / lambda and the
    step lr * x (not lr * lambda * x, nor Keras' decay as well); an excluded
    variable has u = 0 and stays."""
    lr = 0.1
    optimizer = helpers.make_optimizer("lamb", learning_rate=lr,
                                       weight_decay=0.01)
    decayed, excluded = helpers.make_variables([np.full(2, 2.0),
                                                np.full(2, 2.0)])
    optimizer.exclude_from_weight_decay(var_list=[excluded])
    optimizer.apply([np.zeros(2), np.zeros(2)], [decayed, excluded])
    np.testing.assert_allclose(decayed.numpy(),
                               2.0 * (1 - helpers.as_float32(lr)), rtol=1e-12)
    np.testing.assert_array_equal(excluded.numpy(), [2.0, 2.0])
# --- Issue 14 (opt-b): MADGRAD, AdEMAMix ----------------------------------


def _state_named(optimizer, name):
    """The optimizer's state variable of the one model variable, by name."""
    (found,) = [v for v in optimizer.variables if name in v.path]
    return found.numpy()


def test_madgrad_measures_from_the_weights_at_the_first_update():
    """x_0 is the value at the first update, not at build (weights set in
    between count); with momentum 0, x_{k+1} is the dual-averaging point
    z_{k+1} = x_0 - s_{k+1} / (nu_{k+1}^(1/3) + eps)."""
    (variable,) = helpers.make_variables([np.zeros(3)])
    optimizer = optimizers.get("madgrad", learning_rate=0.1, momentum=0.0)
    optimizer.build([variable])
    x0 = np.array([1.0, -2.0, 0.5])
    variable.assign(x0)
    g1, g2 = np.array([1.0, -3.0, 0.0]), np.array([2.0, 1.0, 0.5])
    optimizer.apply([g1], [variable])
    optimizer.apply([g2], [variable])
    lr = helpers.as_float32(0.1)
    s = lr * g1 + lr * np.sqrt(2.0) * g2
    nu = lr * g1**2 + lr * np.sqrt(2.0) * g2**2
    np.testing.assert_allclose(variable.numpy(),
                               x0 - s / (np.cbrt(nu) + 1e-6),
                               rtol=helpers.RTOL64, atol=helpers.ATOL64)
    np.testing.assert_array_equal(_state_named(optimizer, "x0"), x0)


@pytest.mark.parametrize("beta_1", [0.9, 0.0])
def test_ademamix_beta_3_scheduler_moves_the_half_life_linearly(beta_1):
    """The paper's f_beta3 is the beta whose half-life h(beta) = ln(1/2) /
    ln(beta) - 1 steps moves linearly from h(beta_1) to h(beta_3) over T
    steps (h(0) = -1: beta_1 = 0 is the closed form's limit, finite).
    m_2 on a constant gradient 1 is 1 - prod_t beta_3(t)."""
    beta_3, T = 0.999, 8
    optimizer = optimizers.get("ademamix", beta_1=beta_1, beta_3=beta_3,
                               warmup_steps=T)
    (variable,) = helpers.make_variables([np.zeros(2)])

    def half_life(beta):
        return -1.0 if beta == 0.0 else np.log(0.5) / np.log(beta) - 1.0

    product = 1.0
    for t in range(1, 12):
        optimizer.apply([np.ones(2)], [variable])
        a = min(t / T, 1.0)
        h = (1 - a) * half_life(beta_1) + a * half_life(beta_3)
        product *= 0.5 ** (1.0 / (h + 1.0))
        np.testing.assert_allclose(_state_named(optimizer, "slow_momentum"),
                                   1.0 - product, rtol=1e-12)
    assert np.isfinite(variable.numpy()).all()


# --- MARS (issue 14) --------------------------------------------------------


def _mars_gradients(steps, seed):
    """Random gradients whose scale moves between 0.02 and 2 per step, so
    that ||c_t|| is below 1 on some steps and above it on others."""
    params, grads = helpers.random_problem(steps, seed=seed)
    scales = np.geomspace(0.02, 2.0, steps)[np.random.default_rng(
        seed).permutation(steps)]
    return params, [[g * s for g in step] for step, s in zip(grads, scales)]


@pytest.mark.parametrize("setting", [{}, {"gamma": 1.0, "beta_1": 0.5}])
def test_mars_follows_reference_with_and_without_clipping(setting):
    params, grads = _mars_gradients(24, seed=5)
    hyper = {"beta_1": 0.95, "gamma": 0.025, **setting}
    # Both branches of the clip occur: ||c_t|| of the first variable.
    norms, previous = [], None
    k = hyper["gamma"] * hyper["beta_1"] / (1 - hyper["beta_1"])
    for step in grads:
        g = step[0]
        c = g if previous is None else g + k * (g - previous)
        norms.append(np.linalg.norm(c))
        previous = g
    assert min(norms) < 0.9 and max(norms) > 1.1
    optimizer = helpers.make_optimizer("mars", learning_rate=0.01, **hyper)
    actual = helpers.run_keras(optimizer, params, grads)
    expected, _ = refs.run_reference(refs.MARSRef, hyper, params, grads,
                                     helpers.as_float32(0.01))
    helpers.assert_trajectories_close(actual, expected, helpers.RTOL64,
                                      helpers.ATOL64)


def test_mars_first_step_has_no_correction():
    """c_1 = g_1 (the paper's x_1 = x_0), not the authors' code's
    (1 + k) g_1 from g_0 = 0: with ||g_1|| < 1 / (1 + k), unclipped in
    both, the first step is Adam's, lr * g / (|g| + eps) elementwise, and
    m = (1 - beta_1) g_1."""
    g = np.array([[0.1, -0.2], [0.05, 0.3]])
    optimizer = helpers.make_optimizer("mars", learning_rate=0.01,
                                       epsilon=1e-3)
    (variable,) = helpers.make_variables([np.zeros((2, 2))])
    optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
    lr = helpers.as_float32(0.01)
    np.testing.assert_allclose(variable.numpy(),
                               -lr * g / (np.abs(g) + 1e-3), rtol=1e-12)
    np.testing.assert_allclose(optimizer._momentums[0].numpy(),
                               (1 - 0.95) * g, rtol=1e-12)
    np.testing.assert_allclose(optimizer._previous_gradients[0].numpy(), g)


# --- D-Adapt Adam (issue 14, dadapt) ----------------------------------------


def test_dadapt_adam_d_grows_from_d0_on_a_quadratic():
    """f(x) = 0.5 ||x - x*||^2 from 0 with |x*_i - x0_i| = 5: d starts at
    1e-6, never shrinks, grows by orders of magnitude to the order of the
    distance (D-Adapt Adam's l1 / infinity-norm pairing estimates
    max_i |x*_i - x0_i| up to a constant), and x reaches x*."""
    target = np.full(4, 5.0)
    optimizer = optimizers.get("dadaptadam")
    variable, ds = _quadratic_run(optimizer, np.zeros(4), target, 400)
    assert np.all(np.diff(ds) >= 0)
    assert ds[-1] > 1e4 * 1e-6
    assert 0.5 < ds[-1] < 50.0
    np.testing.assert_allclose(variable.numpy(), target, atol=1e-2)


def test_dadapt_adam_growth_rate_bounds_each_step():
    """With G = 1.1, d_{k+1} <= 1.1 d_k at every step, and the bound binds
    (the unbounded run's d is larger after 30 steps)."""
    target = np.full(4, 5.0)
    bounded = optimizers.get("dadaptadam", growth_rate=1.1)
    _, ds = _quadratic_run(bounded, np.zeros(4), target, 30)
    ratios = ds[1:] / ds[:-1]
    assert np.all(ratios <= 1.1 * (1 + 1e-6))
    assert np.any(ratios > 1.09)
    _, free = _quadratic_run(optimizers.get("dadaptadam"), np.zeros(4),
                             target, 30)
    assert free[-1] > 10 * ds[-1]


def test_dadapt_adam_ignores_variables_without_gradients():
    """A variable whose gradient is None this step contributes neither its
    stale inner product nor its s to d."""
    a, b = helpers.make_variables([np.ones(2), np.ones(2)])
    both = optimizers.get("dadaptadam", d0=0.1)
    g1 = [np.array([1.0, -1.0]), np.array([0.5, 0.5])]
    both.apply(g1, [a, b])
    both.apply([np.array([2.0, 1.0]), np.array([1.0, 0.5])], [a, b])
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        both.apply([np.array([3.0, -2.0]), None], [a, b])

    ref = refs.DAdaptAdamRef([np.ones(2), np.ones(2)], d0=0.1)
    ref.step(g1, 1.0)
    ref.step([np.array([2.0, 1.0]), np.array([1.0, 0.5])], 1.0)
    only_a = refs.DAdaptAdamRef([ref.params[0]], d0=0.1)
    only_a.__dict__.update(t=ref.t, d=ref.d, r=ref.r, m=ref.m[:1],
                           v=ref.v[:1], s=ref.s[:1])
    only_a.step([np.array([3.0, -2.0])], 1.0)
    np.testing.assert_allclose(a.numpy(), only_a.params[0], rtol=1e-12)
    assert both.d == pytest.approx(only_a.d, rel=1e-12)
    assert both.d > 0.1


# --- D-Adapt SGD (issue 14, dadapt) -----------------------------------------


def test_dadapt_sgd_first_step_divides_by_the_norm_of_all_gradients():
    """Step 0 moves every variable by (1 - beta) d0 gamma g / ||g_0||, with
    ||g_0|| over both variables (3-4-12: norm 13), before either moves."""
    a, b = helpers.make_variables([np.zeros(2), np.zeros(1)])
    optimizer = optimizers.get("dadaptsgd", d0=0.5, momentum=0.9)
    optimizer.apply([np.array([3.0, 4.0]), np.array([12.0])], [a, b])
    step = 0.1 * 0.5 / 13.0
    np.testing.assert_allclose(a.numpy(), [-3.0 * step, -4.0 * step],
                               rtol=1e-12)
    np.testing.assert_allclose(b.numpy(), [-12.0 * step], rtol=1e-12)


def test_dadapt_sgd_waits_for_a_non_zero_gradient():
    """A zero first gradient leaves the parameters and d; the first non-zero
    gradient then gives ||g_0|| (the paper stops, the authors' code divides
    by 0)."""
    (x,) = helpers.make_variables([np.ones(2)])
    optimizer = optimizers.get("dadaptsgd", d0=0.5, momentum=0.0)
    optimizer.apply([np.zeros(2)], [x])
    np.testing.assert_array_equal(x.numpy(), np.ones(2))
    assert optimizer.d == 0.5
    optimizer.apply([np.array([0.0, 2.0])], [x])
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0 - 0.5], rtol=1e-12)
    assert np.isfinite(x.numpy()).all()


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_dadapt_sgd_d_grows_from_d0_on_a_quadratic(momentum):
    """f(x) = 0.5 ||x - x*||^2 from 0, ||x* - x0|| = 10: d grows from 1e-6
    by orders of magnitude, never shrinks, and x reaches x*. Without
    momentum (dual averaging, whose gradients are taken at x_0 - s_k) d is
    the paper's lower bound on the distance: 8.7 <= 10 (reference); the
    averaged iterate of momentum 0.9 is not x_0 - s_k and d overshoots to
    30.8 there, so only growth is asserted."""
    target = np.full(4, 5.0)
    optimizer = optimizers.get("dadaptsgd", momentum=momentum)
    variable, ds = _quadratic_run(optimizer, np.zeros(4), target, 300)
    assert np.all(np.diff(ds) >= 0)
    assert ds[-1] > 1e6 * 1e-6
    if momentum == 0.0:
        assert ds[-1] <= 10.0
    np.testing.assert_allclose(variable.numpy(), target, atol=1e-2)
