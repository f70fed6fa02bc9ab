"""`optlab tune`: search optimizer, learning rate, batch size and dropout.

With no recipe it runs tuning/mnist1d_mlp.toml (the main job). A recipe is a
TOML file, or the name of one in the recipes folder (`optlab tune quick`).

Several processes, on one machine or several sharing the directory, can run
one search: start `optlab tune RECIPE --chief --oracle HOST:PORT` once and
`optlab tune RECIPE --worker ID --oracle HOST:PORT` for each worker (Keras
Tuner's KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT
variables work too).
"""

import dataclasses
import importlib.resources
import os
import pathlib

from keras_optlab.cli.checks import UsageError
from keras_optlab.cli.checks import add_role_arguments
from keras_optlab.cli.checks import check_oracle
from keras_optlab.cli.checks import check_number
from keras_optlab.cli.checks import check_output_directory

NAME = "tune"
HELP = ("Search optimizer, learning rate, batch size and dropout with Keras "
        "Tuner (default recipe: tuning/mnist1d_mlp.toml).")

DEFAULT_RECIPE = "mnist1d_mlp"
TUNER_CHOICES = ("random", "bayesian", "hyperband", "grid")


def bundled_recipes():
    """The folder of the recipes that ship with keras_optlab: the package
    data `keras_optlab.recipes` of an install from a wheel (setup.py maps
    it to the repository's tuning/ folder); in a source checkout (`pip
    install -e .`, or the repository on sys.path), that tuning/ folder."""
    packaged = importlib.resources.files("keras_optlab").joinpath("recipes")
    if packaged.is_dir():
        return packaged
    return pathlib.Path(__file__).resolve().parents[3] / "tuning"


def recipe_dirs():
    """Where recipe names are looked up: ./tuning, then the bundled
    recipes."""
    dirs = [pathlib.Path.cwd() / "tuning", bundled_recipes()]
    unique = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def find_recipe(recipe):
    """The recipe file for a path or a name (`"quick"`, `"digits.toml"`)."""
    if recipe is None:
        recipe = DEFAULT_RECIPE
    candidate = pathlib.Path(recipe).expanduser()
    if candidate.is_file():
        return str(candidate)
    if candidate.suffix == "" or candidate.parent == pathlib.Path("."):
        filename = candidate.name if candidate.suffix else f"{recipe}.toml"
        for directory in recipe_dirs():
            if directory.joinpath(filename).is_file():
                return str(directory.joinpath(filename))
    searched = ", ".join(str(d) for d in recipe_dirs())
    raise UsageError(f"Recipe file not found. Received: recipe={recipe!r} "
                     f"(looked in the current folder and in {searched})")


def add_arguments(parser):
    parser.add_argument(
        "recipe", nargs="?", default=None, metavar="RECIPE",
        help="a recipe .toml file or the name of a bundled one (digits, "
             "imagenet_style, mnist1d, mnist1d_mlp, quick); default: "
             "mnist1d_mlp")
    parser.add_argument("--tuner", choices=TUNER_CHOICES,
                        help="override the recipe's tuner")
    parser.add_argument("--max-trials", type=int, metavar="N",
                        help="override the recipe's number of trials")
    parser.add_argument("--hyperband-iterations", type=int, metavar="N",
                        help="with the Hyperband tuner: how many times its "
                             "brackets run (overrides the recipe's [search] "
                             "hyperband_iterations; Keras Tuner's default "
                             "is 1)")
    parser.add_argument("--directory", metavar="D", default="optlab_runs",
                        help="where searches live, D/<recipe name> "
                             "(default: optlab_runs); an existing search "
                             "there is resumed")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh instead of resuming")
    parser.add_argument("--seed", type=int, metavar="S",
                        help="override the recipe's seed")
    parser.add_argument("--folds", type=int, metavar="K",
                        help="K-fold cross-validation (K >= 2) instead of "
                             "the validation split; overrides the recipe's "
                             "[data] folds")
    parser.add_argument("--no-pruning", action="store_true",
                        help="run every trial to its end (early stopping "
                             "still applies)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip training each optimizer at its defaults "
                             "after the search (the recipe's [search] "
                             "baseline)")
    parser.add_argument("--no-refit", action="store_true",
                        help="keep the best trial's own model instead of "
                             "retraining its configuration on training and "
                             "validation data together (the recipe's "
                             "[search] refit; not with folds)")
    add_role_arguments(parser, "trials")


def set_distributed_environment(args):
    """Turns --chief/--worker into Keras Tuner's environment variables."""
    oracle = check_oracle(args)
    if oracle is None:
        return
    os.environ["KERASTUNER_ORACLE_IP"], os.environ[
        "KERASTUNER_ORACLE_PORT"] = oracle
    if args.chief:
        os.environ["KERASTUNER_TUNER_ID"] = "chief"
    else:
        os.environ["KERASTUNER_TUNER_ID"] = f"worker_{args.worker}"


