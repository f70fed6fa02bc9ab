"""NumPy references of the wrappers' rules, each written from its paper.

Each wraps a reference from `tests/references.py` (the inner optimizer) and
drives it: `step(grads, lr)` runs the inner reference's step, then the
wrapper's own rule. They share no code with `keras_optlab`.
"""

import numpy as np


class LookaheadRef:
    """Zhang et al. (2019) Algorithm 1: after every k inner steps,
    phi = phi + alpha (theta - phi); theta = phi."""

    def __init__(self, inner, sync_period, slow_step_size):
        self.inner = inner
        self.k, self.alpha = sync_period, slow_step_size
        self.slow = [p.copy() for p in inner.params]
        self.t = 0

    @property
    def params(self):
        return self.inner.params

    def step(self, grads, lr):
        self.inner.step(grads, lr)
        self.t += 1
        if self.t % self.k == 0:
            for i, fast in enumerate(self.inner.params):
                self.slow[i] = self.slow[i] + self.alpha * (fast - self.slow[i])
                self.inner.params[i] = self.slow[i].copy()


class SWARef:
    """Izmailov et al. (2018) Algorithm 1 with w_hat the weights after
    `start_step` steps: at each step i = start_step + j * c (j >= 0),
    n_models = j and w_swa = (w_swa * n_models + w) / (n_models + 1)."""

    def __init__(self, inner, start_step, average_period):
        self.inner = inner
        self.start, self.c = start_step, average_period
        self.average = [np.zeros_like(p) for p in inner.params]
        self.n_models = 0
        self.t = 0
        if start_step == 0:
            self._snapshot()

    @property
    def params(self):
        return self.inner.params

    def _snapshot(self):
        n = self.n_models
        self.average = [(a * n + w) / (n + 1)
                        for a, w in zip(self.average, self.inner.params)]
        self.n_models += 1

    def step(self, grads, lr):
        self.inner.step(grads, lr)
        self.t += 1
        if self.t >= self.start and (self.t - self.start) % self.c == 0:
            self._snapshot()


class CautiousRef:
    """Liang et al. (2024) Algorithm 2 (C-AdamW) for any inner reference
    without its own decay: u is the inner step's direction, (x - A(x)) / lr
    with the inner state advanced as without the mask; phi = 1(u g > 0);
    x = x - lr wd x (Keras' decoupled decay, unmasked) - lr s phi u, with
    s = d / (nnz + 1) ("count"), 1 / max(mean(phi), 1e-3) ("mean") or 1
    (None), per variable."""

    def __init__(self, inner, rescale="count", weight_decay=None):
        self.inner = inner
        self.rescale, self.wd = rescale, weight_decay or 0.0
        self.masks = []

    @property
    def params(self):
        return self.inner.params

    def step(self, grads, lr):
        self.inner.t += 1
        masks = []
        for i, g in enumerate(grads):
            g = np.asarray(g, np.float64)
            x = self.inner.params[i]
            u = (x - self.inner.update(i, g, lr)) / lr
            phi = (u * g > 0).astype(np.float64)
            if self.rescale == "count":
                s = phi.size / (phi.sum() + 1)
            elif self.rescale == "mean":
                s = 1 / max(phi.mean(), 1e-3)
            else:
                s = 1.0
            self.inner.params[i] = x - lr * self.wd * x - lr * s * phi * u
            masks.append(phi)
        self.masks.append(masks)


def linear_problem(samples=32, features=3, seed=0):
    """Inputs and targets of a small float32 linear regression."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, features)).astype("float32")
    y = (x @ rng.normal(size=(features, 1)) + 0.3).astype("float32")
    return x, y


def mse_loss(params, x, y):
    kernel, bias = params
    return np.mean((x @ kernel + bias - y) ** 2)


def mse_gradients(params, x, y):
    """Gradients of mean((x W + b - y)^2) for params [W, b] of a Dense."""
    kernel, bias = params
    residual = x @ kernel + bias - y
    n = residual.size  # Keras' "mse" averages over outputs and samples.
    return [2.0 / n * x.T @ residual, 2.0 / n * residual.sum(axis=0)]


def run_on_batches(reference, x, y, batch_size, epochs, lr):
    """Drives a reference through unshuffled mini-batches, as `fit` with
    `shuffle=False` does."""
    x, y = np.float64(x), np.float64(y)
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            batch = slice(start, start + batch_size)
            reference.step(mse_gradients(reference.params, x[batch], y[batch]),
                           lr)
    return reference


def sam_gradients(params, x, y, rho):
    """Foret et al. (2021) Algorithm 1: g at w, epsilon = rho g / ||g||_2,
    the gradient at w + epsilon."""
    g = mse_gradients(params, x, y)
    norm = np.sqrt(sum(np.sum(gi * gi) for gi in g))
    perturbed = [p + rho * gi / norm for p, gi in zip(params, g)]
    return mse_gradients(perturbed, x, y)
