"""keras_optlab's Keras classes registered with Keras, without importing it.

`keras.saving.load_model` finds our optimizers, wrappers and schedules by
their registered names (`keras_optlab>Adam`) once the modules defining them
have run. Importing Keras imports its backend (TensorFlow: seconds), and
`import keras_optlab` must stay cheap (`optlab --help` answers at once), so
the package registers its classes as soon as both it and Keras are
imported, in either order:

1. keras already imported when keras_optlab is: `register()` at once.
2. keras not yet imported: a finder on `sys.meta_path` watches the imports
   of `keras` and of our own modules, and calls `register()` right after
   `import keras` finishes, or, when one of our modules imports keras (it
   may be half-executed then, so importing the registering modules could
   fail), right after the outermost of our modules being imported has
   finished. The finder then removes itself.
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading

# The packages whose import registers every class of keras_optlab that
# keras.saving knows by name (tests/test_cli_start_up.py checks the list).
MODULES = ("keras_optlab.optimizers", "keras_optlab.schedules",
           "keras_optlab.training")
# Loaders made for one file each (watched in place).
_FILE_LOADERS = (importlib.machinery.SourceFileLoader,
                 importlib.machinery.SourcelessFileLoader,
                 importlib.machinery.ExtensionFileLoader)

_lock = threading.RLock()
_registered = False
_executing = threading.local()  # .depth: our modules being executed


def register():
    """Imports the registering modules (once)."""
    global _registered
    with _lock:
        if _registered:
            return
        _registered = True
        _uninstall()
    for name in MODULES:
        importlib.import_module(name)


def register_now_or_after_keras():
    """`register()` now if keras is imported, else right after it is."""
    if "keras" in sys.modules:
        register()
        return
    with _lock:
        if not _registered and not any(isinstance(f, _AfterKeras)
                                       for f in sys.meta_path):
            sys.meta_path.insert(0, _AfterKeras())


def _uninstall():
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not isinstance(f, _AfterKeras)]


def _register_if_ready():
    if getattr(_executing, "depth", 0) == 0 and "keras" in sys.modules:
        register()


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Finds nothing itself: lets the other finders find `keras` and
    `keras_optlab.*`, and runs `_register_if_ready` after each executes."""

    def find_spec(self, name, path, target=None):
        ours = name.startswith("keras_optlab.")
        if name != "keras" and not ours:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            if isinstance(spec.loader, _FILE_LOADERS):
                # One loader per file: watch it in place, so the module's
                # __loader__ stays the one importlib made.
                spec.loader.exec_module = _watched(spec.loader.exec_module,
                                                   ours)
            else:
                spec.loader = _WatchedLoader(spec.loader, ours)
        return spec


def _watched(exec_module, ours):
    def exec_then_register(module):
        if ours:
            _executing.depth = getattr(_executing, "depth", 0) + 1
        try:
            exec_module(module)
        finally:
            if ours:
                _executing.depth -= 1
        _register_if_ready()

    return exec_then_register


class _WatchedLoader(importlib.abc.Loader):
    """Any other loader, delegated to, with its `exec_module` watched."""

    def __init__(self, loader, ours):
        self._loader = loader
        self.exec_module = _watched(loader.exec_module, ours)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def __getattr__(self, name):
        return getattr(self._loader, name)
