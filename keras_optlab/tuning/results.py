"""The trial table and the result files of a finished search."""

import csv
import io
import os
import shutil

import keras

from keras_optlab import atomic
from keras_optlab.tuning import folds as folds_module
from keras_optlab.tuning import hypermodel as hm
from keras_optlab.tuning import space as space_module
from keras_optlab.tuning.tuners import MODEL_FILENAME, epochs_chosen

FIXED_COLUMNS = ("trial", "status", "optimizer", "learning_rate",
                 "batch_size", "dropout")
TAIL_COLUMNS = ("epochs_run", "pruned", "seconds")


def _last(metrics, name):
    if not metrics.exists(name):
        return None
    return float(metrics.get_last_value(name))


def trial_rows(oracle):
    """One dict per trial, in trial order: `trial`, `status`, `optimizer`,
    `learning_rate`, `batch_size`, `dropout`, the optimizer's other searched
    values under their hyperparameter names (`"adam/epsilon"`: only the
    chosen optimizer's), the objective, `epochs_run`, `pruned`, `seconds`;
    in a cross-validated search also `<objective>_std`, `epochs_chosen`
    and `fold<k>_<objective>` for each fold it ran."""
    objective = oracle.objective.name
    rows = []
    for trial_id in sorted(oracle.trials, key=_trial_key):
        trial = oracle.trials[trial_id]
        values = dict(trial.hyperparameters.values)
        optimizer = values.pop(space_module.OPTIMIZER, None)
        row = {
            "trial": trial_id,
            "status": trial.status,
            "optimizer": optimizer,
            "learning_rate": values.pop(
                space_module.hp_name(optimizer, "learning_rate"), None),
            "batch_size": values.pop(space_module.BATCH_SIZE, None),
            "dropout": values.pop(space_module.DROPOUT, None),
        }
        row.update({k: v for k, v in values.items()
                    if not k.startswith("tuner/")})
        completed = trial.status == "COMPLETED"
        row[objective] = float(trial.score) if completed and \
            trial.score is not None else None
        epochs = _last(trial.metrics, hm.EPOCHS_RUN)
        row["epochs_run"] = None if epochs is None else int(epochs)
        pruned = _last(trial.metrics, hm.PRUNED)
        row["pruned"] = None if pruned is None else pruned == 1.0
        row["seconds"] = _last(trial.metrics, hm.SECONDS)
        std = _last(trial.metrics, f"{objective}_std")
        if std is not None:
            row[f"{objective}_std"] = std
            chosen = _last(trial.metrics, folds_module.EPOCHS_CHOSEN)
            row[folds_module.EPOCHS_CHOSEN] = None if chosen is None \
                else int(chosen)
            values = fold_values({name: _last(trial.metrics, name)
                                  for name in trial.metrics.metrics},
                                 objective)
            for k, value in enumerate(values):
                row[f"fold{k}_{objective}"] = value
        rows.append(row)
    return rows


def _trial_key(trial_id):
    return (0, int(trial_id), "") if trial_id.isdigit() else (1, 0, trial_id)


def columns(rows, objective):
    extra = sorted({k for row in rows for k in row} - set(FIXED_COLUMNS)
                   - set(TAIL_COLUMNS) - {objective})
    return list(FIXED_COLUMNS) + extra + [objective] + list(TAIL_COLUMNS)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def fold_values(row, objective):
    """A row's per-fold values of the objective, in fold order."""
    prefix, suffix = "fold", f"_{objective}"
    found = sorted((int(k[len(prefix):-len(suffix)]), v)
                   for k, v in row.items()
                   if k.startswith(prefix) and k.endswith(suffix)
                   and k[len(prefix):-len(suffix)].isdigit())
    return [v for _, v in found]


def format_table(rows, objective, best_trial=None):
    """A plain text table, the optimizer's other searched values in one
    column; the best trial is marked with `*`. A cross-validated search
    adds the standard deviation over folds (`±`) and the per-fold values."""
    cross_validated = any(f"{objective}_std" in row for row in rows)
    header = ["trial", "optimizer", "lr", "batch", "dropout", "other",
              objective, "epochs", "pruned", "seconds"]
    if cross_validated:
        header[7:7] = ["±", "folds"]
    body = []
    for row in rows:
        other = " ".join(
            f"{k.split('/', 1)[1]}={_cell(v)}" for k, v in row.items()
            if "/" in k and k.split("/", 1)[0] == row["optimizer"])
        score = _cell(row.get(objective)) if row["status"] == "COMPLETED" \
            else row["status"].lower()
        mark = "*" if row["trial"] == best_trial else " "
        line = [mark + row["trial"]] + [_cell(row.get(c)) for c in (
            "optimizer", "learning_rate", "batch_size", "dropout")] + [
            other, score] + [_cell(row.get(c)) for c in TAIL_COLUMNS]
        if cross_validated:
            line[7:7] = [_cell(row.get(f"{objective}_std")), " ".join(
                f"{v:.3f}" for v in fold_values(row, objective))]
        body.append(line)
    header[0] = " " + header[0]
    widths = [max(len(r[i]) for r in body + [header])
              for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in body]
    return "\n".join(line.rstrip() for line in lines)


