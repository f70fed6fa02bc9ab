"""`tf.linalg.eigh` of a symmetric positive definite float32 matrix, in a
TensorFlow graph and compiled by XLA, side by side in one process: the
cause of Shampoo's slow compiled preconditioner period on CPU
(benchmarks/RESULTS.md). Beside them, where JAX is installed,
`jnp.linalg.eigh` under `jax.jit`, what Keras' JAX trainer runs (XLA
too, but JAX hands the decomposition to LAPACK). Medians of interleaved
repeats.

    python benchmarks/xla_eigh.py [--repeats 3] [--sizes 500 1000]
"""

import os

from side_by_side import interleaved_seconds
from side_by_side import positive_integer
from side_by_side import summary
from side_by_side import timing_arguments


def main():
    parser = timing_arguments(__doc__, repeats=3)
    parser.add_argument("--sizes", type=positive_integer("--sizes"),
                        nargs="+", default=[500, 1000])
    arguments = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    try:
        import jax
        import jax.numpy as jax_numpy
    except ImportError:
        jax_eigh = None
    else:
        jitted_eigh = jax.jit(jax_numpy.linalg.eigh)

        def jax_eigh(matrix):
            jitted_eigh(matrix)[0].block_until_ready()

    rng = np.random.default_rng(0)
    for n in arguments.sizes:
        a = rng.normal(size=(n, n)).astype("float32")
        matrix = tf.constant(a @ a.T / n)
        candidates = []
        for label, jit in (("graph", False), ("xla", True)):
            eigh = tf.function(tf.linalg.eigh, jit_compile=jit,
                               autograph=False)

            def step(matrix, eigh=eigh):
                eigh(matrix)[0].numpy()

            step(matrix)
            candidates.append((label, step, matrix))
        if jax_eigh is not None:
            jax_matrix = jax_numpy.asarray(a @ a.T / n)
            jax_eigh(jax_matrix)
            candidates.append(("jax", jax_eigh, jax_matrix))
        for label, seconds in interleaved_seconds(
                candidates, arguments.repeats).items():
            print(f"eigh {n} x {n}  {label:5s} {summary(seconds)}")


if __name__ == "__main__":
    main()
