"""`OptimizerMonitor`: what the optimizer does, as TensorBoard scalars."""

import logging
import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_optlab import backends
from keras_optlab.monitoring import optimizer_state

_LOG = logging.getLogger(__name__)


def _check_update_freq(update_freq):
    if update_freq == "epoch":
        return update_freq
    if (isinstance(update_freq, (int, np.integer))
            and not isinstance(update_freq, bool) and update_freq >= 1):
        return int(update_freq)
    raise ValueError(
        "update_freq must be 'epoch' or a positive int (every N batches). "
        f"Received: update_freq={update_freq!r}"
    )


def check_probe_data(probe_data, name="probe_data"):
    """(x, y, sample_weight or None) from a tuple or a tf.data.Dataset (its
    first batch)."""
    if isinstance(probe_data, tf.data.Dataset):
        probe_data = next(iter(probe_data))
    if not isinstance(probe_data, (tuple, list)) or len(probe_data) not in (
        2, 3
    ):
        raise ValueError(
            f"{name} must be (x, y) or (x, y, sample_weight), or a "
            f"tf.data.Dataset of such batches. Received: {name}="
            f"{type(probe_data).__name__}"
        )
    x, y, *rest = probe_data
    return x, y, (rest[0] if rest else None)


def layer_key(variable, model_name):
    """The layer part of a variable's path, without the model's name:
    "sequential/dense/kernel" -> "dense"."""
    parts = variable.path.split("/")[:-1]
    if len(parts) > 1 and parts[0] == model_name:
        parts = parts[1:]
    return "/".join(parts) or variable.path


def probe_loss_and_gradients(model, x, y, sample_weight=None):
    """The model's loss (its compiled loss plus regularisation) on one
    batch, in inference mode, and its gradients. Not scaled by any
    LossScaleOptimizer."""
    with tf.GradientTape() as tape:
        y_pred = model(x, training=False)
        loss = model.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
            training=False,
        )
    variables = model.trainable_variables
    gradients = tape.gradient(loss, variables)
    gradients = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                 for g, v in zip(gradients, variables)]
    return loss, gradients


def _relax_shape(tensor, spec):
    # A tensor with exactly the iterator's static shape (batch dimension
    # None where the last batch is smaller), so Keras' traced train step is
    # reused rather than traced again for the replayed batch.
    return tf.raw_ops.PlaceholderWithDefault(input=tensor, shape=spec.shape)


def take_first_batch(iterator):
    """The next batch of a `tf.data` iterator, and an iterator that yields
    that same batch once, with the same element spec.

    Returns `(batch, replay)`, or `(None, reason)` for an iterator it cannot
    read ahead of Keras (a distributed one).
    """
    if not isinstance(iterator, tf.data.Iterator):
        return None, (f"fit's iterator is a {type(iterator).__name__} (a "
                      "distribution strategy), not a tf.data iterator")
    spec = iterator.element_spec
    batch = iterator.get_next()
    replay = tf.data.Dataset.from_tensors((batch,))
    if all(isinstance(s, tf.TensorSpec) for s in tf.nest.flatten(spec)):
        replay = replay.map(
            lambda element: tf.nest.map_structure(_relax_shape, element,
                                                  spec))
    else:  # ragged or sparse parts: Keras traces its step once more
        replay = replay.map(lambda element: element)
    return batch, iter(replay)


class _FirstBatchHook:
    """Stands in for `model.train_function` until its first call.

    A callback never sees fit's data, and Keras' train function draws each
    batch inside its own traced step. So the first call is intercepted: the
    batch Keras would draw is drawn here, given to every waiting monitor,
    and handed to Keras' function through a one-batch iterator of the same
    spec, so the very same traced step runs on it. Then Keras' function is
    put back and called directly. Monitors of one `fit` share one hook.
    """

    def __init__(self, model):
        self.model = model
        self.keras_function = model.train_function
        self.waiting = []
        model.train_function = self

    @classmethod
    def join(cls, model, monitor):
        hook = model.train_function
        if not isinstance(hook, cls):
            hook = cls(model)
        hook.waiting.append(monitor)

    def remove(self):
        if self.model.train_function is self:
            self.model.train_function = self.keras_function

    def __call__(self, iterator):
        self.remove()
        batch, replay = take_first_batch(iterator)
        for monitor in self.waiting:
            monitor._probe_taken(batch, replay)
        return self.keras_function(iterator if batch is None else replay)


