"""Why the step size matters: gradient descent on two parabolas.

On f(x) = a (x - m)^2, gradient descent x <- x - lr * f'(x) gives
x_t - m = (1 - 2 a lr)^t (x_0 - m): it converges for lr < 1/a, oscillates
forever between x_0 and 2m - x_0 at lr = 1/a, and diverges above.

    x^2 - 2x + 1  (a = 1, m = 1),   from x = 5:
        lr 0.1 -> 5, 4.2, 3.56, ...  converges to 1
        lr 1.0 -> 5, -3, 5, -3, ...  oscillates
        lr 100 -> 5, -795, 158405, ... diverges
    4x^2 - 4x + 1 (a = 4, m = 0.5): the oscillating rate is 0.25.

The sequences below come from keras_optlab's GradientDescent, a real Keras
optimizer, run on a keras.Variable.

Run:  python examples/step_size_lesson.py --out docs/step_size_lesson.png
"""

import argparse
import logging
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_optlab.lab import landscape  # noqa: E402

CASES = [  # (function, learning rate, what happens)
    ("quadratic", 0.1, "converges to 1"),
    ("quadratic", 1.0, "oscillates 5, -3, 5, -3, ..."),
    ("quadratic", 100.0, "diverges"),
    ("steep_quadratic", 0.25, "oscillates 5, -4, 5, -4, ..."),
    ("steep_quadratic", 0.1, "converges to 0.5"),
]


def sequences(steps=6):
    """{(function, lr): x_0 ... x_steps} from gradient descent at x_0 = 5."""
    return {(name, lr): landscape.run(name, "gradient_descent", lr,
                                      steps=steps)[:, 0]
            for name, lr, _ in CASES}


def draw(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, panels = pyplot.subplots(1, 3, figsize=(13, 4), dpi=90)
    for panel, name in zip(panels[:2], ("quadratic", "steep_quadratic")):
        function = landscape.get(name)
        (x0, x1), = function.bounds
        xs = np.linspace(x0, x1, 300)
        panel.plot(xs, np.asarray(function.value(xs[None, :])), color="0.4")
        for index, (case, lr, _) in enumerate(CASES):
            if case != name or lr > 10:
                continue
            x = runs[(case, lr)]
            panel.plot(x, np.asarray(function.value(x[None, :])), "-o",
                       ms=4, lw=1, color=f"C{index}", label=f"lr = {lr:g}")
        panel.plot(function.minima[0][0], 0, "k*", ms=12)
        panel.set_title(f"f(x) = {function.formula}", fontsize=10)
        panel.set_xlabel("x")
        panel.legend(fontsize=8)
    for index, (name, lr, what) in enumerate(CASES):
        x = runs[(name, lr)]
        gap = np.abs(x - landscape.get(name).minima[0][0])
        panels[2].semilogy(gap, "-o", ms=3, color=f"C{index}",
                           label=f"{name}, lr {lr:g}: {what}")
    panels[2].set_title("|x_t - minimum| against step t", fontsize=10)
    panels[2].set_xlabel("step t")
    panels[2].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="step_size_lesson.png")
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    tf.get_logger().setLevel(logging.ERROR)
    runs = sequences(args.steps)
    for name, lr, what in CASES:
        values = ", ".join(f"{v:.6g}" for v in runs[(name, lr)])
        print(f"{landscape.get(name).formula:<28} lr={lr:<5g} {what}:")
        print(f"    {values}")
    print(f"wrote {draw(runs, args.out)}")


if __name__ == "__main__":
    main()
