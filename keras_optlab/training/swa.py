"""What SWA needs around training: the batch-norm pass for the averaged
weights and the callback that writes the average at the end of `fit`."""

import keras
import numpy as np
from keras import ops

from keras_optlab.optimizers import validation
from keras_optlab.optimizers.wrappers.swa import SWA


def _batch_norm_layers(model):
    """The BatchNormalization layers that update their statistics in
    training mode: frozen ones (`trainable=False`) keep theirs."""
    layers = [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
        and layer.trainable
    ]
    for layer in layers:
        if layer.renorm:
            raise ValueError(
                "swa_batch_norm_update does not support batch "
                f"renormalization. Received: layer {layer.name} with "
                "renorm=True"
            )
    return layers


def _inputs_of(batch):
    if isinstance(batch, (tuple, list)):
        return batch[0]
    if isinstance(batch, dict) and "x" in batch:
        return batch["x"]
    return batch


def _batch_size(inputs):
    first = keras.tree.flatten(inputs)[0]
    return int(ops.shape(first)[0])


def swa_batch_norm_update(model, data, steps=None):
    """Recomputes batch-norm statistics for the current (averaged) weights.

    The averaged weights were never trained with their own activations, so
    the stored moving mean and variance do not fit them. As Izmailov et al.
    do, this runs one pass over the training
    data in training mode and sets every `BatchNormalization` layer's
    moving statistics to those of the whole pass:

    ```
    for each batch b of n_b inputs (training mode, momentum 0, so the moving
    statistics of each layer hold the batch's mean_b and var_b):
        S1 += n_b * mean_b;   S2 += n_b * (var_b + mean_b^2);   N += n_b
    moving_mean = S1 / N;   moving_variance = S2 / N - moving_mean^2
    ```

    This is the exact mean and (biased, as Keras normalises) variance of
    each layer's inputs over the pass, whatever the batch sizes: Keras'
    exponential moving average cannot give it, and an average of per-batch
    variances would miss the spread of the batch means. In training mode a
    layer normalises by its batch statistics, so no layer's inputs depend on
    another layer's moving statistics and one pass suffices. The sums run in
    float64 on the host, one read per layer and batch: the cost of one
    evaluation epoch. Frozen layers (`trainable=False`, which normalise with
    their moving statistics) are left as they are; masked inputs are
    weighted per batch, not per unmasked element.

    Args:
        model: a Keras model holding the averaged weights.
        data: an iterable of batches: a `tf.data.Dataset`, a
            `keras.utils.PyDataset` or a list, each batch `x` or `(x, y...)`.
        steps: the number of batches to use; all of them by default.

    Returns:
        The number of inputs seen, N. With no `BatchNormalization` layer the
        model is left as it is and 0 is returned.
    """
    if steps is not None:
        steps = validation.check_int("steps", steps, 1)
    layers = _batch_norm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    sums = [None] * len(layers)
    seen = 0
    try:
        for layer in layers:
            layer.momentum = 0.0
        for index, batch in enumerate(data):
            if steps is not None and index >= steps:
                break
            inputs = _inputs_of(batch)
            size = _batch_size(inputs)
            model(inputs, training=True)
            for i, layer in enumerate(layers):
                mean = np.float64(ops.convert_to_numpy(layer.moving_mean))
                variance = np.float64(
                    ops.convert_to_numpy(layer.moving_variance)
                )
                update = (size * mean, size * (variance + mean**2))
                sums[i] = update if sums[i] is None else (
                    sums[i][0] + update[0], sums[i][1] + update[1]
                )
            seen += size
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    if seen == 0:
        raise ValueError(
            "`data` gave no batch. Received: "
            f"data={data!r}, steps={steps}"
        )
    for layer, (first, second) in zip(layers, sums):
        mean = first / seen
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(np.maximum(second / seen - mean**2, 0.0))
    return seen


class SWACallback(keras.callbacks.Callback):
    """At the end of `fit`, writes the SWA average into the model and, given
    data, recomputes its batch-norm statistics.

    Args:
        data: batches for `swa_batch_norm_update` (usually the training
            data, unshuffled order not needed), or None to skip it.
        steps: batches of `data` to use; all by default.

    Example:
    >>> model.fit(x, y, epochs=100, callbacks=[SWACallback(train_dataset)])
    """

    def __init__(self, data=None, steps=None):
        super().__init__()
        if steps is not None:
            steps = validation.check_int("steps", steps, 1)
        self.data = data
        self.steps = steps

    def on_train_end(self, logs=None):
        optimizer = self.model.optimizer
        if not isinstance(optimizer, SWA):
            raise TypeError(
                "SWACallback needs a model compiled with an SWA optimizer. "
                f"Received: optimizer={type(optimizer).__name__}"
            )
        optimizer.assign_average_to(self.model)
        if self.data is not None:
            swa_batch_norm_update(self.model, self.data, self.steps)
