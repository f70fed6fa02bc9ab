"""Sharpness-Aware Minimization as a training step.

SAM needs the gradient at a second point, w + epsilon, chosen from the first
gradient: two forward and backward passes per step. An optimizer sees only
gradients, so inside `fit` SAM is a `train_step`: `sam_train_step` for any
model, or the `SAMModel` wrapper. The update itself is the base optimizer's,
whichever it is. The step follows the backend's own `train_step`: gradients
by `tf.GradientTape` on TensorFlow, `loss.backward()` on torch (both perturb
the weights in place and restore a saved copy), and `jax.value_and_grad`
over the stateless loss on JAX (the perturbed weights are a new state; the
weights never change until the update).
"""

import contextlib

import keras
from keras import ops

from keras_optlab.optimizers import validation
from keras_optlab.optimizers.registry import PACKAGE

# Added to ||g|| so that a zero gradient gives epsilon = 0, not NaN.
_NORM_FLOOR = 1e-12
_DEFAULT_RHO = 0.05


def sharpness_perturbation(gradients, rho):
    """epsilon = rho * g / ||g||_2, the norm over all variables together
    (Foret et al., eq. 2 with p = 2); None where a gradient is None."""
    present = [g for g in gradients if g is not None]
    norm = ops.sqrt(
        ops.sum(ops.stack([ops.sum(ops.square(g)) for g in present]))
    )
    return [
        None if g is None
        else ops.multiply(g, ops.cast(rho / (norm + _NORM_FLOOR), g.dtype))
        for g in gradients
    ]


def _record_loss_and_metrics(model, loss, x, y, y_pred, sample_weight):
    """The loss tracker and compiled metrics at w, from the first pass."""
    batch_size = ops.shape(keras.tree.flatten(x)[0])[0]
    for metric in model.metrics:
        if metric.name == "loss":
            metric.update_state(loss, sample_weight=batch_size)
    return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def _tape_loss_and_gradients(model, x, y, sample_weight, variables):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
            training=True,
        )
        scaled_loss = (
            model.optimizer.scale_loss(loss) if model.optimizer else loss
        )
    return y_pred, loss, tape.gradient(scaled_loss, variables)


def _backward_loss_and_gradients(model, x, y, sample_weight, variables):
    y_pred = model(x, training=True)
    # `backward` adds to `.grad`: start from none, and leave none behind,
    # so that each pass starts alike (torch.compile then compiles the pass
    # once, not again when `.grad` changes from None to a tensor).
    model.zero_grad()
    loss = model.compute_loss(
        x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True,
    )
    scaled_loss = model.optimizer.scale_loss(loss) if model.optimizer else loss
    scaled_loss.backward()
    gradients = [variable.value.grad for variable in variables]
    model.zero_grad()
    return y_pred, loss, gradients


def _no_grad():
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def _in_place_step(model, data, rho):
    """TensorFlow and torch: perturb the variables in place, take the
    second gradient there, restore the saved weights bit for bit, update."""
    loss_and_gradients = (
        _backward_loss_and_gradients
        if keras.backend.backend() == "torch"
        else _tape_loss_and_gradients
    )
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    variables = model.trainable_variables
    y_pred, loss, gradients = loss_and_gradients(
        model, x, y, sample_weight, variables
    )
    logs = _record_loss_and_metrics(model, loss, x, y, y_pred, sample_weight)
    with _no_grad():
        epsilons = sharpness_perturbation(gradients, rho)
        # w + epsilon - epsilon is not w in floating point: keep w.
        saved = [ops.copy(variable.value) for variable in variables]
        for variable, epsilon in zip(variables, epsilons):
            if epsilon is not None:
                variable.assign_add(epsilon)
    _, _, sam_gradients = loss_and_gradients(
        model, x, y, sample_weight, variables
    )
    with _no_grad():
        for variable, weights in zip(variables, saved):
            variable.assign(weights)
        model.optimizer.apply_gradients(zip(sam_gradients, variables))
    return logs


def _stateless_step(model, state, data, rho):
    """JAX: the step as a function of the state, like Keras' JAX
    `train_step`; w + epsilon is a new list of arrays, w is never changed
    before the update."""
    import jax

    (trainable, non_trainable, optimizer_variables,
     metrics_variables) = state
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    loss_and_gradients = jax.value_and_grad(
        model.compute_loss_and_updates, has_aux=True
    )

    def evaluate(weights, non_trainable):
        # Returns (scaled loss, (loss, y_pred, non-trainable, metrics)),
        # gradients of the scaled loss.
        return loss_and_gradients(
            weights, non_trainable, metrics_variables, x, y, sample_weight,
            training=True, optimizer_variables=optimizer_variables,
        )

    (_, (loss, y_pred, non_trainable, metrics_variables)), gradients = (
        evaluate(trainable, non_trainable)
    )
    epsilons = sharpness_perturbation(gradients, rho)
    perturbed = [ops.add(w, e) for w, e in zip(trainable, epsilons)]
    # The second pass starts from the first pass's non-trainable state and
    # its updates are kept, as on the other backends; its metrics are not.
    (_, (_, _, non_trainable, _)), sam_gradients = evaluate(
        perturbed, non_trainable
    )
    trainable, optimizer_variables = model.optimizer.stateless_apply(
        optimizer_variables, sam_gradients, trainable
    )

    mapping = list(zip(model.metrics_variables, metrics_variables))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = _record_loss_and_metrics(
            model, loss, x, y, y_pred, sample_weight
        )
    metrics_variables = [
        _current(scope, variable, value) for variable, value in mapping
    ]
    return logs, (trainable, non_trainable, optimizer_variables,
                  metrics_variables)


