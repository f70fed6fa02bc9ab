"""Running keras_optlab optimizers on fixed gradients, for comparisons."""

import numpy as np
import keras

import keras_optlab

SHAPES = [(3, 4), (5,), (2, 2, 3)]

BACKEND = keras.backend.backend()

# How closely float64 runs follow the NumPy references: float64 rounding from
# a different order of operations. (On JAX and torch the tests run with floatx
# float64, see conftest.py.)
RTOL64, ATOL64 = 1e-9, 1e-12


def random_problem(steps, seed=0, shapes=SHAPES):
    """Initial parameters and a sequence of gradients, float64."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) * rng.uniform(0.1, 3.0) for s in shapes]
             for _ in range(steps)]
    return params, grads


def as_float32(value):
    """The value a Python float has once Keras rounds it to float32: the
    learning rate (a float32 variable) and the weight decay (cast through
    float32 by `keras.ops.cast` in the base class)."""
    if keras.config.floatx() == "float64":
        return float(value)
    return float(np.float32(value))


def make_optimizer(name, **kwargs):
    return keras_optlab.optimizers.get(name, **kwargs)


def make_variables(params, dtype="float64"):
    return [keras.Variable(p, dtype=dtype, name=f"v{i}")
            for i, p in enumerate(params)]


def run_keras(optimizer, params, grad_steps, dtype="float64", variables=None,
              compiled=False):
    """Applies each gradient list in turn; returns the parameters after each
    step. Eagerly, or where `compiled` through `compiled_step` (on
    TensorFlow a `tf.function`, the graph `model.fit` runs)."""
    if variables is None:
        variables = make_variables(params, dtype)
    apply = (compiled_step(optimizer, variables) if compiled
             else lambda grads: optimizer.apply(grads, variables))
    history = []
    for grads in grad_steps:
        apply([keras.ops.convert_to_tensor(g, dtype=dtype) for g in grads])
        history.append([np.array(v.numpy()) for v in variables])
    return history


def assert_trajectories_close(actual, expected, rtol, atol):
    assert len(actual) == len(expected)
    for step, (got, want) in enumerate(zip(actual, expected)):
        for i, (a, b) in enumerate(zip(got, want)):
            np.testing.assert_allclose(
                a, b, rtol=rtol, atol=atol,
                err_msg=f"step {step + 1}, variable {i}")


def _jax_step(optimizer, variables):
    """JAX: `stateless_apply` under `jax.jit`, state donated and returned
    in the order it came (so XLA updates it in place, as Keras' trainer
    does); `step.hlo(grads)` is the compiled program's text."""
    import jax

    optimizer.build(variables)

    def stateless(state, grads, values):
        values, state = optimizer.stateless_apply(state, grads, values)
        return state, values

    compiled = jax.jit(stateless, donate_argnums=(0, 2))

    def arguments(grads):
        return ([v.value for v in optimizer.variables], grads,
                [v.value for v in variables])

    def step(grads):
        state, values = compiled(*arguments(grads))
        for variable, value in zip(variables, values):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, state):
            variable.assign(value)

    step.hlo = lambda grads: (
        compiled.lower(*arguments(grads)).compile().as_text())
    return step


def compiled_step(optimizer, variables, xla=False):
    """`step(grads)`: one compiled training step of this backend applying
    `optimizer` to `variables`; a `tf.function` on TensorFlow (XLA-compiled
    where `xla`), `jax.jit` of `stateless_apply` on JAX (always XLA), the
    plain call on torch. On TensorFlow and JAX, where XLA compiles it,
    `step.hlo(grads)` is the optimized HLO text."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=xla)
        def step(grads):
            optimizer.apply(grads, variables)

        step.hlo = lambda grads: step.experimental_get_compiler_ir(grads)(
            stage="optimized_hlo")
        return step
    if BACKEND == "jax":
        return _jax_step(optimizer, variables)
    return lambda grads: optimizer.apply(grads, variables)


def compiled_step_hlo(optimizer, variables, grads):
    """The optimized HLO text of the XLA-compiled step applying `grads`,
    compiled for it alone: the optimizer is built first and the step not
    run (TensorFlow compiles a run and the HLO query separately)."""
    optimizer.build(variables)
    return compiled_step(optimizer, variables, xla=True).hlo(grads)


# The memory target of a compiled update: at most 10% of params + grads +
# state beyond them, read from the optimized HLO (what XLA allocates), which
# the harness' resident-memory measurement agrees with.
MEMORY_SLACK = 0.10


def adam_then_stalled_descent(data, units, **search):
    """A recipe (as a dict) whose grid search tries Adam at a working
    learning rate first, then gradient descent at one too small to learn:
    with median pruning after one warm-up epoch, the second trial is
    clearly worse and pruned, the first never."""
    return {
        "data": {"dataset": "digits", **data},
        "model": {"kind": "mlp", "units": list(units)},
        "search": {"tuner": "grid", "max_trials": 5, "epochs": 4, "seed": 2,
                   **search},
        "space": {"optimizers": ["adam", "gradient_descent"],
                  "conditional": [], "batch_sizes": [32], "dropout": 0.0,
                  "learning_rate": {"adam": [0.01, 0.01],
                                    "gradient_descent": [1e-9, 1e-9]}},
        "early_stopping": {"enabled": False},
        "pruning": {"n_startup_trials": 1, "n_warmup_steps": 1},
    }
