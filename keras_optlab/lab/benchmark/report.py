"""A benchmark's results, read from its records only: the table per
workload, AlgoPerf's score per optimizer, the winners, JSON and pictures.

Per (workload, optimizer): each study's result is its fastest trial that
reached the target (its time and steps to target, its test value); a study
where no trial reached it counts as infinite and reports the test value of
its trial with the best validation value. Time and steps to target are the
medians over studies (`None`, "did not reach", when the median is
infinite: more than half the studies did not reach); they may come from
different studies. Best validation is the best over every trial;
divergences count trials whose training loss stopped being finite.

Scores: `profiles.benchmark_scores` on the median times to target (AlgoPerf)
and, less noisy on a shared machine, on the median steps to target.
"""

import dataclasses
import math
import os
import re
import statistics

from keras_optlab.lab.benchmark import profiles

DID_NOT_REACH = "did not reach"


@dataclasses.dataclass
class Row:
    """One optimizer on one workload under one ruleset."""

    workload: str
    optimizer: str
    ruleset: str
    quick: bool
    metric: str
    direction: str
    target: float
    studies: int
    trials: int
    reached_studies: int
    time_to_target: float  # median over studies; None: did not reach
    steps_to_target: float
    best_validation: float
    test: float
    divergences: int


def _median(values):
    value = statistics.median(values)
    return None if math.isinf(value) else value


def summarize(records):
    """`[Row]`, one per (workload, optimizer, ruleset, quick), in the order
    the records first name them."""
    groups = {}
    for record in records:
        key = (record["workload"], record["optimizer"], record["ruleset"],
               record["quick"])
        groups.setdefault(key, []).append(record)
    rows = []
    for (workload, optimizer, ruleset, quick), group in groups.items():
        first = group[0]
        maximize = first["direction"] == "max"
        studies = {}
        for record in group:
            studies.setdefault(record["study"], []).append(record)
        times, steps, tests = [], [], []
        for trials in studies.values():
            reached = [r for r in trials if r["reached"]]
            if reached:
                chosen = min(reached, key=lambda r: (r["time_to_target"],
                                                     r["trial"]))
                times.append(chosen["time_to_target"])
                steps.append(chosen["steps_to_target"])
            else:
                scored = [r for r in trials
                          if r["best_validation"] is not None]
                chosen = (max if maximize else min)(
                    scored, key=lambda r: r["best_validation"]) if scored \
                    else trials[0]
                times.append(math.inf)
                steps.append(math.inf)
            tests.append(math.nan if chosen["test"] is None
                         else chosen["test"])
        values = [r["best_validation"] for r in group
                  if r["best_validation"] is not None]
        best = (max(values) if maximize else min(values)) if values else None
        finite_tests = [t for t in tests if math.isfinite(t)]
        rows.append(Row(
            workload, optimizer, ruleset, bool(quick), first["metric"],
            first["direction"], first["target"], len(studies), len(group),
            sum(math.isfinite(t) for t in times), _median(times),
            _median(steps), best,
            statistics.median(finite_tests) if finite_tests else None,
            sum(bool(r["diverged"]) for r in group)))
    return rows


def _table_of(rows, field):
    """`{optimizer: {workload: value}}` for `profiles`."""
    table = {}
    for row in rows:
        table.setdefault(row.optimizer, {})[row.workload] = getattr(
            row, field)
    return table


def winners(rows):
    """`{workload: [optimizers with the least median time to target]}`,
    empty where none reached the target."""
    result = {}
    for row in rows:
        result.setdefault(row.workload, [])
    for workload in result:
        reached = [r for r in rows if r.workload == workload
                   and r.time_to_target is not None]
        if reached:
            fastest = min(r.time_to_target for r in reached)
            result[workload] = [r.optimizer for r in reached
                                if r.time_to_target == fastest]
    return result


def build(records):
    """The whole report as a JSON-ready dict: rows, scores (on time and on
    steps), winners per workload and overall. The records must be of one
    ruleset and one mode (quick or full)."""
    kinds = {(r["ruleset"], r["quick"]) for r in records}
    if len(kinds) > 1:
        raise ValueError("A report covers one ruleset and one mode; the "
                         f"records hold {sorted(kinds)}")
    rows = summarize(records)
    time_scores = profiles.benchmark_scores(_table_of(rows,
                                                      "time_to_target"))
    step_scores = profiles.benchmark_scores(_table_of(rows,
                                                      "steps_to_target"))
    top = max(time_scores.values())
    overall = ([s for s, v in time_scores.items() if v == top]
               if top > 0 else [])
    return {"rows": [dataclasses.asdict(r) for r in rows],
            "scores": time_scores, "step_scores": step_scores,
            "r_max": profiles.R_MAX, "winners": winners(rows),
            "overall_winner": overall}


def _number(value, digits=4):
    return "-" if value is None else f"{value:.{digits}g}"


