"""Test functions, trajectories of real optimizers, and the pictures."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_optlab import cli
from keras_optlab.lab import landscape
from keras_optlab.lab.landscape.trajectory import ROSENBROCK_LEARNING_RATES
from keras_optlab.lab.landscape.trajectory import ROSENBROCK_STEPS
from tests.helpers import as_float32

ROOT = Path(__file__).resolve().parent.parent


def gradient_descent(function, lr, steps=6):
    return landscape.run(function, "gradient_descent", lr, steps=steps)[:, 0]


def test_lr_1_oscillates_and_lr_100_diverges_exactly():
    # x_t - 1 = (1 - 2 lr)^t (x_0 - 1); all values are integers below
    # 2^53, so float64 arithmetic is exact.
    np.testing.assert_array_equal(gradient_descent("quadratic", 1.0),
                                  [5, -3, 5, -3, 5, -3, 5])
    np.testing.assert_array_equal(gradient_descent("quadratic", 100.0),
                                  [1 + 4 * (-199) ** t for t in range(7)])
    np.testing.assert_array_equal(gradient_descent("steep_quadratic", 0.25),
                                  [5, -4, 5, -4, 5, -4, 5])


def test_lr_0_1_converges_along_the_closed_form():
    lr = as_float32(0.1)  # the optimizer's learning rate is a float32
    got = gradient_descent("quadratic", 0.1, steps=60)
    want = 1.0 + 4.0 * (1.0 - 2.0 * lr) ** np.arange(61)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert abs(got[-1] - 1.0) < 1e-5
    got = gradient_descent("steep_quadratic", 0.1, steps=10)
    np.testing.assert_allclose(
        got, 0.5 + 4.5 * (1.0 - 8.0 * lr) ** np.arange(11), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(ROSENBROCK_LEARNING_RATES))
def test_each_optimizer_reaches_the_rosenbrock_minimum(name):
    lr = ROSENBROCK_LEARNING_RATES[name]
    steps = ROSENBROCK_STEPS.get(name, 3000)
    path = landscape.run("rosenbrock", name, lr, steps=steps)
    assert path.shape == (steps + 1, 2)
    np.testing.assert_array_equal(path[0], [-1.2, 1.0])
    assert np.linalg.norm(path[-1] - [1.0, 1.0]) < 1e-2, path[-1]


@pytest.mark.parametrize("name", sorted(landscape.FUNCTIONS))
def test_known_minima_are_stationary_with_value_zero(name):
    function = landscape.get(name)
    points = function.minima or ((0.0, 0.0),)  # the saddle point
    for point in points:
        x = tf.Variable(np.array(point, dtype=np.float64))
        with tf.GradientTape() as tape:
            value = function.value(x)
        np.testing.assert_allclose(tape.gradient(value, x), 0.0, atol=1e-12)
        assert float(value) == pytest.approx(0.0, abs=1e-12)


def test_the_saddle_is_escaped_along_minus_y_squared():
    path = landscape.run("saddle", "gradient_descent", 0.1, steps=20)
    np.testing.assert_allclose(path[:, 0], 0.8 ** np.arange(21), rtol=1e-6)
    np.testing.assert_allclose(path[:, 1], 1e-3 * 1.2 ** np.arange(21),
                               rtol=1e-6)


def test_png_and_gif_are_valid_images(tmp_path):
    paths = {"gd": landscape.run("beale", "gradient_descent", 1e-2, 40),
             "adam": landscape.run("beale", "keras:Adam", 5e-2, 40)}
    png = landscape.plot_trajectories("beale", paths, tmp_path / "b.png")
    gif = landscape.animate_trajectories("beale", paths, tmp_path / "b.gif",
                                         frames=20)
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (600, 500)
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.size == (360, 288)
        assert image.is_animated and 10 <= image.n_frames <= 20


def test_optlab_landscape_writes_both_pictures(tmp_path, capsys):
    status = cli.main(["landscape", "--function", "rosenbrock",
                       "--optimizers", "momentum,keras:Adam",
                       "--lr", "keras:Adam=0.02", "--steps", "30",
                       "--out", str(tmp_path)])
    assert status == 0
    out = capsys.readouterr().out
    assert "keras:Adam         lr=0.02" in out and "momentum" in out
    for suffix in ("png", "gif"):
        with Image.open(tmp_path / f"rosenbrock.{suffix}") as image:
            assert image.format == suffix.upper()


@pytest.mark.parametrize("argv, message", [
    (["--function", "himmelblau"], "function='himmelblau'"),
    (["--optimizers", "keras:Nope"], "optimizer='keras:Nope'"),
    (["--optimizers", "adam", "--lr", "sgd=1"], "--lr wants NAME=LR"),
])
def test_optlab_landscape_usage_errors(argv, message, capsys, tmp_path):
    assert cli.main(["landscape", "--steps", "2", "--out", str(tmp_path)]
                    + argv) == 2
    assert message in capsys.readouterr().err


def test_step_size_lesson_example_prints_the_sequences(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "step_size_lesson.py"),
         "--out", str(tmp_path / "lesson.png"), "--steps", "4"],
        capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "5, -3, 5, -3, 5" in result.stdout
    assert "5, -4, 5, -4, 5" in result.stdout
    assert "5, -795, 158405" in result.stdout
    with Image.open(tmp_path / "lesson.png") as image:
        assert image.format == "PNG"
