"""Evaluating Schedule-Free models at x (keras_optlab/training/
schedule_free.py), on a small real model with batch normalisation.

- Inside `schedule_free_evaluation` the variables hold the x of the NumPy
  reference (tests/references.py, which keeps x explicitly; a float32
  run of 12 steps, atol 1e-5: float32 rounding of y and z, and x =
  (y - 0.1 z) / 0.9 recovered from them), `evaluate` gives the loss of a
  twin model whose weights are set to that x (rtol 1e-5), and on exit y
  and the batch-norm statistics are back bit for bit.
- With data, the batch-norm statistics at x are the mean and (biased)
  variance of the layer's inputs at x over the data, computed in NumPy.
- The callback validates at x without disturbing training (the run with it
  ends on the x of a run without it), leaves the model on x after `fit` and
  puts it back on y for the next `fit`.
"""

import keras
import numpy as np
import pytest

from keras_optlab.optimizers import Adam
from keras_optlab.optimizers import ScheduleFreeAdamW
from keras_optlab.optimizers import ScheduleFreeSGD
from keras_optlab.training import ScheduleFreeEvaluation
from keras_optlab.training import schedule_free_evaluation
from tests import references as refs

RNG = np.random.default_rng(3)
FEATURES = RNG.normal(size=(64, 4)).astype("float32")
TARGETS = RNG.normal(size=(64, 1)).astype("float32")
BATCHES = [FEATURES[i:i + 16] for i in range(0, 64, 16)]


def _model(optimizer, seed=0, run_eagerly=False):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(1),
    ])
    # Eager fits: tracing costs more than these tiny steps.
    model.compile(optimizer=optimizer, loss="mse", run_eagerly=run_eagerly)
    return model


def _trained_with_reference(steps=12):
    """A model stepped by `apply` with random gradients, and the
    reference's x after the same steps."""
    model = _model(ScheduleFreeAdamW(0.05, warmup_steps=4))
    variables = model.trainable_variables
    params = [np.array(v.numpy()) for v in variables]
    grads = [[RNG.normal(size=p.shape) for p in params] for _ in range(steps)]
    reference = refs.ScheduleFreeAdamWRef(params, warmup_steps=4)
    for step in grads:
        model.optimizer.apply(
            [keras.ops.convert_to_tensor(g, "float32") for g in step],
            variables)
        reference.step(step, float(np.float32(0.05)))
    return model, reference


def _values(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def test_evaluation_at_x_is_the_reference_x():
    model, reference = _trained_with_reference()
    variables = model.trainable_variables
    y = _values(variables)
    statistics = _values(model.non_trainable_variables)
    np.testing.assert_allclose(y[0], reference.params[0], atol=1e-5)
    twin = _model(Adam(), seed=1)
    twin.set_weights(model.get_weights())
    for variable, x in zip(twin.trainable_variables, reference.x):
        variable.assign(x.astype("float32"))
    expected = twin.evaluate(FEATURES, TARGETS, verbose=0)

    with schedule_free_evaluation(model):
        for variable, x in zip(variables, reference.x):
            np.testing.assert_allclose(variable.numpy(), x, atol=1e-5)
        loss = model.evaluate(FEATURES, TARGETS, verbose=0)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert not np.allclose(reference.x[0], reference.params[0], atol=1e-3)
    restored = _values(variables + model.non_trainable_variables)
    for before, after in zip(y + statistics, restored):
        np.testing.assert_array_equal(before, after)


def test_batch_norm_statistics_are_recomputed_at_x():
    model, reference = _trained_with_reference()
    kernel, bias = reference.x[0], reference.x[1]
    inputs = FEATURES.astype(np.float64) @ kernel + bias
    with schedule_free_evaluation(model, BATCHES):
        layer = model.layers[1]
        np.testing.assert_allclose(layer.moving_mean.numpy(),
                                   inputs.mean(axis=0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer.moving_variance.numpy(),
                                   inputs.var(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), 0.0)


def _fit(model, epochs, callbacks=()):
    return model.fit(FEATURES, TARGETS, batch_size=16, epochs=epochs,
                     shuffle=False, verbose=0, callbacks=list(callbacks),
                     validation_data=(FEATURES[:32], TARGETS[:32]))


def _x_of(model):
    return [model.optimizer.evaluation_point(v)
            for v in model.trainable_variables]


def test_callback_validates_at_x_and_leaves_training_alone():
    plain = _model(ScheduleFreeSGD(0.1), run_eagerly=True)
    watched = _model(ScheduleFreeSGD(0.1), run_eagerly=True)
    callback = ScheduleFreeEvaluation()
    _fit(plain, 1)
    history = _fit(watched, 1, [callback])
    # Training went as without the callback; the model now holds that x.
    for ours, expected in zip(_values(watched.trainable_variables),
                              _x_of(plain)):
        np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)
    # The last validation ran at this x.
    np.testing.assert_allclose(
        history.history["val_loss"][-1],
        watched.evaluate(FEATURES[:32], TARGETS[:32], verbose=0), rtol=1e-6)
    # ... not at y (7.6e-4 apart relative after this epoch on JAX).
    assert not np.allclose(history.history["val_loss"][-1],
                           plain.evaluate(FEATURES[:32], TARGETS[:32],
                                          verbose=0), rtol=1e-4)
    # The next fit starts from y again.
    _fit(plain, 1)
    _fit(watched, 1, [callback])
    for ours, expected in zip(_values(watched.trainable_variables),
                              _x_of(plain)):
        np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)


def test_other_optimizers_are_refused():
    model = _model(Adam())
    with pytest.raises(ValueError, match="not a Schedule-Free optimizer"):
        schedule_free_evaluation(model).__enter__()
