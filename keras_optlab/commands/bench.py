"""`optlab bench`: update-step speed against Keras' own optimizers."""

import os

NAME = "bench"
HELP = ("Time one update step of each optimizer (fused, plain and Keras' "
        "built-in with the same math; XLA off and on) at several model "
        "sizes, against the memory-bandwidth bound; and model.fit of an "
        "Embedding + MLP model with Adam. Writes JSON and Markdown.")


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and few repeats (CI)")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated parameter counts (default: "
                             "1000000,10000000,50000000; quick: "
                             "20000,100000)")
    parser.add_argument("--optimizers", default=None,
                        help="comma-separated registered names (default: "
                             "all)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="interleaved timed repeats (default: 11; "
                             "quick: 3)")
    parser.add_argument("--no-fit", action="store_true",
                        help="leave out the model.fit comparison")
    parser.add_argument("--no-memory", action="store_true",
                        help="leave out the peak-memory measurement (a "
                             "child process)")
    parser.add_argument("--json", default="bench.json",
                        help="JSON output (default: %(default)s)")
    parser.add_argument("--markdown", default="bench.md",
                        help="Markdown output (default: %(default)s)")


def check(args):
    """Sizes, optimizer names, repeats and both output files, before the
    benchmark (which runs for minutes) starts."""
    from keras_optlab.lab import bench
    from keras_optlab import optimizers
    from keras_optlab.cli import UsageError
    from keras_optlab.cli import check_number
    from keras_optlab.cli import check_numbers
    from keras_optlab.cli import check_output_file

    sizes = None
    if args.sizes is not None:
        # Parameter counts may be written 1e6.
        sizes = [int(v) for v in check_numbers(
            "--sizes", args.sizes, low=bench.VARIABLES, high=1e12)]
    names = None
    if args.optimizers is not None:
        names = [n.strip() for n in args.optimizers.split(",") if n.strip()]
        if not names:
            raise UsageError("--optimizers wants comma-separated names. "
                             f"Received: --optimizers={args.optimizers!r}")
        for name in names:
            if optimizers.lookup(name) is None:
                known = ", ".join(i.name for i in optimizers.available())
                raise UsageError(f"unknown optimizer {name!r} (known: "
                                 f"{known}). Received: "
                                 f"--optimizers={args.optimizers!r}")
        names = [optimizers.lookup(n).name for n in names]
    if args.repeats is not None:
        check_number("--repeats", args.repeats, low=1, integer=True)
    check_output_file("--json", args.json)
    check_output_file("--markdown", args.markdown)
    if os.path.abspath(args.json) == os.path.abspath(args.markdown):
        raise UsageError("--json and --markdown name the same file. "
                         f"Received: --json={args.json!r}")
    return sizes, names


def run(args):
    from keras_optlab.lab import bench

    sizes, names = check(args)
    report = bench.run_benchmark(quick=args.quick, sizes=sizes,
                                 optimizers=names, repeats=args.repeats,
                                 fit=not args.no_fit,
                                 memory=not args.no_memory)
    bench.write(report, args.json, args.markdown)
    print(f"wrote {args.json} and {args.markdown}")
    return 0
