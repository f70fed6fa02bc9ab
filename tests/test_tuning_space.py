"""The search space and the pruning rule, without training."""

import keras_tuner as kt
import pytest

from keras_optlab import optimizers
from keras_optlab.tuning import space as space_module
from keras_optlab.tuning.pruning import MedianPruning
from keras_optlab.tuning.pruning import should_prune
from keras_optlab.tuning.space import Choices
from keras_optlab.tuning.space import FloatRange
from keras_optlab.tuning.space import SearchSpace


def declared(space):
    hp = kt.HyperParameters()
    space.declare(hp)
    return hp


def test_every_registered_optimizer_is_a_choice():
    hp = declared(SearchSpace())
    choice = next(p for p in hp.space if p.name == "optimizer")
    assert list(choice.values) == [i.name for i in optimizers.available()]


def test_conditional_hyperparameters_follow_family_and_constructor():
    space = SearchSpace()
    searched = {name: set(space.arguments(name)) for name in space.optimizers}
    assert searched["gradient_descent"] == {"learning_rate"}
    assert searched["momentum"] == {"learning_rate", "momentum"}
    assert searched["nesterov"] == {"learning_rate", "momentum"}
    assert searched["rmsprop"] == {"learning_rate", "momentum"}
    assert searched["adagrad"] == {"learning_rate"}
    assert searched["adam"] == {"learning_rate", "beta_2", "epsilon"}
    # AdamW takes beta_2 and epsilon through Adam's constructor.
    assert searched["adamw"] == {"learning_rate", "beta_2", "epsilon",
                                 "weight_decay"}
    assert {"beta_2", "epsilon"} <= searched["nadam"]
    eps = space.arguments("adam")["epsilon"]
    assert (eps.sampling, eps.high) == ("log", 1.0)
    lr = space.arguments("adam")["learning_rate"]
    assert lr.sampling == "log"


def test_conditional_values_appear_only_with_their_optimizer():
    space = SearchSpace(optimizers=["gradient_descent", "momentum", "adam"])
    hp = declared(space)
    for name in space.optimizers:
        hp.values["optimizer"] = name
        hp.ensure_active_values()
        own = {k.split("/")[0] for k in hp.values if "/" in k}
        assert own == {name}
        built_name, kwargs = space.optimizer_config(hp)
        assert built_name == name and set(kwargs) == set(
            space.arguments(name))
        optimizer = space.build_optimizer(hp)
        assert isinstance(optimizer, optimizers.lookup(name).cls)
        assert float(optimizer.learning_rate) == pytest.approx(
            hp.values[f"{name}/learning_rate"], rel=1e-6)


# What the three tables of 0.1.0 (LEARNING_RATE_RANGES by name, then by
# family, and CONDITIONAL_HYPERPARAMETERS by family and constructor) gave
# each optimizer; the optimizers' own tables now give the same.
LR = {"sgd": FloatRange(1e-4, 1e-1, "log"),
      "adam": FloatRange(1e-5, 1e-2, "log")}
BETA_2 = Choices((0.99, 0.999, 0.9999))
EPSILON = FloatRange(1e-8, 1.0, "log")
DECAY = FloatRange(1e-5, 1e-1, "log")
MOMENTUM = FloatRange(0.5, 0.99)
ADAM = {"learning_rate": LR["adam"], "beta_2": BETA_2, "epsilon": EPSILON}
SEARCHED_IN_0_1_0 = {
    "gradient_descent": {"learning_rate": FloatRange(1e-3, 1.0, "log")},
    "momentum": {"learning_rate": LR["sgd"], "momentum": MOMENTUM},
    "nesterov": {"learning_rate": LR["sgd"], "momentum": MOMENTUM},
    "adagrad": {"learning_rate": FloatRange(1e-3, 1.0, "log")},
    "adadelta": {"learning_rate": FloatRange(1e-2, 10.0, "log")},
    "rmsprop": {"learning_rate": FloatRange(1e-5, 1e-2, "log"),
                "momentum": FloatRange(0.0, 0.9)},
    "adam": {**ADAM, "learning_rate": FloatRange(1e-5, 1e-1, "log")},
    "adamw": {**ADAM, "weight_decay": DECAY},
    "adamax": {**ADAM, "learning_rate": FloatRange(1e-4, 1e-1, "log")},
    "nadam": ADAM, "radam": ADAM, "yogi": ADAM, "adabelief": ADAM,
    "novograd": {**ADAM, "weight_decay": DECAY},
    "lazyadam": ADAM, "qhadam": ADAM, "adabound": ADAM,
    "adan": {**ADAM, "weight_decay": DECAY},
    "lars": {"learning_rate": LR["sgd"], "momentum": MOMENTUM},
    "prodigy": {**ADAM, "weight_decay": DECAY},
    # Issue 14 (opt-a): not in 0.1.0; their own tables' ranges.
    "adopt": {"learning_rate": LR["adam"], "beta_2": BETA_2},
    "lion": {"learning_rate": FloatRange(1e-6, 1e-3, "log"),
             "beta_2": Choices((0.98, 0.99))},
    "lamb": {"learning_rate": FloatRange(1e-4, 1e-1, "log"),
             "beta_2": BETA_2, "weight_decay": DECAY},
    # Added after 0.1.0 (issue 14, opt-b), from their own tables.
    "madgrad": {"learning_rate": LR["sgd"], "momentum": MOMENTUM,
                "weight_decay": DECAY},
    "ademamix": ADAM,
    # Issue 14 (dadapt): a multiplier on d around its default 1.0.
    "dadaptadam": {**ADAM, "learning_rate": FloatRange(1e-2, 10.0, "log"),
                   "weight_decay": DECAY},
    "dadaptsgd": {"learning_rate": FloatRange(1e-2, 10.0, "log"),
                  "momentum": MOMENTUM, "weight_decay": DECAY},
    # Issue 14 (muon, sf, mars, shampoo), from their own tables.
    "muon": {"learning_rate": FloatRange(1e-3, 1e-1, "log"),
             "momentum": FloatRange(0.8, 0.99),
             "adam_lr_ratio": FloatRange(1e-3, 1.0, "log"),
             "adam_beta_2": Choices((0.95, 0.99, 0.999)),
             "weight_decay": DECAY},
    "schedule_free_sgd": {"learning_rate": FloatRange(1e-2, 10.0, "log"),
                          "weight_decay": DECAY},
    "schedule_free_adamw": {**ADAM,
                            "learning_rate": FloatRange(1e-4, 1e-1, "log"),
                            "weight_decay": DECAY},
    "schedule_free_radam": {**ADAM,
                            "learning_rate": FloatRange(1e-4, 1e-1, "log"),
                            "weight_decay": DECAY},
    "mars": {"learning_rate": LR["adam"], "beta_2": BETA_2,
             "gamma": FloatRange(0.0, 0.1), "epsilon": EPSILON},
    "shampoo": {"learning_rate": LR["adam"],
                "beta_2": Choices((0.99, 0.999, 1.0)),
                "epsilon": FloatRange(1e-12, 1e-2, "log")},
    # Issue 14 (adafactor): the cap of the relative step (paper: 1e-2).
    "adafactor": {"learning_rate": FloatRange(1e-4, 1e-1, "log")},
    # Issue 14 (soap): the paper's beta_2 0.95 and 0.99, and Adam's.
    "soap": {"learning_rate": LR["adam"],
             "beta_2": Choices((0.95, 0.99, 0.999)), "epsilon": EPSILON,
             "weight_decay": DECAY},
}


