"""Evaluating a Schedule-Free model at x.

A Schedule-Free optimizer (`ScheduleFreeSGD`, `ScheduleFreeAdamW`,
`ScheduleFreeRAdam`) trains the model at y, an interpolation of its iterate
z and of their average x; the point to evaluate, validate, save and ship
is x (Defazio et al. 2024). The variables hold y while training, as in the
authors' code and in `keras.optimizers.ScheduleFreeAdamW`; x =
(y - (1 - beta) z) / beta is recovered from y and the optimizer's z.

- `schedule_free_evaluation(model, data=None)`: a context in which the
  model holds x (batch-norm statistics recomputed at x from `data`, with
  `swa_batch_norm_update`); on exit y and the statistics are restored
  exactly, so training resumes where it stopped.
- `ScheduleFreeEvaluation(data=None)`: a callback for `fit` that puts the
  model on x for each validation, back on y after it, and on x when
  training ends (what `evaluate`, `predict` and `save` then see); the next
  `fit` with it starts back on y.

Checkpoints written during `fit` (ModelCheckpoint) hold y with z in the
optimizer state: what resuming needs. For a model to ship, save after
`fit` with the callback, or inside the context.
"""

import contextlib

import keras
import numpy as np

from keras_optlab.training.swa import _batch_norm_layers
from keras_optlab.training.swa import swa_batch_norm_update


def _optimizer_of(model):
    optimizer = getattr(model, "optimizer", None)
    # LossScaleOptimizer (mixed precision) wraps the rule.
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    if optimizer is None or not hasattr(optimizer, "evaluation_point"):
        raise ValueError(
            "The model's optimizer is not a Schedule-Free optimizer "
            "(ScheduleFreeSGD, ScheduleFreeAdamW, ScheduleFreeRAdam). "
            f"Received: optimizer={optimizer!r}"
        )
    return optimizer


def _batch_norm_statistics(model):
    return [
        variable
        for layer in _batch_norm_layers(model)
        for variable in (layer.moving_mean, layer.moving_variance)
    ]


def to_evaluation_point(model, data=None, steps=None):
    """Puts `model` on x and returns what `restore` needs to put it back.

    Every trainable variable the optimizer updates takes x; with `data`
    (batches as for `swa_batch_norm_update`; `steps` of them, or all),
    batch-norm statistics are recomputed at x.
    """
    optimizer = _optimizer_of(model)
    variables = [v for v in model.trainable_variables
                 if optimizer.built and _updated_by(optimizer, v)]
    saved = [(v, np.array(keras.ops.convert_to_numpy(v)))
             for v in variables + _batch_norm_statistics(model)]
    for variable in variables:
        variable.assign(optimizer.evaluation_point(variable))
    if data is not None:
        swa_batch_norm_update(model, data, steps)
    return saved


def restore(saved):
    """Puts back the values `to_evaluation_point` saved (y and the
    statistics), exactly."""
    for variable, value in saved:
        variable.assign(value)


def _updated_by(optimizer, variable):
    try:
        optimizer._get_variable_index(variable)
    except (KeyError, ValueError):
        return False
    return True


@contextlib.contextmanager
def schedule_free_evaluation(model, data=None, steps=None):
    """A context in which `model` holds the evaluation point x.

    Args:
        model: a model compiled with a Schedule-Free optimizer.
        data: batches to recompute batch-norm statistics at x (the training
            data, as `swa_batch_norm_update` takes it), or None to keep them.
        steps: how many batches of `data`; all by default.

    Example:
    >>> with schedule_free_evaluation(model, train_batches):
    ...     model.evaluate(x_test, y_test)
    ...     model.save("at_x.keras")
    """
    saved = to_evaluation_point(model, data, steps)
    try:
        yield model
    finally:
        restore(saved)


class ScheduleFreeEvaluation(keras.callbacks.Callback):
    """Validation at x during `fit`, and the model left on x after it.

    Args:
        data: batches to recompute batch-norm statistics at x before each
            validation and at the end of training (the training data), or
            None to keep the statistics gathered at y.
        steps: how many batches of `data`; all by default.

    Example:
    >>> model.fit(x, y, validation_split=0.1, epochs=10,
    ...           callbacks=[ScheduleFreeEvaluation(train_batches)])
    >>> model.evaluate(x_test, y_test)   # at x
    """

    def __init__(self, data=None, steps=None):
        super().__init__()
        self.data = data
        self.steps = steps
        self._saved = None
        self._training = False

    def _to_x(self):
        if self._saved is None:
            self._saved = to_evaluation_point(self.model, self.data,
                                              self.steps)

    def _to_y(self):
        if self._saved is not None:
            restore(self._saved)
            self._saved = None

    def on_train_begin(self, logs=None):
        self._to_y()
        self._training = True

    def on_test_begin(self, logs=None):
        if self._training:
            self._to_x()

    def on_test_end(self, logs=None):
        if self._training:
            self._to_y()

    def on_train_end(self, logs=None):
        self._training = False
        self._to_x()
