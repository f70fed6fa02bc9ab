"""`optlab bench`: update-step speed against Keras' own optimizers."""

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


def run(args):
    from keras_optlab import bench
    from keras_optlab import optimizers
    from keras_optlab.cli import UsageError

    try:
        sizes = ([int(float(v)) for v in args.sizes.split(",")]
                 if args.sizes else None)
    except ValueError:
        raise UsageError(f"--sizes wants numbers; got {args.sizes!r}")
    if sizes and min(sizes) < bench.VARIABLES:
        raise UsageError(f"--sizes must be >= {bench.VARIABLES}; "
                         f"got {args.sizes!r}")
    names = None
    if args.optimizers:
        names = [n.strip() for n in args.optimizers.split(",") if n.strip()]
        for name in names:
            if optimizers.lookup(name) is None:
                raise UsageError(f"unknown optimizer {name!r}")
        names = [optimizers.lookup(n).name for n in names]
    if args.repeats is not None and args.repeats < 1:
        raise UsageError(f"--repeats must be >= 1; got {args.repeats}")
    report = bench.run_benchmark(quick=args.quick, sizes=sizes,
                                 optimizers=names, repeats=args.repeats,
                                 fit=not args.no_fit,
                                 memory=not args.no_memory)
    bench.write(report, args.json, args.markdown)
    print(f"wrote {args.json} and {args.markdown}")
    return 0
