"""The trial table and the result files of a finished search."""

import csv
import io
import os
import shutil

from keras_optlab import atomic
from keras_optlab.tuning import hypermodel as hm
from keras_optlab.tuning import space as space_module
from keras_optlab.tuning.tuners import MODEL_FILENAME

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
    chosen optimizer's), the objective, `epochs_run`, `pruned`, `seconds`."""
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


def format_table(rows, objective, best_trial=None):
    """A plain text table, the optimizer's other searched values in one
    column; the best trial is marked with `*`."""
    header = ["trial", "optimizer", "lr", "batch", "dropout", "other",
              objective, "epochs", "pruned", "seconds"]
    body = []
    for row in rows:
        other = " ".join(
            f"{k.split('/', 1)[1]}={_cell(v)}" for k, v in row.items()
            if "/" in k and k.split("/", 1)[0] == row["optimizer"])
        score = _cell(row.get(objective)) if row["status"] == "COMPLETED" \
            else row["status"].lower()
        mark = "*" if row["trial"] == best_trial else " "
        body.append([mark + row["trial"]] + [_cell(row.get(c)) for c in (
            "optimizer", "learning_rate", "batch_size", "dropout")] + [
            other, score] + [_cell(row.get(c)) for c in TAIL_COLUMNS])
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
    return {
        "trial": trial.trial_id,
        "objective": oracle.objective.name,
        "value": float(trial.score),
        "optimizer": name,
        "optimizer_config": config,
        "batch_size": hp.get(space_module.BATCH_SIZE),
        "dropout": hp.get(space_module.DROPOUT),
        "hyperparameters": dict(hp.values),
    }


def write_results(tuner, space, results_dir):
    """Writes `trials.csv`, `trials.json`, `best_hyperparameters.json` and
    `best_model.keras` (the best trial's trained model with its optimizer
    state) into `results_dir`, each atomically (`keras_optlab.atomic`: a
    kill or an error leaves the previous file, never a truncated one);
    returns `(rows, best, paths)`."""
    os.makedirs(results_dir, exist_ok=True)
    oracle = tuner.oracle
    objective = oracle.objective.name
    rows = trial_rows(oracle)
    best = best_summary(oracle, space)
    paths = {}

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
         "trials": [{k: v for k, v in row.items() if v is not None}
                    for row in rows]}, indent=2)

    paths["best_hyperparameters"] = atomic.write_json(
        os.path.join(results_dir, "best_hyperparameters.json"), best,
        indent=2)

    if best is not None:
        saved = os.path.join(tuner.get_trial_dir(best["trial"]),
                             MODEL_FILENAME)
        target = os.path.join(results_dir, "best_model.keras")
        if os.path.isfile(saved):
            atomic.write_atomically(
                target, lambda path: shutil.copyfile(saved, path))
        else:
            # Trained without SaveTrialModel: the best checkpoint's weights,
            # without optimizer state.
            model = tuner.get_best_models(1)[0]
            atomic.write_atomically(target, model.save)
        paths["best_model"] = target
    return rows, best, paths
