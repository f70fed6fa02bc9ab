"""Keras Tuner's four tuners with what an optimizer search needs on top:
per-trial binding of the pruning and model-saving callbacks, a per-trial
seed, progress lines, and a reload that leaves no trial behind.

`make_tuner("random" | "bayesian" | "hyperband" | "grid", hypermodel, ...)`
builds one.
"""

import builtins
import contextlib
import copy
import functools
import json
import os
import sys
import time

import keras
import keras_tuner as kt
import numpy as np

from keras_optlab import atomic
from keras_optlab.tuning import folds as folds_module
from keras_optlab.tuning import hypermodel as hm
from keras_optlab.tuning.pruning import MedianPruning

MODEL_FILENAME = "model.keras"


class SaveTrialModel(keras.callbacks.Callback):
    """Saves the trained model, optimizer state included, as
    `<trial dir>/model.keras` when training ends.

    Put it after `EarlyStopping(restore_best_weights=True)` so the saved
    weights are the restored ones. The tuner binds the trial directory.
    """

    def __init__(self):
        super().__init__()
        self.path = None

    def bind(self, trial_dir):
        self.path = os.path.join(str(trial_dir), MODEL_FILENAME)

    def on_train_end(self, logs=None):
        if self.path is not None:
            # The best trial's file is copied to the results: never a
            # truncated one.
            atomic.write_atomically(self.path, self.model.save)


def silence_condition_prints():
    """Stops Keras Tuner from printing a condition's value each time it is
    converted for the gRPC oracle.

    Keras Tuner 1.4.8's `Parent.to_proto` (keras_tuner/src/engine/
    conditions.py) starts with a leftover `print(self.values[0])`, so a
    distributed search prints a bare `adam`, `momentum`, ... for every
    conditional hyperparameter on every message between chief and workers.
    A module global named `print` in that module shadows the builtin for
    that module's code only; it drops the call made from `to_proto` and
    passes any other on. No stream is swapped, so the chief's gRPC threads
    and our own progress lines are not affected, and warnings (which go
    through `warnings` and `logging` to stderr) are untouched. Idempotent;
    does nothing where the module is laid out differently.
    """
    try:
        from keras_tuner.src.engine import conditions
    except ImportError:
        return
    to_proto = getattr(getattr(conditions, "Parent", None), "to_proto", None)
    code = getattr(to_proto, "__code__", None)
    if code is None or getattr(conditions.__dict__.get("print"),
                               "_optlab_quiet", False):
        return

    def print(*args, **kwargs):  # noqa: A001 (shadows the builtin there)
        if sys._getframe(1).f_code is code:
            return
        builtins.print(*args, **kwargs)

    print._optlab_quiet = True
    conditions.print = print


