"""The state of an optimizer, read in a form that means something.

An optimizer's state is a set of "slot" variables, one per trained variable
and per slot name (`momentum`, `velocity`, `accumulator`, ...). Keras names
each `<variable path with "/" -> "_">_<slot>` (ours and Keras' built-ins
alike, through `add_optimizer_variables`), so the slots are found by name,
from the public `optimizer.variables`, for any optimizer.

From the slots, `step_sizes` computes the per-parameter learning rate that
the rule applies, for the optimizers whose rule has one:

```
Adam, AdamW, Nadam    lr / (sqrt(v_t / (1 - beta_2^t)) + eps')       on m_hat
(AdEMAMix: on m_hat   eps' = epsilon                 (epsilon_mode "outside",
 + alpha m_2)                                         Keras' Nadam, AdEMAMix)
                      eps' = epsilon / sqrt(1 - beta_2^t)   ("hat", Keras'
                                                      Adam and AdamW)
                      (v_t is the running maximum under AMSGrad)
Adamax                lr / (u_t + epsilon)                           on m_hat
RMSprop               lr / sqrt(v_t [- mean_g^2 if centered] + epsilon)  on g
Adagrad               lr / sqrt(G_t + epsilon)   ("inside", Keras)   on g
                      lr / (sqrt(G_t) + epsilon)  ("outside")
Adadelta              lr * sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps)  on g
```

"on m_hat" means the step is `step_size * m_t / (1 - beta_1^t)`: the form of
Algorithm 1 of Kingma and Ba (2015), into which Keras' "epsilon hat" form is
rewritten exactly. t is `optimizer.iterations` (the last update taken) and
lr the current learning rate.
"""

import numpy as np

# Slot names (ours, then Keras') of the denominators of the rules above.
_ADADELTA_SLOTS = (
    ("mean_squared_delta", "mean_squared_gradient"),
    ("accumulated_delta_var", "accumulated_grad"),
)


def optimizer_chain(optimizer):
    """The optimizer and the ones it wraps, outermost first.

    A wrapper (`keras.optimizers.LossScaleOptimizer`, keras_optlab's
    wrappers) names the optimizer it wraps `inner_optimizer`.
    """
    chain = [optimizer]
    while getattr(chain[-1], "inner_optimizer", None) is not None:
        chain.append(chain[-1].inner_optimizer)
    return chain


def innermost(optimizer):
    return optimizer_chain(optimizer)[-1]


def current_learning_rate(optimizer):
    """The learning rate now, as a float: a schedule is evaluated at the
    optimizer's iteration count, exactly as the optimizer does."""
    return float(np.asarray(innermost(optimizer).learning_rate))


def slot_variables(optimizer, trainable_variables):
    """{slot name: [slot variable per trainable variable, or None]}.

    Matches each optimizer variable to the trainable variable with the
    longest name prefix `path.replace("/", "_") + "_"`.
    """
    index_of = {v.path.replace("/", "_"): i
                for i, v in enumerate(trainable_variables)}
    slots = {}
    for variable in innermost(optimizer).variables:
        name = variable.name
        # The longest "<path>" before an underscore that names a variable.
        best = None
        cut = len(name)
        while best is None:
            cut = name.rfind("_", 0, cut)
            if cut <= 0:
                break
            best = index_of.get(name[:cut])
        if best is None:
            continue  # iteration, learning_rate, momentum_product, ...
        if tuple(variable.shape) != tuple(trainable_variables[best].shape):
            continue
        slot = name[cut + 1:]
        slots.setdefault(slot, [None] * len(trainable_variables))[best] = (
            variable
        )
    return slots


def _float(value):
    return np.asarray(value, dtype=np.float64)


def _rule(inner, names):
    if not hasattr(inner, "epsilon"):
        return None  # Ftrl, Lion, SGD, ...
    if names == {"accumulator"}:
        return "adagrad"
    if "norm" in names and hasattr(inner, "beta_1"):
        return "adamax"
    if "velocity" in names and hasattr(inner, "beta_2"):
        return "adam"
    if "velocity" in names and hasattr(inner, "rho"):
        return "rmsprop"
    for delta, grad in _ADADELTA_SLOTS:
        if delta in names and grad in names:
            return "adadelta"
    return None


def _adam_epsilon_mode(inner):
    mode = getattr(inner, "epsilon_mode", None)
    if mode is not None:
        return mode
    # Keras' Nadam and our AdEMAMix put epsilon after the bias correction,
    # Keras' Adam, AdamW (and Lamb-like relatives) before it.
    return "outside" if type(inner).__name__ in ("Nadam", "AdEMAMix") else (
        "hat")


def step_sizes(optimizer, trainable_variables):
    """The per-parameter step sizes (one flat float64 array over all
    variables) and the rule's name, or (None, None) where the rule has
    none. See the module docstring for the formulas."""
    inner = innermost(optimizer)
    slots = slot_variables(inner, trainable_variables)
    rule = _rule(inner, set(slots))
    t = int(np.asarray(inner.iterations))
    if rule is None or t == 0:
        return None, rule
    lr = current_learning_rate(inner)
    epsilon = float(inner.epsilon)

    def values(name):
        return [_float(v) for v in slots[name] if v is not None]

    if rule == "adam":
        beta_2 = float(inner.beta_2)
        second = "velocity"
        if getattr(inner, "amsgrad", False):
            second = next(
                (s for s in ("velocity_max", "velocity_hat") if s in slots),
                "velocity",
            )
        correction = 1.0 - beta_2**t
        if _adam_epsilon_mode(inner) == "hat":
            epsilon = epsilon / np.sqrt(correction)
        parts = [lr / (np.sqrt(v / correction) + epsilon)
                 for v in values(second)]
    elif rule == "adamax":
        parts = [lr / (u + epsilon) for u in values("norm")]
    elif rule == "rmsprop":
        velocities = values("velocity")
        if getattr(inner, "centered", False) and "average_gradient" in slots:
            velocities = [v - np.square(a) for v, a in
                          zip(velocities, values("average_gradient"))]
        parts = [lr / np.sqrt(v + epsilon) for v in velocities]
    elif rule == "adagrad":
        if getattr(inner, "epsilon_mode", "inside") == "outside":
            parts = [lr / (np.sqrt(g) + epsilon)
                     for g in values("accumulator")]
        else:
            parts = [lr / np.sqrt(g + epsilon) for g in values("accumulator")]
    else:
        delta, grad = next(
            pair for pair in _ADADELTA_SLOTS if pair[0] in slots
        )
        parts = [lr * np.sqrt(d + epsilon) / np.sqrt(g + epsilon)
                 for d, g in zip(values(delta), values(grad))]
    return np.concatenate([p.ravel() for p in parts]), rule


PERCENTILES = (("min", 0), ("p05", 5), ("p25", 25), ("p50", 50),
               ("p75", 75), ("p95", 95), ("max", 100))


def distribution_summary(values):
    """{"min", "p05", ..., "p95", "max", "mean"}: percentiles of a flat
    array (numpy's linear interpolation)."""
    points = np.percentile(values, [q for _, q in PERCENTILES])
    summary = {name: float(p) for (name, _), p in zip(PERCENTILES, points)}
    summary["mean"] = float(np.mean(values))
    return summary
