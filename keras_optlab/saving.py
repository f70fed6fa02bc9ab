"""Loading a saved model safely, with one-line errors.

`keras.saving.load_model(path)` already loads models compiled with
keras_optlab's optimizers and wrappers once `keras_optlab` is imported (they
are registered with `keras.saving`), under its default `safe_mode=True`,
with no `custom_objects`. What it does with a damaged or foreign file is a
traceback from deep inside Keras, zipfile or h5py. `load_model` here checks
the file first and turns every failure into a `ModelFileError` (a
`ValueError`) whose one-line message names the file and what was expected.
It always loads with `safe_mode=True`: a `Lambda` layer holding Python
bytecode, or any other code stored in the file, is refused, never run.

Only the Keras 3 `.keras` format is read: the legacy HDF5 (`.h5`) loader
is not used.
"""

import json
import os
import zipfile

import keras

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_KERAS_MEMBERS = ("config.json", "metadata.json")


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message is one line."""


def _fail(path, problem):
    raise ModelFileError(f"{path}: {' '.join(str(problem).split())}")


def check_model_file(path):
    """Checks that `path` is a whole `.keras` archive without loading it;
    raises `ModelFileError` naming the problem. Reads every member once to
    verify its checksum, so a damaged archive is caught here."""
    path = os.fspath(path)
    if os.path.isdir(path):
        _fail(path, "is a directory; expected a .keras file")
    if not os.path.isfile(path):
        _fail(path, "no such file; expected a .keras file")
    with open(path, "rb") as f:
        head = f.read(8)
    if head == _HDF5_SIGNATURE:
        _fail(path, "is an HDF5 file (the legacy Keras 2 format); expected "
              "a .keras archive: load it with the Keras that wrote it and "
              "save it again with model.save('model.keras')")
    if not zipfile.is_zipfile(path):
        _fail(path, "is not a zip archive (or a truncated one); expected a "
              ".keras file, which is a zip archive written by model.save")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            damaged = archive.testzip()
            config = (archive.read("config.json")
                      if "config.json" in names else None)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        _fail(path, f"is a damaged zip archive ({error}); expected a whole "
              ".keras file")
    if damaged is not None:
        _fail(path, f"is a damaged zip archive (member {damaged!r} fails its "
              "checksum); expected a whole .keras file")
    missing = [m for m in _KERAS_MEMBERS if m not in names]
    if missing:
        _fail(path, f"is a zip archive but not a Keras model (no "
              f"{', '.join(missing)}); expected a .keras file written by "
              "model.save")
    try:
        json.loads(config)
    except ValueError:
        _fail(path, "holds a config.json that is not valid JSON; expected "
              "a .keras file written by model.save")
    if not path.endswith(".keras"):
        _fail(path, "is a Keras archive whose name does not end in .keras, "
              "which keras.saving.load_model requires; rename it")


def load_model(path, *, compile=True):
    """Loads a `.keras` model with `safe_mode=True` (see the module
    docstring); `ModelFileError` with one line on any failure.

    Args:
        path: the `.keras` file.
        compile: as in `keras.saving.load_model`. Defaults to True.

    Returns:
        The model, compiled with its saved optimizer (and that optimizer's
        state) when `compile`.
    """
    path = os.fspath(path)
    check_model_file(path)
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad config
        problem = " ".join(str(error).split())
        # Keras wraps the cause after a dump of the whole config.
        marker = "Exception encountered:"
        if marker in problem:
            problem = problem.rsplit(marker, 1)[1].strip()
        if "safe_mode" in problem:
            _fail(path, "holds code (a Lambda layer or other Python "
                  "bytecode), which is never loaded: safe_mode=True; "
                  "expected a model made of registered classes")
        _fail(path, f"cannot be loaded ({type(error).__name__}: "
              f"{problem[:300]}); expected a model whose classes are "
              "registered (Keras', keras_optlab's once imported, or your "
              "own with keras.saving.register_keras_serializable)")