class OptlabTunerMixin:
    """Mixed in front of a Keras Tuner tuner class.

    Args:
        trial_seed: when not `None`, `keras.utils.set_random_seed(trial_seed
            + trial number)` before each trial, so a trial's initial weights
            and data order do not depend on which process runs it or on
            resuming.
        progress: a function taking one line of text, called when a trial
            starts and ends; `None` prints nothing.
        folds: `None`, or K >= 2 for K-fold cross-validation: `search(x,
            y, ...)` then takes all training data (no `validation_data`),
            each trial trains K models, one per fold (see `run_folds`).
        fold_seed: the seed of the fold assignment (the same folds for
            every trial).
        **kwargs: the Keras Tuner tuner's arguments.
    """

    def __init__(self, *args, trial_seed=None, progress=print, folds=None,
                 fold_seed=0, **kwargs):
        # Set before Keras Tuner's __init__, which may call `reload`.
        self.trial_seed = trial_seed
        self.progress = progress
        self.folds = folds
        self.fold_seed = fold_seed
        self._trial_started = {}
        silence_condition_prints()
        super().__init__(*args, **kwargs)

    @property
    def records_dir(self):
        """Where `MedianPruning` keeps the per-epoch records."""
        return os.path.join(self.project_dir, "epoch_records")

    def run_trial(self, trial, *args, **kwargs):
        if self.folds is not None:
            return self.run_folds(trial, *args, **kwargs)
        # Keras Tuner deep-copies the callbacks after this point; only plain
        # strings are set here, so the copies carry them.
        for callback in kwargs.get("callbacks") or []:
            if isinstance(callback, MedianPruning):
                callback.bind(self.records_dir, trial.trial_id)
            elif isinstance(callback, SaveTrialModel):
                callback.bind(self.get_trial_dir(trial.trial_id))
        if self.trial_seed is not None:
            keras.utils.set_random_seed(
                self.trial_seed + trial_number(trial.trial_id))
        return super().run_trial(trial, *args, **kwargs)

    def folds_path(self, trial_id):
        """Where a cross-validated trial keeps its finished folds."""
        return os.path.join(self.get_trial_dir(trial_id), folds_module.FILE)

    def run_folds(self, trial, x, y, **kwargs):
        """Trains the trial once per fold and returns the fold summary
        (`folds.summarize`).

        Each finished fold's metrics are written (atomically) to
        `<trial dir>/folds.json` before the next starts, so a trial that was
        interrupted, and is run again after `reload`, starts at its first
        unfinished fold. Fold k's median pruning compares with fold k of the
        other trials (records in `epoch_records/fold<k>`), epoch by epoch; a
        pruned fold ends the trial, which is then scored on the folds it
        ran. No per-trial model is saved: the search retrains the best
        configuration on all the data. Fold k trains with the seed
        `fold_seed_for(trial seed, k)`; TensorBoard logs go to
        `<tensorboard dir>/<trial>/fold<k>`.
        """
        if "validation_data" in kwargs or "validation_split" in kwargs:
            raise ValueError("A cross-validated search takes all training "
                             "data and no validation_data or "
                             "validation_split; each fold holds out its own")
        x, y = np.asarray(x), np.asarray(y)
        splits = folds_module.split(y, self.folds, self.fold_seed)
        path = self.folds_path(trial.trial_id)
        done = folds_module.read(path)
        original = kwargs.pop("callbacks", None) or []
        for k, (train, held_out) in enumerate(splits):
            if any(m.get(folds_module.PRUNED_KEY) for m in done.values()):
                break
            if str(k) in done:
                continue
            callbacks = [c for c in self._deepcopy_callbacks(original)
                         if not isinstance(c, SaveTrialModel)]
            for callback in callbacks:
                if isinstance(callback, MedianPruning):
                    callback.bind(os.path.join(self.records_dir, f"fold{k}"),
                                  trial.trial_id)
            self._configure_tensorboard_dir(callbacks, trial, f"fold{k}")
            if self.trial_seed is not None:
                keras.utils.set_random_seed(folds_module.fold_seed_for(
                    self.trial_seed + trial_number(trial.trial_id), k))
            metrics = self._build_and_fit_model(
                trial, x[train], y[train], validation_data=(x[held_out],
                                                            y[held_out]),
                callbacks=callbacks, **copy.copy(kwargs))
            done[str(k)] = {name: float(value)
                            for name, value in metrics.items()}
            atomic.write_json(path, done, indent=1)
            if self.progress is not None:
                objective = self.oracle.objective.name
                self.progress(f"  fold {k + 1} of {self.folds}: {objective}="
                              f"{done[str(k)].get(objective, float('nan')):.4f}")
        return folds_module.summarize(done, self.oracle.objective.name)

    def _get_tensorboard_dir(self, logdir, trial_id, execution):
        if isinstance(execution, str):  # "fold<k>"
            return os.path.join(str(logdir), str(trial_id), execution)
        return super()._get_tensorboard_dir(logdir, trial_id, execution)

    def reload(self):
        super().reload()
        if self._is_worker():
            return
        requeue_interrupted_trials(self.oracle)
        restore_grid_order(self.oracle)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._trial_started[trial.trial_id] = time.perf_counter()
        if self.progress is not None:
            values = describe_values(trial.hyperparameters.values)
            self.progress(f"trial {self._position(trial)}: {values}")

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self.progress is None:
            return
        seconds = time.perf_counter() - self._trial_started.pop(
            trial.trial_id, time.perf_counter())
        ended = self.oracle.get_trial(trial.trial_id)
        objective = self.oracle.objective.name
        if ended.status == "COMPLETED":
            metrics = ended.metrics
            pruned = metrics.exists("pruned") and metrics.get_last_value(
                "pruned") == 1.0
            epochs = int(metrics.get_last_value("epochs_run")) \
                if metrics.exists("epochs_run") else "?"
            outcome = (f"{objective}={ended.score:.4f}, {epochs} epochs"
                       f"{', pruned' if pruned else ''}")
        else:
            outcome = f"{ended.status.lower()}"
        best = self.oracle.get_best_trials(1)
        best_text = ""
        if best and best[0].score is not None:
            best_text = (f"; best so far {objective}={best[0].score:.4f} "
                         f"(trial {best[0].trial_id})")
        self.progress(f"trial {self._position(trial)} done in {seconds:.1f} s:"
                      f" {outcome}{best_text}")

    def _position(self, trial):
        total = self.oracle.max_trials
        number = trial_number(trial.trial_id) + 1
        return f"{number} of {total}" if total else f"{number}"


