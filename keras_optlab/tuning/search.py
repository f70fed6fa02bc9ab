"""Running a recipe: data, HyperModel, tuner, callbacks, results."""

import dataclasses
import json
import os
import time

import keras
import keras_tuner as kt
import numpy as np

from keras_optlab import atomic
from keras_optlab.tuning import baseline as baseline_module
from keras_optlab.tuning import folds as folds_module
from keras_optlab.tuning import results as results_module
from keras_optlab.tuning import space as space_module
from keras_optlab.tuning.hypermodel import OptimizerHyperModel
from keras_optlab.tuning.pruning import MedianPruning
from keras_optlab.tuning.tuners import SaveTrialModel
from keras_optlab.tuning.tuners import make_tuner

DEFAULT_DIRECTORY = "optlab_runs"


@dataclasses.dataclass
class SearchResult:
    """What `run_search` leaves behind.

    Attributes:
        role: `"single"`, `"chief"` or `"worker"`.
        project_dir: the Keras Tuner project (trials, oracle state).
        rows: the trial table (see `results.trial_rows`); empty on workers.
        best: the best trial's summary, or `None`.
        paths: the result files by kind.
        tensorboard_dir: per-trial TensorBoard logs.
        seconds: the wall time of the search.
        tuner: the Keras Tuner tuner.
        defaults: the baseline's own `SearchResult` (each optimizer at its
            defaults, `keras_optlab.tuning.baseline`), or `None` where it
            did not run.
        comparison: `baseline.compare`'s dict, or `None`.
    """

    role: str
    project_dir: str
    rows: list
    best: dict
    paths: dict
    tensorboard_dir: str
    seconds: float
    tuner: object = None
    defaults: object = None
    comparison: dict = None


def distributed_role():
    """`"chief"`, `"worker"` or `"single"`, from Keras Tuner's variables
    KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "")
    return "chief" if "chief" in tuner_id else "worker"


def early_stopping(recipe):
    """The recipe's early stopping: on its objective, with its patience,
    the best epoch's weights restored."""
    return keras.callbacks.EarlyStopping(
        monitor=recipe.objective, mode=recipe.direction,
        patience=recipe.patience, restore_best_weights=True)


def build_callbacks(recipe, tensorboard_dir, pruning):
    """Early stopping on the objective (best weights restored), median
    pruning, per-trial model saving and TensorBoard; the order matters:
    the model is saved after early stopping restores the best weights."""
    callbacks = []
    if recipe.early_stopping:
        callbacks.append(early_stopping(recipe))
    if pruning:
        callbacks.append(MedianPruning(
            recipe.objective, direction=recipe.direction,
            n_startup_trials=recipe.n_startup_trials,
            n_warmup_steps=recipe.n_warmup_steps))
    callbacks.append(SaveTrialModel())
    # Keras Tuner moves this to <dir>/<trial id>/execution0 per trial and
    # adds its hparams callback next to it.
    callbacks.append(keras.callbacks.TensorBoard(log_dir=tensorboard_dir))
    return callbacks


SETTINGS_FILE = "search_settings.json"
#: Where projects of keras_optlab 0.x before this record kept `folds` alone.
_FOLDS_ONLY_FILE = "cross_validation.json"


class SettingsMismatch(ValueError):
    """A search resumed with other settings than it was started with."""


def trial_settings(recipe, folds, seed):
    """What a trial's score depends on besides its hyperparameters: the
    data, the model, the training and the seeds. Trials of one project
    must share them to be ranked together."""
    return {"seed": seed, "folds": folds, "dataset": recipe.dataset,
            "validation_split": recipe.validation_split,
            "test_split": recipe.test_split,
            "max_samples": recipe.max_samples, "model": recipe.model,
            "model_options": recipe.model_options, "epochs": recipe.epochs,
            "objective": recipe.objective, "direction": recipe.direction}