def test_search_ranges_are_those_of_0_1_0():
    space = SearchSpace()
    assert sorted(space.optimizers) == sorted(SEARCHED_IN_0_1_0)
    for name in space.optimizers:
        assert space.arguments(name) == SEARCHED_IN_0_1_0[name], name
        info = optimizers.lookup(name)
        assert space_module.default_learning_rate_range(info) == \
            SEARCHED_IN_0_1_0[name]["learning_rate"]
    # 0.1.0's four, then those of optimizers added since (Muon's AdamW,
    # MARS' gamma), in registry order.
    assert space_module.conditional_names() == [
        "momentum", "beta_2", "epsilon", "weight_decay", "adam_lr_ratio",
        "adam_beta_2", "gamma"]
    assert space_module.search_kinds() == {
        "learning_rate": "log", "momentum": "linear", "beta_2": "choices",
        "epsilon": "log", "weight_decay": "log", "adam_lr_ratio": "log",
        "adam_beta_2": "choices", "gamma": "linear"}


def test_overrides_and_subsets():
    space = SearchSpace(
        optimizers=["adam"], conditional=["epsilon"],
        ranges={"learning_rate": {"adam": FloatRange(1e-3, 1.0, "log")}})
    assert set(space.arguments("adam")) == {"learning_rate", "epsilon"}
    assert space.arguments("adam")["learning_rate"].high == 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"optimizers": ["adamz"]}, "optimizers='adamz'"),
    ({"optimizers": []}, "optimizers=[]"),
    ({"conditional": ["rho2"]}, "conditional='rho2'"),
    ({"batch_sizes": ()}, "batch_sizes=()"),
])
def test_bad_space_names_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(
            ")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        SearchSpace(**kwargs)


def test_median_rule():
    finished = [[0.5, 0.7, 0.8], [0.6, 0.8, 0.9], [0.4, 0.6, 0.7]]
    # Below the median (0.5) at epoch 0 after warm-up 0: pruned.
    assert should_prune([0.3], 0, finished, "max", 1, 0)
    # Same values but warm-up not over.
    assert not should_prune([0.3], 0, finished, "max", 1, 1)
    # Not enough finished trials yet: never prunes the first trials.
    assert not should_prune([0.0], 0, [], "max", 1, 0)
    assert not should_prune([0.0], 0, finished, "max", 4, 0)
    # The best value so far counts (Optuna's rule): 0.75 beats 0.7.
    assert not should_prune([0.75, 0.65], 1, finished, "max", 1, 0)
    # Minimised objective: above the median is worse.
    assert should_prune([1.0], 0, [[0.5], [0.6]], "min", 1, 0)
    assert not should_prune([0.4], 0, [[0.5], [0.6]], "min", 1, 0)
    # No finished trial reached this epoch: keep going.
    assert not should_prune([0.1] * 5, 4, finished, "max", 1, 0)
    # NaN objective is pruned once pruning is allowed.
    assert should_prune([float("nan")], 0, finished, "max", 1, 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_startup_trials": 0}, "n_startup_trials=0"),
    ({"n_warmup_steps": -1}, "n_warmup_steps=-1"),
    ({"objective": "my_score"}, "objective='my_score'"),
])
def test_bad_pruning_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MedianPruning(**kwargs)
