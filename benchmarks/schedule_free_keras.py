"""keras_optlab's ScheduleFreeAdamW against keras.optimizers.ScheduleFreeAdamW
(Keras 3.15) and the NumPy reference (tests/references.py), on the random
problem of the reference tests (tests/helpers.random_problem, seed 11, three
variables, 60 steps, float32): the largest |difference| of the parameters (y)
after steps 1, 2, 10 and 60.

Run from the repository root, once per backend:
    KERAS_BACKEND=jax PYTHONPATH=$PWD python benchmarks/schedule_free_keras.py
The output of the three backends is in schedule_free_keras.txt beside this.
"""
import numpy as np, keras
from tests import helpers, references as refs
params, grads = helpers.random_problem(60, seed=11)
cases = [
    ("lr 0.01", dict(learning_rate=0.01), dict()),
    ("lr 0.01, warmup 20", dict(learning_rate=0.01, warmup_steps=20), dict(warmup_steps=20)),
    ("lr 0.01, warmup 20, weight_lr_power 0", dict(learning_rate=0.01, warmup_steps=20, weight_lr_power=0.0), dict(warmup_steps=20)),
    ("lr 0.01, weight_decay 0.1", dict(learning_rate=0.01, weight_decay=0.1), dict(weight_decay=0.1)),
]
for label, ours_kw, keras_kw in cases:
    lr = ours_kw["learning_rate"]
    theirs = helpers.run_keras(keras.optimizers.ScheduleFreeAdamW(lr, **keras_kw), params, grads, dtype="float32")
    ours = helpers.run_keras(helpers.make_optimizer("schedule_free_adamw", **ours_kw), params, grads, dtype="float32")
    hyper = {k: v for k, v in ours_kw.items() if k != "learning_rate"}
    if "weight_decay" in hyper: hyper["weight_decay"] = float(np.float32(hyper["weight_decay"]))
    ref, _ = refs.run_reference(refs.ScheduleFreeAdamWRef, hyper, params, grads, float(np.float32(lr)))
    def d(a, b, s):
        return max(np.abs(x - y).max() for x, y in zip(a[s], b[s]))
    print(f"{keras.backend.backend():10s} | {label:38s} | " + " ".join(
        f"t={s+1}: keras-ours {d(theirs, ours, s):.2e}" for s in (0, 1, 9, 59))
        + f" | ours-ref t=60 {d(ours, ref, 59):.1e} | keras-ref t=60 {d(theirs, ref, 59):.1e}")
