"""The optimizers of a search at their defaults: the result a search must
beat to be worth running.

Schmidt, Schneider and Hennig (2021, "Descending through a crowded valley")
found that trying several optimizers at their default settings does about
as well as tuning one of them. So after a search, each optimizer of its
space is trained once more with every constructor argument at the class's
default (its learning rate included), on the recipe's model at its settings
outside a search (`Recipe.fixed_dropout`, `Recipe.middle_batch_size`), and
trained exactly as a trial is: the same epochs, early stopping, folds and
seeds, no pruning (every optimizer runs to its end).

The baseline is itself a Keras Tuner grid search, one trial per optimizer,
in the project's `defaults/` folder (`defaults_recipe`), so an interrupted
baseline resumes as a search does, its results and best model are written
as a search's are, and with a held-out test set its best model is scored
on it too.

`compare` then sets the search's best configuration against the best
optimizer at its defaults: the gain on the objective, and whether it is
larger than the fold-to-fold spread (the larger of the two standard
deviations over folds), the noise that separates two configurations of a
cross-validated search.
"""

import dataclasses
import inspect

from keras_optlab.optimizers.spec import Choices
from keras_optlab.tuning import space as space_module

#: The baseline's project, inside the search's project folder.
PROJECT = "defaults"


def default_learning_rate(info):
    """The learning rate an optimizer class takes when none is given: the
    default of its constructor (a Keras optimizer's own, for
    `"keras:<name>"`)."""
    parameters = inspect.signature(info.cls.__init__).parameters
    return float(parameters[space_module.LEARNING_RATE].default)


def defaults_space(space, batch_size, dropout):
    """A space holding each optimizer of `space` at its defaults, with one
    batch size and one dropout rate: a grid of one point per optimizer."""
    learning_rates = {name: Choices((default_learning_rate(space.info(name)),))
                      for name in space.optimizers}
    return space_module.SearchSpace(
        optimizers=list(space.optimizers), batch_sizes=(int(batch_size),),
        dropout=float(dropout), conditional=[],
        ranges={space_module.LEARNING_RATE: learning_rates})


def defaults_recipe(recipe, folds):
    """The recipe of `recipe`'s baseline: a grid search over its
    optimizers at their defaults, with `folds` as the search used."""
    space = defaults_space(recipe.space, recipe.middle_batch_size,
                           recipe.fixed_dropout)
    return dataclasses.replace(
        recipe, name=PROJECT, tuner="grid", max_trials=len(space.optimizers),
        initial_points=None, hyperband_iterations=None, pruning=False,
        folds=folds, space=space, baseline=False)


def compare(best, defaults_best, direction):
    """The search's `best` (a `results.best_summary`) against the best
    optimizer at its defaults (`defaults_best`, the same from the
    baseline), as a dict: `optimizer`, `learning_rate`, `value` and `std`
    (when cross-validated) at defaults, `gain` (positive when the search is
    better, in the objective's units), `spread` (the larger standard
    deviation over folds of the two, `None` without folds) and
    `beats_spread` (`gain > spread`; `None` without folds). With a test
    set, `test_value` and `defaults_test_value` too."""
    sign = 1.0 if direction == "max" else -1.0
    gain = sign * (best["value"] - defaults_best["value"])
    stds = [s for s in (best.get("std"), defaults_best.get("std"))
            if s is not None]
    spread = max(stds) if stds else None
    comparison = {
        "objective": best["objective"],
        "direction": direction,
        "best_trial": best["trial"],
        "value": best["value"],
        "optimizer": defaults_best["optimizer"],
        "learning_rate": defaults_best["optimizer_config"][
            space_module.LEARNING_RATE],
        "batch_size": defaults_best["batch_size"],
        "dropout": defaults_best["dropout"],
        "defaults_value": defaults_best["value"],
        "gain": gain,
        "spread": spread,
        "beats_spread": None if spread is None else gain > spread,
    }
    if "std" in best:
        comparison["std"] = best["std"]
    if "std" in defaults_best:
        comparison["defaults_std"] = defaults_best["std"]
    if best.get("test_value") is not None and \
            defaults_best.get("test_value") is not None:
        comparison["test_value"] = best["test_value"]
        comparison["defaults_test_value"] = defaults_best["test_value"]
    return comparison


def describe(comparison):
    """Two lines for the end of a search's output."""
    objective = comparison["objective"]

    def value(key, std_key):
        spread = comparison.get(std_key)
        return f"{comparison[key]:.4f}" + (
            f" ± {spread:.4f}" if spread is not None else "")

    lines = [
        f"best at defaults: {comparison['optimizer']}(learning_rate="
        f"{comparison['learning_rate']:.4g}), batch_size="
        f"{comparison['batch_size']}, dropout={comparison['dropout']:.3g}: "
        f"{objective}={value('defaults_value', 'defaults_std')} against the "
        f"search's {value('value', 'std')}"]
    gain = comparison["gain"]
    if comparison["spread"] is None:
        verdict = ("no fold-to-fold spread without cross-validation "
                   "(--folds K) to weigh it against")
    elif comparison["beats_spread"]:
        verdict = (f"more than the fold-to-fold spread "
                   f"({comparison['spread']:.4f}): tuning paid")
    else:
        verdict = (f"not more than the fold-to-fold spread "
                   f"({comparison['spread']:.4f}): the defaults do as well "
                   "within the noise")
    if gain == 0:
        line = f"the search ties the defaults on {objective}, {verdict}"
    else:
        better = "better" if gain > 0 else "worse"
        line = (f"the search is {abs(gain):.4f} {better} on {objective}, "
                f"{verdict}")
    if "test_value" in comparison:
        line += (f"; on the test set {comparison['test_value']:.4f} against "
                 f"{comparison['defaults_test_value']:.4f} at defaults")
    lines.append(line)
    return lines
