"""The tree shows the architecture, and moved modules keep their old names
for one release.

- keras_optlab/optimizers/ holds update rules only, one registered optimizer
  per file, beside base.py, registry.py, spec.py (the hyperparameter
  tables' vocabulary), validation.py and wrappers/.
- keras_optlab/engine/ imports nothing of keras_optlab.optimizers (the
  engine knows an optimizer only as the object it is handed).
- Every old module path of `keras_optlab._moved.MOVED` imports the very
  module object of its new path, with a DeprecationWarning naming both; so
  does every moved name of `MOVED_NAMES` (the training helpers' old names
  in `keras_optlab.optimizers`, the argument checks' in `keras_optlab.cli`).
"""

import ast
import importlib
import pathlib

import pytest

import keras_optlab
from keras_optlab import _moved
from keras_optlab import optimizers

PACKAGE = pathlib.Path(keras_optlab.__file__).parent
OPTIMIZERS = PACKAGE / "optimizers"
NOT_RULES = {"__init__.py", "base.py", "registry.py", "spec.py",
             "keras_builtins.py",
             "validation.py"}


def _registered_in(path):
    tree = ast.parse(path.read_text())
    return [
        node.name for node in tree.body if isinstance(node, ast.ClassDef)
        and any(isinstance(d, ast.Call) and getattr(d.func, "id", "")
                == "register" for d in node.decorator_list)
    ]


def test_optimizers_folder_holds_one_rule_per_file():
    rule_files = sorted(p for p in OPTIMIZERS.glob("*.py")
                        if p.name not in NOT_RULES)
    assert len(rule_files) == len(optimizers.available())
    for path in rule_files:
        assert len(_registered_in(path)) == 1, path.name
    folders = sorted(p.name for p in OPTIMIZERS.iterdir()
                     if p.is_dir() and p.name != "__pycache__")
    assert folders == ["wrappers"]


def test_engine_does_not_import_the_optimizers():
    for path in (PACKAGE / "engine").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith("keras_optlab.optimizers"), (
                    path.name, name)


@pytest.mark.parametrize("old, new", sorted(_moved.MOVED.items()))
def test_old_module_paths_alias_the_new_modules(old, new):
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__spec__.name == new
    assert module.__name__ == new


@pytest.mark.parametrize("package, name", sorted(_moved.MOVED_NAMES))
def test_moved_names_warn_and_are_the_new_objects(package, name):
    new_module = _moved.MOVED_NAMES[(package, name)]
    with pytest.warns(DeprecationWarning, match=f"{new_module}.{name}"):
        old = getattr(importlib.import_module(package), name)
    assert old is getattr(importlib.import_module(new_module), name)


def test_unknown_attribute_still_fails():
    with pytest.raises(AttributeError, match="no_such_optimizer"):
        optimizers.no_such_optimizer  # noqa: B018
