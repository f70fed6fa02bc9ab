"""A small training run for tests/test_resume.py's SIGKILL test.

    python -m tests.resume_script DIRECTORY OUTPUT OPTIMIZER [SLEEP]

Trains with ExactResume(DIRECTORY, save_freq=3) and writes the final
weights and optimizer variables to OUTPUT (an .npz, written atomically).
SLEEP seconds after each batch give the parent time to kill it anywhere;
"training" is printed (flushed) when the first batch of this process
starts, so the parent can time its kill from there, not from start-up.
"""

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_optlab.training.resume import ExactResume  # noqa: E402
from tests import resume_common  # noqa: E402


class Sleep(keras.callbacks.Callback):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

        self.started = False

    def on_train_batch_begin(self, batch, logs=None):
        if not self.started:
            self.started = True
            print("training", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.seconds)


def main(directory, output, optimizer, sleep=0.0):
    resume_common.deterministic()
    model = resume_common.compiled_model(optimizer)
    x, y = resume_common.data()
    model.fit(x, y, **resume_common.FIT,
              callbacks=[ExactResume(directory, save_freq=3),
                         Sleep(float(sleep))])
    arrays = resume_common.state_of(model)
    temporary = output + ".tmp.npz"
    np.savez(temporary, *arrays)
    os.replace(temporary, output)


if __name__ == "__main__":
    main(*sys.argv[1:])
