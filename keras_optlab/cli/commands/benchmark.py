"""`optlab benchmark`: AlgoPerf's method on workloads a laptop can run.

Its trials can run in several processes: `--processes N` on this machine,
or across machines a chief (`--chief --oracle HOST:PORT`) and workers
(`--worker ID --oracle HOST:PORT`), each started with the same plan and
`--out` (see keras_optlab.lab.benchmark.distributed).
"""

import sys

from keras_optlab.cli.checks import UsageError
from keras_optlab.cli.checks import add_role_arguments
from keras_optlab.cli.checks import check_oracle
from keras_optlab.cli.checks import check_number
from keras_optlab.cli.checks import check_output_directory

NAME = "benchmark"
HELP = ("Time each optimizer to a validation target on small bundled "
        "workloads (AlgoPerf's method: self-tuning or external-tuning "
        "ruleset, median over studies), and score them by the area under "
        "their performance profiles; rerun with the same --out to resume.")

DEFAULT_OPTIMIZERS = "momentum,rmsprop,adam,adamw,lion,keras:adam"


def add_arguments(parser):
    parser.add_argument(
        "--workloads", default=None,
        help="comma-separated bundled workloads (default: all of them: "
             "digits_mlp, mnist1d_cnn, mnist1d_gru, diabetes, deep_sigmoid, "
             "digits_autoencoder)")
    parser.add_argument(
        "--recipe", default=None, metavar="RECIPE",
        help="your own workload: a tuning recipe (a bundled name or a "
             ".toml file) gives the data (with its held-out test set), "
             "model, metric (search.objective), epochs and batch size (the "
             "middle of space.batch_sizes); needs --target. Alone it is the "
             "only workload; with --workloads it joins them")
    parser.add_argument(
        "--target", default=None,
        help="the recipe workload's validation target (with --recipe): "
             "the value of its search.objective to reach")
    parser.add_argument(
        "--optimizers", default=None,
        help="comma-separated candidates: registered names or "
             "keras:<name>, optionally wrapped (lookahead(NAME), "
             "cautious(NAME)) and on a schedule over the trial's budget "
             "(NAME@cosine, @warmup_cosine, @onecycle) (default: the "
             f"recipe's space.optimizers, else {DEFAULT_OPTIMIZERS})")
    parser.add_argument(
        "--ruleset", default="self", choices=("self", "external"),
        help="self: each optimizer at its defaults, 3x the workload's "
             "budget (AlgoPerf's first rules); external: --trials "
             "settings per optimizer drawn from its search space "
             "(default: %(default)s)")
    parser.add_argument("--trials", default="1",
                        help="settings per optimizer, workload and study "
                             "(external ruleset; default: 1)")
    parser.add_argument("--studies", default="1",
                        help="repetitions; the median over studies is "
                             "reported (default: 1)")
    parser.add_argument("--quick", action="store_true",
                        help="each workload's quick variant: a few epochs "
                             "and an easier target")
    parser.add_argument("--seed", default="0",
                        help="the base of the trials' seeds (default: 0)")
    parser.add_argument("--out", default="optlab_benchmark",
                        help="directory for records.jsonl, report.md, "
                             "report.json, profiles.png, curves.png and "
                             "one TensorBoard run per trial (tensorboard/); "
                             "a rerun with "
                             "the same --out resumes (default: %(default)s)")
    parser.add_argument(
        "--processes", default="1", metavar="N",
        help="train the trials in N worker processes on this machine, "
             "handed out by a chief in this one (default: 1, no workers)")
    add_role_arguments(parser, "benchmark trials")


def _names(option, text):
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise UsageError(f"{option} wants comma-separated names. Received: "
                         f"{option}={text!r}")
    return names


def _recipe_workload(recipe_argument, target):
    """`(workload, recipe)` of `--recipe`; a ValueError naming the value."""
    from keras_optlab.cli.commands.tune import find_recipe
    from keras_optlab.lab.benchmark import workloads as workloads_module
    from keras_optlab.tuning import recipes

    recipe = recipes.load_recipe(find_recipe(recipe_argument))
    return workloads_module.from_recipe(recipe, target), recipe