def best_summary(oracle, space):
    """The best trial as a dict: its objective value and the optimizer
    config to rebuild it, or `None` when no trial completed."""
    completed = [t for t in oracle.get_best_trials(1)
                 if t.status == "COMPLETED" and t.score is not None]
    if not completed:
        return None
    trial = completed[0]
    hp = trial.hyperparameters
    name, config = space.optimizer_config(hp)
    summary = {
        "trial": trial.trial_id,
        "objective": oracle.objective.name,
        "value": float(trial.score),
        "optimizer": name,
        "optimizer_config": config,
        "batch_size": hp.get(space_module.BATCH_SIZE),
        "dropout": hp.get(space_module.DROPOUT),
        "hyperparameters": dict(hp.values),
    }
    metrics = trial.metrics
    std_name = f"{oracle.objective.name}_std"
    if metrics.exists(std_name):
        summary["std"] = float(metrics.get_last_value(std_name))
        summary["folds"] = fold_values(
            {k: _last(metrics, k) for k in metrics.metrics},
            oracle.objective.name)
    chosen = epochs_chosen(trial)
    if chosen is not None:
        summary[folds_module.EPOCHS_CHOSEN] = chosen
    return summary


def test_name(objective):
    """The test set's name for a validation metric: `val_accuracy` ->
    `test_accuracy`."""
    return "test_" + (objective[4:] if objective.startswith("val_")
                      else objective)


def evaluate_on_test(model, x_test, y_test, batch_size=256):
    """The model's compiled metrics on the test set, `{"test_<name>":
    value}`."""
    found = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0,
                           return_dict=True)
    return {test_name(name): float(value) for name, value in found.items()}


def write_results(tuner, space, results_dir, best_model=None,
                  test_data=None, refit=None):
    """Writes `trials.csv`, `trials.json`, `best_hyperparameters.json` and
    `best_model.keras` (the best trial's trained model with its optimizer
    state, or `best_model` when given: the best configuration retrained on
    all training data, which `refit`, `{"samples": N, "epochs": E}`,
    describes in `best["refit"]`) into `results_dir`, each atomically
    (`keras_optlab.atomic`: a kill or an error leaves the previous file,
    never a truncated one); returns `(rows, best, paths)`.

    With `test_data = (x_test, y_test)` the best model is evaluated on it,
    once: `best["test"]` holds its metrics (`test_accuracy`, `test_loss`),
    `best["test_value"]` the objective's counterpart, and the best trial's
    row gains them."""
    os.makedirs(results_dir, exist_ok=True)
    oracle = tuner.oracle
    objective = oracle.objective.name
    rows = trial_rows(oracle)
    best = best_summary(oracle, space)
    paths = {}
    if best is not None and refit is not None:
        best["refit"] = dict(refit)
    if best is not None:
        target = os.path.join(results_dir, "best_model.keras")
        saved = os.path.join(tuner.get_trial_dir(best["trial"]),
                             MODEL_FILENAME)
        if best_model is not None:
            atomic.write_atomically(target, best_model.save)
        elif os.path.isfile(saved):
            atomic.write_atomically(
                target, lambda path: shutil.copyfile(saved, path))
        else:
            # Trained without SaveTrialModel: the best checkpoint's weights,
            # without optimizer state.
            best_model = tuner.get_best_models(1)[0]
            atomic.write_atomically(target, best_model.save)
        paths["best_model"] = target
        if test_data is not None:
            model = best_model if best_model is not None else \
                keras.models.load_model(target)
            best["test"] = evaluate_on_test(model, *test_data)
            best["test_value"] = best["test"].get(test_name(objective))
            for row in rows:
                if row["trial"] == best["trial"]:
                    row.update(best["test"])

    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=columns(rows, objective))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    paths["trials_csv"] = atomic.write_text(
        os.path.join(results_dir, "trials.csv"), table.getvalue())

    paths["trials_json"] = atomic.write_json(
        os.path.join(results_dir, "trials.json"),
        {"objective": objective,
         "direction": oracle.objective.direction,
         "best_trial": best["trial"] if best else None,
         "best_test": best.get("test") if best else None,
         "trials": [{k: v for k, v in row.items() if v is not None}
                    for row in rows]}, indent=2)

    paths["best_hyperparameters"] = atomic.write_json(
        os.path.join(results_dir, "best_hyperparameters.json"), best,
        indent=2)
    return rows, best, paths
