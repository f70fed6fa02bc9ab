"""`optlab compare`: optimizers under the same learning-rate budget."""

from keras_optlab.cli.checks import UsageError
from keras_optlab.cli.checks import check_number
from keras_optlab.cli.checks import check_numbers
from keras_optlab.cli.checks import check_output_directory

NAME = "compare"
HELP = ("Train the same model (the digits MLP, or a tuning recipe's model "
        "and data) with each optimizer from the same initial weights under "
        "the same learning-rate budget; write a table, learning curves and "
        "TensorBoard runs.")


def add_arguments(parser):
    parser.add_argument(
        "--recipe", default=None, metavar="RECIPE",
        help="a tuning recipe (tuning/*.toml): its dataset, model, epochs, "
             "batch size (the middle of space.batch_sizes), seed, optimizers "
             "and per-optimizer learning-rate ranges; options given here "
             "override them (default: the digits MLP)")
    parser.add_argument(
        "--optimizers", default=None,
        help="comma-separated registered names or keras:<Class> (default: "
             "the recipe's space.optimizers, else momentum,rmsprop,adam)")
    parser.add_argument(
        "--lrs", default=None,
        help="comma-separated learning rates tried for every optimizer "
             "(default: three per optimizer: with a recipe, the quartiles "
             "of its log-scale range in keras_optlab.tuning.space; on "
             "digits, keras_optlab.lab.compare.default_grid)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="per run (default: the recipe's search.epochs, "
                             "else 10)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default: the middle of the recipe's "
                             "space.batch_sizes, else 64")
    parser.add_argument("--target", default=None,
                        help="validation accuracy for 'epochs/seconds to "
                             "target', or 'auto': the lowest best accuracy "
                             "among the optimizers, rounded down to 0.01 "
                             "(default: 0.95 on digits, auto with a recipe)")
    parser.add_argument("--out", default="optlab_compare",
                        help="directory for compare.md, curves.png, "
                             "records.jsonl and tensorboard/; a rerun with "
                             "the same --out takes the runs it finds there "
                             "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None,
                        help="initial weights and data order (default: the "
                             "recipe's search.seed, else 0)")


def _target(text):
    if text is None or text == "auto":
        return text
    return check_number("--target", text, low=0.0, high=1.0, closed="(]")


def check(args):
    """Arguments, recipe, data and output folder, and the model built once
    on the data; returns what `run` trains and writes."""
    from keras_optlab.cli.commands.tune import find_recipe
    from keras_optlab.lab import compare
    from keras_optlab.tuning import recipes

    lrs = (check_numbers("--lrs", args.lrs, low=0.0, closed="(]")
           if args.lrs is not None else None)
    target = _target(args.target)
    check_output_directory("--out", args.out)
    try:
        recipe = (recipes.load_recipe(find_recipe(args.recipe))
                  if args.recipe is not None else None)
        if args.optimizers is not None:
            names = [n.strip() for n in args.optimizers.split(",")
                     if n.strip()]
        elif recipe is not None:
            names = list(recipe.space.optimizers)
        else:
            names = ["momentum", "rmsprop", "adam"]
        problem, grids, epochs, batch_size, seed = compare.prepare(
            names, lrs, epochs=args.epochs, batch_size=args.batch_size,
            target_accuracy=target, seed=args.seed, recipe=recipe)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error).splitlines()[0]) from None
    return recipe, target, problem, grids, epochs, batch_size, seed


def run(args):
    import os

    from keras_optlab import atomic
    from keras_optlab.lab import compare

    (recipe, target, problem, grids, epochs, batch_size,
     seed) = check(args)
    best, runs = compare.train_all(
        problem, grids, epochs, batch_size,
        log_dir=os.path.join(args.out, "tensorboard"), seed=seed,
        out=args.out, problem_name=compare.describe(recipe),
        progress=lambda line: print(line, flush=True))
    target, how = compare.resolve_target(target, best, recipe)
    table = compare.format_table(best, target)
    os.makedirs(args.out, exist_ok=True)
    lines = [f"{compare.describe(recipe)}; {epochs} epochs, batch "
             f"{batch_size}, seed {seed}, {len(runs)} runs; best learning "
             "rate of each optimizer by validation accuracy; target "
             f"accuracy {target:g} ({how}).",
             "", table, ""]
    notes = compare.edge_notes(best, runs)
    lines += notes + ([""] if notes else []) + ["All runs:", ""]
    lines += [f"- `{r.optimizer}` lr {r.learning_rate:g}: best val accuracy "
              f"{r.best_accuracy:.4f}, best val loss {r.best_loss:.4f}"
              for r in runs]
    atomic.write_text(os.path.join(args.out, "compare.md"),
                      "\n".join(lines) + "\n")
    compare.plot_curves(best, os.path.join(args.out, "curves.png"))
    print(table)
    print(f"target accuracy {target:g} ({how})")
    print(f"wrote {args.out}/compare.md, {args.out}/curves.png and "
          f"TensorBoard runs under {args.out}/tensorboard")
    return 0