def markdown(report):
    """The report as Markdown: one table per workload, then the scores and
    the winners."""
    rows = [Row(**r) for r in report["rows"]]
    lines = []
    for workload in dict.fromkeys(r.workload for r in rows):
        mine = [r for r in rows if r.workload == workload]
        first = mine[0]
        sense = ">=" if first.direction == "max" else "<="
        lines += [f"### {workload}", "",
                  (f"Target: validation {first.metric} {sense} "
                   f"{first.target:g}; {first.studies} "
                   f"stud{'y' if first.studies == 1 else 'ies'}, "
                   f"{first.trials // max(first.studies, 1)} trial(s) "
                   "each."),
                  "",
                  "| optimizer | time to target (s) | steps to target | "
                  "studies reached | best validation | test | "
                  "divergences |",
                  "|---|---|---|---|---|---|---|"]
        for r in mine:
            time_text = (DID_NOT_REACH if r.time_to_target is None
                         else f"{r.time_to_target:.2f}")
            steps_text = (DID_NOT_REACH if r.steps_to_target is None
                          else f"{r.steps_to_target:g}")
            lines.append(
                f"| `{r.optimizer}` | {time_text} | {steps_text} | "
                f"{r.reached_studies}/{r.studies} | "
                f"{_number(r.best_validation)} | {_number(r.test)} | "
                f"{r.divergences} |")
        won = report["winners"][workload]
        lines += ["", "Fastest: " + (", ".join(f"`{w}`" for w in won)
                                      if won else "none reached the target"),
                  ""]
    lines += ["### Benchmark score", "",
              "AlgoPerf's score (Dahl et al. 2023): the area under each "
              f"optimizer's performance profile from 1 to {report['r_max']:g}"
              f", divided by {report['r_max'] - 1:g}; 1 = fastest on every "
              "workload, 0 = never within a factor "
              f"{report['r_max']:g} of the fastest.", "",
              "| optimizer | score (time) | score (steps) |", "|---|---|---|"]
    order = sorted(report["scores"], key=lambda s: -report["scores"][s])
    for s in order:
        lines.append(f"| `{s}` | {report['scores'][s]:.3f} | "
                     f"{report['step_scores'][s]:.3f} |")
    overall = report["overall_winner"]
    lines += ["", "Overall: " + (", ".join(f"`{w}`" for w in overall)
                                  if overall else "no optimizer reached a "
                                  "target"), ""]
    return "\n".join(lines)


#: Candidates drawn in colour and named in a picture's legend, the best
#: first; the others are thin grey lines, so a run of fifty stays legible.
NAMED_IN_PICTURES = 10


def _styles(names):
    """`(keyword arguments for plot, name)` per name, in the given order
    (best first): colours and labels for the first `NAMED_IN_PICTURES`,
    grey for the rest, labelled once as "N others"."""
    others = len(names) - NAMED_IN_PICTURES
    styles = {}
    for number, name in enumerate(names):
        if number < NAMED_IN_PICTURES:
            styles[name] = {"color": f"C{number}", "linewidth": 1.5,
                            "zorder": 3}
        else:
            styles[name] = {"color": "0.7", "linewidth": 0.8, "zorder": 1,
                            "label": (f"{others} others"
                                      if number == NAMED_IN_PICTURES
                                      else None)}
    return styles


def plot_profiles(report, path):
    """The performance profiles (on time) as a PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_optlab import atomic

    rows = [Row(**r) for r in report["rows"]]
    ratios = profiles.performance_ratios(_table_of(rows, "time_to_target"))
    r_max = report["r_max"]
    ranked = sorted(ratios, key=lambda name: -report["scores"][name])
    styles = _styles(ranked)
    figure, axis = plt.subplots(figsize=(8.5, 4.5))
    for submission in ranked:
        points = profiles.profile_steps(ratios[submission], r_max)
        taus = [p[0] for p in points] + [r_max]
        rhos = [p[1] for p in points] + [points[-1][1]]
        style = dict(styles[submission])
        style.setdefault("label", f"{submission} "
                                  f"({report['scores'][submission]:.2f})")
        axis.step(taus, rhos, where="post", **style)
    axis.set_xlim(1.0, r_max)
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlabel("tau (time to target / fastest time)")
    axis.set_ylabel("fraction of workloads within tau")
    axis.set_title("Performance profiles (score in brackets)")
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    atomic.write_atomically(path, figure.savefig)
    plt.close(figure)
    return path


def best_so_far(record):
    """`(seconds, values)`: a trial's best validation value so far after
    each epoch, against its training seconds."""
    maximize = record["direction"] == "max"
    seconds, values, best = [], [], None
    for _, elapsed, value, *_ in record["curve"]:
        if value is not None:
            best = value if best is None else (
                max(best, value) if maximize else min(best, value))
        seconds.append(elapsed)
        values.append(math.nan if best is None else best)
    return seconds, values


def _worse_first(record):
    """A sort key on which the better best validation value comes first
    (no value last)."""
    value = record["best_validation"]
    if value is None:
        return math.inf
    return -value if record["direction"] == "max" else value


def plot_curves(records, path):
    """Each workload's best-so-far validation curves (study 0; under
    external tuning, each optimizer's trial with the best validation
    value), one panel per workload, as a PNG written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_optlab import atomic

    chosen = {}
    for r in records:
        if r["study"] != 0 or not r.get("curve"):
            continue
        key = (r["workload"], r["optimizer"])
        old = chosen.get(key)
        if old is None or (r["best_validation"] is not None and (
                old["best_validation"] is None or
                (r["best_validation"] > old["best_validation"]) ==
                (r["direction"] == "max"))):
            chosen[key] = r
    names = list(dict.fromkeys(w for w, _ in chosen))
    columns = min(3, max(1, len(names)))
    lines = max(1, math.ceil(len(names) / columns))
    figure, axes = plt.subplots(lines, columns, squeeze=False,
                                figsize=(4.2 * columns, 3.2 * lines))
    for axis, name in zip(axes.flat, names):
        target = None
        ranked = sorted(
            (r for (w, _), r in chosen.items() if w == name),
            key=lambda r: (not r["reached"], r["time_to_target"] or 0.0,
                           _worse_first(r)))
        styles = _styles([r["optimizer"] for r in ranked])
        for record in ranked:
            style = dict(styles[record["optimizer"]])
            style.setdefault("label", record["optimizer"])
            axis.plot(*best_so_far(record), **style)
            target = record["target"]
            axis.set_ylabel(f"best validation {record['metric']}")
        if target is not None:
            axis.axhline(target, color="grey", linestyle="--", linewidth=1)
        axis.set_title(name)
        axis.set_xlabel("training seconds")
        axis.legend(fontsize="x-small")
    for axis in list(axes.flat)[len(names):]:
        axis.set_visible(False)
    figure.tight_layout()
    atomic.write_atomically(path, figure.savefig)
    plt.close(figure)
    return path


