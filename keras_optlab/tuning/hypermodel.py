"""The HyperModel: a model with dropout, compiled with the searched
optimizer, trained with the searched batch size."""

import math
import time

import keras
import keras_tuner as kt
from keras_tuner.engine import metrics_tracking

from keras_optlab.tuning import models
from keras_optlab.tuning import space as space_module
from keras_optlab.tuning.pruning import MedianPruning

#: Keys every trial reports besides the Keras metrics.
EPOCHS_RUN = "epochs_run"
BEST_EPOCH = "best_epoch"
PRUNED = "pruned"
SECONDS = "seconds"


def best_epoch(history, objective, direction):
    """The index of the best epoch of a `History` for `objective`: the first
    of equal values, the epoch whose weights `EarlyStopping(
    restore_best_weights=True)` restores and Keras Tuner checkpoints (both
    count only a strict improvement)."""
    values = history.history.get(objective)
    if not values:
        raise ValueError(
            f"The objective {objective!r} is not among the trained metrics "
            f"({', '.join(sorted(history.history))}).")
    finite = [i for i, v in enumerate(values) if not math.isnan(v)]
    if not finite:
        return len(values) - 1
    pick = max if direction == "max" else min
    return pick(finite, key=values.__getitem__)


class OptimizerHyperModel(kt.HyperModel):
    """Searches the optimizer and its hyperparameters, the batch size and the
    dropout rate for one model.

    Args:
        space: a `SearchSpace`.
        model: `"mlp"`, `"conv"` (the bundled models, see `models.py`) or a
            function `build_model(hp, dropout_rate) -> keras.Model` returning
            an uncompiled model; it may declare more hyperparameters on `hp`.
        input_shape, num_classes: the data's shape and class count, for the
            bundled models.
        model_options: keyword arguments for the bundled model (`units` for
            the MLP; `filters`, `dense_units` for the conv net).
        epochs: the most epochs a trial trains (early stopping and pruning
            may stop it sooner).
        objective: the metric that ranks trials, e.g. `"val_accuracy"`.
        direction: `"max"` or `"min"`; inferred from `objective` when `None`.
        loss: the loss; by default sparse categorical cross-entropy on
            logits (integer labels).
        metrics: compiled metrics.
    """

    def __init__(self, space, model="mlp", input_shape=None, num_classes=None,
                 model_options=None, epochs=10, objective="val_accuracy",
                 direction=None, loss=None, metrics=("accuracy",), name=None):
        super().__init__(name=name)
        if isinstance(model, str):
            if model not in models.MODELS:
                raise ValueError(
                    f"Unknown model. Received: model={model!r}. Known: "
                    f"{', '.join(models.MODELS)}, or a function "
                    "build_model(hp, dropout_rate)")
            if input_shape is None or num_classes is None:
                raise ValueError(
                    "The bundled models need `input_shape` and `num_classes`."
                    f" Received: input_shape={input_shape!r}, "
                    f"num_classes={num_classes!r}")
        elif not callable(model):
            raise TypeError(
                "`model` must be a bundled model's name or a function "
                f"build_model(hp, dropout_rate). Received: model={model!r}")
        self.space = space
        self.model = model
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.num_classes = num_classes
        self.model_options = dict(model_options or {})
        self.epochs = int(epochs)
        self.objective = objective
        self.direction = direction or \
            metrics_tracking.infer_metric_direction(objective)
        self.loss = loss or keras.losses.SparseCategoricalCrossentropy(
            from_logits=True)
        self.metrics = list(metrics)

    def declare_hyperparameters(self, hp):
        self.space.declare(hp)

    def build(self, hp):
        self.space.declare(hp)
        dropout_rate = hp.get(space_module.DROPOUT)
        if callable(self.model):
            model = self.model(hp, dropout_rate)
        else:
            model = models.MODELS[self.model](
                self.input_shape, self.num_classes, dropout_rate,
                **self.model_options)
        model.compile(optimizer=self.space.build_optimizer(hp),
                      loss=self.loss, metrics=self.metrics)
        return model

    def fit(self, hp, model, *args, **kwargs):
        """Trains with the trial's batch size; returns the metrics of the best
        epoch plus `epochs_run`, `best_epoch`, `pruned` (0 or 1) and
        `seconds`."""
        kwargs.setdefault("epochs", self.epochs)
        kwargs["batch_size"] = hp.get(space_module.BATCH_SIZE)
        start = time.perf_counter()
        history = model.fit(*args, **kwargs)
        seconds = time.perf_counter() - start
        pruned = any(isinstance(c, MedianPruning) and c.pruned
                     for c in kwargs.get("callbacks") or [])
        best = best_epoch(history, self.objective, self.direction)
        metrics = {name: float(values[best])
                   for name, values in history.history.items()}
        metrics.update({
            EPOCHS_RUN: float(len(history.epoch)),
            BEST_EPOCH: float(best),
            PRUNED: float(pruned),
            SECONDS: seconds,
        })
        return metrics
