"""The tuning head-to-head: `optlab tune` against what a Keras user does
without it, at equal wall-clock budgets, on MNIST-1D's CNN.

Candidates (each searches the recipe tuning/mnist1d.toml's data, model and
epochs, with its early stopping; each runs alone in its own process, from
process start, until its budget is spent, and is then killed):

- `optlab`: `optlab tune mnist1d` with its defaults (random tuner over six
  optimizers with their own hyperparameters, learning rate, batch size and
  dropout; median pruning).
- `keras_tuner_adam`: what a Keras user writes by hand: Keras Tuner's
  `RandomSearch` over Adam's learning rate (log scale, 1e-4 to 1e-1), batch
  100 (the MNIST-1D paper's), no dropout, the same early stopping.
- `hyperband`: Keras Tuner's `Hyperband` over the same space as `optlab`,
  its brackets repeated until the budget is spent (`hyperband_iterations`).
- `optuna`: Optuna's TPE sampler (seeded) with its `MedianPruner` (the
  recipe's startup trials and warm-up epochs) over the same space as
  `optlab`, declared through the same `SearchSpace` (an adapter turns its
  Keras Tuner declarations into Optuna suggestions).

After a run, each trial finished within the budget is known with its
finishing time (Keras Tuner's `trial.json` is written when a trial ends;
Optuna's trials are logged by a callback) and its validation accuracy. The
incumbent (best validation accuracy so far) is scored on MNIST-1D's own
test set each time it changes, with the model the trial saved (early
stopping restored its best epoch). The report gives, per budget, the
incumbent's validation and test accuracy per seed, the best-so-far curves
(PNG), and the issue's targets read off the curves at every budget.

    python benchmarks/tuning_head_to_head.py [--budgets 300 600 1200]
        [--seeds 0 1 2] [--candidates optlab keras_tuner_adam hyperband
        optuna] [--out benchmarks/tuning_head_to_head]
        [--markdown benchmarks/TUNING.md] [--quick]

The table and the targets go to `--markdown`; every incumbent with its
configuration to `<out>/head_to_head.json`, the curves to
`<out>/head_to_head.png`. Every (candidate, seed) run is recorded in
`<out>/runs.json` when it ends (its search folder, `<out>/work/...`, is
then deleted);
an interrupted benchmark started again skips the runs recorded there (those
of the same longest budget and mode) and
redoes the one it was in (a budget is wall time from a process' start, so
a half-finished run cannot be continued). `--quick` (for the test suite)
trains on 300 samples for 2 epochs with budgets of a few seconds.
Needs `optuna` for its candidate (`pip install optuna`).
"""

import argparse
import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import time
import tomllib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CANDIDATES = ("optlab", "keras_tuner_adam", "hyperband", "optuna")
RECIPE = ROOT / "tuning" / "mnist1d.toml"
# The MNIST-1D paper's CNN accuracy (Greydanus 2020, about 0.94).
PAPER_CNN_ACCURACY = 0.94
ADAM_LEARNING_RATES = (1e-4, 1e-1)
ADAM_BATCH_SIZE = 100
# Quick mode's budget: alone on the 2-core machine the four candidates finish
# their first trial 5.5 to 7.3 s after their process starts.
QUICK = {"samples": 300, "epochs": 2, "budgets": (16,), "seeds": (0,)}
TRIAL_LIMIT = 10_000  # trials are bounded by the budget, not by a count
# Hyperband's brackets run again and again until the budget is spent: one
# iteration of the recipe's 40 epochs (factor 3) ends after about 90 trials,
# some five minutes here, which would leave Hyperband idle at longer budgets.
HYPERBAND_ITERATIONS = 1_000


def recipe_document(quick):
    with open(RECIPE, "rb") as f:
        document = tomllib.load(f)
    if quick:
        document["data"]["max_samples"] = QUICK["samples"]
        document["search"]["epochs"] = QUICK["epochs"]
        document["pruning"]["n_warmup_steps"] = 1
    return document