def check(args):
    """The options, the recipe, its data (read and checked) and the model
    built once on it, and the search directory; nothing is written.
    Returns `(path, recipe, data)`."""
    from keras_optlab.tuning import recipes

    if args.max_trials is not None:
        check_number("--max-trials", args.max_trials, low=1, integer=True)
    if args.seed is not None:
        check_number("--seed", args.seed, low=0, high=2**32 - 1,
                     integer=True)
    iterations = getattr(args, "hyperband_iterations", None)
    if iterations is not None:
        check_number("--hyperband-iterations", iterations, low=1,
                     integer=True)
    folds = getattr(args, "folds", None)
    if folds is not None:
        from keras_optlab.tuning.folds import MAX_FOLDS
        check_number("--folds", folds, low=2, high=MAX_FOLDS, integer=True)
    check_oracle(args)
    path = find_recipe(args.recipe)
    try:
        recipe = recipes.load_recipe(path)
        tuner = args.tuner or recipe.tuner
        if (folds or recipe.folds) and tuner == "hyperband":
            raise UsageError(
                "Cross-validation does not apply to the Hyperband tuner. "
                f"Received: folds={folds or recipe.folds}, tuner=hyperband")
        if iterations is not None:
            if tuner != "hyperband":
                raise UsageError(
                    "--hyperband-iterations applies only to the Hyperband "
                    f"tuner. Received: --hyperband-iterations={iterations}, "
                    f"tuner={tuner}")
            recipe = dataclasses.replace(recipe,
                                         hyperband_iterations=iterations)
        from keras_optlab.tuning.folds import check_refit
        if getattr(args, "no_refit", False):
            check_refit(False, folds or recipe.folds, name="--no-refit")
        check_refit(recipe.refit, folds or recipe.folds,
                    name="search.refit = false")
        check_output_directory("--directory",
                               os.path.join(args.directory, recipe.name))
        data = recipe.load_data()
        recipes.check_model_fits(recipe, recipe.model_builder(data))
    except ValueError as error:  # RecipeError, DatasetError
        raise UsageError(str(error)) from None
    return path, recipe, data


def run(args):
    from keras_optlab.tuning import results
    from keras_optlab.tuning import search as search_module
    from keras_optlab.tuning.search import run_search

    path, recipe, data = check(args)
    set_distributed_environment(args)
    print(f"recipe: {path}" + (f" ({recipe.description})"
                               if recipe.description else ""), flush=True)
    try:
        result = run_search(
            recipe, tuner=args.tuner, max_trials=args.max_trials,
            directory=args.directory, overwrite=args.overwrite,
            seed=args.seed, pruning=False if args.no_pruning else None,
            progress=lambda line: print(line, flush=True), data=data,
            folds=getattr(args, "folds", None),
            baseline=False if getattr(args, "no_baseline", False) else None,
            refit=False if getattr(args, "no_refit", False) else None)
    except search_module.SettingsMismatch as error:
        raise UsageError(str(error)) from None
    if result.role == "worker":
        print(f"worker done in {result.seconds:.1f} s; the chief writes the "
              "results", flush=True)
        return 0
    best = result.best
    print()
    print(results.format_table(result.rows, recipe.objective,
                               best["trial"] if best else None))
    print()
    if best is None:
        print("no trial completed")
        return 1
    config = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in best["optimizer_config"].items())
    spread = (f" ± {best['std']:.4f} over {len(best['folds'])} folds"
              if "std" in best else "")
    print(f"best: trial {best['trial']}, {best['objective']}="
          f"{best['value']:.4f}{spread}: {best['optimizer']}({config}), "
          f"batch_size={best['batch_size']}, "
          f"dropout={best['dropout']:.3g}")
    if best.get("refit"):
        chosen = ("the folds' mean best epoch" if "std" in best
                  else "the trial's best epoch")
        print(f"best model: retrained on all {best['refit']['samples']} "
              f"training samples for {best['refit']['epochs']} epochs "
              f"({chosen})")
    if best.get("test"):
        from keras_optlab.tuning.results import test_name
        name = test_name(best["objective"])
        print(f"test set (held out, used once): {name}="
              f"{best['test_value']:.4f} beside {best['objective']}="
              f"{best['value']:.4f}")
    if result.comparison:
        from keras_optlab.tuning import baseline

        print()
        print("each optimizer at its defaults:")
        print(results.format_table(result.defaults.rows, recipe.objective,
                                   result.defaults.best["trial"]))
        print()
        for line in baseline.describe(result.comparison):
            print(line)
    print(f"search took {result.seconds:.1f} s")
    print(f"results in {os.path.dirname(result.paths['trials_csv'])}:")
    for key in ("best_hyperparameters", "trials_csv", "trials_json",
                "best_model", "comparison"):
        if key in result.paths:
            print(f"  {os.path.basename(result.paths[key])}")
    print(f"TensorBoard: tensorboard --logdir {result.tensorboard_dir}")
    return 0
