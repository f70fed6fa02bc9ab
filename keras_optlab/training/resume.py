"""`ExactResume`: a `fit` killed at any point ends, once started again, with
the weights and optimizer state of the run that was never interrupted.

Why not `keras.callbacks.BackupAndRestore` (Keras 3.15)? tests/test_resume.py
shows what it loses:

- It writes `latest.weights.h5` in place, then `training_metadata.json`: a
  kill during the first write leaves a truncated file that the next `fit`
  fails to load (it falls back only with `double_checkpoint=True`), and a
  kill between the two writes pairs new weights with the old epoch number,
  so an epoch is trained twice.
- With `save_freq=N` batches it stores the batch but restores only the
  epoch: the restarted `fit` replays the epoch's first batches on weights
  that have already seen them.

What it keeps is right: `save_weights` holds the optimizer variables too
(moments, iterations, keras_optlab's wrappers and `nonfinite_steps`).

`ExactResume` writes each checkpoint as a new weights file (to a temporary
name, flushed, then `os.replace`d into place by `keras_optlab.atomic`),
then commits it by replacing `checkpoint.json`, the one file that names
the current weights: a kill at any instant leaves either the previous
checkpoint or the new one, never a mix, and a half-written file is never
named. On restart it resumes at the
saved epoch; a mid-epoch checkpoint (after batch k) is resumed by letting
`fit` run the epoch's first k batches again and then loading the
checkpoint, so training continues from batch k on exactly the saved state
(costing those k batches of compute once).

Exactness needs the same batches in the same order after a restart: use
`shuffle=False`, or data whose order depends only on the epoch (a
`keras.utils.PyDataset` that shuffles with a seed derived from the epoch);
`fit`'s own `shuffle=True` draws a new order from the process's random
state. Python state of other callbacks (`ReduceLROnPlateau`, early stopping)
is not saved; metrics of the resumed epoch include the replayed batches.
"""

import json
import os

import keras

from keras_optlab import atomic
from keras_optlab.optimizers import validation

_POINTER = "checkpoint.json"


class ExactResume(keras.callbacks.Callback):
    """Saves the training state atomically and resumes `fit` exactly.

    Args:
        directory: where the checkpoints live (created if missing; one
            training run per directory).
        save_freq: `"epoch"` (default): at the end of each epoch; or an int
            N: every N batches (and at the end of each epoch).
        delete_on_end: remove the checkpoints when `fit` completes, so that
            the next `fit` in this directory starts afresh. Defaults to True.

    Example:
    >>> model.fit(x, y, epochs=10, shuffle=False,
    ...           callbacks=[ExactResume("/tmp/run1", save_freq=100)])
    """

    def __init__(self, directory, save_freq="epoch", delete_on_end=True):
        super().__init__()
        if not isinstance(directory, (str, os.PathLike)) or not str(
            directory
        ):
            raise TypeError(
                "`directory` must be a non-empty path. "
                f"Received: directory={directory!r}"
            )
        if save_freq != "epoch":
            save_freq = validation.check_int("save_freq", save_freq, 1)
        self.directory = os.fspath(directory)
        self.save_freq = save_freq
        self.delete_on_end = validation.check_bool(
            "delete_on_end", delete_on_end
        )
        self._epoch = 0
        self._replay_until = None  # batch index whose end loads the state
        self._pending = None

    def _pointer(self):
        return os.path.join(self.directory, _POINTER)

    def _read_checkpoint(self):
        try:
            with open(self._pointer()) as f:
                state = json.load(f)
        except FileNotFoundError:
            return None
        except ValueError:
            state = None
        if not (isinstance(state, dict) and "batch" in state
                and isinstance(state.get("epoch"), int)
                and isinstance(state.get("weights"), str)
                and os.path.basename(state["weights"]) == state["weights"]
                and (state.get("batch") is None
                     or isinstance(state.get("batch"), int))):
            raise ValueError(
                f"ExactResume: {self._pointer()} is not a checkpoint record "
                "it wrote (expected JSON with epoch, batch and weights). "
                f"Remove {self.directory} to start afresh."
            )
        return state

    def _load(self, state):
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        path = os.path.join(self.directory, state["weights"])
        try:
            model.load_weights(path)
        except Exception as error:  # h5py, OSError, a mismatched model
            problem = " ".join(str(error).split())[:300]
            raise ValueError(
                f"ExactResume cannot load the checkpoint {path} "
                f"({type(error).__name__}: {problem}); expected the weights "
                "of this model and optimizer, as ExactResume writes them. "
                f"Remove {self.directory} to start afresh."
            ) from None

    def on_train_begin(self, logs=None):
        state = self._read_checkpoint()
        if state is None:
            return
        if not self.model.built:
            raise ValueError(
                "ExactResume needs a built model to restore into: build it "
                "(call it on a batch, or give it an Input) before `fit`."
            )
        # The same mechanism as keras.callbacks.BackupAndRestore: fit reads
        # `_initial_epoch` after on_train_begin.
        self.model._initial_epoch = state["epoch"]
        if state["batch"] is None:
            self._load(state)
        else:
            self._replay_until = state["batch"]
            self._pending = state

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._replay_until is not None:
            if batch >= self._replay_until:
                self._load(self._pending)
                self._replay_until = self._pending = None
            return
        if self.save_freq != "epoch" and (batch + 1) % self.save_freq == 0:
            self._save(self._epoch, batch)

    def on_epoch_end(self, epoch, logs=None):
        self._save(epoch + 1, None)

    def on_train_end(self, logs=None):
        self.model._initial_epoch = None
        if self.delete_on_end:
            self._remove_all()

    def _save(self, epoch, batch):
        os.makedirs(self.directory, exist_ok=True)
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        name = f"ckpt-e{epoch}-b{'end' if batch is None else batch}-s{step}"
        weights = f"{name}.weights.h5"
        atomic.write_atomically(
            os.path.join(self.directory, weights),
            lambda path: self.model.save_weights(path, overwrite=True),
            suffix=".weights.h5",
        )
        state = {"epoch": epoch, "batch": batch, "weights": weights}
        atomic.write_json(self._pointer(), state)
        self._remove_all(keep={weights, _POINTER})

    def _remove_all(self, keep=()):
        if not os.path.isdir(self.directory):
            return
        for entry in os.listdir(self.directory):
            # Temporary files of a killed write are hidden: ".ckpt-...".
            name = entry.lstrip(".")
            if entry not in keep and name.startswith(("ckpt-", "checkpoint.")):
                os.remove(os.path.join(self.directory, entry))