def load_recipe(quick):
    from keras_optlab.tuning import recipes

    return recipes.recipe_from_dict(recipe_document(quick), str(RECIPE))


# ----------------------------------------------------------------- children
# Each candidate's search, run in a child process (`child` subcommand).


def run_optlab(recipe, data, seed, directory, tuner="random"):
    import dataclasses

    from keras_optlab.tuning.search import run_search

    if tuner == "hyperband":
        recipe = dataclasses.replace(
            recipe, hyperband_iterations=HYPERBAND_ITERATIONS)
    # The search alone is timed: no baseline at defaults after it.
    run_search(recipe, tuner=tuner, max_trials=TRIAL_LIMIT, seed=seed,
               directory=str(directory), overwrite=True, progress=None,
               data=data, baseline=False)


def adam_model(hp, input_shape, num_classes):
    """The hand-written candidate's model: the recipe's CNN with Adam at a
    searched learning rate."""
    import keras

    from keras_optlab.tuning import models

    learning_rate = hp.Float("learning_rate", *ADAM_LEARNING_RATES,
                             sampling="log")
    model = models.conv1d_net(input_shape, num_classes, 0.0)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True),
                  metrics=["accuracy"])
    return model


def run_keras_tuner_adam(recipe, data, seed, directory):
    import keras_tuner as kt

    from keras_optlab.tuning.search import early_stopping

    tuner = kt.RandomSearch(
        lambda hp: adam_model(hp, data.input_shape, data.num_classes),
        objective=kt.Objective(recipe.objective, recipe.direction),
        max_trials=TRIAL_LIMIT, seed=seed, directory=str(directory),
        project_name="keras_tuner_adam", overwrite=True)
    tuner.search(data.x_train, data.y_train,
                 validation_data=(data.x_val, data.y_val),
                 epochs=recipe.epochs, batch_size=ADAM_BATCH_SIZE,
                 callbacks=[early_stopping(recipe)], verbose=0)


class OptunaHyperParameters:
    """The part of `keras_tuner.HyperParameters` that `SearchSpace.declare`
    and `OptimizerHyperModel.build` use, answered by an Optuna trial: a
    hyperparameter declared under a conditional scope whose condition does
    not hold is not suggested (Optuna's define-by-run conditionals)."""

    def __init__(self, trial):
        self.trial = trial
        self.values = {}
        self._active = [True]

    def _set(self, name, suggest):
        if self._active[-1] and name not in self.values:
            self.values[name] = suggest()
        return self.values.get(name)

    def Choice(self, name, values, **_):
        return self._set(name, lambda: self.trial.suggest_categorical(
            name, list(values)))

    def Float(self, name, min_value, max_value, sampling="linear", **_):
        return self._set(name, lambda: self.trial.suggest_float(
            name, min_value, max_value, log=sampling == "log"))

    def Int(self, name, min_value, max_value, sampling="linear", **_):
        return self._set(name, lambda: self.trial.suggest_int(
            name, min_value, max_value, log=sampling == "log"))

    def Fixed(self, name, value, **_):
        self.values.setdefault(name, value)
        return value

    def get(self, name):
        return self.values[name]

    def conditional_scope(self, parent, values):
        hp = self

        class Scope:
            def __enter__(self):
                hp._active.append(hp._active[-1]
                                  and hp.values.get(parent) in values)

            def __exit__(self, *exc):
                hp._active.pop()

        return Scope()