class OptimizerMonitor(keras.callbacks.Callback):
    """Writes what the optimizer does to TensorBoard.

    Every `update_freq` (the end of each epoch, or every N training
    batches), it writes scalars with `tf.summary`, at the step
    `model.optimizer.iterations`:

    ```
    learning_rate                    the current learning rate; a schedule is
                                     evaluated at optimizer.iterations (the
                                     rate the next step uses)
    probe/loss                       the loss on the probe batch
    gradients/global_norm            ||g|| over all trainable variables
    gradients/norm/<layer>           ||g|| over one layer's variables
    gradients/nonfinite_fraction     share of gradient entries that are NaN
                                     or +-inf
    updates/global_norm              ||w_after - w_before|| over all variables
    updates/norm/<layer>             the same, per layer
    updates/ratio/<layer>            ||w_after - w_before|| / ||w_before||
    updates/global_ratio             the same over all variables (ratios are
                                     left out while ||w_before|| = 0)
    optimizer_state/step_size/<q>    q in min, p05, p25, p50, p75, p95, max,
                                     mean: the distribution of per-parameter
                                     step sizes (Adam family, RMSprop,
                                     Adagrad, Adadelta; see
                                     keras_optlab.monitoring.optimizer_state)
    optimizer_state/<slot>/rms       root mean square of each state slot
    optimizer_state/<slot>/max_abs   (momentum, velocity, accumulator, ...)
    optimizer_state/<slot>/mean
    optimizer_state/loss_scale       the dynamic loss scale, under a
                                     LossScaleOptimizer
    optimizer/nonfinite_steps        steps skipped for a non-finite gradient
                                     so far (keras_optlab optimizers with
                                     on_nonfinite="skip" or "raise")
    ```

    With `histograms=True` it also writes `histograms/gradients/<layer>`,
    `histograms/updates/<layer>` and `histograms/step_size`.

    Gradients are computed on a fixed probe batch, with `tf.GradientTape`,
    the model in inference mode (`training=False`, so dropout is off and the
    values are comparable over time) and no loss scaling. The probe batch is
    `probe_data` when given; without it, the first training batch of each
    `fit` (after `fit`'s shuffling, with its sample or class weights), taken
    as Keras' train step is about to read it and then handed to that step
    unchanged, so training follows exactly the same path; a line says so
    (printed when `fit` is verbose, logged otherwise). That works for every
    input `fit` accepts (arrays, `tf.data.Dataset`, `keras.utils.PyDataset`,
    generators) with `steps_per_execution=1` outside a distribution
    strategy; elsewhere a warning says that no probe batch was taken and the
    `probe/` and `gradients/` tags are not written: pass `probe_data`. The
    default probe assumes Keras' `(x, y, sample_weight)` batches; a model
    whose own `train_step` reads another layout needs `probe_data`. The
    update is weights-after minus weights-before over the last
    training step before the log point (over the last `steps_per_execution`
    steps where that is above 1). `<layer>` is the variable's path without
    the model's name and the variable's own name (`dense_1`).

    The state read is that of the innermost optimizer: a wrapper's
    `inner_optimizer` (`keras.optimizers.LossScaleOptimizer`, keras_optlab's
    wrappers) is followed down.

    The summary writer is created in `on_train_begin` and closed in
    `on_train_end`, so the callback can be deep-copied (Keras Tuner does, for
    each trial). With `subdir_per_fit=True` each call to `fit` writes into a
    new numbered directory `log_dir/fit_0000`, `fit_0001`, ... (one
    TensorBoard run per Keras Tuner trial).

    Args:
        log_dir: directory of the event files.
        probe_data: `(x, y)` or `(x, y, sample_weight)`, or a
            `tf.data.Dataset` whose first batch is used. Defaults to None:
            the first training batch of each `fit`.
        update_freq: `"epoch"` (default) or an int N: every N batches.
        histograms: also write histograms. Defaults to False.
        subdir_per_fit: a new run directory per `fit`. Defaults to False.

    Example:
    >>> monitor = OptimizerMonitor("logs/adam", probe_data=(x[:256], y[:256]),
    ...                            update_freq=50)
    >>> model.fit(x, y, epochs=5, callbacks=[monitor])
    """

    def __init__(self, log_dir, probe_data=None, update_freq="epoch",
                 histograms=False, subdir_per_fit=False):
        backends.require("OptimizerMonitor")
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(
                "log_dir must be a path. Received: "
                f"log_dir={log_dir!r}"
            )
        self.update_freq = _check_update_freq(update_freq)
        if not isinstance(histograms, bool):
            raise TypeError(f"histograms must be a bool. Received: "
                            f"histograms={histograms!r}")
        if not isinstance(subdir_per_fit, bool):
            raise TypeError(f"subdir_per_fit must be a bool. Received: "
                            f"subdir_per_fit={subdir_per_fit!r}")
        self.probe_data = (None if probe_data is None
                           else check_probe_data(probe_data))
        self.log_dir = os.fspath(log_dir)
        self.histograms = histograms
        self.subdir_per_fit = subdir_per_fit
        self._forget_fit()

    def _forget_fit(self):
        """Drops what belongs to one fit (run folder, writer, traced probe
        function, probe batch), made again at the next."""
        self.run_dir = None
        self._writer = None
        self._probe_function = None
        self._probe = None
        self._before = None
        self._batches = 0

    def __deepcopy__(self, memo):
        # Keras Tuner deep-copies callbacks per trial.
        copy = OptimizerMonitor.__new__(OptimizerMonitor)
        keras.callbacks.Callback.__init__(copy)
        for key in ("update_freq", "probe_data", "log_dir", "histograms",
                    "subdir_per_fit"):
            setattr(copy, key, getattr(self, key))
        copy._forget_fit()
        return copy

    # -- Keras callback hooks -------------------------------------------

    def on_train_begin(self, logs=None):
        self.run_dir = self._next_run_dir()
        self._writer = tf.summary.create_file_writer(self.run_dir)
        self._batches = 0
        self._before = None
        model = self.model

        def probe(x, y, weights):
            return probe_loss_and_gradients(model, x, y, weights)

        # Traced like the model's own train step, eager where that is.
        self._probe_function = (probe if model.run_eagerly else
                                tf.function(probe, reduce_retracing=True))
        self._probe = self.probe_data
        if self._probe is None:
            self._take_probe_from_first_step()

    def on_train_batch_begin(self, batch, logs=None):
        if self._logs_after_batch(batch, self._batches + 1):
            self._before = [tf.identity(v) for v in
                            self.model.trainable_variables]

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self.update_freq != "epoch" and (
            self._batches % self.update_freq == 0
        ):
            self._log()

    def on_epoch_end(self, epoch, logs=None):
        if self.update_freq == "epoch":
            self._log()

    def on_train_end(self, logs=None):
        self._restore_train_function()  # a fit that ran no step
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._before = None

    # -- internals ----------------------------------------------------

    def _take_probe_from_first_step(self):
        model = self.model
        if getattr(model, "steps_per_execution", 1) != 1:
            self._no_probe(f"steps_per_execution="
                           f"{model.steps_per_execution} draws several "
                           "batches inside one traced call")
            return
        _FirstBatchHook.join(model, self)

    def _probe_taken(self, batch, reason):
        if batch is None:
            self._no_probe(reason)
            return
        self._probe = keras.utils.unpack_x_y_sample_weight(batch)
        samples = tf.nest.flatten(self._probe[0])[0].shape[0]
        message = (f"OptimizerMonitor({self.log_dir}): no probe_data, so the "
                   "gradients/ and probe/ tags use the first training batch "
                   f"of this fit ({samples} samples)")
        if (self.params or {}).get("verbose"):
            print(message, flush=True)
        else:
            _LOG.info(message)

    def _restore_train_function(self):
        hook = getattr(self.model, "train_function", None)
        if isinstance(hook, _FirstBatchHook):
            hook.remove()

    def _no_probe(self, reason):
        warnings.warn(
            f"OptimizerMonitor: no probe_data, and no probe batch can be "
            f"taken from fit here ({reason}); gradients/ and probe/ tags "
            "are not written. Pass probe_data=(x, y).", stacklevel=2)

    def _next_run_dir(self):
        if not self.subdir_per_fit:
            return self.log_dir
        os.makedirs(self.log_dir, exist_ok=True)
        taken = [name for name in os.listdir(self.log_dir)
                 if name.startswith("fit_")]
        path = os.path.join(self.log_dir, f"fit_{len(taken):04d}")
        os.makedirs(path, exist_ok=True)
        return path

    def _logs_after_batch(self, batch, batches_done):
        if self.update_freq != "epoch":
            return batches_done % self.update_freq == 0
        steps = (self.params or {}).get("steps")
        # Unknown epoch length: keep the weights before every batch.
        return steps is None or batch >= steps - 1

    def _log(self):
        model = self.model
        step = int(np.asarray(model.optimizer.iterations))
        scalars, histograms = {}, {}
        scalars["learning_rate"] = optimizer_state.current_learning_rate(
            model.optimizer
        )
        keys = [layer_key(v, model.name) for v in model.trainable_variables]
        if self._probe is not None:
            self._gradient_summaries(keys, scalars, histograms)
        if self._before is not None:
            self._update_summaries(keys, scalars, histograms)
            self._before = None
        self._state_summaries(scalars, histograms)
        with self._writer.as_default(step=step):
            for tag, value in scalars.items():
                tf.summary.scalar(tag, value)
            for tag, value in histograms.items():
                tf.summary.histogram(tag, value)
        self._writer.flush()

    def _gradient_summaries(self, keys, scalars, histograms):
        x, y, weights = self._probe
        loss, gradients = self._probe_function(x, y, weights)
        scalars["probe/loss"] = float(loss)
        flat = [tf.cast(tf.reshape(g, [-1]), tf.float32) for g in gradients]
        everything = tf.concat(flat, axis=0)
        finite = tf.math.is_finite(everything)
        scalars["gradients/nonfinite_fraction"] = float(
            1.0 - tf.reduce_mean(tf.cast(finite, tf.float32))
        )
        scalars["gradients/global_norm"] = float(tf.norm(everything))
        for key, values in _group(keys, flat).items():
            scalars[f"gradients/norm/{key}"] = float(tf.norm(values))
            if self.histograms:
                histograms[f"histograms/gradients/{key}"] = values

    def _update_summaries(self, keys, scalars, histograms):
        after = [tf.reshape(tf.cast(v, tf.float32), [-1])
                 for v in self.model.trainable_variables]
        before = [tf.reshape(tf.cast(v, tf.float32), [-1])
                  for v in self._before]
        deltas = [a - b for a, b in zip(after, before)]
        total_delta = tf.norm(tf.concat(deltas, axis=0))
        scalars["updates/global_norm"] = float(total_delta)
        _put_ratio(scalars, "updates/global_ratio", total_delta,
                   tf.norm(tf.concat(before, axis=0)))
        grouped_before = _group(keys, before)
        for key, delta in _group(keys, deltas).items():
            norm = tf.norm(delta)
            scalars[f"updates/norm/{key}"] = float(norm)
            _put_ratio(scalars, f"updates/ratio/{key}", norm,
                       tf.norm(grouped_before[key]))
            if self.histograms:
                histograms[f"histograms/updates/{key}"] = delta

    def _state_summaries(self, scalars, histograms):
        optimizer = self.model.optimizer
        variables = self.model.trainable_variables
        sizes, _ = optimizer_state.step_sizes(optimizer, variables)
        if sizes is not None:
            for name, value in optimizer_state.distribution_summary(
                sizes
            ).items():
                scalars[f"optimizer_state/step_size/{name}"] = value
            if self.histograms:
                histograms["histograms/step_size"] = sizes
        slots = optimizer_state.slot_variables(optimizer, variables)
        for slot, slot_vars in slots.items():
            values = np.concatenate([
                np.asarray(v, dtype=np.float64).ravel()
                for v in slot_vars if v is not None
            ])
            scalars[f"optimizer_state/{slot}/rms"] = float(
                np.sqrt(np.mean(np.square(values)))
            )
            scalars[f"optimizer_state/{slot}/max_abs"] = float(
                np.max(np.abs(values))
            )
            scalars[f"optimizer_state/{slot}/mean"] = float(np.mean(values))
        for member in optimizer_state.optimizer_chain(optimizer):
            scale = getattr(member, "dynamic_scale", None)
            if scale is not None:
                scalars["optimizer_state/loss_scale"] = float(
                    np.asarray(scale)
                )
            skipped = getattr(member, "nonfinite_steps", None)
            if skipped is not None:
                scalars["optimizer/nonfinite_steps"] = float(
                    np.asarray(skipped)
                )


def _group(keys, flat_tensors):
    grouped = {}
    for key, tensor in zip(keys, flat_tensors):
        grouped.setdefault(key, []).append(tensor)
    return {key: tf.concat(parts, axis=0) for key, parts in grouped.items()}


def _put_ratio(scalars, tag, numerator, denominator):
    # A layer whose weights are all zero (before the first step) has none.
    denominator = float(denominator)
    if denominator > 0:
        scalars[tag] = float(numerator) / denominator