def trial_number(trial_id):
    try:
        return int(trial_id)
    except ValueError:
        return 0


def describe_values(values):
    parts = []
    for name, value in values.items():
        if name.startswith("tuner/"):
            continue
        if isinstance(value, float):
            value = f"{value:.4g}"
        parts.append(f"{name}={value}")
    return ", ".join(parts)


def requeue_interrupted_trials(oracle):
    """Makes a reloaded search finish every trial exactly once.

    Keras Tuner's reload re-queues the trials its `oracle.json` lists as
    running. A process killed between writing a trial's `trial.json` and
    `oracle.json` leaves two gaps, closed here: a trial stored as running
    but not listed (it would never run, yet count towards `max_trials`) is
    queued; a trial stored as completed but still listed (it would run
    twice) is taken off the queue.
    """
    # The retry queue has no public accessor; its format is stable since
    # Keras Tuner 1.1.
    queue = oracle._retry_queue
    for trial_id, trial in sorted(oracle.trials.items()):
        if trial.status == "RUNNING" and trial_id not in queue:
            queue.append(trial_id)
        if trial.status == "COMPLETED" and trial_id in queue:
            queue.remove(trial_id)
            if trial_id not in oracle.end_order:
                oracle.end_order.append(trial_id)


def restore_grid_order(oracle):
    """Lets a reloaded grid search go on where it stopped.

    Keras Tuner's `GridSearchOracle` (1.4.8) finds the next point of the
    grid from two things it does not save: the tried points in grid order,
    and the trials whose successor is still to be found. Reloaded, it has
    neither, starts no new trial and ends the search with the grid
    unfinished. Both are rebuilt here from the stored trials (private
    attributes, unchanged since Keras Tuner 1.1); each tried point is then
    passed over by the oracle's own check, so none is trained twice.
    """
    if not isinstance(oracle, kt.oracles.GridSearchOracle) or \
            not oracle.trials:
        return

    def grid_order(a, b):
        return oracle._compare(oracle.trials[a].hyperparameters.values,
                               oracle.trials[b].hyperparameters.values)

    tried = sorted(oracle.trials, key=functools.cmp_to_key(grid_order))
    oracle._ordered_ids = type(oracle._ordered_ids)()
    for trial_id in tried:
        oracle._ordered_ids.insert(trial_id)
    oracle._populate_next = list(tried)


class RandomSearch(OptlabTunerMixin, kt.RandomSearch):
    """`keras_tuner.RandomSearch` with `OptlabTunerMixin`."""


