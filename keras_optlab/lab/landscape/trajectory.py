"""Running real Keras optimizers on a test function, point by point."""

import keras
import numpy as np
import tensorflow as tf

from keras_optlab import optimizers as optlab_optimizers
from keras_optlab.lab.landscape import functions
from keras_optlab.optimizers import keras_builtins
from keras_optlab.optimizers import validation


# Learning rates at which each optimizer reaches Rosenbrock's minimum from
# (-1.2, 1) within 1e-2 in ROSENBROCK_STEPS[name] steps (tests check this).
# They belong to this test function and starting point (a good rate on
# Rosenbrock is no optimizer's default), so they stay here rather than in
# the optimizers' hyperparameter tables.
ROSENBROCK_LEARNING_RATES = {
    "gradient_descent": 2e-3, "momentum": 1e-3, "nesterov": 1e-3,
    "rmsprop": 1e-3, "adam": 2e-2, "adamax": 2e-2, "keras:SGD": 2e-3,
    "keras:Adam": 2e-2,
}
ROSENBROCK_STEPS = {"gradient_descent": 10000, "keras:SGD": 10000,
                    "rmsprop": 10000, "adamax": 5000}


def default_learning_rate(function, optimizer):
    """A learning rate that makes a readable picture: the Rosenbrock table
    above, else 5e-3 for gradient descent and momentum methods and 5e-2 for
    the adaptive ones."""
    name = function if isinstance(function, str) else function.name
    if name == "rosenbrock" and optimizer in ROSENBROCK_LEARNING_RATES:
        return ROSENBROCK_LEARNING_RATES[optimizer]
    if keras_builtins.is_keras_name(optimizer):
        info = keras_builtins.lookup(optimizer).same_rule
    else:
        info = optlab_optimizers.lookup(optimizer)
    if info is not None and info.family == "sgd":
        return 5e-3
    return 5e-2


def make_optimizer(identifier, learning_rate):
    """A registered keras_optlab name (`"adam"`), `"keras:<name>"` for a
    Keras optimizer (`"keras:SGD"`), or an optimizer instance."""
    if isinstance(identifier, keras.optimizers.Optimizer):
        return identifier
    return optlab_optimizers.get(identifier, learning_rate=learning_rate)


def run(function, optimizer, learning_rate=None, steps=100, start=None,
        dtype="float64"):
    """Minimises `function` from `start` with a Keras optimizer.

    The point is a `keras.Variable`; each step takes the gradient with
    `tf.GradientTape` and calls `optimizer.apply`, inside one traced
    `tf.while_loop`.

    Args:
        function: a `TestFunction` or its name.
        optimizer: an optimizer instance, a registered name, or
            `"keras:<Class>"`; names need `learning_rate`.
        learning_rate: for names. Defaults to None.
        steps: the number of updates, >= 0.
        start: the starting point. Defaults to the function's.
        dtype: of the point. Defaults to "float64".

    Returns:
        An array of shape (steps + 1, dimension): the start, then the point
        after each update.
    """
    if isinstance(function, str):
        function = functions.get(function)
    steps = validation.check_int("steps", steps, 0)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        learning_rate = validation.check_learning_rate(learning_rate)
        optimizer = make_optimizer(optimizer, learning_rate)
    start = function.start if start is None else tuple(start)
    point = keras.Variable(np.array(start, dtype=dtype), dtype=dtype,
                           name="point")
    optimizer.build([point])

    @tf.function
    def descend():
        path = tf.TensorArray(point.dtype, size=steps + 1)
        path = path.write(0, tf.identity(point.value))
        for i in tf.range(steps):
            with tf.GradientTape() as tape:
                loss = function.value(point.value)
            optimizer.apply([tape.gradient(loss, point.value)], [point])
            path = path.write(i + 1, tf.identity(point.value))
        return path.stack()

    return np.asarray(descend())
