"""`optlab landscape`: optimizers' paths over a test function, as pictures."""

from keras_optlab.cli.checks import UsageError
from keras_optlab.cli.checks import check_number
from keras_optlab.cli.checks import check_numbers
from keras_optlab.cli.checks import check_output_directory

NAME = "landscape"
HELP = ("Run optimizers on a test function (rosenbrock, beale, saddle, "
        "rastrigin, quadratic, steep_quadratic) and draw their paths "
        "(PNG and animated GIF).")


def add_arguments(parser):
    parser.add_argument("--function", default="rosenbrock")
    parser.add_argument(
        "--optimizers", default="gradient_descent,momentum,nesterov,rmsprop,"
        "adam", help="comma-separated registered names, or keras:<Class> "
        "for Keras' built-ins (default: %(default)s)")
    parser.add_argument(
        "--lr", action="append", default=[], metavar="NAME=LR",
        help="learning rate for one optimizer (repeatable); the others use "
        "keras_optlab.lab.landscape.trajectory.default_learning_rate")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--start", default=None,
                        help="starting point, comma-separated (default: the "
                             "function's)")
    parser.add_argument("--out", default=".",
                        help="directory for <function>.png and .gif")
    parser.add_argument("--no-gif", action="store_true")


def _parse_rates(items, names):
    rates = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in names:
            raise UsageError(f"--lr wants NAME=LR with NAME one of "
                             f"{', '.join(names)}; got {item!r}")
        rates[name] = check_number(f"--lr {name}", value, low=0.0)
    return rates


def check(args):
    """The function, optimizers, learning rates, steps, start and output
    folder; returns (function, [(name, learning rate)], start)."""
    from keras_optlab.lab import landscape
    from keras_optlab.lab.landscape.trajectory import default_learning_rate
    from keras_optlab.lab.landscape.trajectory import make_optimizer

    try:
        function = landscape.get(args.function)
    except ValueError as error:
        raise UsageError(str(error))
    names = [n.strip() for n in args.optimizers.split(",") if n.strip()]
    if not names:
        raise UsageError("--optimizers wants comma-separated names. "
                         f"Received: --optimizers={args.optimizers!r}")
    if len(set(names)) != len(names):
        raise UsageError("--optimizers lists an optimizer twice. "
                         f"Received: --optimizers={args.optimizers!r}")
    rates = _parse_rates(args.lr, names)
    check_number("--steps", args.steps, low=1, high=10**7, integer=True)
    start = None
    if args.start is not None:
        start = tuple(check_numbers("--start", args.start))
        if len(start) != function.dimension:
            raise UsageError(f"--start needs {function.dimension} "
                             f"coordinates for {function.name}. Received: "
                             f"--start={args.start!r}")
    runs = []
    for name in names:
        try:
            lr = rates[name] if name in rates else \
                default_learning_rate(function, name)
            make_optimizer(name, lr)  # an unknown name or a bad rate
        except (ValueError, TypeError) as error:
            raise UsageError(f"--optimizers {name}: "
                             f"{str(error).splitlines()[0]}")
        runs.append((name, lr))
    check_output_directory("--out", args.out)
    return function, runs, start


def run(args):
    import logging
    import os

    import numpy as np
    import tensorflow as tf

    from keras_optlab.lab import landscape

    tf.get_logger().setLevel(logging.ERROR)  # one trace per optimizer
    function, runs, start = check(args)
    paths = {}
    print(f"{function.name}: {function.formula}; minima "
          f"{list(function.minima) or 'none'}")
    for name, lr in runs:
        try:
            points = landscape.run(function, name, lr, steps=args.steps,
                                   start=start)
        except ValueError as error:
            raise UsageError(str(error))
        paths[f"{name} lr={lr:g}"] = points
        end = points[-1]
        distance = (min(np.linalg.norm(end - np.array(m))
                        for m in function.minima)
                    if function.minima else float("nan"))
        value = float(function(end))
        shown = np.array2string(end, precision=4)
        print(f"  {name:<18} lr={lr:<8g} end={shown}"
              f"  f={value:.4g}  distance to minimum={distance:.3g}")
    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, f"{function.name}.png")
    landscape.plot_trajectories(function, paths, png)
    print(f"wrote {png}")
    if not args.no_gif:
        gif = os.path.join(args.out, f"{function.name}.gif")
        landscape.animate_trajectories(function, paths, gif)
        print(f"wrote {gif}")
    return 0