def write(records, out):
    """`report.md`, `report.json`, `profiles.png` and `curves.png` in
    `out`; returns the report dict."""
    from keras_optlab import atomic

    report = build(records)
    atomic.write_text(os.path.join(out, "report.md"), markdown(report))
    atomic.write_json(os.path.join(out, "report.json"), report, indent=1)
    plot_profiles(report, os.path.join(out, "profiles.png"))
    plot_curves(records, os.path.join(out, "curves.png"))
    return report


#: The folder under a benchmark's `out` that holds one TensorBoard run per
#: trial (`tensorboard --logdir <out>/tensorboard`).
TENSORBOARD_DIR = "tensorboard"


def tensorboard_run_path(out, record):
    """`<out>/tensorboard/<workload>/<optimizer>/<ruleset>/study<s>_trial<t>`
    (`<ruleset>-quick` for a quick variant; in the optimizer's name every
    character but letters, digits, `_`, `.` and `-` becomes `_`: a `keras:`
    name's colon, a candidate's parentheses and `@`)."""
    ruleset = record["ruleset"] + ("-quick" if record["quick"] else "")
    folder = re.sub(r"[^A-Za-z0-9_.-]", "_", record["optimizer"])
    return os.path.join(out, TENSORBOARD_DIR, record["workload"],
                        folder, ruleset,
                        f"study{record['study']}_trial{record['trial']}")


def write_tensorboard_run(out, record):
    """Writes a finished trial's record as a TensorBoard run (unless its run
    is there already) and returns the run's folder.

    Scalars against training steps, one point per epoch:
    `validation/<metric>` (the metric the target is set on),
    `validation/loss`, `train/loss` and `train/seconds` (training time so
    far, the axis of time to target); where the trial reached the target,
    `target/reached` (the target's value) at the step it was reached. The
    trial's hyperparameters and outcome as text (`trial`).

    The run is written in a folder outside `<out>/tensorboard` and renamed
    into place when complete, so TensorBoard never shows a half-written
    run, and a run killed while writing is written again by the next run
    (the records are the source of truth; this is a view of them)."""
    import contextlib
    import json
    import shutil

    import tensorflow as tf

    final = tensorboard_run_path(out, record)
    if os.path.isdir(final):
        return final
    partial = os.path.join(out, f".{TENSORBOARD_DIR}-partial",
                           f"{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    writer = tf.summary.create_file_writer(partial)
    with writer.as_default():
        for steps, seconds, value, train_loss, val_loss in record["curve"]:
            # A workload whose metric is the loss logs it once.
            series = {f"validation/{record['metric']}": value,
                      "validation/loss": val_loss, "train/loss": train_loss,
                      "train/seconds": seconds}
            for tag, number in series.items():
                if number is not None:
                    tf.summary.scalar(tag, number, step=steps)
        if record["reached"]:
            tf.summary.scalar("target/reached", record["target"],
                              step=record["steps_to_target"])
        outcome = {k: record[k] for k in (
            "hyperparameters", "seed", "target", "reached", "diverged",
            "time_to_target", "steps_to_target", "best_validation", "test")}
        tf.summary.text("trial", json.dumps(outcome, sort_keys=True),
                        step=0)
    writer.close()
    os.makedirs(os.path.dirname(final), exist_ok=True)
    os.replace(partial, final)
    with contextlib.suppress(OSError):  # other processes' runs in progress
        os.rmdir(os.path.dirname(partial))
    return final
