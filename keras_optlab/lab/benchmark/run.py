"""Running a benchmark: trials, rulesets, records, resuming.

A trial trains one optimizer (a candidate: optionally wrapped and on a
learning-rate schedule, see `candidates`) with one hyperparameter setting
on one workload (AlgoPerf's unit): the model is built from the trial's seed, the
validation metric is read after every epoch, and training stops at the
target or at the budget, or when the training loss stops being finite
(a divergence). Only training is timed (`model.fit`, its first call's
tracing included); evaluation is not, as in AlgoPerf. The test value is
read once, on the model the trial ends with (None where the data have no
test set: `optlab compare`'s trials, on a workload without a target,
which therefore train their whole budget). Schedule-Free optimizers are
validated and tested at x, their evaluation point (`evaluation_point`).

Rulesets (AlgoPerf's two):

* `"self"` (self-tuning): every optimizer at its defaults, one trial per
  study; Keras' own optimizers by `"keras:<name>"`. A self-tuning trial
  gets `SELF_TUNING_BUDGET_FACTOR` (3) times the workload's budget (epochs
  and steps), since it has no tuning trials to spend; the target stays the
  same. 3 is the factor of AlgoPerf's rules of the paper's time and its
  first competition (`max_runtime` "tripled"); its current rules give
  1.5 times.
* `"external"` (external tuning): `trials` settings per optimizer and
  study, drawn from the optimizer's search space (each argument's `search`
  range in its hyperparameter table, `tuning.space.SearchSpace`) by Keras
  Tuner's own samplers (`HyperParameters`, each hyperparameter's
  `random_sample`) from a generator seeded by `(seed, study, optimizer)`:
  the same settings on every workload, new ones in every study. A study's
  result is its fastest trial that reached the target; the benchmark's is
  the median over studies (`report.summarize`).

TensorBoard: each finished trial's record is also written as a run under
`<out>/tensorboard` (`report.write_tensorboard_run`), so
`tensorboard --logdir <out>/tensorboard` shows every trial's curves while
the benchmark runs.

Records: one JSON object per finished trial, one per line in
`<out>/records.jsonl`, the whole file rewritten atomically
(`keras_optlab.atomic`) after each trial, so a kill leaves the previous
file or the new one. A rerun with the same `out` skips every trial whose
key `(workload, optimizer, ruleset, quick, study, trial)` is there, so a
killed run resumes without repeating finished trials. A run in several
processes (`distributed`) has each worker write its own
`records-<worker>.jsonl` beside it; every reader takes them all
(`collect_records`) and the next run in one process merges them into
`records.jsonl` (`merge_records`).
"""

import contextlib
import json
import math
import os
import time
import zlib

import numpy as np

from keras_optlab.lab.benchmark import candidates
from keras_optlab.lab.benchmark import report
from keras_optlab.lab.benchmark import workloads as workloads_module

RULESETS = ("self", "external")
#: AlgoPerf's first rules: self-tuning runs get 3x the external budget
#: (its current rules: 1.5x).
SELF_TUNING_BUDGET_FACTOR = 3
RECORDS_FILE = "records.jsonl"
KEY_FIELDS = ("workload", "optimizer", "ruleset", "quick", "study", "trial")


def record_key(record):
    return tuple(record[f] for f in KEY_FIELDS)


def check_optimizers(names):
    """Each candidate (an optimizer, registered or `"keras:<name>"`,
    optionally wrapped and on a schedule: `candidates`) known, buildable and
    listed once; a ValueError naming the value otherwise."""
    candidates.check(list(names))


def check_plan(workloads, optimizers, ruleset, trials, studies):
    """Everything a run needs, checked before any training: a ValueError
    naming the argument and the value."""
    if ruleset not in RULESETS:
        raise ValueError(f"Unknown ruleset (known: self, external). "
                         f"Received: ruleset={ruleset!r}")
    for name, value in (("trials", trials), ("studies", studies)):
        if not isinstance(value, int) or isinstance(value, bool) or \
                value < 1:
            raise ValueError(f"{name} must be an integer >= 1. Received: "
                             f"{name}={value!r}")
    if ruleset == "self" and trials != 1:
        raise ValueError("The self-tuning ruleset runs each optimizer at "
                         "its defaults, one trial per study. Received: "
                         f"trials={trials!r}")
    if not workloads:
        raise ValueError("At least one workload is needed. Received: "
                         "workloads=[]")
    seen = set()
    for workload in workloads:
        workload.check()
        if workload.target is None:
            raise ValueError(f"A benchmark workload needs a target. "
                             f"Received: workload={workload.name!r} with "
                             "target=None")
        if workload.name in seen:
            raise ValueError("A workload is listed twice. Received: "
                             f"workload={workload.name!r}")
        seen.add(workload.name)
    check_optimizers(optimizers)


