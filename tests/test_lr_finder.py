"""The LR range test: exact restoration, a suggestion in a known band, and
`optlab lr-find`."""

import keras
import numpy as np
import pytest
from PIL import Image

import keras_optlab
from keras_optlab import cli
from keras_optlab.training.lr_finder import find_learning_rate
from keras_optlab.training.lr_finder import smooth


def regression(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) * np.array([3.0, 1.0, 0.3])
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.normal(size=(n, 1))
    return x.astype("float32"), y.astype("float32")


def gd_stability_bound(x):
    """2 / L for mean((A theta - y)^2), A = [x, 1]: L = lambda_max(2 A^T A/n).
    Full-batch gradient descent diverges above it."""
    a = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    return 2.0 / np.linalg.eigvalsh(2.0 * a.T @ a / len(x))[-1]


def test_weights_and_optimizer_state_are_restored_bit_for_bit():
    x, y = regression()
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(8, activation="relu"),
                              keras.layers.BatchNormalization(),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.LossScaleOptimizer(
        keras_optlab.optimizers.get("adam", learning_rate=3e-3)), loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # non-zero state
    before_model = [np.array(v) for v in model.variables]
    before_optimizer = [np.array(v) for v in model.optimizer.variables]
    result = find_learning_rate(model, x, y, batch_size=16, min_lr=1e-4,
                                max_lr=100.0, steps=40)
    assert result.stopped_early  # the run did blow up
    after_model = [np.array(v) for v in model.variables]
    after_optimizer = [np.array(v) for v in model.optimizer.variables]
    assert len(after_model) == len(before_model)
    for a, b in zip(before_model + before_optimizer,
                    after_model + after_optimizer):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert float(model.optimizer.learning_rate) == np.float32(3e-3)
    assert int(model.optimizer.iterations) == 4


@pytest.mark.parametrize("rule, floor", [("steepest", 0.01),
                                         ("min_over_10", 0.1)])
def test_suggestion_lies_below_the_divergence_bound(rule, floor):
    # Full-batch gradient descent on least squares: any rate above 2/L
    # diverges. The stated band: floor * 2/L <= suggestion < 2/L.
    x, y = regression()
    bound = gd_stability_bound(x)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras_optlab.optimizers.get("gradient_descent"),
                  loss="mse")
    result = find_learning_rate(model, x, y, batch_size=len(x), min_lr=1e-4,
                                max_lr=1.0, steps=100, rule=rule)
    assert result.rule == rule
    assert floor * bound <= result.suggestion < bound
    assert result.stopped_early
    assert result.learning_rates[-1] > bound  # it ran past the bound


def test_learning_rates_grow_exponentially_and_smoothing_is_bias_corrected():
    x, y = regression()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras_optlab.optimizers.get("momentum"),
                  loss="mse")
    result = find_learning_rate(model, x, y, batch_size=32, min_lr=1e-5,
                                max_lr=1e-3, steps=5)
    np.testing.assert_allclose(result.learning_rates,
                               [1e-5, 10**-4.5, 1e-4, 10**-3.5, 1e-3])
    np.testing.assert_allclose(smooth([2.0, 2.0, 2.0], 0.9), [2.0] * 3)
    np.testing.assert_allclose(smooth([1.0, 3.0], 0.5), [1.0, 7.0 / 3.0])


@pytest.mark.parametrize("kwargs, message", [
    ({"min_lr": 0.0}, "min_lr"),
    ({"min_lr": 1.0, "max_lr": 0.1}, "min_lr must be below max_lr"),
    ({"steps": 2}, "steps"),
    ({"rule": "fastest"}, "rule"),
    ({"smoothing": 1.0}, "smoothing"),
])
def test_bad_arguments_are_named(kwargs, message):
    x, y = regression()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=message):
        find_learning_rate(model, x, y, **kwargs)


def test_a_schedule_is_refused_before_anything_changes():
    x, y = regression()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    with pytest.raises(ValueError, match="float learning rate"):
        find_learning_rate(model, x, y)
    assert not model.optimizer.built


def test_optlab_lr_find_writes_the_plot_and_prints_the_rule(tmp_path, capsys):
    plot = tmp_path / "lr.png"
    status = cli.main(["lr-find", "--optimizer", "gradient_descent",
                       "--data", "regression", "--steps", "60",
                       "--min-lr", "1e-4", "--max-lr", "1",
                       "--plot", str(plot)])
    assert status == 0
    out = capsys.readouterr().out
    assert "suggested lr" in out and "(rule: steepest)" in out
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.size == (600, 400)


def test_optlab_lr_find_rejects_an_unknown_optimizer(capsys):
    assert cli.main(["lr-find", "--optimizer", "sgdd"]) == 2
    assert "unknown optimizer 'sgdd'" in capsys.readouterr().err
