"""What a benchmark compares: an optimizer, optionally wrapped, optionally
on a learning-rate schedule over the trial's budget.

A candidate is written as one name:

| written | what trains |
|---|---|
| `adam`, `keras:lion` | the optimizer (registered, or Keras' own) |
| `lookahead(adam)` | `Lookahead(Adam())`, its defaults (k = 5, alpha = 0.5) |
| `cautious(adamw)` | `Cautious(AdamW())`, the paper's mask rescaled by count |
| `adam@cosine` | Adam, its learning rate decayed to 0 by a cosine over the trial's steps |
| `adam@warmup_cosine` | a linear warm-up over the first 5% of the steps, then that cosine |
| `adam@onecycle` | Smith's one-cycle policy, peaking at Adam's learning rate |
| `cautious(lion)@cosine` | both |

The learning rate a schedule starts from (cosine) or peaks at (one-cycle)
is the optimizer's own: its default under the self-tuning ruleset, the
drawn one under external tuning; the schedule's length is the trial's
budget in steps (its epochs times the steps per epoch, or its step
budget), so a trial that stops at the target has not finished its
schedule, as in AlgoPerf. A wrapper's own settings are its defaults and
not searched. Under external tuning a candidate draws the settings of its
optimizer (`draw_name`), so `adam`, `lookahead(adam)` and `adam@cosine`
train with the same learning rates, trial for trial: their differences are
the wrapper's and the schedule's.

SWA is not a candidate: its averaged weights are not the model's until a
callback swaps them in, so a per-epoch validation would not score them.
"""

import dataclasses
import re

WRAPPERS = ("lookahead", "cautious")
SCHEDULES = ("cosine", "warmup_cosine", "onecycle")
#: The share of a `warmup_cosine` schedule's steps spent warming up.
WARMUP_FRACTION = 0.05

_FORM = re.compile(r"^(?:(?P<wrapper>[A-Za-z_]+)\((?P<inner>[^()@]+)\)|"
                   r"(?P<plain>[^()@]+))(?:@(?P<schedule>[A-Za-z_]+))?$")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A parsed candidate (see the module docstring).

    Attributes:
        name: as written, the key of its records.
        optimizer: the optimizer's name (registered or `"keras:<name>"`).
        wrapper: one of `WRAPPERS`, or None.
        schedule: one of `SCHEDULES`, or None.
    """

    name: str
    optimizer: str
    wrapper: str = None
    schedule: str = None

    @property
    def draw_name(self):
        """Whose search space and seeded draws an external trial uses: the
        optimizer's."""
        return self.optimizer


def parse(text):
    """The `Candidate` of a written name; a one-line ValueError naming the
    value for a malformed one, an unknown wrapper or schedule (the
    optimizer's name is checked by `check`)."""
    found = _FORM.match(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise ValueError(
            "A candidate is an optimizer name, optionally wrapped "
            f"({', '.join(w + '(NAME)' for w in WRAPPERS)}) and optionally "
            f"on a schedule (NAME@{'|'.join(SCHEDULES)}). Received: "
            f"optimizer={text!r}")
    wrapper = found["wrapper"]
    if wrapper is not None and wrapper.lower() not in WRAPPERS:
        raise ValueError(f"Unknown wrapper (known: {', '.join(WRAPPERS)}). "
                         f"Received: optimizer={text!r}")
    schedule = found["schedule"]
    if schedule is not None and schedule.lower() not in SCHEDULES:
        raise ValueError(f"Unknown schedule (known: {', '.join(SCHEDULES)})."
                         f" Received: optimizer={text!r}")
    optimizer = (found["inner"] or found["plain"]).strip()
    return Candidate(text.strip(), optimizer,
                     wrapper.lower() if wrapper else None,
                     schedule.lower() if schedule else None)


def learning_rate_schedule(kind, learning_rate, total_steps):
    """The schedule `kind` (one of `SCHEDULES`) from or around
    `learning_rate` over `total_steps`."""
    import keras

    from keras_optlab import schedules

    total_steps = max(1, int(total_steps))
    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=total_steps)
    if kind == "warmup_cosine":
        warmup = max(1, round(WARMUP_FRACTION * total_steps))
        return schedules.Warmup(
            keras.optimizers.schedules.CosineDecay(
                learning_rate, decay_steps=max(1, total_steps - warmup)),
            warmup_steps=warmup)
    return schedules.OneCycle(learning_rate, total_steps)


def build(candidate, arguments=None, total_steps=1):
    """A new optimizer for `candidate` (a `Candidate` or a written name)
    with the optimizer's `arguments`; a schedule spans `total_steps`."""
    from keras_optlab import optimizers

    if not isinstance(candidate, Candidate):
        candidate = parse(candidate)
    arguments = dict(arguments or {})
    if candidate.schedule is not None:
        if "learning_rate" not in arguments:
            default = optimizers.get(candidate.optimizer, **arguments)
            arguments["learning_rate"] = float(default.learning_rate)
        arguments["learning_rate"] = learning_rate_schedule(
            candidate.schedule, arguments["learning_rate"], total_steps)
    optimizer = optimizers.get(candidate.optimizer, **arguments)
    if candidate.wrapper == "lookahead":
        return optimizers.Lookahead(optimizer)
    if candidate.wrapper == "cautious":
        return optimizers.Cautious(optimizer)
    return optimizer


def check(names):
    """Each written name parses, names a known optimizer, builds, and is
    listed once; a one-line ValueError naming the value otherwise. Returns
    the `Candidate`s."""
    from keras_optlab.optimizers import keras_builtins

    if not names:
        raise ValueError("At least one optimizer is needed. Received: "
                         "names=[]")
    parsed = [parse(name) for name in names]
    keras_builtins.check_names(dict.fromkeys(c.optimizer for c in parsed))
    seen = set()
    for candidate in parsed:
        if candidate.name in seen:
            raise ValueError(f"An optimizer is listed twice. Received: "
                             f"optimizer={candidate.name!r}")
        seen.add(candidate.name)
        try:
            build(candidate, total_steps=10)
        except (ValueError, TypeError) as error:
            reason = str(error).splitlines()[0].split(" Received:")[0]
            raise ValueError(f"{reason} Received: optimizer="
                             f"{candidate.name!r}") from None
    return parsed