def ruleset_budget(workload, ruleset):
    """The workload as a trial of `ruleset` trains it: under self-tuning its
    epoch and step budgets times `SELF_TUNING_BUDGET_FACTOR`."""
    import dataclasses

    if ruleset != "self":
        return workload
    factor = SELF_TUNING_BUDGET_FACTOR
    return dataclasses.replace(
        workload, quick={},
        max_epochs=None if workload.max_epochs is None
        else workload.max_epochs * factor,
        max_steps=None if workload.max_steps is None
        else workload.max_steps * factor)


def _seed_of(*parts):
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def draw_arguments(optimizer, ruleset, study, trial, seed=0):
    """The optimizer arguments of one trial: `{}` (its defaults) under the
    self-tuning ruleset; under external tuning the `trial`-th draw of the
    study's seeded sequence over the optimizer's search space (a wrapped or
    scheduled candidate draws its optimizer's: `Candidate.draw_name`)."""
    if ruleset == "self":
        return {}
    import keras_tuner as kt

    from keras_optlab.tuning.space import SearchSpace

    optimizer = candidates.parse(optimizer).draw_name
    ranges = SearchSpace(optimizers=[optimizer]).arguments(optimizer)
    hp = kt.HyperParameters()
    for argument, value_range in ranges.items():
        value_range.declare(hp, argument)
    rng = np.random.default_rng(_seed_of(seed, study, optimizer))
    drawn = {}
    for _ in range(trial + 1):
        drawn = {h.name: h.random_sample(int(rng.integers(2 ** 31)))
                 for h in hp.space}
    return {k: (v.item() if hasattr(v, "item") else v)
            for k, v in drawn.items()}


def trial_seed(seed, study, trial):
    """The seed of a trial's initial weights and data order: the same for
    every optimizer in the same study and trial."""
    return int(seed) + 1000 * int(study) + int(trial)


def budget_steps(workload, per_epoch):
    """The most optimizer steps a trial of `workload` takes (its epochs
    times `per_epoch`, or its step budget rounded up to whole epochs,
    whichever ends first): the length of a candidate's schedule."""
    limits = []
    if workload.max_epochs is not None:
        limits.append(workload.max_epochs * per_epoch)
    if workload.max_steps is not None:
        limits.append(math.ceil(workload.max_steps / per_epoch) * per_epoch)
    return min(limits)


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _metric_key(workload, logs):
    if workload.metric == "loss":
        return "loss"
    others = [k for k in logs if k != "loss"]
    return others[0] if others else "loss"


@contextlib.contextmanager
def evaluation_point(model, data, batch_size):
    """Where a trial's model is validated and tested. A Schedule-Free
    optimizer of ours trains the model at y and is evaluated at x, the point
    its paper evaluates (`keras_optlab.training.schedule_free`; batch-norm
    statistics recomputed at x on the training batches); any other model at
    its weights. `keras:ScheduleFreeAdamW` offers no way to x, so it is
    evaluated at y, as a Keras user's `evaluate` after `fit` is."""
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    if not hasattr(optimizer, "evaluation_point"):
        yield
        return
    from keras_optlab.training.schedule_free import schedule_free_evaluation
    from keras_optlab.training.swa import _batch_norm_layers

    batches = None
    if _batch_norm_layers(model):
        batches = [data.x_train[i:i + batch_size]
                   for i in range(0, len(data.x_train), batch_size)]
    with schedule_free_evaluation(model, batches):
        yield


