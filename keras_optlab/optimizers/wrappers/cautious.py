"""Cautious: any momentum optimizer's update kept only where it descends."""

import math

import keras
from keras import ops

from keras_optlab.engine import decay
from keras_optlab.optimizers import validation
from keras_optlab.optimizers.registry import PACKAGE
from keras_optlab.optimizers.wrappers.wrapper import OptimizerWrapper
from keras_optlab.optimizers.wrappers.wrapper import (
    _in_replica_context_of_a_strategy)

# The rescaling of the kept coordinates, per variable (tensor) of d
# elements of which nnz are kept:
# "count": d / (nnz + 1), the paper's C-AdamW box, pytorch_optimizer and
#          the authors' first code;
# "mean":  1 / max(nnz / d, 1e-3), the authors' current code and timm's;
# None:    no rescaling, the mask alone.
RESCALES = ("count", "mean", None)
# The floor of mean(phi) under rescale="mean" (timm, C-Optim).
MEAN_FLOOR = 1e-3


@keras.saving.register_keras_serializable(package=PACKAGE)
class Cautious(OptimizerWrapper):
    """Cautious optimizer (Liang, Chen, Liu and Liu, 2024: the C-AdamW
    algorithm, for any inner optimizer).

    The inner optimizer proposes its step x <- x - eta_t * u_t; the step is
    kept only in the coordinates where u_t and the gradient g_t agree in
    sign, and rescaled per variable:

    ```
    input: inner optimizer A (AdamW, Lion, ...), its learning rate eta_t
           and decoupled weight decay lambda
    for t = 1, 2, ...,  for each variable x (a tensor of d elements)
        g_t    = grad f(x_{t-1})
        u_t    = A's update direction (AdamW: m_hat / (sqrt(v_hat) + eps);
                 Lion: sign(c_t)), A's state advanced as without the mask
        phi_t  = 1(u_t * g_t > 0)                     (elementwise)
        s_t    = d / (nnz(phi_t) + 1)          (rescale="count", the box)
               = 1 / max(mean(phi_t), 1e-3)    (rescale="mean")
               = 1                             (rescale=None)
        x_t    = x_{t-1} - eta_t * lambda * x_{t-1}      (decay, unmasked)
                 - eta_t * s_t * phi_t * u_t
    ```

    Where the update and the gradient disagree, the first-order change of
    the loss from that coordinate's step is positive: the mask drops it, and
    the paper shows the masked method keeps the inner optimizer's
    Hamiltonian descent and convergence. The rescaling keeps the average
    step size when the mask drops many coordinates. The inner optimizer's
    own state (momenta, second moments) is the unmasked one.

    How: `eta_t * u_t` is read as the inner optimizer's step, the change of
    each variable over the inner `apply` less Keras' decoupled decay
    (`weight_decay`, w -= lr * wd * w, for the variables it decays), so
    every Keras optimizer can be wrapped, built-in or ours. Where the inner
    rule puts its weight decay inside its update (`couples_weight_decay`:
    LAMB, LARS, Adan, NovoGrad, Prodigy, MADGRAD), the decay is part of u_t
    and masked with it. The weights before the step are held during it (one
    copy of the model's trainable weights). Under a `tf.distribute`
    strategy the mask uses the gradient summed over replicas, the one the
    inner optimizer applies. Sparse gradients are made dense for the mask:
    rows absent from the gradient have g = 0 and do not move (phi = 0), as
    the box says.

    Deliberate differences:

    - The rescaling: the paper's C-AdamW box scales the learning rate by
      d / (nnz + 1), as pytorch_optimizer's `apply_cautious` and the
      authors' first code: `rescale="count"` (default). The "one line of
      code" of arXiv v4 divides by mean(phi) + eps, with eps unstated; the
      authors' current code (C-Optim) and timm by max(mean(phi), 1e-3):
      `rescale="mean"`. With phi = 0 in a whole variable it does not move
      (count: 0 * d; mean: 0 * 1000). The mask is 1(u * g > 0), strict, as
      in the one-line code and every implementation.
    - From the authors' C-AdamW: they compute the mask from m_t * g_t, not
      u_t * g_t; the same sign, since sqrt(v_hat) + eps > 0. Their decay
      runs after the masked step (on x_t), Keras' before it (on x_{t-1});
      both unmasked; the two differ by eta_t^2 lambda s_t phi_t u_t.
    - pytorch_optimizer's `cautious=True` options mask inside each rule
      (the same mask and count rescaling); here one wrapper serves every
      optimizer.
    - Inner optimizers with `gradient_accumulation_steps` are refused: the
      mask needs the averaged gradient the inner rule sees.

    `learning_rate` and `iterations` are the inner optimizer's; base
    options are set on the inner optimizer. Runs on the TensorFlow, JAX and
    torch backends (with or without `jit_compile`) and under `tf.distribute`
    strategies.

    Args:
        optimizer: the inner optimizer, with momentum for the mask to act
            (AdamW, Lion, ...): any `keras.optimizers.Optimizer`, or a name
            or config `keras_optlab.optimizers.get` understands.
        rescale: `"count"` (default), `"mean"` or None, see above.
        name: the optimizer's name.

    Example:
    >>> model.compile(optimizer=Cautious(AdamW(1e-3, weight_decay=0.1)),
    ...               loss="mse")                            # C-AdamW
    >>> model.compile(optimizer=Cautious(Lion(1e-4)), loss="mse")  # C-Lion

    References:
        K. Liang, L. Chen, B. Liu and Q. Liu, "Cautious Optimizers:
        Improving Training with One Line of Code", arXiv:2411.16085, 2024.
        The authors' code: https://github.com/kyleliang919/C-Optim
    """

    _config_keys = ("rescale",)

    def __init__(self, optimizer, rescale="count", name=None, **kwargs):
        rescale = validation.check_choice("rescale", rescale, RESCALES)
        super().__init__(optimizer, name=name, **kwargs)
        steps = self.inner_optimizer.gradient_accumulation_steps
        if steps:
            raise ValueError(
                "Cautious needs the gradient the inner rule applies; it does "
                "not wrap an optimizer with gradient accumulation. Received: "
                f"gradient_accumulation_steps={steps}"
            )
        self.rescale = rescale
        self._before = None

    def build_wrapper_state(self, var_list):
        return []

    def apply(self, grads, trainable_variables=None):
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                return super().apply(grads)  # the base class's error
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        grads = list(grads)
        if _in_replica_context_of_a_strategy():
            import tensorflow as tf

            context = tf.distribute.get_replica_context()
            present = [g for g in grads if g is not None]
            summed = iter(context.all_reduce(
                "sum", [ops.convert_to_tensor(g) for g in present]))
            grads_for_mask = [None if g is None else next(summed)
                              for g in grads]
        else:
            grads_for_mask = grads
        # Copies: on torch a variable's tensor changes in place.
        self._before = (
            [ops.copy(ops.convert_to_tensor(v)) for v in trainable_variables],
            grads_for_mask,
            ops.copy(ops.convert_to_tensor(self.inner_optimizer.learning_rate)),
        )
        try:
            super().apply(grads, trainable_variables)
        finally:
            self._before = None

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        # JAX: `trainable_variables` are the values before the step.
        mapping = list(zip(self.variables, optimizer_variables))
        with keras.StatelessScope(state_mapping=mapping):
            learning_rate = ops.convert_to_tensor(
                self.inner_optimizer.learning_rate)
        self._before = (list(trainable_variables), list(grads),
                        learning_rate)
        try:
            return super().stateless_apply(optimizer_variables, grads,
                                           trainable_variables)
        finally:
            self._before = None

    def action_due(self, updated):
        return updated

    def action(self, variables):
        before, grads, learning_rate = self._before
        pairs = []
        # `variables` is the list `apply` was given (or, on JAX, the built
        # one, whose values `stateless_apply` was given), in that order.
        for variable, x_before, gradient in zip(variables, before, grads):
            if gradient is None:
                continue
            dtype = variable.dtype
            x_before = ops.cast(x_before, dtype)
            x_after = ops.convert_to_tensor(variable)
            # The inner step, -eta * u, less the decoupled decay.
            decay_step = None
            rate = _decoupled_decay(self.inner_optimizer, variable, dtype)
            if rate is not None:
                decay_step = ops.negative(ops.multiply(
                    ops.multiply(x_before, rate),
                    ops.cast(learning_rate, dtype)))
                step = ops.subtract(ops.subtract(x_after, x_before),
                                    decay_step)
            else:
                step = ops.subtract(x_after, x_before)
            gradient = ops.cast(ops.convert_to_tensor(gradient), dtype)
            # phi = 1(u * g > 0), with step = -eta * u.
            phi = ops.cast(ops.less(ops.multiply(step, gradient), 0), dtype)
            scale = self._scale(phi, math.prod(variable.shape), dtype)
            kept = ops.multiply(step, ops.multiply(phi, scale))
            value = ops.add(x_before, kept)
            if decay_step is not None:
                value = ops.add(value, decay_step)
            pairs.append((variable, value))
        return pairs

    def _scale(self, phi, size, dtype):
        """s_t of the variable whose mask is `phi`, a scalar."""
        if self.rescale is None:
            return ops.convert_to_tensor(1.0, dtype=dtype)
        # Counted in float32 at least: a bfloat16 sum of ones stops at 256.
        exact = "float64" if dtype == "float64" else "float32"
        count = ops.sum(ops.cast(phi, exact))
        size = ops.convert_to_tensor(float(size), dtype=exact)
        if self.rescale == "count":
            scale = ops.divide(size, ops.add(count, 1.0))
        else:
            mean = ops.divide(count, size)
            floor = ops.convert_to_tensor(MEAN_FLOOR, dtype=exact)
            scale = ops.divide(1.0, ops.where(mean > floor, mean, floor))
        return ops.cast(scale, dtype)


def _decoupled_decay(optimizer, variable, dtype):
    """The inner optimizer's decoupled decay rate of `variable`, or None
    (none, excluded, or the rule couples its decay)."""
    if getattr(optimizer, "couples_weight_decay", False):
        return None
    return decay.weight_decay(optimizer, variable, dtype)
