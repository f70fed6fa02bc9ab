"""Does retraining a search's chosen configuration on all the training data
test better than the trial's own model? For each configuration the
MNIST-1D head-to-head's `optlab` runs ended with (read from its records,
`benchmarks/tuning_head_to_head_1200/head_to_head.json`), or those of
other searches (`--best`: their `results/best_hyperparameters.json`, with
`--recipe` the recipe they searched), several initialisation seeds of:

- the trial as the search trains it: the recipe's training part (3200 of
  MNIST-1D's sequences), early stopping on the validation part (800), best
  weights restored;
- the refit: the same configuration trained on the training and
  validation parts together for the epochs that trial chose (its best
  epoch), no validation data;

both scored on the recipe's test set. Prints one line per run and the
means; `--json` writes them.

    python benchmarks/refit_best.py [--seeds 0 1 2] [--json out.json]
        [--recipe tuning/digits.toml --best a/best_hyperparameters.json ...]
"""

import argparse
import json
import os
import pathlib
import statistics
import time

ROOT = pathlib.Path(__file__).parents[1]
RECORDS = ROOT / "benchmarks" / "tuning_head_to_head_1200" / "head_to_head.json"
RECIPE = ROOT / "tuning" / "mnist1d.toml"


def chosen_configurations(records):
    """{run: the configuration its search ended with} for the optlab runs."""
    runs = json.loads(pathlib.Path(records).read_text())["runs"]
    return {key: run["curve"][-1]["config"]
            for key, run in sorted(runs.items())
            if key.startswith("optlab/") and run["curve"]}


def best_configurations(paths):
    """{path: the best configuration} of searches' best_hyperparameters.json
    files."""
    return {path: json.loads(pathlib.Path(path).read_text())[
        "hyperparameters"] for path in paths}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--records", default=str(RECORDS))
    parser.add_argument("--recipe", default=str(RECIPE))
    parser.add_argument("--best", nargs="+", metavar="JSON",
                        help="best_hyperparameters.json files, in place of "
                             "--records")
    parser.add_argument("--json")
    arguments = parser.parse_args(argv)
    bad = [s for s in arguments.seeds if s < 0]
    if bad:
        parser.error(f"--seeds must be non-negative. Received: {bad[0]}")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import keras_tuner as kt
    import numpy as np

    from keras_optlab.tuning import hypermodel as hypermodel_module
    from keras_optlab.tuning import recipes
    from keras_optlab.tuning import search

    recipe = recipes.load_recipe(arguments.recipe)
    data = recipe.load_data()
    hypermodel = hypermodel_module.OptimizerHyperModel(
        recipe.space, model=recipe.model, input_shape=data.input_shape,
        num_classes=data.num_classes, model_options=recipe.model_options,
        epochs=recipe.epochs, objective=recipe.objective,
        direction=recipe.direction)
    x_all = np.concatenate([data.x_train, data.x_val])
    y_all = np.concatenate([data.y_train, data.y_val])

    def test_accuracy(model):
        return float(model.evaluate(data.x_test, data.y_test, verbose=0,
                                    return_dict=True)["accuracy"])

    rows = []
    configurations = (best_configurations(arguments.best) if arguments.best
                      else chosen_configurations(arguments.records))
    for run, config in configurations.items():
        hp = kt.HyperParameters()
        recipe.space.declare(hp)
        hp.values.update(config)
        for seed in arguments.seeds:
            keras.utils.set_random_seed(seed)
            model = hypermodel.build(hp)
            start = time.perf_counter()
            metrics = hypermodel.fit(
                hp, model, data.x_train, data.y_train,
                validation_data=(data.x_val, data.y_val), verbose=0,
                callbacks=[search.early_stopping(recipe)])
            trial_seconds = time.perf_counter() - start
            epochs = int(metrics[hypermodel_module.BEST_EPOCH]) + 1
            trial_test = test_accuracy(model)
            start = time.perf_counter()
            refit = search.retrain_best(hypermodel, hp, epochs, x_all, y_all,
                                        seed)
            refit_seconds = time.perf_counter() - start
            row = {"run": run, "seed": seed, "optimizer": config["optimizer"],
                   "val": metrics[recipe.objective], "epochs": epochs,
                   "trial_test": trial_test, "refit_test": test_accuracy(refit),
                   "trial_seconds": trial_seconds,
                   "refit_seconds": refit_seconds}
            rows.append(row)
            print(f"{run} seed {seed} ({row['optimizer']}): val "
                  f"{row['val']:.3f}, best epoch {epochs}; test: trial "
                  f"{trial_test:.3f}, refit {row['refit_test']:.3f} "
                  f"({trial_seconds:.0f} s + {refit_seconds:.0f} s)",
                  flush=True)
    for run in sorted({r["run"] for r in rows}):
        mine = [r for r in rows if r["run"] == run]
        print(f"{run}: mean test, trial "
              f"{statistics.mean(r['trial_test'] for r in mine):.3f}, refit "
              f"{statistics.mean(r['refit_test'] for r in mine):.3f}")
    print(f"all: mean test, trial "
          f"{statistics.mean(r['trial_test'] for r in rows):.3f}, refit "
          f"{statistics.mean(r['refit_test'] for r in rows):.3f}; refit "
          f"better in {sum(r['refit_test'] > r['trial_test'] for r in rows)}"
          f" of {len(rows)}")
    if arguments.json:
        pathlib.Path(arguments.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