def run_optuna(recipe, data, seed, directory):
    import keras
    import optuna

    from keras_optlab.tuning.hypermodel import OptimizerHyperModel
    from keras_optlab.tuning.search import early_stopping

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    hypermodel = OptimizerHyperModel(
        recipe.space, model=recipe.model, input_shape=data.input_shape,
        num_classes=data.num_classes, model_options=recipe.model_options,
        epochs=recipe.epochs, objective=recipe.objective,
        direction=recipe.direction)
    log = directory / "trials.jsonl"

    class Report(keras.callbacks.Callback):
        def __init__(self, trial):
            super().__init__()
            self.trial = trial

        def on_epoch_end(self, epoch, logs=None):
            self.trial.report(float(logs[recipe.objective]), epoch)
            if self.trial.should_prune():
                self.model.stop_training = True
                self.pruned = True

    def objective(trial):
        keras.utils.clear_session()
        keras.utils.set_random_seed(seed + trial.number)
        hp = OptunaHyperParameters(trial)
        model = hypermodel.build(hp)
        report = Report(trial)
        metrics = hypermodel.fit(
            hp, model, data.x_train, data.y_train,
            validation_data=(data.x_val, data.y_val), verbose=0,
            callbacks=[early_stopping(recipe), report])
        value = metrics[recipe.objective]
        path = directory / f"trial_{trial.number:04d}.keras"
        model.save(path)
        with open(log, "a") as f:
            f.write(json.dumps({
                "finished": time.time(), "value": value,
                "config": hp.values, "model": str(path),
                "pruned": getattr(report, "pruned", False)}) + "\n")
        # A pruned trial is reported as Optuna's pruned state: its sampler
        # and pruner treat it as such; its value still counts for us (as a
        # pruned Keras Tuner trial's does).
        if getattr(report, "pruned", False):
            raise optuna.TrialPruned()
        return value

    study = optuna.create_study(
        direction="maximize" if recipe.direction == "max" else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=recipe.n_startup_trials,
            n_warmup_steps=recipe.n_warmup_steps))
    study.optimize(objective, n_trials=TRIAL_LIMIT)


RUNNERS = {
    "optlab": run_optlab,
    "keras_tuner_adam": run_keras_tuner_adam,
    "hyperband": lambda *a: run_optlab(*a, tuner="hyperband"),
    "optuna": run_optuna,
}


def child(candidate, seed, directory, quick):
    recipe = load_recipe(quick)
    data = recipe.load_data()
    RUNNERS[candidate](recipe, data, seed, pathlib.Path(directory))


# ------------------------------------------------------------------- parent


def run_candidate(candidate, seed, budget, directory, quick):
    """Starts the candidate's process, kills it when `budget` seconds have
    passed (or lets it end), and returns its start time."""
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("trials.jsonl"):
        leftover.unlink()
    command = [sys.executable, __file__, "child", candidate, str(seed),
               str(directory)] + (["--quick"] if quick else [])
    started = time.time()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = process.communicate(timeout=budget)
        if process.returncode != 0:
            raise RuntimeError(f"{candidate} (seed {seed}) failed:\n"
                               f"{stderr[-3000:]}")
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    return started


def finished_trials(candidate, directory, started, budget):
    """`[{"seconds", "value", "config", "model"}]` of the trials finished
    within the budget, in finishing order."""
    trials = []
    if candidate == "optuna":
        path = directory / "trials.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the line being written when the process died
            trials.append({"seconds": record["finished"] - started,
                           "value": record["value"],
                           "config": record["config"],
                           "model": record["model"]})
    else:
        for path in directory.glob("*/trial_*/trial.json"):
            try:
                state = json.loads(path.read_text())
            except (json.JSONDecodeError, OSError):
                continue
            if state.get("status") != "COMPLETED" or state.get(
                    "score") is None:
                continue
            trials.append({"seconds": path.stat().st_mtime - started,
                           "value": state["score"],
                           "config": state["hyperparameters"]["values"],
                           "model": str(path.parent)})
    trials = [t for t in trials if t["seconds"] <= budget]
    return sorted(trials, key=lambda t: t["seconds"])


def load_trial_model(candidate, trial, data):
    import keras

    if candidate == "optuna":
        return keras.saving.load_model(trial["model"])
    folder = pathlib.Path(trial["model"])
    if candidate == "keras_tuner_adam":
        # Keras Tuner keeps the best epoch's weights of each trial.
        import keras_tuner as kt

        hp = kt.HyperParameters()
        hp.values.update(trial["config"])
        model = adam_model(hp, data.input_shape, data.num_classes)
        model.load_weights(folder / "checkpoint.weights.h5")
        return model
    from keras_optlab.tuning.tuners import MODEL_FILENAME

    return keras.saving.load_model(folder / MODEL_FILENAME)