def check_same_settings(project_dir, settings, has_trials, oracle_seed=None):
    """Records `settings` (see `trial_settings`) in the project; a resumed
    search must bring the same, or its new trials would be trained or
    scored otherwise than the ones they are ranked with (and `seed`, which
    Keras Tuner's reloaded oracle keeps, would silently be the old one).

    A project recorded before a setting was: `folds` was `None` unless
    recorded; the seed is the reloaded oracle's (`oracle_seed`), which is
    the search's own unless it was 0 (Keras Tuner draws a random one for
    0, so 0 is taken on trust); the others are taken on trust.

    Raises:
        SettingsMismatch: on the first setting that differs, naming it.
    """
    # As JSON holds them (tuples read back as lists).
    settings = json.loads(json.dumps(settings, default=repr))
    path = os.path.join(project_dir, SETTINGS_FILE)
    legacy = os.path.join(project_dir, _FOLDS_ONLY_FILE)
    previous = dict(settings)
    if os.path.isfile(path):
        with open(path) as f:
            previous.update(json.load(f))
    elif has_trials:
        previous["folds"] = None  # started without cross-validation
        if os.path.isfile(legacy):
            with open(legacy) as f:
                previous["folds"] = json.load(f).get("folds")
        if oracle_seed is not None and settings["seed"] != 0:
            previous["seed"] = oracle_seed
    for name, value in settings.items():
        if previous[name] != value:
            raise SettingsMismatch(
                f"The search in {project_dir} was started with {name}="
                f"{previous[name]!r}; resume it with the same {name}, or "
                "start afresh with overwrite (--overwrite). Received: "
                f"{name}={value!r}")
    os.makedirs(project_dir, exist_ok=True)
    atomic.write_json(path, settings)
    if os.path.isfile(legacy):
        os.remove(legacy)


def retrain_best(hypermodel, hp, epochs, x, y, seed):
    """The configuration `hp` trained on `(x, y)` (all the training data:
    the training and validation parts together) for `epochs` (what its
    trial chose: its best epoch, or its folds' mean best epoch), with the
    batch size it was searched with; no validation data."""
    keras.utils.set_random_seed(int(seed) % 2**32)
    model = hypermodel.build(hp)
    model.fit(x, y, epochs=int(epochs),
              batch_size=hp.get(space_module.BATCH_SIZE), verbose=0)
    return model


