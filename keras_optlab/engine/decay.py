"""Weight decay, decided in one place (step 5 of step.py).

Keras' `Optimizer` applies decoupled decay, w -= lr * wd * w, to every
variable not excluded with `exclude_from_weight_decay`, before the updates.
Here: not at all for a rule whose paper couples decay with its update
(`couples_weight_decay`: LARS, Adan, Prodigy, NovoGrad read
`weight_decay_for` in their rule), and on TensorFlow's fused path inside
each variable's compiled update rather than in a pass of its own.
"""

import keras
from keras import ops


def decays_with_each_update(optimizer):
    """True where the decoupled decay runs inside each variable's update
    (TensorFlow's fused path, fused.py) rather than before all updates."""
    return (
        keras.backend.backend() == "tensorflow"
        and optimizer.fused is not False
    )


def keras_decays_before_updates(optimizer):
    """Whether Keras' `_apply_weight_decay` runs before the updates."""
    return not (
        optimizer.couples_weight_decay or decays_with_each_update(optimizer)
    )


def decoupled_decay(optimizer, variable, dtype):
    """Keras' decoupled weight decay rate of `variable` as a `dtype` tensor,
    or None: none set, the variable excluded, or the rule couples decay."""
    if optimizer.couples_weight_decay:
        return None
    return weight_decay(optimizer, variable, dtype)


def weight_decay(optimizer, variable, dtype):
    """The weight decay of `variable` as a `dtype` tensor, or None where
    there is none or `exclude_from_weight_decay` excludes the variable."""
    if optimizer.weight_decay is None or not optimizer._use_weight_decay(
        variable
    ):
        return None
    # Rounded through float32 exactly as Keras' base class rounds it.
    return ops.cast(optimizer.weight_decay, dtype)