def incumbent_curve(candidate, trials, data):
    """The incumbent after each improvement: `[{"seconds", "value",
    "test", "config", "trials"}]`, its test accuracy from the model the
    trial saved."""
    import keras

    from keras_optlab.tuning.results import evaluate_on_test

    curve = []
    best = None
    for count, trial in enumerate(trials, start=1):
        if best is not None and trial["value"] <= best:
            continue
        best = trial["value"]
        keras.utils.clear_session()
        model = load_trial_model(candidate, trial, data)
        test = evaluate_on_test(model, data.x_test, data.y_test)
        curve.append({"seconds": round(trial["seconds"], 1),
                      "value": trial["value"],
                      "test": test["test_accuracy"],
                      "config": trial["config"], "trials": count})
    return curve


def at_budget(curve, trials, budget):
    """The incumbent at `budget` seconds, with the trials finished by
    then; `None` where no trial finished."""
    points = [p for p in curve if p["seconds"] <= budget]
    if not points:
        return None
    return {**points[-1],
            "trials": sum(1 for t in trials if t["seconds"] <= budget)}


def time_to(curve, accuracy):
    """Seconds until the incumbent's test accuracy reached `accuracy`."""
    for point in curve:
        if point["test"] >= accuracy:
            return point["seconds"]
    return None


def describe_machine():
    from keras_optlab.lab.bench.hardware import machine

    found = machine()
    return (f"{found['cores']} CPU cores ({found['cpu']}), Python "
            f"{found['python']}, TensorFlow {found['tensorflow']}, Keras "
            f"{found['keras']}")


def summarise(runs, budgets, seeds, candidates):
    """Per budget and candidate: test and validation accuracy of the
    incumbent per seed; and the issue's targets, each judged at every
    budget (the incumbent at a budget is what a run of that budget would
    have ended with: no candidate's search depends on its budget)."""
    table = {}
    for budget in budgets:
        for candidate in candidates:
            cells = []
            for seed in seeds:
                run = runs.get(f"{candidate}/{seed}")
                point = run and at_budget(run["curve"], run["trials"], budget)
                cells.append(point)
            table[f"{candidate}/{budget}"] = cells
    targets = {}
    if "optlab" in candidates and "keras_tuner_adam" in candidates:
        rows = []
        for budget in budgets:
            for seed in seeds:
                optlab = runs.get(f"optlab/{seed}")
                plain = runs.get(f"keras_tuner_adam/{seed}")
                if not (optlab and plain):
                    continue
                end = at_budget(plain["curve"], plain["trials"], budget)
                if end is None:
                    continue
                reached = time_to(optlab["curve"], end["test"])
                rows.append({"budget": budget, "seed": seed,
                             "keras_tuner_adam_test": end["test"],
                             "optlab_seconds": reached,
                             "within_a_third": reached is not None
                             and reached <= budget / 3})
        targets["optlab_reaches_keras_tuner_adam_in_a_third"] = rows
    if "optlab" in candidates and "optuna" in candidates:
        targets["optlab_as_good_as_optuna"] = [
            _versus(table[f"optlab/{budget}"], table[f"optuna/{budget}"],
                    budget) for budget in budgets]
    if "optlab" in candidates:
        # An incumbent may reach the accuracy and later lose its place to a
        # trial with a higher validation score: the search's answer is the
        # incumbent at the end, so both are reported.
        rows = []
        for seed in seeds:
            run = runs.get(f"optlab/{seed}")
            if run:
                final = at_budget(run["curve"], run["trials"], max(budgets))
                rows.append({"seed": seed, "seconds": time_to(
                    run["curve"], PAPER_CNN_ACCURACY),
                    "final_test": final and final["test"]})
        targets["optlab_reaches_paper_cnn_accuracy"] = rows
    return table, targets