def run_search(recipe, *, tuner=None, max_trials=None, directory=None,
               overwrite=False, seed=None, pruning=None, build_model=None,
               progress=print, data=None, folds=None, baseline=None,
               refit=None, tune_model_hyperparameters=True):
    """Runs (or resumes) the search a recipe describes.

    Args:
        recipe: a `Recipe` (see `recipes.load_recipe`).
        tuner, max_trials, seed: override the recipe's.
        directory: where the project lives, `<directory>/<recipe.name>`;
            `optlab_runs` by default. An existing project is resumed unless
            `overwrite`.
        pruning: `True`/`False` overrides the recipe's `[pruning] enabled`.
            Hyperband already stops poor trials early, so it runs without.
        build_model: a function `build_model(hp, dropout_rate)` used instead
            of the recipe's model.
        progress: a function taking one line of text, or `None`.
        data: the recipe's `Dataset` when already loaded (and checked).
        folds: overrides the recipe's `[data] folds`: K-fold
            cross-validation over the training and validation data
            together (see `keras_optlab.tuning.folds`).
        refit: `True`/`False` overrides the recipe's `[search] refit`:
            the best configuration retrained on the training and
            validation data together for the epochs its trial chose (its
            best epoch; with folds, their mean best epoch), and that model
            is the one saved and tested. Without it the best trial's own
            model is. A cross-validated search always refits.
        baseline: `True`/`False` overrides the recipe's `[search]
            baseline`: after the search, each optimizer of the space at its
            defaults, trained as a trial is (`keras_optlab.tuning.
            baseline`), in `<project>/defaults`, and the best configuration
            compared with the best of them (`results/comparison.json`). A
            distributed search's chief skips it: rerun the command in one
            process to add it.
        tune_model_hyperparameters: `False` keeps the hyperparameters a
            `build_model` declares at their defaults, searching only the
            recipe's space (the baseline runs so: one trial per optimizer).

    The dataset's test set, if it has one, never reaches a trial: it scores
    the best model once, after the search (`best["test"]`).

    Returns:
        A `SearchResult`.
    """
    start = time.perf_counter()
    kind = tuner or recipe.tuner
    trials = max_trials or recipe.max_trials
    seed = recipe.seed if seed is None else seed
    directory = directory or DEFAULT_DIRECTORY
    role = distributed_role()
    use_pruning = recipe.pruning if pruning is None else pruning
    if kind == "hyperband":
        use_pruning = False
    folds = folds_module.check_folds(recipe.folds if folds is None else folds)
    use_refit = recipe.refit if refit is None else refit
    folds_module.check_refit(use_refit, folds, name="refit=False")
    if folds is not None and kind == "hyperband":
        raise ValueError("Cross-validation does not apply to the Hyperband "
                         f"tuner. Received: folds={folds}, tuner='hyperband'")

    data = recipe.load_data() if data is None else data
    say = progress or (lambda line: None)
    say(f"data: {data}")
    if folds is not None or use_refit:
        # The validation part rejoins the training part for the folds (each
        # holds out its own) and for the refit. The test set stays out.
        x_all = np.concatenate([data.x_train, data.x_val])
        y_all = np.concatenate([data.y_train, data.y_val])
    if folds is not None:
        say(f"cross-validation: {folds} folds of {len(x_all)} samples")
    hypermodel = OptimizerHyperModel(
        recipe.space, model=build_model or recipe.model,
        input_shape=data.input_shape, num_classes=data.num_classes,
        model_options=recipe.model_options, epochs=recipe.epochs,
        objective=recipe.objective, direction=recipe.direction)
    options = {}
    if kind == "bayesian" and recipe.initial_points:
        options["num_initial_points"] = recipe.initial_points
    if kind == "hyperband" and recipe.hyperband_iterations:
        options["hyperband_iterations"] = recipe.hyperband_iterations
    if not tune_model_hyperparameters:
        # Only the space is searched; what `build_model` declares keeps its
        # default (Keras Tuner's `tune_new_entries=False`).
        declared = kt.HyperParameters()
        recipe.space.declare(declared)
        options.update(hyperparameters=declared, tune_new_entries=False)
    search_tuner = make_tuner(
        kind, hypermodel,
        objective=kt.Objective(recipe.objective, recipe.direction),
        max_trials=trials, directory=directory, project_name=recipe.name,
        overwrite=overwrite, seed=seed, progress=progress, folds=folds,
        **options)
    project_dir = search_tuner.project_dir
    tensorboard_dir = os.path.join(project_dir, "tensorboard")
    if role != "worker":
        check_same_settings(
            project_dir, trial_settings(recipe, folds, seed),
            bool(search_tuner.oracle.trials), search_tuner.oracle.seed)
        done = sum(1 for t in search_tuner.oracle.trials.values()
                   if t.status == "COMPLETED")
        say(f"search: {kind} tuner, {trials} trials of at most "
            f"{recipe.epochs} epochs, objective {recipe.objective} "
            f"({recipe.direction}), pruning {'on' if use_pruning else 'off'}"
            f", project {project_dir}"
            + (f" (resuming: {done} trials done)" if done else ""))
    if role == "chief":
        say("chief: serving the oracle at "
            f"{os.environ['KERASTUNER_ORACLE_IP']}:"
            f"{os.environ['KERASTUNER_ORACLE_PORT']}; workers run the trials")
    callbacks = build_callbacks(recipe, tensorboard_dir, use_pruning)
    if folds is None:
        search_tuner.search(
            data.x_train, data.y_train,
            validation_data=(data.x_val, data.y_val),
            callbacks=callbacks, verbose=0)
    else:
        search_tuner.search(x_all, y_all, callbacks=callbacks, verbose=0)
    if role == "worker":
        return SearchResult(role, project_dir, [], None, {}, tensorboard_dir,
                            time.perf_counter() - start, search_tuner)
    best_model = refit_summary = None
    best = results_module.best_summary(search_tuner.oracle, recipe.space)
    if use_refit and best is not None:
        # Every trial records its best epoch (OptimizerHyperModel.fit).
        epochs = best[folds_module.EPOCHS_CHOSEN]
        say(f"retraining trial {best['trial']}'s configuration on all "
            f"{len(x_all)} training samples for {epochs} epochs")
        best_model = retrain_best(
            hypermodel,
            search_tuner.oracle.get_trial(best["trial"]).hyperparameters,
            epochs, x_all, y_all, seed)
        refit_summary = {"samples": len(x_all), "epochs": epochs}
    results_dir = os.path.join(project_dir, "results")
    rows, best, paths = results_module.write_results(
        search_tuner, recipe.space, results_dir, best_model=best_model,
        test_data=(data.x_test, data.y_test) if data.has_test else None,
        refit=refit_summary)
    defaults = comparison = None
    if (recipe.baseline if baseline is None else baseline) and best:
        if role == "chief":
            say("at defaults: the baseline is not run by a chief; run the "
                "same command in one process to add it")
        else:
            say(f"at defaults: each of the {len(recipe.space.optimizers)} "
                "optimizers at its defaults, trained as a trial")
            defaults = run_search(
                baseline_module.defaults_recipe(recipe, folds),
                directory=project_dir, seed=seed, build_model=build_model,
                progress=progress and (lambda line: say(
                    f"at defaults: {line}")), data=data, refit=use_refit,
                tune_model_hyperparameters=False)
            if defaults.best:
                comparison = baseline_module.compare(
                    best, defaults.best, recipe.direction)
                paths["comparison"] = atomic.write_json(
                    os.path.join(results_dir, "comparison.json"),
                    comparison, indent=2)
    return SearchResult(role, project_dir, rows, best, paths, tensorboard_dir,
                        time.perf_counter() - start, search_tuner, defaults,
                        comparison)
