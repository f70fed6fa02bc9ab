"""`optlab benchmark`: AlgoPerf's method on workloads a laptop can run."""

from keras_optlab.cli.checks import UsageError
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
        "--optimizers", default=DEFAULT_OPTIMIZERS,
        help="comma-separated registered names or keras:<name> "
             "(default: %(default)s)")
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


def _names(option, text):
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if not names:
        raise UsageError(f"{option} wants comma-separated names. Received: "
                         f"{option}={text!r}")
    return names


def check(args):
    """Every argument, and each workload's definition and budget, checked
    before any training; returns what `run` needs."""
    from keras_optlab.lab.benchmark import run as run_module
    from keras_optlab.lab.benchmark import workloads as workloads_module

    trials = check_number("--trials", args.trials, low=1, integer=True)
    studies = check_number("--studies", args.studies, low=1, integer=True)
    seed = check_number("--seed", args.seed, low=0, integer=True)
    if args.ruleset == "self" and trials != 1:
        raise UsageError("--trials applies to --ruleset external; the "
                         "self-tuning ruleset runs one trial per study. "
                         f"Received: --trials={args.trials!r}")
    check_output_directory("--out", args.out)
    names = (_names("--workloads", args.workloads)
             if args.workloads is not None else workloads_module.names())
    known = workloads_module.names()
    for name in names:
        if name not in known:
            raise UsageError(f"Unknown workload (known: {', '.join(known)})."
                             f" Received: --workloads={name!r}")
    optimizers = _names("--optimizers", args.optimizers)
    try:
        chosen = [workloads_module.get(n, quick=args.quick) for n in names]
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
    return names, optimizers, trials, studies, seed


def run(args):
    import os

    from keras_optlab.lab.benchmark import report
    from keras_optlab.lab.benchmark import run as run_module

    names, optimizers, trials, studies, seed = check(args)
    records = run_module.run_benchmark(
        names, optimizers, ruleset=args.ruleset, trials=trials,
        studies=studies, quick=args.quick, out=args.out, seed=seed,
        progress=lambda line: print(line, flush=True))
    result = report.write(records, args.out)
    print(report.markdown(result))
    print(f"wrote {os.path.join(args.out, 'report.md')}, report.json, "
          "profiles.png, curves.png and records.jsonl; TensorBoard: "
          f"tensorboard --logdir "
          f"{os.path.join(args.out, report.TENSORBOARD_DIR)}")
    return 0
