"""The learning-rate range test (Smith, 2017, section 3.3).

Train for a short run while the learning rate grows exponentially from
`min_lr` to `max_lr`, one step per batch; record the loss of each batch
(taken before that batch's update), smooth it, and stop once it blows up.
The loss falls slowly while the rate is too small, quickly in the useful
range, and explodes beyond it. The model's weights and the optimizer's
state are put back exactly afterwards, so the test can precede the real run.

Suggestion rules (`rule=`):

```
"steepest"    the rate where the smoothed loss falls fastest per unit of
              log(lr): argmin of the difference quotient of smoothed_loss
              over log(lr) across 2 * max(1, steps // 40) steps, searched
              after the first max(steps / 10, 1 / (1 - smoothing)) steps and
              before the smoothed minimum (falls back to "min_over_10" where
              that leaves no point)
"min_over_10" the rate at the smoothed minimum, divided by 10
```
"""

import dataclasses

import keras
import numpy as np

from keras_optlab import atomic
from keras_optlab.optimizers import validation

RULES = ("steepest", "min_over_10")


@dataclasses.dataclass
class RangeTestResult:
    """What `find_learning_rate` saw.

    Attributes:
        learning_rates: the rate of each step taken.
        losses: the loss of each step's batch, before its update.
        smoothed_losses: their bias-corrected exponential moving average.
        suggestion: the suggested learning rate.
        rule: the rule that produced it (see the module docstring).
        stopped_early: whether the loss blew up before `max_lr`.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggestion: float
    rule: str
    stopped_early: bool

    def plot(self, path, title=None):
        """Writes the loss against the learning rate (log scale) as a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot

        figure, axes = pyplot.subplots(figsize=(6, 4), dpi=100)
        axes.semilogx(self.learning_rates, self.losses, color="0.75",
                      lw=1, label="loss per batch")
        axes.semilogx(self.learning_rates, self.smoothed_losses, color="C0",
                      lw=2, label="smoothed")
        axes.axvline(self.suggestion, color="C3", ls="--",
                     label=f"suggestion {self.suggestion:.3g} ({self.rule})")
        finite = self.smoothed_losses[np.isfinite(self.smoothed_losses)]
        raw = self.losses[np.isfinite(self.losses)]
        if finite.size:
            low, high = min(finite.min(), raw.min()), finite[0]
            axes.set_ylim(low - 0.1 * (high - low), high + 0.6 * (high - low))
        axes.set_xlabel("learning rate")
        axes.set_ylabel("loss")
        axes.set_title(title or "Learning-rate range test")
        axes.legend(loc="upper left", fontsize=8)
        figure.tight_layout()
        atomic.write_atomically(path, figure.savefig)
        pyplot.close(figure)
        return path


def smooth(losses, smoothing):
    """Bias-corrected exponential moving average (as Adam corrects m_t)."""
    average, smoothed = 0.0, []
    for step, loss in enumerate(losses, start=1):
        average = smoothing * average + (1.0 - smoothing) * loss
        smoothed.append(average / (1.0 - smoothing**step))
    return np.array(smoothed)


