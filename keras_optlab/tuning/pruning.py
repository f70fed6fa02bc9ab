"""Median pruning: stop a trial whose objective so far is worse than the
median of the finished trials at the same epoch.

The rule is Optuna's `MedianPruner` (Akiba et al., 2019, "Optuna: A
Next-generation Hyperparameter Optimization Framework"):

```
at the end of epoch e of a trial with objective values v_0 .. v_e:
    C = the trials that ran to the end (not pruned, not running)
    if |C| == 0 or |C| < n_startup_trials:      keep going
    if e < n_warmup_steps:                      keep going
    b = best of v_0 .. v_e  (max for "max" objectives, min for "min")
    if b is NaN:                                prune
    m = median over C of the value each trial had at epoch e
        (trials of C that did not reach epoch e are left out; none: keep going)
    prune when b is worse than m
```

The last epoch is never pruned: stopping then saves nothing, and the trial
joins the finished ones instead. A pruned trial is not a failure: it ends with the best value it reached, and
its record says `pruned`. Early-stopped trials count as finished.

Keras Tuner deep-copies callbacks for every trial, so the callback keeps
nothing between trials in memory. Each trial writes its per-epoch values to
`<records_dir>/trial_<id>.json`, and the callback reads the other trials'
files there; `bind` (called by the tuner before each trial, see
`tuners.py`) says which directory and trial these are. Several workers of a
distributed search share those files through the shared tuner directory.
"""

import json
import math
import os
import statistics

import keras
from keras_tuner.engine import metrics_tracking

from keras_optlab import atomic

RUNNING = "running"
COMPLETED = "completed"
PRUNED = "pruned"


def record_path(records_dir, trial_id):
    return os.path.join(records_dir, f"trial_{trial_id}.json")


def read_records(records_dir):
    """All epoch records in a directory, `{trial_id: record}`. A record is
    `{"trial_id", "values": [objective per epoch], "state", "pruned_at",
    "tuner_id"}`."""
    records = {}
    if not records_dir or not os.path.isdir(records_dir):
        return records
    for filename in sorted(os.listdir(records_dir)):
        if not (filename.startswith("trial_") and filename.endswith(".json")):
            continue
        try:
            with open(os.path.join(records_dir, filename)) as f:
                record = json.load(f)
        except (OSError, ValueError):
            # Another process is writing it; it is read again next epoch.
            continue
        records[record["trial_id"]] = record
    return records


def _write_record(records_dir, record):
    os.makedirs(records_dir, exist_ok=True)
    # Readers in other processes see the old file or the new one, never half.
    atomic.write_json(record_path(records_dir, record["trial_id"]), record)


def should_prune(values, epoch, finished, direction, n_startup_trials,
                 n_warmup_steps):
    """The pruning rule above, on plain data.

    Args:
        values: this trial's objective values for epochs 0 .. epoch.
        epoch: the current epoch (0-based).
        finished: per-epoch value lists of the trials that ran to the end.
        direction: `"max"` or `"min"`.
        n_startup_trials, n_warmup_steps: see `MedianPruning`.
    """
    if not finished or len(finished) < n_startup_trials:
        return False
    if epoch < n_warmup_steps:
        return False
    present = [v for v in values if not math.isnan(v)]
    if not present:
        return True
    best = max(present) if direction == "max" else min(present)
    at_epoch = [
        trial[epoch] for trial in finished
        if len(trial) > epoch and not math.isnan(trial[epoch])
    ]
    if not at_epoch:
        return False
    median = statistics.median(at_epoch)
    return best < median if direction == "max" else best > median


class MedianPruning(keras.callbacks.Callback):
    """Stops a trial that is worse than the median of finished trials.

    Args:
        objective: the metric in the epoch logs, e.g. `"val_accuracy"`.
        direction: `"max"` or `"min"`; inferred from the name when `None`
            (accuracy-like metrics are maximised, losses minimised).
        n_startup_trials: no trial is pruned until this many trials have run
            to the end (at least 1: the first trial is never pruned).
        n_warmup_steps: epochs 0 .. n_warmup_steps - 1 are never pruned.

    Attributes:
        pruned_at: the epoch (0-based) the trial was stopped at, or `None`.
    """

    def __init__(self, objective="val_accuracy", direction=None,
                 n_startup_trials=5, n_warmup_steps=0):
        super().__init__()
        if direction is None:
            direction = metrics_tracking.infer_metric_direction(objective)
        if direction not in ("max", "min"):
            raise ValueError(
                "`direction` must be 'max' or 'min' (it cannot be inferred "
                f"from the objective's name). Received: objective="
                f"{objective!r}, direction={direction!r}")
        if isinstance(n_startup_trials, bool) or not isinstance(
                n_startup_trials, int) or n_startup_trials < 1:
            raise ValueError("`n_startup_trials` must be an integer >= 1. "
                             f"Received: n_startup_trials={n_startup_trials!r}")
        if isinstance(n_warmup_steps, bool) or not isinstance(
                n_warmup_steps, int) or n_warmup_steps < 0:
            raise ValueError("`n_warmup_steps` must be an integer >= 0. "
                             f"Received: n_warmup_steps={n_warmup_steps!r}")
        self.objective = objective
        self.direction = direction
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.records_dir = None
        self.trial_id = None
        self.values = []
        self.pruned_at = None

    def bind(self, records_dir, trial_id):
        """Sets where epoch records live and which trial this one is."""
        self.records_dir = str(records_dir)
        self.trial_id = str(trial_id)

    @property
    def pruned(self):
        return self.pruned_at is not None

    def _record(self, state):
        if self.records_dir is None:
            return
        _write_record(self.records_dir, {
            "trial_id": self.trial_id, "values": self.values,
            "state": state, "pruned_at": self.pruned_at,
            # Which process ran it, for distributed searches.
            "tuner_id": os.environ.get("KERASTUNER_TUNER_ID", "tuner0"),
        })

    def finished_trials(self):
        """Per-epoch values of the other trials that ran to the end."""
        return [
            record["values"]
            for trial_id, record in read_records(self.records_dir).items()
            if record["state"] == COMPLETED and trial_id != self.trial_id
        ]

    def on_train_begin(self, logs=None):
        self.values = []
        self.pruned_at = None
        self._record(RUNNING)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.objective not in logs:
            raise ValueError(
                f"MedianPruning: the objective {self.objective!r} is not in "
                f"the epoch logs (found: {', '.join(sorted(logs))}); pass "
                "validation data or choose another objective.")
        self.values.append(float(logs[self.objective]))
        last_epoch = (self.params or {}).get("epochs", 0) - 1
        # Stopping after the last epoch saves nothing; the trial counts as
        # finished instead, so its values join the median.
        if epoch < last_epoch and should_prune(self.values, epoch, self.finished_trials(),
                        self.direction, self.n_startup_trials,
                        self.n_warmup_steps):
            self.pruned_at = epoch
            self.model.stop_training = True
            self._record(PRUNED)
        else:
            self._record(RUNNING)

    def on_train_end(self, logs=None):
        if not self.pruned:
            self._record(COMPLETED)