def check(args):
    """Every argument, and each workload's definition and budget, checked
    before any training; returns what `run` needs."""
    from keras_optlab.lab.benchmark import run as run_module
    from keras_optlab.lab.benchmark import workloads as workloads_module

    trials = check_number("--trials", args.trials, low=1, integer=True)
    studies = check_number("--studies", args.studies, low=1, integer=True)
    seed = check_number("--seed", args.seed, low=0, integer=True)
    processes = check_number("--processes", args.processes, low=1,
                             high=1024, integer=True)
    if processes > 1 and (args.chief or args.worker is not None):
        raise UsageError("--processes starts its own chief and workers on "
                         "this machine; leave out --chief and --worker. "
                         f"Received: --processes={args.processes!r}")
    check_oracle(args)
    if args.ruleset == "self" and trials != 1:
        raise UsageError("--trials applies to --ruleset external; the "
                         "self-tuning ruleset runs one trial per study. "
                         f"Received: --trials={args.trials!r}")
    check_output_directory("--out", args.out)
    if args.recipe is None and args.target is not None:
        raise UsageError("--target sets the target of a --recipe workload "
                         "(the bundled ones have theirs). Received: "
                         f"--target={args.target!r}")
    if args.recipe is not None and args.target is None:
        raise UsageError("A --recipe workload needs --target: the "
                         "validation value of its search.objective to "
                         f"reach. Received: --recipe={args.recipe!r}")
    target = (check_number("--target", args.target)
              if args.target is not None else None)
    if args.workloads is not None:
        names = _names("--workloads", args.workloads)
    else:
        names = [] if args.recipe is not None else workloads_module.names()
    known = workloads_module.names()
    for name in names:
        if name not in known:
            raise UsageError(f"Unknown workload (known: {', '.join(known)})."
                             f" Received: --workloads={name!r}")
    try:
        recipe_workload = (_recipe_workload(args.recipe, target)
                           if args.recipe is not None else None)
    except ValueError as error:
        raise UsageError(str(error).splitlines()[0]) from None
    if args.optimizers is not None:
        optimizers = _names("--optimizers", args.optimizers)
    elif recipe_workload is not None:
        optimizers = list(recipe_workload[1].space.optimizers)
    else:
        optimizers = _names("--optimizers", DEFAULT_OPTIMIZERS)
    try:
        chosen = [workloads_module.get(n, quick=args.quick) for n in names]
        if recipe_workload is not None:
            names = names + [recipe_workload[0]]
            chosen.append(recipe_workload[0].quick_variant() if args.quick
                          else recipe_workload[0])
        run_module.check_plan(chosen, optimizers, args.ruleset, trials,
                              studies)
        try:
            records = run_module.load_records(args.out)
        except (ValueError, OSError) as error:
            raise UsageError(
                f"{args.out}/{run_module.RECORDS_FILE} cannot be read to "
                f"resume ({error}). Received: --out={args.out!r}") from None
        run_module.check_resume(records, args.out, chosen, optimizers,
                                args.ruleset, trials, studies, args.quick,
                                seed)
    except ValueError as error:
        message = str(error).splitlines()[0]
        if "optimizer=" in message:
            message = message.replace("optimizer=", "--optimizers=")
        elif "workload=" in message:
            message = message.replace("workload=", "--workloads=")
        elif "out=" in message:
            message = message.replace("out=", "--out=")
        raise UsageError(message) from None
    return names, optimizers, trials, studies, seed, processes


def worker_command(args):
    """`command(worker, address)`: the argv of a worker process of this
    benchmark, for `distributed.run_in_processes`."""

    def command(worker, address):
        argv = [sys.executable, "-m", "keras_optlab.cli"]
        if getattr(args, "verbose", False):
            argv.append("--verbose")
        argv += [NAME, "--ruleset", args.ruleset, "--trials",
                 str(args.trials), "--studies", str(args.studies), "--seed",
                 str(args.seed), "--out", args.out]
        for option, value in (("--workloads", args.workloads),
                              ("--recipe", args.recipe),
                              ("--target", args.target),
                              ("--optimizers", args.optimizers)):
            if value is not None:
                argv += [option, str(value)]
        if args.quick:
            argv.append("--quick")
        return argv + ["--worker", worker, "--oracle", address]

    return command


def run(args):
    import os

    from keras_optlab.lab.benchmark import distributed
    from keras_optlab.lab.benchmark import report
    from keras_optlab.lab.benchmark import run as run_module

    names, optimizers, trials, studies, seed, processes = check(args)

    def say(line):
        print(line, flush=True)

    plan = dict(ruleset=args.ruleset, trials=trials, studies=studies,
                quick=args.quick, out=args.out, seed=seed)
    if args.chief or args.worker is not None or processes > 1:
        benchmark = run_module.Benchmark(names, optimizers, **plan)
    if args.worker is not None:
        host, port = check_oracle(args)
        mine = distributed.run_worker(benchmark, host, port, args.worker,
                                      progress=say)
        say(f"worker {args.worker} done: {len(mine)} trials; the chief "
            "writes the report")
        return 0
    if args.chief:
        host, port = check_oracle(args)
        failed = distributed.run_chief(benchmark, host, port, progress=say)
        run_module.merge_records(args.out)
        benchmark.read_records()
        missing = len(benchmark.pending())
        if missing:
            say(f"{missing} trials have no record in {args.out}"
                + (f" ({len(failed)} failed on a worker)" if failed else "")
                + ": rerun to train them (workers elsewhere: copy their "
                "records-<ID>.jsonl here first)")
            return 1
        records = benchmark.records()
    elif processes > 1:
        try:
            records = distributed.run_in_processes(
                benchmark, processes, worker_command(args), progress=say)
        except RuntimeError as error:
            say(str(error))
            return 1
    else:
        records = run_module.run_benchmark(names, optimizers, **plan,
                                           progress=say)
    result = report.write(records, args.out)
    print(report.markdown(result))
    print(f"wrote {os.path.join(args.out, 'report.md')}, report.json, "
          "profiles.png, curves.png and records.jsonl; TensorBoard: "
          f"tensorboard --logdir "
          f"{os.path.join(args.out, report.TENSORBOARD_DIR)}")
    return 0
