"""`optlab lr-find`: the learning-rate range test on a small problem."""

NAME = "lr-find"
HELP = ("Run the learning-rate range test (Smith 2017) for an optimizer on "
        "the digits data and suggest a learning rate.")


def add_arguments(parser):
    parser.add_argument("--optimizer", default="adam",
                        help="registered optimizer name (default: adam)")
    parser.add_argument("--data", choices=("digits", "regression"),
                        default="digits",
                        help="scikit-learn's 8x8 digits with a small MLP "
                             "(default), or a linear regression")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--min-lr", type=float, default=1e-6)
    parser.add_argument("--max-lr", type=float, default=10.0)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rule", choices=("steepest", "min_over_10"),
                        default="steepest")
    parser.add_argument("--plot", default="lr_find.png",
                        help="where to write the loss-vs-lr PNG "
                             "(default: lr_find.png)")
    parser.add_argument("--seed", type=int, default=0)


def digits_problem(seed=0):
    """The 8x8 digits, scaled to [0, 1], and an MLP with 64 hidden units."""
    import keras
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int32")
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    return model, x, y, "sparse_categorical_crossentropy"


def regression_problem(seed=0):
    """y = x w + noise with feature scales 3, 1, 0.3, and a linear model."""
    import keras
    import numpy as np

    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(512, 3)) * np.array([3.0, 1.0, 0.3]))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.normal(size=(512, 1))
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    return model, x.astype("float32"), y.astype("float32"), "mse"


def check(args):
    """The optimizer, the range-test settings and the plot path."""
    from keras_optlab import optimizers
    from keras_optlab.cli import UsageError
    from keras_optlab.cli import check_number
    from keras_optlab.cli import check_output_file

    if optimizers.lookup(args.optimizer) is None:
        names = ", ".join(info.name for info in optimizers.available())
        raise UsageError(f"unknown optimizer {args.optimizer!r}; "
                         f"known: {names}")
    check_number("--batch-size", args.batch_size, low=1, integer=True)
    check_number("--steps", args.steps, low=3, integer=True)
    check_number("--seed", args.seed, low=0, high=2**32 - 1, integer=True)
    check_number("--min-lr", args.min_lr, low=0.0, closed="(]")
    check_number("--max-lr", args.max_lr, low=0.0, closed="(]")
    if not args.min_lr < args.max_lr:
        raise UsageError(f"--min-lr must be below --max-lr. Received: "
                         f"--min-lr={args.min_lr!r}, --max-lr={args.max_lr!r}")
    check_output_file("--plot", args.plot)
    _check_image_format("--plot", args.plot)


def _check_image_format(option, path):
    import os

    from matplotlib.figure import Figure

    from keras_optlab.cli import UsageError

    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    formats = Figure().canvas.get_supported_filetypes()
    if suffix and suffix not in formats:  # none: matplotlib writes PNG
        raise UsageError(f"{option} must end in an image format matplotlib "
                         f"writes ({', '.join('.' + f for f in formats)}). "
                         f"Received: {option}={path!r}")


def run(args):
    from keras_optlab import optimizers
    from keras_optlab.cli import UsageError
    from keras_optlab.training.lr_finder import find_learning_rate

    check(args)
    build = digits_problem if args.data == "digits" else regression_problem
    model, x, y, loss = build(args.seed)
    model.compile(optimizer=optimizers.get(args.optimizer), loss=loss)
    try:
        result = find_learning_rate(
            model, x, y, batch_size=args.batch_size, min_lr=args.min_lr,
            max_lr=args.max_lr, steps=args.steps, rule=args.rule,
            seed=args.seed)
    except ValueError as error:
        raise UsageError(str(error)) from error
    result.plot(args.plot, title=f"LR range test: {args.optimizer} on "
                                 f"{args.data}")
    best = result.smoothed_losses.argmin()
    print(f"optimizer       {args.optimizer}")
    print(f"steps taken     {len(result.losses)} of {args.steps}"
          + (" (stopped: loss above 4x its minimum)"
             if result.stopped_early else ""))
    print(f"lowest loss     {result.smoothed_losses[best]:.4g} "
          f"(smoothed) at lr {result.learning_rates[best]:.3g}")
    print(f"suggested lr    {result.suggestion:.3g}  (rule: {result.rule})")
    print(f"plot            {args.plot}")
    return 0
