"""Adafactor against keras.optimizers.Adafactor and torch.optim.Adafactor,
measured.

The same initial weights and the same random gradients (seed 11; scales
0.1 to 3; a matrix, a vector and a rank-3 tensor) go to each optimizer;
printed: the largest parameter difference after 60 steps and, for scale,
the largest distance ours travelled; then the state each keeps for a
1024 x 1024 kernel. Keras runs in float32 (its hyperparameters are float32
anyway), torch and ours against it in float64 where both allow.
Run: PYTHONPATH=. python benchmarks/adafactor_differences.py (CPU, ~20 s).
The README's section "Adafactor against Keras' and torch's" quotes its
output.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from keras_optlab.optimizers import Adafactor  # noqa: E402
from tests import helpers  # noqa: E402

SHAPES = [(16, 9), (7,), (3, 4, 5)]
STEPS = 60


def ours(params, grads, dtype="float32", **options):
    return helpers.run_keras(Adafactor(**options), params, grads,
                             dtype=dtype)[-1]


def keras_adafactor(params, grads, **options):
    return helpers.run_keras(keras.optimizers.Adafactor(**options), params,
                             grads, dtype="float32")[-1]


def torch_adafactor(params, grads, **options):
    tensors = [torch.nn.Parameter(torch.tensor(p)) for p in params]
    optimizer = torch.optim.Adafactor(tensors, **options)
    for step in grads:
        for t, g in zip(tensors, step):
            t.grad = torch.tensor(g)
        optimizer.step()
    return [t.detach().numpy() for t in tensors]


def report(label, a, b, params):
    gap = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
    moved = max(float(np.max(np.abs(x - p))) for x, p in zip(a, params))
    print(f"{label}: max |diff| {gap:.3g} (ours travelled {moved:.3g})")


def state_size(optimizer):
    variable = keras.Variable(np.zeros((1024, 1024), "float32"))
    optimizer.build([variable])
    return sum(int(np.prod(v.shape)) for v in optimizer.variables
               if v.name not in ("iteration", "learning_rate"))


def main():
    params, grads = helpers.random_problem(STEPS, seed=11, shapes=SHAPES)
    print(f"--- {STEPS} steps, shapes {SHAPES}")
    report("keras defaults (lr 1e-3) vs ours lr 1e-3",
           ours(params, grads, learning_rate=1e-3),
           keras_adafactor(params, grads), params)
    report("keras defaults (lr 1e-3) vs ours defaults (lr 1e-2)",
           ours(params, grads), keras_adafactor(params, grads), params)
    for lr in (0.05, 0.2, 0.5):
        report(f"relative_step=False, lr {lr}: keras vs ours",
               ours(params, grads, learning_rate=lr, relative_step=False),
               keras_adafactor(params, grads, learning_rate=lr,
                               relative_step=False), params)
    report("weight_decay 0.1, lr 1e-2: keras vs ours",
           ours(params, grads, weight_decay=0.1),
           keras_adafactor(params, grads, learning_rate=1e-2,
                           weight_decay=0.1), params)
    report("torch defaults (lr 1e-2) vs ours defaults, float64",
           ours(params, grads, dtype="float64"),
           torch_adafactor(params, grads), params)
    report("weight_decay 0.1: torch vs ours, float64",
           ours(params, grads, dtype="float64", weight_decay=0.1),
           torch_adafactor(params, grads, weight_decay=0.1), params)
    # Gradients with zero rows: torch's epsilon is a floor on V (eps^2)
    # and on mean(R), ours epsilon_1 added to G^2.
    zero = [[g * (np.arange(g.shape[0]) % 2 == 0).reshape(
        (-1,) + (1,) * (g.ndim - 1)) for g in step] for step in grads]
    report("zero rows, torch eps1 1e-30 vs ours, float64",
           ours(params, zero, dtype="float64"),
           torch_adafactor(params, zero, eps=(1e-30, 1e-3)), params)
    report("zero rows, torch default eps1 (dtype eps) vs ours, float64",
           ours(params, zero, dtype="float64"),
           torch_adafactor(params, zero), params)
    print("--- state of a 1024 x 1024 kernel (numbers kept)")
    print(f"ours: {state_size(Adafactor())}, "
          f"ours with beta_1: {state_size(Adafactor(beta_1=0.9))}, "
          f"keras: {state_size(keras.optimizers.Adafactor())}, "
          f"keras Adam: {state_size(keras.optimizers.Adam())}")


if __name__ == "__main__":
    main()
