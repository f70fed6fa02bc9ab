"""Muon against keras.optimizers.Muon and torch.optim.Muon, measured.

The same initial weights and the same random gradients (seed 16; scales
0.1 to 3) go to each optimizer; printed: the largest parameter difference
after N steps, and, for scale, the largest distance ours travelled. torch
gets the transposed weights (its layout is (out, in), Keras' (in, out)).
Run: PYTHONPATH=. python benchmarks/muon_differences.py (CPU, ~1 min).
The README's section "Muon against Keras' and torch's" quotes its output.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from keras_optlab.optimizers import Muon  # noqa: E402
from tests import helpers  # noqa: E402

MATRICES = [(16, 9), (9, 16), (64, 33)]


def ours(params, grads, dtype="float64", **options):
    optimizer = Muon(**options)
    return helpers.run_keras(optimizer, params, grads, dtype=dtype)[-1]


def keras_muon(params, grads, dtype="float32", **options):
    optimizer = keras.optimizers.Muon(**options)
    return helpers.run_keras(optimizer, params, grads, dtype=dtype)[-1]


def torch_muon(params, grads, bfloat16=True, **options):
    tensors = [torch.nn.Parameter(torch.tensor(p.T.copy())) for p in params]
    optimizer = torch.optim.Muon(tensors, **options)
    original = torch.Tensor.bfloat16
    for step in grads:
        for t, g in zip(tensors, step):
            t.grad = torch.tensor(g.T.copy())
        if not bfloat16:
            torch.Tensor.bfloat16 = lambda self: self.clone()
        try:
            optimizer.step()
        finally:
            torch.Tensor.bfloat16 = original
    return [t.detach().numpy().T for t in tensors]


def report(label, a, b, params):
    gap = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
    moved = max(float(np.max(np.abs(x - p))) for x, p in zip(a, params))
    print(f"{label}: max |diff| {gap:.3g} (ours travelled {moved:.3g})")


def main():
    for steps in (30, 100):
        print(f"--- {steps} steps, lr 0.02, matrices {MATRICES}")
        params, grads = helpers.random_problem(steps, seed=16,
                                               shapes=MATRICES)
        lr = float(np.float32(0.02))
        mine = ours(params, grads, learning_rate=0.02)
        report("torch.optim.Muon as shipped (bfloat16 NS), wd 0",
               mine, torch_muon(params, grads, lr=lr, weight_decay=0.0),
               params)
        report("torch.optim.Muon, its NS in float64, eps 1e-30",
               ours(params, grads, learning_rate=0.02, epsilon=1e-30),
               torch_muon(params, grads, bfloat16=False, lr=lr,
                          weight_decay=0.0, eps=1e-30), params)
        report("torch.optim.Muon, its NS in float64, eps 1e-7 (both)",
               mine, torch_muon(params, grads, bfloat16=False, lr=lr,
                                weight_decay=0.0), params)
        mine32 = ours(params, grads, dtype="float32", learning_rate=0.02)
        report("keras.optimizers.Muon defaults (rms_rate 0.2, wd 0.004), "
               "float32", mine32,
               keras_muon(params, grads, learning_rate=0.02), params)
        report("keras.optimizers.Muon rms_rate=None, wd 0, float32",
               mine32, keras_muon(params, grads, learning_rate=0.02,
                                  rms_rate=None, weight_decay=0.0), params)
        twin = dict(shape_scaling="match_rms_adamw", weight_decay=0.004)
        report("keras.optimizers.Muon defaults vs ours "
               "shape_scaling='match_rms_adamw', wd 0.004, float32",
               ours(params, grads, dtype="float32", learning_rate=0.02,
                    **twin),
               keras_muon(params, grads, learning_rate=0.02), params)
    print("--- a conv kernel (3, 3, 4, 8) and a vector (7,), 30 steps")
    params, grads = helpers.random_problem(30, seed=16,
                                           shapes=[(3, 3, 4, 8), (7,)])
    common = dict(learning_rate=0.02, shape_scaling="match_rms_adamw",
                  adam_epsilon_mode="hat", adam_epsilon=1e-7,
                  adam_beta_2=0.999, adam_lr_ratio=1.0, weight_decay=0.0)
    report("keras.optimizers.Muon (kernel to AdamW) vs ours "
           "flatten_kernels=True, float32",
           ours(params, grads, dtype="float32", **common),
           keras_muon(params, grads, learning_rate=0.02, weight_decay=0.0,
                      adam_weight_decay=0.0), params)
    report("same, ours flatten_kernels=False",
           ours(params, grads, dtype="float32", flatten_kernels=False,
                **common),
           keras_muon(params, grads, learning_rate=0.02, weight_decay=0.0,
                      adam_weight_decay=0.0), params)


if __name__ == "__main__":
    main()