def _versus(ours, theirs, budget):
    """Mean test accuracies over seeds at one budget, and whether ours is
    at least theirs less the seed spread (the larger of the two standard
    deviations over seeds)."""
    ours = [c["test"] for c in ours if c]
    theirs = [c["test"] for c in theirs if c]
    if not (ours and theirs):
        return {"budget": budget, "optlab_mean": None, "optuna_mean": None,
                "spread": None, "as_good": None}
    spread = max(statistics.pstdev(ours), statistics.pstdev(theirs))
    optlab_mean, optuna_mean = statistics.fmean(ours), statistics.fmean(theirs)
    return {"budget": budget, "optlab_mean": optlab_mean,
            "optuna_mean": optuna_mean, "spread": spread,
            "as_good": optlab_mean >= optuna_mean - spread}


def _cell(point):
    if point is None:
        return "none finished"
    return f"{point['test']:.3f} ({point['value']:.3f}, {point['trials']})"


def markdown(report):
    lines = [
        "# Tuning head-to-head on MNIST-1D's CNN",
        "",
        f"Machine: {report['machine']}. Command: `{report['command']}`.",
        f"Recipe: tuning/mnist1d.toml{' (quick mode)' if report['quick'] else ''}"
        f"; budgets {', '.join(str(b) for b in report['budgets'])} s of wall "
        "time from each candidate's process start (imports included), one "
        "candidate at a time on the machine.",
        "",
        "Each cell: the incumbent's **test accuracy** (its validation "
        "accuracy, trials finished) at the budget, per seed.",
        "",
    ]
    seeds = report["seeds"]
    header = "| budget | candidate | " + " | ".join(
        f"seed {s}" for s in seeds) + " | mean test |"
    lines += [header, "|" + "---|" * (3 + len(seeds))]
    for budget in report["budgets"]:
        for candidate in report["candidates"]:
            cells = report["table"][f"{candidate}/{budget}"]
            tests = [c["test"] for c in cells if c]
            mean = f"{sum(tests) / len(tests):.3f}" if tests else "-"
            lines.append(f"| {budget} s | {candidate} | " + " | ".join(
                _cell(c) for c in cells) + f" | {mean} |")
    lines += ["", "## Targets (issue 15)", ""]
    for row in report["targets"].get(
            "optlab_reaches_keras_tuner_adam_in_a_third", []):
        reached = row["optlab_seconds"]
        lines.append(
            f"- {row['budget']} s, seed {row['seed']}: keras_tuner_adam's "
            f"test accuracy at {row['budget']} s is "
            f"{row['keras_tuner_adam_test']:.3f}; optlab's incumbent reached "
            "it " + (f"at {reached:.0f} s" if reached is not None else "never")
            + (" (within a third of the budget)" if row["within_a_third"]
               else " (not within a third of the budget)"))
    for row in report["targets"].get("optlab_as_good_as_optuna", []):
        if row["as_good"] is None:
            continue
        lines.append(
            f"- {row['budget']} s: optlab's mean test accuracy "
            f"{row['optlab_mean']:.3f}, optuna's {row['optuna_mean']:.3f}, "
            f"seed spread {row['spread']:.3f}: "
            + ("as good within the spread" if row["as_good"]
               else "worse by more than the spread"))
    for row in report["targets"].get("optlab_reaches_paper_cnn_accuracy", []):
        seconds = row["seconds"]
        lines.append(
            f"- seed {row['seed']}: optlab's incumbent reached the paper's "
            f"CNN accuracy ({PAPER_CNN_ACCURACY}) "
            + (f"at {seconds:.0f} s" if seconds is not None
               else f"not within {max(report['budgets'])} s")
            + ("" if row["final_test"] is None else
               f"; its answer at {max(report['budgets'])} s tests at "
               f"{row['final_test']:.3f}"))
    files = report.get("files", ".")
    lines += ["", "Best-so-far test accuracy against time: "
              f"`{files}/head_to_head.png`; every incumbent with its "
              f"configuration: `{files}/head_to_head.json`.", ""]
    return "\n".join(lines)


