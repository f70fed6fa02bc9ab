"""Keras' own optimizer tests, run against our classes of the same names.

Each `keras/src/optimizers/<name>_test.py` shipped in the keras wheel is
loaded with its import of Keras' class replaced by ours, and its test
classes are collected here. Where one of our defaults deliberately differs
from Keras' (the paper's value or placement), the Keras test that depends
on it is marked xfail (strict: it fails here if it starts passing) with the
difference as the reason; README.md lists the same differences.
Keras' `sgd_test.py` has no class of the same name here (GradientDescent,
Momentum and Nesterov share Keras' SGD), so it is not run.
"""

import os
import types

import keras
import pytest

from keras_optlab import optimizers

KERAS_OPTIMIZERS = os.path.join(os.path.dirname(keras.__file__), "src",
                                "optimizers")

# Keras test file -> our class of the same name.
FILES = {
    "adam_test.py": "Adam",
    "adamw_test.py": "AdamW",
    "adagrad_test.py": "Adagrad",
    "adadelta_test.py": "Adadelta",
    "adamax_test.py": "Adamax",
    "nadam_test.py": "Nadam",
    "rmsprop_test.py": "RMSprop",
    "lion_test.py": "Lion",
    "lamb_test.py": "LAMB",
    "adafactor_test.py": "Adafactor",
}
# Keras test files whose class is named differently from ours.
KERAS_CLASS = {"lamb_test.py": "Lamb"}

# (file, test class, test method) -> the deliberate difference (README.md,
# "Keras' own optimizer tests", lists the same).
NADAM_PSI = ("momentum_decay defaults to Dozat's psi = 0.004 (mu_t = beta_1 "
             "(1 - 0.5 * 0.96^(psi t))); Keras 3's Nadam uses psi = 1 "
             "(momentum_decay=1.0 reproduces it)")
DIFFERENCES = {
    ("adagrad_test.py", "AdagradTest", "test_single_step"):
        "initial_accumulator_value defaults to 0.0 (Duchi et al.: G_0 = 0); "
        "Keras' to 0.1",
    ("adadelta_test.py", "AdadeltaTest", "test_single_step"):
        "epsilon defaults to 1e-6 (Zeiler's value); Keras' to 1e-7",
    ("nadam_test.py", "NadamTest", "test_single_step"): NADAM_PSI,
    ("nadam_test.py", "NadamTest", "test_correctness_with_golden"):
        NADAM_PSI,
    ("nadam_test.py", "NadamTest", "test_build_with_empty_var_list"):
        "reads Keras' private state attribute `_u_product`; ours holds the "
        "same product of mu_t as `_momentum_product`",
    ("adamw_test.py", "AdamWTest", "test_weight_decay_is_none"):
        "matches Keras' wording 'Argument `weight_decay` must be a float'; "
        "ours is a ValueError naming the argument and value too, worded as "
        "every keras_optlab error (`weight_decay` must be a number in "
        "[0.0, inf) (use Adam for none))",
    ("lion_test.py", "LionTest", "test_invalid_beta_1"):
        "beta_1 = 0 is accepted (the step is then signSGD, sign(g)); the "
        "other values are refused in keras_optlab's wording",
    ("lion_test.py", "LionTest", "test_correctness_with_golden"):
        "learning_rate defaults to the paper's 1e-4; Keras' to 1e-3",
    ("lamb_test.py", "LambTest", "test_weight_decay"):
        "weight decay is the paper's, inside the trust ratio: with a zero "
        "gradient u = lambda x and the step is lr * x; Keras decays "
        "x by lr * lambda * x outside the ratio",
    ("adafactor_test.py", "AdafactorTest", "test_correctness_with_golden"):
        "relative_step=False steps at rho_t = lr (the paper's absolute "
        "step); Keras 3.15 takes min(lr, 1/sqrt(t)) whatever relative_step "
        "says, so at lr 0.5 its step shrinks from t = 5 on",
}


def load(file_name, class_name):
    """The Keras test module with our class in place of Keras' own."""
    path = os.path.join(KERAS_OPTIMIZERS, file_name)
    with open(path, encoding="utf-8") as f:
        source = f.read()
    module_name = file_name[:-len("_test.py")]
    keras_name = KERAS_CLASS.get(file_name, class_name)
    keras_import = (f"from keras.src.optimizers.{module_name} "
                    f"import {keras_name}")
    assert keras_import in source, (file_name, "Keras changed its import")
    ours = f"from keras_optlab.optimizers import {class_name}"
    if keras_name != class_name:
        ours += f" as {keras_name}"
    source = source.replace(keras_import, ours)
    module = types.ModuleType(f"keras_test_files.{module_name}_test")
    module.__file__ = path
    exec(compile(source, path, "exec"), module.__dict__)
    assert getattr(module, keras_name) is getattr(optimizers, class_name)
    return module


def collect():
    found = {}
    for file_name, class_name in FILES.items():
        module = load(file_name, class_name)
        for name, value in vars(module).items():
            if isinstance(value, type) and name.endswith("Test"):
                for (f, test_class, method), reason in DIFFERENCES.items():
                    if f == file_name and test_class == name:
                        setattr(value, method, pytest.mark.xfail(
                            reason=reason, strict=True)(
                                getattr(value, method)))
                found[f"Keras{name}"] = value
    return found


globals().update(collect())
