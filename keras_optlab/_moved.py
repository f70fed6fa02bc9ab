"""Modules and names that moved in 0.2.0, importable under their old names
for one release with a DeprecationWarning.

The old name is an alias of the new module (the same module object), so
classes keep their identity and saved models their registered names.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "keras_optlab.bench": "keras_optlab.lab.bench",
    "keras_optlab.compare": "keras_optlab.lab.compare",
    "keras_optlab.landscape": "keras_optlab.lab.landscape",
    "keras_optlab.landscape.functions": "keras_optlab.lab.landscape.functions",
    "keras_optlab.landscape.plotting": "keras_optlab.lab.landscape.plotting",
    "keras_optlab.landscape.trajectory":
        "keras_optlab.lab.landscape.trajectory",
    "keras_optlab.lr_finder": "keras_optlab.training.lr_finder",
    "keras_optlab.resume": "keras_optlab.training.resume",
    "keras_optlab.optimizers.fused": "keras_optlab.engine.fused",
    "keras_optlab.optimizers.hlo": "keras_optlab.engine.hlo",
    "keras_optlab.optimizers.nonfinite": "keras_optlab.engine.nonfinite",
    "keras_optlab.optimizers.sparse": "keras_optlab.engine.sparse",
    "keras_optlab.optimizers.torch_compiled":
        "keras_optlab.engine.torch_compiled",
    "keras_optlab.optimizers.lookahead":
        "keras_optlab.optimizers.wrappers.lookahead",
    "keras_optlab.optimizers.swa": "keras_optlab.optimizers.wrappers.swa",
    "keras_optlab.optimizers.wrapper":
        "keras_optlab.optimizers.wrappers.wrapper",
    "keras_optlab.optimizers.sam": "keras_optlab.training.sam",
    "keras_optlab.commands": "keras_optlab.cli.commands",
    **{f"keras_optlab.commands.{name}": f"keras_optlab.cli.commands.{name}"
       for name in ("bench", "compare", "landscape", "list_optimizers",
                    "lr_find", "tune")},
}


# Names a package no longer defines itself: (package, name) -> new module.
MOVED_NAMES = {
    **{("keras_optlab.optimizers", name): "keras_optlab.training"
       for name in ("SAMModel", "sam_train_step", "SWACallback",
                    "swa_batch_norm_update")},
    **{("keras_optlab.cli", name): "keras_optlab.cli.checks"
       for name in ("UsageError", "check_output_file",
                    "check_output_directory", "check_number",
                    "check_numbers")},
}


def moved_attribute(package, name):
    """For a package's `__getattr__`: the moved `name`, with a warning."""
    new_module = MOVED_NAMES.get((package, name))
    if new_module is None:
        raise AttributeError(
            f"module {package!r} has no attribute {name!r}"
        )
    warnings.warn(
        f"{package}.{name} moved to {new_module}.{name} in 0.2.0; the old "
        "name will be removed in 0.3.0.",
        DeprecationWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module(new_module), name)


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new_name):
        self.new_name = new_name

    def create_module(self, spec):
        module = importlib.import_module(self.new_name)
        self.real_spec = module.__spec__
        return module

    def exec_module(self, module):
        # The import system stamps the alias' spec on the module it got
        # from create_module; the module keeps its own.
        module.__spec__ = self.real_spec


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the old names of moved modules (see `MOVED`)."""

    def find_spec(self, fullname, path=None, target=None):
        new_name = MOVED.get(fullname)
        if new_name is None:
            return None
        warnings.warn(
            f"{fullname} moved to {new_name} in 0.2.0; the old name will be "
            "removed in 0.3.0.",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.util.spec_from_loader(
            fullname, _AliasLoader(new_name)
        )


def install():
    # First: a moved package's old name has the new `__path__`, where the
    # path finder would load its submodules a second time under old names.
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())