class BayesianOptimization(OptlabTunerMixin, kt.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` with `OptlabTunerMixin`."""


class Hyperband(OptlabTunerMixin, kt.Hyperband):
    """`keras_tuner.Hyperband` with `OptlabTunerMixin`, whose continued
    trials go on from their parent's checkpoint with its optimizer state,
    and count the epochs they chose from the start of that chain.
    """

    def _build_hypermodel(self, hp):
        # `kt.Hyperband` loads the parent's checkpoint (weights and
        # optimizer state) into a model whose optimizer has no variables
        # yet, so Keras skips the optimizer's part ("Skipping variable
        # loading for optimizer") and the trial restarts the moments and
        # the step count, learning-rate schedules and bias corrections
        # included. Built first, the optimizer takes the state of the
        # parent's best epoch.
        parent = hp.values.get("tuner/trial_id")
        if parent is None:
            return super()._build_hypermodel(hp)
        model = kt.Tuner._build_hypermodel(self, hp)
        build_config = self._get_build_config_fname(parent)
        if not model.built and os.path.exists(build_config):
            with open(build_config) as f:
                model.build_from_config(json.load(f))
        if model.optimizer is not None and not model.optimizer.built:
            # Where the model's variables are (Keras Tuner builds it under
            # the tuner's strategy), so the optimizer's state is beside them.
            scope = (self.distribution_strategy.scope()
                     if self.distribution_strategy is not None
                     else contextlib.nullcontext())
            with scope:
                model.optimizer.build(model.trainable_variables)
        model.load_weights(self._get_checkpoint_fname(parent))
        return model

    def run_trial(self, trial, *args, **kwargs):
        histories = super().run_trial(trial, *args, **kwargs)
        parent = trial.hyperparameters.values.get("tuner/trial_id")
        if parent is None:
            return histories
        # The checkpoint the trial went on from is its parent's best epoch,
        # which had trained `epochs_chosen(parent)` epochs; its
        # `tuner/initial_epoch` counts the parent's whole round instead.
        before = epochs_chosen(self.oracle.get_trial(parent))
        for history in histories:
            if isinstance(history, dict) and hm.BEST_EPOCH in history:
                history[folds_module.EPOCHS_CHOSEN] = float(
                    before + int(history[hm.BEST_EPOCH]) + 1)
        return histories


def epochs_chosen(trial):
    """How many epochs from scratch the trial chose, what its refit
    trains: a cross-validated trial's mean best epoch; a continued
    Hyperband trial its parent's count plus its own best epoch (1-based),
    as `Hyperband.run_trial` records it; any other trial its best epoch
    (1-based), after `tuner/initial_epoch` for a continued trial recorded
    before that count was (the upper bound: its parent's whole round).
    `None` where the trial recorded neither."""
    metrics = trial.metrics
    if metrics.exists(folds_module.EPOCHS_CHOSEN):
        return int(metrics.get_last_value(folds_module.EPOCHS_CHOSEN))
    if metrics.exists(hm.BEST_EPOCH):
        return int(trial.hyperparameters.values.get(
            "tuner/initial_epoch", 0)) + int(
            metrics.get_last_value(hm.BEST_EPOCH)) + 1
    return None


class GridSearch(OptlabTunerMixin, kt.GridSearch):
    """`keras_tuner.GridSearch` with `OptlabTunerMixin`."""


TUNERS = {
    "random": RandomSearch,
    "bayesian": BayesianOptimization,
    "hyperband": Hyperband,
    "grid": GridSearch,
}


#: The oracle seed of a search of seed 0: Keras Tuner's oracles take a seed
#: of 0 as "none" and draw one at random. The largest seed NumPy takes; a
#: search of that seed draws the same trials, with other Keras seeds.
ORACLE_SEED_FOR_ZERO = 2**32 - 1


def make_tuner(kind, hypermodel, *, objective, max_trials, directory,
               project_name, overwrite=False, seed=None, max_epochs=None,
               progress=print, folds=None, **options):
    """One of Keras Tuner's tuners, by name.

    Args:
        kind: `"random"`, `"bayesian"`, `"hyperband"` or `"grid"`.
        hypermodel: an `OptimizerHyperModel` (or any `keras_tuner.HyperModel`).
        objective: a `keras_tuner.Objective` or a metric name.
        max_trials: the number of trials; for Hyperband, an upper bound on
            top of its own schedule.
        directory, project_name: where the search lives (`directory/
            project_name`); an existing search there is resumed unless
            `overwrite`.
        seed: the oracle's seed, and the base of each trial's Keras seed.
            Keras Tuner's oracles draw a random seed for 0, so the oracle
            of seed 0 gets `ORACLE_SEED_FOR_ZERO` and draws the same trials
            every time.
        max_epochs: Hyperband's `max_epochs` (defaults to the hypermodel's
            `epochs`).
        progress: a function taking one line of text, or `None`.
        folds: `None`, or K >= 2 for K-fold cross-validation (not with
            Hyperband); the folds are drawn with `seed` (0 when `None`).
        **options: more arguments for the Keras Tuner class.
    """
    if kind not in TUNERS:
        raise ValueError(f"Unknown tuner. Received: tuner={kind!r}. Known: "
                         f"{', '.join(TUNERS)}")
    folds_module.check_folds(folds)
    if folds is not None and kind == "hyperband":
        raise ValueError("Cross-validation does not apply to the Hyperband "
                         "tuner (its brackets resume one model per trial "
                         f"from checkpoints). Received: folds={folds!r}, "
                         "tuner='hyperband'")
    arguments = dict(hypermodel=hypermodel, objective=objective,
                     directory=directory, project_name=project_name,
                     overwrite=overwrite,
                     seed=ORACLE_SEED_FOR_ZERO if seed == 0 else seed,
                     trial_seed=seed,
                     progress=progress, folds=folds,
                     fold_seed=0 if seed is None else seed, **options)
    if kind == "hyperband":
        arguments["max_epochs"] = max_epochs or hypermodel.epochs
    else:
        arguments["max_trials"] = max_trials
    tuner = TUNERS[kind](**arguments)
    if kind == "hyperband" and not tuner._is_worker():
        # A reloaded oracle takes these from its saved state; a resumed
        # search given more trials or passes goes on with them.
        if max_trials:
            tuner.oracle.max_trials = max_trials
        if "hyperband_iterations" in options:
            tuner.oracle.hyperband_iterations = options[
                "hyperband_iterations"]
    return tuner
