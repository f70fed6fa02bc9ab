"""Helpers around `fit` that are not optimizers: sharpness-aware
minimisation (`SAMModel`, `sam_train_step`), what SWA needs after training
(`swa_batch_norm_update`, `SWACallback`), evaluation of Schedule-Free
models at x (`ScheduleFreeEvaluation`, `schedule_free_evaluation`), exact
resume of a killed run (`ExactResume`) and the learning-rate range test
(`find_learning_rate`)."""

from keras_optlab.training.lr_finder import find_learning_rate
from keras_optlab.training.resume import ExactResume
from keras_optlab.training.sam import SAMModel
from keras_optlab.training.sam import sam_train_step
from keras_optlab.training.schedule_free import ScheduleFreeEvaluation
from keras_optlab.training.schedule_free import schedule_free_evaluation
from keras_optlab.training.swa import SWACallback
from keras_optlab.training.swa import swa_batch_norm_update

__all__ = [
    "ExactResume",
    "SAMModel",
    "SWACallback",
    "ScheduleFreeEvaluation",
    "find_learning_rate",
    "sam_train_step",
    "schedule_free_evaluation",
    "swa_batch_norm_update",
]