def suggest(learning_rates, smoothed, rule, smoothing):
    """The suggested rate from a recorded run, by `rule`."""
    rule = validation.check_choice("rule", rule, RULES)
    best = int(np.nanargmin(smoothed))
    # Skip the start, where the average rests on a few noisy batches, and
    # take slopes over a span of 2 * `half` steps so that batch noise does
    # not pick the point.
    skip = max(len(smoothed) // 10, int(round(1.0 / (1.0 - smoothing))))
    half = max(1, len(smoothed) // 40)
    if rule == "min_over_10" or best - skip < 2 * half + 1:
        return float(learning_rates[best]) / 10.0, "min_over_10"
    log_rates = np.log(learning_rates)
    centres = np.arange(skip + half, best - half + 1)
    slopes = ((smoothed[centres + half] - smoothed[centres - half])
              / (log_rates[centres + half] - log_rates[centres - half]))
    return float(learning_rates[centres[int(np.argmin(slopes))]]), "steepest"


def _batches(x, y, batch_size, seed):
    import tensorflow as tf

    if isinstance(x, tf.data.Dataset):
        for batch in x.repeat():
            yield batch[0], batch[1]
        return
    rng = np.random.default_rng(seed)
    n = len(x)
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            index = order[start:start + batch_size]
            yield x[index], y[index]


def _innermost(optimizer):
    while getattr(optimizer, "inner_optimizer", None) is not None:
        optimizer = optimizer.inner_optimizer
    return optimizer


def find_learning_rate(model, x, y=None, *, batch_size=32, min_lr=1e-7,
                       max_lr=10.0, steps=100, smoothing=0.9,
                       divergence_factor=4.0, rule="steepest", seed=0):
    """Runs the LR range test on a compiled model and restores it.

    Args:
        model: a compiled Keras model whose optimizer has a float learning
            rate (the test sets it at every step).
        x, y: arrays, or `x` a `tf.data.Dataset` of batches `(x, y)` and y
            None.
        batch_size: for arrays; must not exceed len(x). Defaults to 32.
        min_lr, max_lr: the range, 0 < min_lr < max_lr. Defaults to 1e-7
            and 10.
        steps: steps from min_lr to max_lr, >= 3. Defaults to 100.
        smoothing: the moving average's decay in [0, 1). Defaults to 0.9
            (an average over about 10 steps).
        divergence_factor: stop once the smoothed loss exceeds this many
            times its minimum (or is not finite), > 1. Defaults to 4.
        rule: `"steepest"` (default) or `"min_over_10"`.
        seed: for the order of the array batches. Defaults to 0.

    Returns:
        A `RangeTestResult`. The model's variables and the optimizer's
        variables (state, iteration count, learning rate) are restored to
        their values before the call, bit for bit.

    Reference:
        L. N. Smith, "Cyclical Learning Rates for Training Neural Networks",
        WACV 2017, section 3.3.
    """
    min_lr = validation.check_range("min_lr", min_lr, low=0.0, closed="(]")
    max_lr = validation.check_range("max_lr", max_lr, low=0.0, closed="(]")
    if not min_lr < max_lr:
        raise ValueError(f"min_lr must be below max_lr. Received: "
                         f"min_lr={min_lr}, max_lr={max_lr}")
    steps = validation.check_int("steps", steps, 3)
    batch_size = validation.check_int("batch_size", batch_size, 1)
    smoothing = validation.check_range("smoothing", smoothing, 0.0, 1.0, "[)")
    divergence_factor = validation.check_range(
        "divergence_factor", divergence_factor, low=1.0, closed="(]")
    rule = validation.check_choice("rule", rule, RULES)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError("The model must be compiled with an optimizer. "
                         f"Received: model={model.name!r}, not compiled")
    inner = _innermost(optimizer)
    if not isinstance(inner.learning_rate, keras.Variable):
        raise ValueError(
            "The range test sets the learning rate at every step, so the "
            "optimizer needs a float learning rate, not a schedule. "
            f"Received: learning_rate={inner.learning_rate!r}")
    if y is not None and not batch_size <= len(x):
        raise ValueError(f"batch_size must not exceed the {len(x)} samples. "
                         f"Received: batch_size={batch_size}")
    if not optimizer.built:
        optimizer.build(model.trainable_variables)

    saved_model = [np.array(v) for v in model.variables]
    saved_optimizer = [np.array(v) for v in optimizer.variables]
    rates = min_lr * (max_lr / min_lr) ** (np.arange(steps) / (steps - 1))
    losses, stopped_early = [], False
    try:
        batches = _batches(x, y, batch_size, seed)
        for rate in rates:
            inner.learning_rate = float(rate)
            xb, yb = next(batches)
            logs = model.train_on_batch(xb, yb, return_dict=True)
            losses.append(float(logs["loss"]))
            smoothed = smooth(losses, smoothing)
            if not np.isfinite(smoothed[-1]) or (
                smoothed[-1] > divergence_factor * np.nanmin(smoothed)
            ):
                stopped_early = True
                break
    finally:
        for variable, value in zip(model.variables, saved_model):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, saved_optimizer):
            variable.assign(value)
    rates = rates[:len(losses)]
    smoothed = smooth(losses, smoothing)
    suggestion, used = suggest(rates, smoothed, rule, smoothing)
    return RangeTestResult(rates, np.array(losses), smoothed, suggestion,
                           used, stopped_early)
