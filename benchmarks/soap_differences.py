"""SOAP against the authors' PyTorch SOAP, measured.

Their soap.py is not part of keras_optlab: pass its path (a copy of
github.com/nikhilvyas/SOAP's soap.py, release a1e5535 of December 2024).
Both run in float64 (torch's default dtype set to float64, which their
factors take) with weight decay 0 and the same betas, epsilon and
precondition_frequency.

1. Random gradients (seed 16; scales 0.1 to 3), matrices (16, 9), (64, 33)
   and a vector (7,): the largest parameter difference after N steps, and
   for scale the largest distance ours travelled.
2. Least squares, f(W) = 0.5 ||A W - B||^2 / rows with A 64 x 16 of
   condition number 100, W (16, 9): the loss after each budget, for ours,
   theirs and keras.optimizers.Adam with the same betas.

Run: PYTHONPATH=. python benchmarks/soap_differences.py path/to/soap.py
(CPU, ~30 s). The README's section "SOAP beside the authors' code" quotes
its output.
"""

import importlib.util
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from keras_optlab.optimizers import SOAP  # noqa: E402
from tests import helpers  # noqa: E402

OPTIONS = dict(lr=3e-3, betas=(0.95, 0.95), eps=1e-8,
               precondition_frequency=10)


def authors_class(path):
    spec = importlib.util.spec_from_file_location("authors_soap", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SOAP


def ours_options(lr, betas, eps, precondition_frequency):
    return dict(learning_rate=lr, beta_1=betas[0], beta_2=betas[1],
                epsilon=eps, precondition_frequency=precondition_frequency)


def random_gradients(cls, steps):
    shapes = [(16, 9), (64, 33), (7,)]
    params, grads = helpers.random_problem(steps, seed=16, shapes=shapes)
    ours = helpers.run_keras(SOAP(**ours_options(**OPTIONS)), params,
                             grads)[-1]
    tensors = [torch.nn.Parameter(torch.tensor(p)) for p in params]
    optimizer = cls(tensors, weight_decay=0.0, **OPTIONS)
    for step in grads:
        for t, g in zip(tensors, step):
            t.grad = torch.tensor(g)
        optimizer.step()
    for shape, a, t, p in zip(shapes, ours, tensors, params):
        theirs = t.detach().numpy()
        print(f"  {shape}: max |ours - theirs| {np.abs(a - theirs).max():.3g}"
              f", ours moved up to {np.abs(a - p).max():.3g}")


def least_squares(cls, budgets):
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.normal(size=(64, 16)))
    v, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    a = u @ np.diag(np.logspace(0, -2, 16)) @ v.T * 10
    b = rng.normal(size=(64, 9))
    w0 = rng.normal(size=(16, 9))

    def loss(w):
        return 0.5 * np.sum((a @ w - b) ** 2) / 64

    def gradient(w):
        return a.T @ (a @ w - b) / 64

    runs = {}
    variable = keras.Variable(w0, dtype="float64")
    ours = SOAP(**ours_options(**OPTIONS))
    adam = keras.optimizers.Adam(OPTIONS["lr"], beta_1=0.95, beta_2=0.95,
                                 epsilon=1e-8)
    for name, optimizer in (("ours", ours), ("Adam", adam)):
        variable.assign(w0)
        losses = []
        for step in range(1, max(budgets) + 1):
            grad = gradient(variable.numpy())
            optimizer.apply([keras.ops.convert_to_tensor(grad, "float64")],
                            [variable])
            if step in budgets:
                losses.append(loss(variable.numpy()))
        runs[name] = losses
    w = torch.nn.Parameter(torch.tensor(w0))
    optimizer = cls([w], weight_decay=0.0, **OPTIONS)
    losses = []
    for step in range(1, max(budgets) + 1):
        w.grad = torch.tensor(gradient(w.detach().numpy()))
        optimizer.step()
        if step in budgets:
            losses.append(loss(w.detach().numpy()))
    runs["theirs"] = losses
    print(f"  loss at the start {loss(w0):.4g}")
    for name, losses in runs.items():
        print(f"  {name:6s} " + "  ".join(
            f"{n} steps: {value:.4g}" for n, value in zip(budgets, losses)))


def main():
    torch.set_default_dtype(torch.float64)
    cls = authors_class(sys.argv[1])
    for steps in (10, 60):
        print(f"random gradients, {steps} steps:")
        random_gradients(cls, steps)
    print("least squares:")
    least_squares(cls, (10, 100, 1000))


if __name__ == "__main__":
    main()
