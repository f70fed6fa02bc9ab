"""Stochastic Weight Averaging around any optimizer (the batch-norm pass and
the callback that go with it are in keras_optlab/training/swa.py)."""

import keras
from keras import ops

from keras_optlab.optimizers import validation
from keras_optlab.optimizers.registry import PACKAGE
from keras_optlab.optimizers.wrappers.wrapper import OptimizerWrapper


@keras.saving.register_keras_serializable(package=PACKAGE)
class SWA(OptimizerWrapper):
    """Stochastic Weight Averaging (Izmailov et al., 2018, Algorithm 1).

    The inner optimizer trains the model as usual; from update `start_step`
    on, every `average_period` updates, the weights enter an equal-weight
    running average kept in optimizer variables:

    ```
    input: inner optimizer A, start step s >= 0, period c >= 1;  w_swa = 0
    for i = 1, 2, ...
        w = w + A(L, w)                              (inner update i)
        if i >= s and (i - s) mod c == 0:
            n_models = (i - s) / c
            w_swa = (w_swa * n_models + w) / (n_models + 1)
    ```

    This is the paper's Algorithm 1 with its pre-trained weights w_hat taken
    as the weights after s updates (with s = 0, the weights when the
    optimizer is built). The model keeps training on its own weights; write
    the average into it with `assign_average_to(model)` at the end, then
    recompute the batch-norm statistics for the averaged weights with
    `swa_batch_norm_update(model, data)`, as the paper does, or use the
    `SWACallback`. The paper averages under a constant or a cyclical
    learning rate (`CyclicalLearningRate`, with c the cycle length, so that
    the snapshots are the weights at the cycles' lowest learning rate).

    `learning_rate` and `iterations` are the inner optimizer's; base options
    (clipping, weight decay, EMA, ...) are set on it. Runs on the
    TensorFlow, JAX and torch backends (with or without `jit_compile`) and
    under `tf.distribute` strategies; so do `swa_batch_norm_update` and
    `SWACallback`.

    Args:
        optimizer: the inner optimizer: any `keras.optimizers.Optimizer`,
            or a name or config `keras_optlab.optimizers.get` understands.
        start_step: s, the update after which averaging starts (its weights
            are the first model averaged), an integer >= 0.
        average_period: c, updates between models averaged, an integer >= 1.
            Defaults to 1.
        name: the optimizer's name.

    Example:
    >>> optimizer = SWA(keras.optimizers.SGD(0.05, momentum=0.9),
    ...                 start_step=75 * steps_per_epoch,
    ...                 average_period=steps_per_epoch)
    >>> model.compile(optimizer=optimizer, loss="mse")
    >>> model.fit(x, y, epochs=100)
    >>> optimizer.assign_average_to(model)
    >>> swa_batch_norm_update(model, train_dataset)

    References:
        P. Izmailov, D. Podoprikhin, T. Garipov, D. Vetrov, A. G. Wilson,
        "Averaging Weights Leads to Wider Optima and Better Generalization",
        UAI 2018, arXiv:1803.05407.
    """

    _config_keys = ("start_step", "average_period")

    def __init__(
        self, optimizer, start_step, average_period=1, name=None, **kwargs
    ):
        start_step = validation.check_int("start_step", start_step, 0)
        average_period = validation.check_int(
            "average_period", average_period, 1
        )
        super().__init__(optimizer, name=name, **kwargs)
        self.start_step = start_step
        self.average_period = average_period

    def build_wrapper_state(self, var_list):
        if self.start_step == 0:
            self._averages = self.add_copies(var_list, "swa_average")
        else:
            self._averages = self.add_optimizer_variables(
                var_list, "swa_average"
            )
        self._models_averaged = self.add_variable(
            shape=(),
            initializer="ones" if self.start_step == 0 else "zeros",
            dtype="int",
            name="models_averaged",
        )
        return self._averages + [self._models_averaged]

    @property
    def average_weights(self):
        """w_swa, one variable per model variable, in build order."""
        return list(self._averages)

    @property
    def models_averaged(self):
        """How many weight snapshots the average holds (an int variable)."""
        return self._models_averaged

    def action_due(self, updated):
        since_start = self.iterations - self.start_step
        return ops.logical_and(
            ops.logical_and(updated, ops.greater_equal(since_start, 0)),
            ops.equal(since_start % self.average_period, 0),
        )

    def action(self, variables):
        pairs = []
        for variable in variables:
            mean = self.state_of(self._averages, variable)
            count = ops.cast(self._models_averaged, mean.dtype)
            # (w_swa n + w) / (n + 1), written as an update of the mean.
            pairs.append((
                mean,
                ops.add(mean, ops.divide(ops.subtract(variable, mean),
                                         count + 1.0)),
            ))
        pairs.append((self._models_averaged, self._models_averaged + 1))
        return pairs

    def assign_average_to(self, model_or_variables):
        """Writes w_swa into the model's weights.

        Args:
            model_or_variables: the model this optimizer trains (its
                trainable variables are written), or a list of the
                variables it updates.

        Raises:
            ValueError: before any snapshot was averaged, or for a variable
                this optimizer does not update.
        """
        if not self.built or int(self._models_averaged.numpy()) == 0:
            raise ValueError(
                "SWA has no average yet: it starts after "
                f"start_step={self.start_step} updates. Received: "
                f"iterations={int(ops.convert_to_numpy(self.iterations))}"
            )
        self.write_state_to(self._averages, model_or_variables)