def train_trial(workload, optimizer, arguments=None, seed=0, data=None,
                callbacks=None):
    """Trains one trial and returns its record's measured fields (see the
    module docstring). `callbacks` are Keras callbacks passed to `fit`."""
    import keras

    arguments = dict(arguments or {})
    data = workload.data() if data is None else data
    workload.check_budget(data)
    keras.utils.set_random_seed(int(seed))
    model = workload.build_model()
    per_epoch = workload.steps_per_epoch(len(data.x_train))
    model.compile(optimizer=candidates.build(
                      optimizer, arguments, budget_steps(workload, per_epoch)),
                  loss=workload.loss,
                  metrics=[] if workload.metric == "loss"
                  else [workload.metric])
    batch = workload.batch_size

    def evaluate(x, y):
        with evaluation_point(model, data, batch):
            return model.evaluate(x, y, batch_size=256, verbose=0,
                                  return_dict=True)

    initial = evaluate(data.x_val, data.y_val)
    key = _metric_key(workload, initial)
    curve, steps, seconds, epochs = [], 0, 0.0, 0
    best, reached, diverged = None, None, False
    while True:
        start = time.perf_counter()
        # One epoch per call, numbered as one long fit for `callbacks`.
        history = model.fit(data.x_train, data.y_train, batch_size=batch,
                            initial_epoch=epochs, epochs=epochs + 1,
                            shuffle=True, verbose=0, callbacks=callbacks)
        seconds += time.perf_counter() - start
        epochs += 1
        steps += per_epoch
        train_loss = float(history.history["loss"][-1])
        logs = evaluate(data.x_val, data.y_val)
        value = float(logs[key])
        curve.append([steps, round(seconds, 4), _finite(value),
                      _finite(train_loss), _finite(logs["loss"])])
        if not (math.isfinite(train_loss) and math.isfinite(value)):
            diverged = True
            break
        best = workload.better(best, value)
        if workload.reached(value):
            reached = {"seconds": seconds, "steps": steps, "epochs": epochs}
            break
        if (workload.max_epochs is not None and
                epochs >= workload.max_epochs) or (
                workload.max_steps is not None and
                steps >= workload.max_steps):
            break
    test = {} if data.x_test is None else evaluate(data.x_test, data.y_test)
    return {
        "hyperparameters": arguments,
        "max_epochs": workload.max_epochs,
        "max_steps": workload.max_steps,
        "seed": int(seed),
        "metric": workload.metric,
        "direction": workload.direction,
        "target": workload.target,
        "reached": reached is not None,
        "time_to_target": reached["seconds"] if reached else None,
        "steps_to_target": reached["steps"] if reached else None,
        "epochs_to_target": reached["epochs"] if reached else None,
        "best_validation": best,
        "test": _finite(test[key]) if test else None,
        "test_loss": _finite(test["loss"]) if test else None,
        "initial_validation_loss": _finite(initial["loss"]),
        "diverged": diverged,
        "epochs": epochs,
        "steps": steps,
        "train_seconds": seconds,
        # [steps, training seconds, validation metric, training loss,
        #  validation loss] after each epoch.
        "curve": curve,
    }


def read_records_file(path):
    """The records of one JSON-lines file (empty when there is none)."""
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_records(out):
    """The records of `<out>/records.jsonl` (empty when there is none)."""
    return read_records_file(os.path.join(out, RECORDS_FILE))


def write_records(out, records, name=RECORDS_FILE):
    """`<out>/records.jsonl` (or another file `name` there), the whole file
    rewritten atomically."""
    from keras_optlab import atomic

    atomic.write_text(os.path.join(out, name), "".join(
        json.dumps(r, sort_keys=True, allow_nan=False) + "\n"
        for r in records))


def shard_name(worker):
    """The file of a worker's own records, `records-<worker>.jsonl`: each
    process writes only its own, so no two processes write one file."""
    return f"records-{worker}.jsonl"


def _shards(out):
    if not os.path.isdir(out):
        return []
    return sorted(n for n in os.listdir(out)
                  if n.startswith("records-") and n.endswith(".jsonl"))


def collect_records(out):
    """Every finished trial in `out`: `records.jsonl` and the workers'
    `records-<worker>.jsonl` (see `distributed`), each key once (the
    first found)."""
    found = {}
    for name in [RECORDS_FILE] + _shards(out):
        for record in read_records_file(os.path.join(out, name)):
            found.setdefault(record_key(record), record)
    return list(found.values())


def merge_records(out):
    """Moves the workers' records into `records.jsonl`: the merged file is
    written (atomically) before any worker file is removed, so a kill
    in between leaves every record in at least one file."""
    shards = _shards(out)
    if not shards:
        return
    write_records(out, collect_records(out))
    for name in shards:
        os.remove(os.path.join(out, name))


def plan(workloads, optimizers, ruleset="self", trials=1, studies=1):
    """Every trial's `(workload, optimizer, study, trial)`, in the order a
    run trains them (workload by workload, so its data loads once)."""
    trials = 1 if ruleset == "self" else trials
    return [(w, o, s, t) for w in workloads for s in range(studies)
            for o in optimizers for t in range(trials)]


def check_resume(records, out, workloads, optimizers, ruleset, trials,
                 studies, quick, seed):
    """A ValueError when `out` holds trials of this plan trained with
    another seed or target (a rerun would mix two benchmarks)."""
    done = {record_key(r): r for r in records}
    for workload, optimizer, study, trial in plan(
            workloads, optimizers, ruleset, trials, studies):
        found = done.get((workload.name, optimizer, ruleset, bool(quick),
                          study, trial))
        if found is not None and (
                found["seed"] != trial_seed(seed, study, trial) or
                found["target"] != workload.target):
            raise ValueError(
                f"{os.path.join(out, RECORDS_FILE)} holds a trial of "
                f"{workload.name!r} with seed {found['seed']} and target "
                f"{found['target']}; this run has seed "
                f"{trial_seed(seed, study, trial)} and target "
                f"{workload.target}. Resume with the same seed and "
                f"workloads, or use another folder. Received: out={out!r}")