def _current(scope, variable, value):
    current = scope.get_current_value(variable)
    return value if current is None else current


def sam_train_step(model, *step_args, rho=None):
    """One SAM step for a compiled model, on any backend.

    ```
    input: weights w, loss L_B on the batch B, radius rho > 0,
           base optimizer A
    g       = grad L_B(w)
    epsilon = rho * g / ||g||_2          (norm over all variables together)
    g_sam   = grad L_B(w + epsilon)
    w       = w + A(g_sam)               (the base optimizer's update, at w)
    ```

    Call it as the backend's `train_step` is called:

    - TensorFlow and torch: `sam_train_step(model, data, rho=0.05)`, which
      returns the logs dictionary;
    - JAX, whose `train_step` is stateless:
      `sam_train_step(model, state, data, rho=0.05)`, which returns
      `(logs, new_state)` with `state = (trainable_variables,
      non_trainable_variables, optimizer_variables, metrics_variables)`.

    Example, TensorFlow and torch:

    ```
    class MyModel(keras.Model):
        def train_step(self, data):
            return sam_train_step(self, data, rho=0.05)
    ```

    JAX:

    ```
    class MyModel(keras.Model):
        def train_step(self, state, data):
            return sam_train_step(self, state, data, rho=0.05)
    ```

    Or one `train_step` for all three backends:

    ```
    class MyModel(keras.Model):
        def train_step(self, *args):     # (data) or, on JAX, (state, data)
            return sam_train_step(self, *args, rho=0.05)
    ```

    Each step costs two forward and two backward passes (2x plain
    training). The loss and metrics reported are those at w, from the first
    pass. Both passes run in training mode and the non-trainable updates of
    both are kept, so batch normalisation updates its moving statistics
    twice per step, the second time at w + epsilon (on JAX the second pass
    starts from the first pass's non-trainable state, and its result is the
    returned one). The weights are restored exactly (not by subtracting
    epsilon) before the base optimizer's update. Loss scaling (mixed
    precision) does not change epsilon: it is normalised.

    Args:
        model: a compiled `keras.Model`.
        *step_args: what Keras passes to `train_step`: `(data,)`, or
            `(state, data)` on JAX; `rho` may follow positionally.
        rho: the neighbourhood radius, > 0. Defaults to 0.05.

    Returns:
        The logs dictionary `train_step` returns; on JAX `(logs, state)`.
    """
    stateless = keras.backend.backend() == "jax"
    expected = 2 if stateless else 1
    if len(step_args) == expected + 1 and rho is None:
        *step_args, rho = step_args
    if len(step_args) != expected:
        form = "model, state, data" if stateless else "model, data"
        raise TypeError(
            f"sam_train_step on the {keras.backend.backend()!r} backend is "
            f"called as sam_train_step({form}, rho=...), with what Keras "
            f"passes to train_step. Received: {len(step_args)} positional "
            "arguments after `model`"
        )
    rho = _DEFAULT_RHO if rho is None else rho
    rho = validation.check_range("rho", rho, low=0.0, closed="(]")
    if stateless:
        return _stateless_step(model, *step_args, rho)
    return _in_place_step(model, *step_args, rho)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SAMModel(keras.Model):
    """Trains the wrapped model with Sharpness-Aware Minimization
    (Foret et al., 2021, Algorithm 1).

    Predicting and evaluating are the wrapped model's; `fit` takes the SAM
    step of `sam_train_step` with the compiled optimizer as base optimizer
    (any Keras optimizer: SGD with momentum in the paper), on the
    TensorFlow, JAX and torch backends, with or without `jit_compile`.
    Costs 2x a plain training step.

    Args:
        model: the `keras.Model` to train.
        rho: the neighbourhood radius, > 0. Defaults to 0.05 (the paper
            searched {0.01, 0.02, 0.05, 0.1, 0.2, 0.5}).
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Example:
    >>> sam = SAMModel(model, rho=0.05)
    >>> sam.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
    ...             loss="sparse_categorical_crossentropy")
    >>> sam.fit(x, y, epochs=10)

    References:
        P. Foret, A. Kleiner, H. Mobahi, B. Neyshabur, "Sharpness-Aware
        Minimization for Efficiently Improving Generalization", ICLR 2021,
        arXiv:2010.01412.
    """

    def __init__(self, model, rho=_DEFAULT_RHO, **kwargs):
        if not isinstance(model, keras.Model):
            raise TypeError(
                "`model` must be a keras.Model. Received: "
                f"model={model!r} of type {type(model).__name__}"
            )
        rho = validation.check_range("rho", rho, low=0.0, closed="(]")
        super().__init__(**kwargs)
        self.model = model
        self.rho = rho

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def train_step(self, *step_args):
        # (data), or (state, data) on JAX.
        return sam_train_step(self, *step_args, rho=self.rho)

    def get_config(self):
        return {
            "name": self.name,
            "model": keras.saving.serialize_keras_object(self.model),
            "rho": self.rho,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(
            config["model"], custom_objects=custom_objects
        )
        return cls(**config)
