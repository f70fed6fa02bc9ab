"""Lookahead: k steps forward with any optimizer, one step back."""

import keras
from keras import ops

from keras_optlab.optimizers import validation
from keras_optlab.optimizers.registry import PACKAGE
from keras_optlab.optimizers.wrappers.wrapper import OptimizerWrapper


@keras.saving.register_keras_serializable(package=PACKAGE)
class Lookahead(OptimizerWrapper):
    """Lookahead (Zhang, Lucas, Hinton and Ba, 2019, Algorithm 1).

    The inner optimizer A updates the model's ("fast") weights as usual;
    every `sync_period` updates, the "slow" weights move a fraction
    `slow_step_size` of the way towards the fast ones and the fast weights
    restart from there:

    ```
    input: inner optimizer A, sync period k >= 1, slow step size alpha in
           (0, 1], initial weights theta_0;  phi_0 = theta_0
    for t = 1, 2, ...
        theta_{t,0} = phi_{t-1}                     (synchronise)
        for i = 1, ..., k
            theta_{t,i} = theta_{t,i-1} + A(L, theta_{t,i-1}, d)
        phi_t = phi_{t-1} + alpha * (theta_{t,k} - phi_{t-1})
    ```

    The slow weights phi are optimizer variables (saved with the model), set
    to the weights' values when the optimizer is built. Synchronisation runs
    after the inner update whose count `iterations` is a multiple of k; the
    inner optimizer's state (momenta, second moments) is kept across
    synchronisations, not reset. Between synchronisations the model holds
    the fast weights; right after one, fast and slow weights are equal. To
    evaluate or export the slow weights, train a multiple of k updates or
    call `assign_slow_weights_to(model)`. With gradient accumulation, k
    counts real updates. `Lookahead(RAdam())` is the "Ranger" optimizer.

    `learning_rate` and `iterations` are the inner optimizer's. Base
    options (clipping, weight decay, EMA, ...) are set on the inner
    optimizer, not here. Runs on the TensorFlow, JAX and torch backends
    (with or without `jit_compile`) and under `tf.distribute` strategies.

    Args:
        optimizer: the inner optimizer: any `keras.optimizers.Optimizer`,
            or a name or config `keras_optlab.optimizers.get` understands.
        sync_period: k, inner updates per synchronisation, an integer >= 1.
            Defaults to 5.
        slow_step_size: alpha, in (0, 1]. Defaults to 0.5. With alpha = 1
            Lookahead is the inner optimizer alone.
        name: the optimizer's name.

    Example:
    >>> model.compile(optimizer=Lookahead(Adam(1e-3), sync_period=6),
    ...               loss="mse")

    References:
        M. R. Zhang, J. Lucas, G. Hinton, J. Ba, "Lookahead Optimizer: k steps
        forward, 1 step back", NeurIPS 2019, arXiv:1907.08610.
        L. Wright, "New Deep Learning Optimizer, Ranger: Synergistic
        combination of RAdam + LookAhead for the best of both", blog post,
        2019.
    """

    _config_keys = ("sync_period", "slow_step_size")

    def __init__(
        self, optimizer, sync_period=5, slow_step_size=0.5, name=None, **kwargs
    ):
        sync_period = validation.check_int("sync_period", sync_period, 1)
        slow_step_size = validation.check_range(
            "slow_step_size", slow_step_size, 0.0, 1.0, "(]"
        )
        super().__init__(optimizer, name=name, **kwargs)
        self.sync_period = sync_period
        self.slow_step_size = slow_step_size

    def build_wrapper_state(self, var_list):
        self._slow_weights = self.add_copies(var_list, "slow")
        return self._slow_weights

    @property
    def slow_weights(self):
        """phi, one variable per model variable, in build order."""
        return list(self._slow_weights)

    def assign_slow_weights_to(self, model_or_variables):
        """Writes phi into the model's weights (the model or a list of the
        variables this optimizer updates)."""
        if not self.built:
            raise ValueError(
                "Lookahead has no slow weights before it is built. Received: "
                "an optimizer that has not been applied or built"
            )
        self.write_state_to(self._slow_weights, model_or_variables)

    def action_due(self, updated):
        return ops.logical_and(
            updated, ops.equal(self.iterations % self.sync_period, 0)
        )

    def action(self, variables):
        pairs = []
        for fast in variables:
            slow = self.state_of(self._slow_weights, fast)
            step = ops.multiply(ops.subtract(fast, slow), self.slow_step_size)
            synchronised = ops.add(slow, ops.cast(step, slow.dtype))
            pairs += [(slow, synchronised), (fast, synchronised)]
        return pairs
