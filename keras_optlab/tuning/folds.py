"""K-fold cross-validation for searches: the folds, the per-trial record of
finished folds, and the summary a trial reports.

A cross-validated trial trains K models, fold k holding out the k-th part
of the training data for validation, and reports:

* `<objective>`: the mean over its folds of each fold's best-epoch value
  (what ranks trials);
* `<objective>_std`: their standard deviation (population, ddof=0, as
  `numpy.std` and scikit-learn's `cross_val_score(...).std()` give);
* `fold<k>_<objective>`: each fold's value;
* `folds_run`, `epochs_chosen` (the mean over folds of the best epoch's
  number, 1-based and rounded: how long the final model is retrained),
  `epochs_run` (the most epochs a fold ran), `pruned`, `seconds` (all
  folds), and the mean of every other metric.

Folds are stratified for class labels (scikit-learn's `StratifiedKFold`,
shuffled with the search's seed), and plain `KFold` when a class has fewer
members than folds or the targets are not labels (regression).
"""

import json
import math
import os

import numpy as np

FILE = "folds.json"
#: The most folds a recipe may ask for.
MAX_FOLDS = 100
PRUNED_KEY = "pruned"
BEST_EPOCH_KEY = "best_epoch"
EPOCHS_RUN_KEY = "epochs_run"
SECONDS_KEY = "seconds"
EPOCHS_CHOSEN = "epochs_chosen"
FOLDS_RUN = "folds_run"


def check_folds(folds, name="folds"):
    """`None` or an integer >= 2; a one-line `ValueError` otherwise."""
    if folds is None:
        return None
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) \
            or folds < 2:
        raise ValueError(f"`{name}` must be an integer >= 2 (K-fold "
                         f"cross-validation). Received: {name}={folds!r}")
    return int(folds)


def check_refit(refit, folds, name="refit"):
    """A cross-validated search keeps no trial's model, so its best
    configuration is always retrained: `refit` false with folds is a
    one-line `ValueError` naming `name`."""
    if folds is not None and not refit:
        raise ValueError(
            f"{name} does not apply to a cross-validated search: it keeps "
            "no trial's model, so its best configuration is always "
            f"retrained. Received: {name}, folds={folds}")


def is_classification(y):
    y = np.asarray(y)
    return y.dtype.kind in "iubUS" or (
        y.dtype.kind == "f" and np.all(np.isfinite(y))
        and np.all(y == np.round(y)))


def split(y, folds, seed=0):
    """`[(train_indices, held_out_indices)] * folds`: disjoint held-out
    parts that together cover `range(len(y))`, stratified by class where
    every class has at least `folds` members."""
    from sklearn.model_selection import KFold
    from sklearn.model_selection import StratifiedKFold

    check_folds(folds)
    y = np.asarray(y).reshape(len(y), -1)[:, 0] if np.ndim(y) > 1 \
        else np.asarray(y)
    if len(y) < folds:
        raise ValueError(f"{len(y)} samples are too few for folds={folds}")
    seed = int(seed) % 2**32
    if is_classification(y) and np.unique(y, return_counts=True)[1].min() \
            >= folds:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
        parts = splitter.split(np.zeros(len(y)), y)
    else:
        splitter = KFold(folds, shuffle=True, random_state=seed)
        parts = splitter.split(np.zeros(len(y)))
    return [(np.asarray(train), np.asarray(held_out))
            for train, held_out in parts]


def fold_seed_for(trial_seed, fold):
    """The Keras seed of fold `fold` of a trial whose seed is
    `trial_seed`; fold 0 trains with the trial's own seed."""
    return (int(trial_seed) + 7919 * int(fold)) % 2**32


def read(path):
    """The finished folds a trial recorded, `{"k": metrics}`; `{}` when
    none (or the file cannot be read: the folds are then run again)."""
    if not os.path.isfile(path):
        return {}
    try:
        with open(path) as f:
            found = json.load(f)
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def summarize(done, objective):
    """The trial's metrics from its finished folds `{"k": metrics}` (see
    the module docstring)."""
    if not done:
        raise ValueError("No fold finished; nothing to summarize")
    ordered = [done[k] for k in sorted(done, key=int)]
    values = [fold[objective] for fold in ordered]
    summary = {}
    for name in ordered[0]:
        column = [fold[name] for fold in ordered if name in fold]
        if len(column) == len(ordered):
            summary[name] = float(np.mean(column))
    finite = [v for v in values if not math.isnan(v)]
    summary[objective] = float(np.mean(finite)) if finite else float("nan")
    summary[f"{objective}_std"] = float(np.std(finite)) if finite \
        else float("nan")
    for k, value in zip(sorted(done, key=int), values):
        summary[f"fold{k}_{objective}"] = float(value)
    summary[FOLDS_RUN] = float(len(ordered))
    if all(BEST_EPOCH_KEY in fold for fold in ordered):
        summary[EPOCHS_CHOSEN] = float(max(1, round(np.mean(
            [fold[BEST_EPOCH_KEY] + 1 for fold in ordered]))))
    if all(EPOCHS_RUN_KEY in fold for fold in ordered):
        summary[EPOCHS_RUN_KEY] = float(max(fold[EPOCHS_RUN_KEY]
                                            for fold in ordered))
    summary[PRUNED_KEY] = float(any(fold.get(PRUNED_KEY) for fold in ordered))
    summary[SECONDS_KEY] = float(sum(fold.get(SECONDS_KEY, 0.0)
                                     for fold in ordered))
    return summary