def plot(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    colours = dict(zip(CANDIDATES, ("C0", "C1", "C2", "C3")))
    for key, run in report["runs"].items():
        candidate, seed = key.split("/")
        if candidate not in report["candidates"]:
            continue
        xs, ys = [], []
        for point in run["curve"]:
            xs.append(point["seconds"])
            ys.append(point["test"])
        if xs:
            xs.append(max(report["budgets"]))
            ys.append(ys[-1])
        axis.step(xs, ys, where="post", color=colours[candidate],
                  alpha=0.8, label=candidate if seed == str(
                      report["seeds"][0]) else None)
    for budget in report["budgets"]:
        axis.axvline(budget, color="0.8", linewidth=0.8)
    axis.set_xlabel("seconds from process start")
    axis.set_ylabel("incumbent's test accuracy")
    axis.set_title("MNIST-1D CNN: best-so-far, one line per seed")
    axis.legend(loc="lower right")
    figure.tight_layout()
    from keras_optlab import atomic

    atomic.write_atomically(str(path), lambda p: figure.savefig(
        p, dpi=110, format="png"))
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, nargs="+",
                        default=[300, 600, 1200])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES),
                        choices=CANDIDATES)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" /
                                             "tuning_head_to_head"))
    parser.add_argument("--markdown", default=str(ROOT / "benchmarks" /
                                                  "TUNING.md"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    for name, values, low, wording in (
            ("budgets", args.budgets, 1, "positive"),
            ("seeds", args.seeds, 0, "non-negative")):
        bad = [v for v in values if v < low]
        if bad:
            parser.error(f"--{name} must be {wording}. Received: {bad[0]}")
    if args.quick:
        args.budgets = list(QUICK["budgets"])
        args.seeds = list(QUICK["seeds"])
    if "optuna" in args.candidates:
        try:
            import optuna  # noqa: F401
        except ImportError:
            parser.error("the optuna candidate needs Optuna: pip install "
                         "optuna (or leave it out with --candidates)")
    budgets = sorted(set(args.budgets))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_path = out / "runs.json"
    settings = {"budget": max(budgets), "quick": args.quick}
    runs = {}
    if runs_path.exists():
        saved = json.loads(runs_path.read_text())
        if saved.get("settings") == settings:
            runs = saved["runs"]
    from keras_optlab import atomic

    recipe = load_recipe(args.quick)
    data = recipe.load_data()
    for seed in args.seeds:
        for candidate in args.candidates:
            key = f"{candidate}/{seed}"
            if key in runs:
                continue
            directory = out / "work" / candidate / str(seed)
            print(f"{key}: {max(budgets)} s", flush=True)
            started = run_candidate(candidate, seed, max(budgets), directory,
                                    args.quick)
            trials = finished_trials(candidate, directory, started,
                                     max(budgets))
            curve = incumbent_curve(candidate, trials, data)
            runs[key] = {"trials": [{"seconds": round(t["seconds"], 1),
                                     "value": t["value"]} for t in trials],
                         "curve": curve}
            atomic.write_json(str(runs_path),
                              {"settings": settings, "runs": runs})
            shutil.rmtree(directory, ignore_errors=True)
            last = curve[-1] if curve else None
            print(f"{key}: {len(trials)} trials, incumbent "
                  + (f"val {last['value']:.3f} test {last['test']:.3f}"
                     if last else "none"), flush=True)
    table, targets = summarise(runs, budgets, args.seeds, args.candidates)
    report = {"machine": describe_machine(), "quick": args.quick,
              "command": " ".join(["python", "benchmarks/"
                                   "tuning_head_to_head.py"] + sys.argv[1:]),
              "budgets": budgets, "seeds": args.seeds,
              "candidates": args.candidates, "table": table,
              "targets": targets, "runs": runs}
    atomic.write_json(str(out / "head_to_head.json"), report)
    markdown_path = pathlib.Path(args.markdown)
    report["files"] = os.path.relpath(out, markdown_path.parent)
    atomic.write_text(str(markdown_path), markdown(report))
    plot(report, out / "head_to_head.png")
    print(markdown(report))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4],
              "--quick" in sys.argv[5:])
    else:
        main()