def describe(record):
    """A trial's result in a few words, for progress lines."""
    if record["reached"]:
        what = (f"target in {record['time_to_target']:.2f} s, "
                f"{record['steps_to_target']} steps")
    elif record["diverged"]:
        what = "diverged"
    else:
        what = "did not reach the target"
    return (f"{record['workload']} {record['optimizer']} study "
            f"{record['study']} trial {record['trial']}: {what} (best "
            f"{record['best_validation']})")


class Benchmark:
    """One benchmark: its plan checked, every workload's data loaded and
    budget checked, and the trials already finished in `out` read; nothing
    is trained or written until `train` (the arguments are
    `run_benchmark`'s).

    `entries` is the plan (`plan`); a trial is named by its index in it,
    which is all a worker process needs to be told (`distributed`).
    """

    def __init__(self, workloads, optimizers, ruleset="self", trials=1,
                 studies=1, quick=False, out="optlab_benchmark", seed=0):
        self.workloads = [workloads_module.get(w, quick=quick)
                          for w in workloads]
        self.optimizers = list(optimizers)
        check_plan(self.workloads, self.optimizers, ruleset, trials,
                   studies)
        self.ruleset, self.quick, self.out, self.seed = (
            ruleset, bool(quick), out, seed)
        self.read_records()
        check_resume(list(self.done.values()), out, self.workloads,
                     self.optimizers, ruleset, trials, studies, quick, seed)
        self.entries = plan(self.workloads, self.optimizers, ruleset,
                            trials, studies)
        # Every workload's data is loaded and its budget checked before the
        # first trial trains.
        self.data = {}
        for workload in self.workloads:
            self.data[workload.name] = workload.data()
            workload.check_budget(self.data[workload.name])

    def read_records(self):
        """Reads the finished trials in `out` again (other processes'
        included)."""
        self.done = {record_key(r): r for r in collect_records(self.out)}

    def key(self, index):
        workload, optimizer, study, trial = self.entries[index]
        return (workload.name, optimizer, self.ruleset, self.quick, study,
                trial)

    def pending(self):
        """The indices of the trials not finished yet, in plan order."""
        return [i for i in range(len(self.entries))
                if self.key(i) not in self.done]

    def train(self, index, callbacks=None):
        """Trains trial `index` and returns its record (not written)."""
        workload, optimizer, study, trial = self.entries[index]
        arguments = draw_arguments(optimizer, self.ruleset, study, trial,
                                   self.seed)
        measured = train_trial(ruleset_budget(workload, self.ruleset),
                               optimizer, arguments,
                               trial_seed(self.seed, study, trial),
                               self.data[workload.name], callbacks)
        record = dict(zip(KEY_FIELDS, self.key(index)), **measured)
        self.done[self.key(index)] = record
        return record

    def records(self):
        """The finished records of this plan, in plan order."""
        return [self.done[self.key(i)] for i in range(len(self.entries))
                if self.key(i) in self.done]


def run_benchmark(workloads, optimizers, ruleset="self", trials=1,
                  studies=1, quick=False, out="optlab_benchmark", seed=0,
                  progress=print, callbacks=None):
    """Runs (or resumes) a benchmark in this process; returns every record
    of this plan (`distributed` runs one in several processes).

    Args:
        workloads: names of bundled workloads or `Workload` objects.
        optimizers: registered names or `"keras:<name>"`.
        ruleset: `"self"` or `"external"`.
        trials: settings per optimizer, workload and study (external).
        studies: repetitions; the median over studies is reported.
        quick: use each workload's quick variant.
        out: the folder of `records.jsonl`; a rerun skips what it holds.
        seed: the base of the trials' seeds and of the external draws.
        progress: called with one line per trial (None: silent).
        callbacks: Keras callbacks given to every trial's `fit`.
    """
    benchmark = Benchmark(workloads, optimizers, ruleset, trials, studies,
                          quick, out, seed)
    os.makedirs(out, exist_ok=True)
    merge_records(out)
    records = load_records(out)
    pending = set(benchmark.pending())
    for index in range(len(benchmark.entries)):
        if index not in pending:
            # A run killed after its record and before its TensorBoard run
            # gets the run now.
            report.write_tensorboard_run(out, benchmark.done[
                benchmark.key(index)])
            continue
        record = benchmark.train(index, callbacks)
        records.append(record)
        write_records(out, records)
        report.write_tensorboard_run(out, record)
        if progress is not None:
            progress(f"[{index + 1}/{len(benchmark.entries)}] "
                     f"{describe(record)}")
    return benchmark.records()
