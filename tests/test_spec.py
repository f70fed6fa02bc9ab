"""Each optimizer's hyperparameter table (keras_optlab/optimizers/spec.py)
against what it drives: the signatures, `get_config`, docs/optimizers.md
and `available()`. Bad values: tests/test_validation.py; the search space:
tests/test_tuning_space.py; drawn ranges: tests/test_properties.py."""

import inspect
import os

import pytest

from keras_optlab import optimizers
from keras_optlab.optimizers.base import OptlabOptimizer

INFOS = {info.name: info for info in optimizers.available()}
DOCS = os.path.join(os.path.dirname(__file__), "..", "docs", "optimizers.md")


def signature_defaults(cls):
    """{argument: default} of the keyword arguments `cls` takes itself (its
    own and its keras_optlab parents' `__init__`), nearest class first."""
    defaults = {}
    for klass in cls.__mro__:
        if klass is OptlabOptimizer:
            break
        if "__init__" in vars(klass):
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in (
                        "self", "name"):
                    defaults.setdefault(p.name, p.default)
    return defaults


@pytest.mark.parametrize("name", INFOS)
def test_table_matches_the_signature(name):
    cls = INFOS[name].cls
    rows = {row.name: row for row in cls.hyperparameters}
    assert list(rows)[0] == "learning_rate"
    assert len(rows) == len(cls.hyperparameters), "a name declared twice"
    defaults = signature_defaults(cls)
    assert sorted(rows) == sorted(defaults)
    for argument, default in defaults.items():
        assert rows[argument].default == default, argument
        assert rows[argument].check(default) == default, argument
        assert rows[argument].doc, argument


@pytest.mark.parametrize("name", INFOS)
def test_config_holds_every_row(name):
    optimizer = optimizers.get(name)
    config = optimizer.get_config()
    for row in type(optimizer).hyperparameters:
        if row.name == "learning_rate":  # a float32 variable
            assert config[row.name] == pytest.approx(row.default, rel=1e-7)
        else:
            assert config[row.name] == row.default, row.name
    rebuilt = type(optimizer).from_config(config)
    assert rebuilt.get_config() == config


def test_docs_table_is_generated_from_the_tables():
    """Regenerate with: python -c "from keras_optlab import optimizers;
    print(optimizers.hyperparameter_markdown(), end='')" > docs/optimizers.md
    """
    with open(DOCS, encoding="utf-8") as f:
        assert f.read() == optimizers.hyperparameter_markdown()


# Decay at y inside the step (Defazio et al. 2024).
SCHEDULE_FREE = {"schedule_free_sgd", "schedule_free_adamw",
                 "schedule_free_radam"}


def test_weight_decay_coupled_where_the_paper_puts_it_in_the_rule():
    coupled = {name for name, info in INFOS.items()
               if info.weight_decay == "coupled"}
    assert coupled == {"novograd", "adan", "lars", "prodigy", "lamb",
                       "madgrad", "dadaptadam", "dadaptsgd"} | SCHEDULE_FREE
    for name, info in INFOS.items():
        assert (info.weight_decay == "coupled") == \
            info.cls.couples_weight_decay
    text = optimizers.hyperparameter_markdown()
    assert text.count("Weight decay: coupled.") == len(coupled)


def test_rows_for_the_cli():
    rows = INFOS["adam"].hyperparameters
    epsilon = next(r for r in rows if r[0] == "epsilon")
    assert epsilon[:5] == ("epsilon", "1e-07", "(0.0, inf)",
                           "log [1e-08, 1]", "1e-08")


# (class name, 0.1.0's "paper" reads as) for every class with the choice.
PAPER_MEANT = [("adam", "outside"), ("adamw", "outside"),
               ("lazyadam", "outside"), ("nadam", "outside"),
               ("radam", "outside"), ("adagrad", "outside"),
               ("adan", "inside")]


def test_every_epsilon_mode_is_in_the_vocabulary():
    with_choice = set()
    for name, info in INFOS.items():
        for row in info.cls.hyperparameters:
            if row.name == "epsilon_mode":
                with_choice.add(name)
                assert set(row.choices) <= {"inside", "outside", "hat"}
    assert with_choice == {name for name, _ in PAPER_MEANT}


@pytest.mark.parametrize("name, meaning", PAPER_MEANT)
def test_epsilon_mode_paper_of_0_1_0_still_loads(name, meaning):
    with pytest.warns(DeprecationWarning, match=f"'{meaning}'"):
        optimizer = optimizers.get(name, epsilon_mode="paper")
    assert optimizer.epsilon_mode == meaning
    config = optimizer.get_config()
    assert config["epsilon_mode"] == meaning
    config["epsilon_mode"] = "paper"  # as 0.1.0 wrote it
    with pytest.warns(DeprecationWarning):
        restored = type(optimizer).from_config(config)
    assert restored.epsilon_mode == meaning


def test_adan_config_of_0_1_0_loads_with_its_old_meaning():
    """0.1.0 took Adan's betas as weights of the new term (arXiv v1) and
    wrote no `beta_convention`: beta -> 1 - beta on loading, with a
    warning. A config written now round-trips unchanged."""
    new = optimizers.get("adan", beta_1=0.9, beta_2=0.75, beta_3=0.5)
    config = new.get_config()
    assert config["beta_convention"] == "decay"
    assert type(new).from_config(config).get_config() == config
    old = dict(config, beta_1=0.1, beta_2=0.25, beta_3=0.5)
    del old["beta_convention"]
    with pytest.warns(UserWarning, match="beta_1=0.1 -> 0.9"):
        loaded = type(new).from_config(old)
    assert (loaded.beta_1, loaded.beta_2, loaded.beta_3) == (0.9, 0.75, 0.5)
    with pytest.warns(UserWarning):
        via_get = optimizers.get({"class_name": "Adan", "config": old})
    assert via_get.beta_1 == 0.9
    defaults = optimizers.get("adan")
    assert (defaults.beta_1, defaults.beta_2, defaults.beta_3) == (
        0.98, 0.92, 0.99)


def test_optlab_list_prints_the_tables(capsys):
    from keras_optlab import cli

    assert cli.main(["list", "--hyperparameters"]) == 0
    assert capsys.readouterr().out == optimizers.hyperparameter_markdown()
