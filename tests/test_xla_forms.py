"""Updates compiled by XLA: whole training steps (TensorFlow's
`jit_compile=True` and JAX's `jit`; this file also runs in the JAX process
of test_backends.py) and, on TensorFlow, the fused path's compiled update.

In such a trace the optimizers take their XLA forms
(`keras_optlab.engine.xla`): state that other loops
still read is written after them, and sums over whole variables go in blocks
of 32. Checked from the optimized HLO (`keras_optlab.engine.hlo`) for
every row of the table: no copy of an array and at most 10% of params +
grads + state in temporaries (a matrix method, `elementwise=False` in the
table, is held to its own bound in its own test: Muon's Newton-Schulz
products are temporaries of the size of its matrices) (before the forms, Adan's JAX step copied two
state buffers and both gradients, Prodigy's held 17%); no more loops, bytes
moved or temporaries than Keras' built-in with the same math; and the
float64 trajectory of the compiled step is the eager one's (rtol 1e-9, atol
1e-12: float64 rounding from fusion and from the order of blocked sums).
"""

import keras
import numpy as np
import pytest

from keras_optlab.engine import hlo as hlo_analysis
from keras_optlab.engine.xla import tracing_for_xla
from tests import helpers
from tests.optimizer_table import TABLE

BACKEND = keras.backend.backend()
pytestmark = pytest.mark.skipif(
    BACKEND == "torch", reason="XLA compiles steps on TensorFlow and JAX")

ROWS = [pytest.param(row, id=row.name) for row in TABLE]
# Sizes no multiple of the summing block, so the padded blocks run too.
SHAPES = [(256, 128), (4099,), (64, 33)]
RTOL, ATOL = 1e-9, 1e-12
STEPS = 6


def _hlo(optimizer, shapes, dtype="float32"):
    """The optimized HLO analysis of the whole compiled step."""
    variables = [keras.Variable(np.ones(shape, dtype)) for shape in shapes]
    grads = [keras.ops.full(shape, 0.5, dtype=dtype) for shape in shapes]
    return hlo_analysis.analyze(
        helpers.compiled_step_hlo(optimizer, variables, grads))


def test_tracing_for_xla_only_in_xla_traces():
    variable = keras.Variable(1.0)
    seen = {}
    if BACKEND == "tensorflow":
        import tensorflow as tf

        for xla in (False, True):
            tf.function(lambda: seen.setdefault(xla, tracing_for_xla(
                variable)), jit_compile=xla)()
    else:
        import jax

        seen[False] = tracing_for_xla(variable)

        def compiled(value):
            with keras.StatelessScope(state_mapping=[(variable, value)]):
                seen[True] = tracing_for_xla(variable)
            return value

        jax.jit(compiled)(variable.value)
    assert seen == {False: False, True: True}
    assert not tracing_for_xla(variable)


def _fused_update_hlo(optimizer, shapes):
    """The optimized HLO analysis of the XLA-compiled update that the fused
    path (`fused=True`, TensorFlow) makes for a step not compiled itself."""
    import tensorflow as tf

    from keras_optlab.engine import fused as fused_path

    variables = [keras.Variable(np.ones(shape, "float32"))
                 for shape in shapes]
    optimizer.build(variables)

    @tf.function
    def step(gradients):
        optimizer.apply(gradients, variables)

    # Traced, which makes the fused update, but not run (running would
    # compile the update a second time).
    step.get_concrete_function([tf.fill(v.shape, 0.5) for v in variables])
    (hlo,) = fused_path.compiled_hlo(optimizer).values()
    return hlo_analysis.analyze(hlo)


# Both places XLA compiles an update: the whole step (jit_compile=True on
# TensorFlow, jit on JAX) and, on TensorFlow, the fused path's update of a
# step that is not compiled itself (tests/test_fused.py).
PATHS = ["whole step"] + (["fused update"] if BACKEND == "tensorflow" else [])


# Known gaps against the 10% target, measured; strict, so a fix shows up
# as a failure to remove.
OVER_MEMORY_TARGET = {
    name: "Schedule-Free's Adam step d = g / (sqrt(v_hat) + eps) is read "
    "by two writes, z -= gamma d and y's update (the paper's two "
    "sequences); XLA on CPU does not recompute a divide in two loops, so "
    "it holds d once: temporaries the size of the parameters, 155,940 B "
    "against 623,684 B of arguments (25%) in the whole step on TensorFlow "
    "and JAX, 147,464 B of 589,844 B in TensorFlow's fused update. "
    "keras.optimizers.ScheduleFreeAdamW holds the same (and copies twice "
    "on JAX). No copy; ScheduleFreeSGD (d = g) meets the target."
    for name in ("schedule_free_adamw", "schedule_free_radam")
}
MEMORY_ROWS = [
    pytest.param(row, id=row.name, marks=(
        [pytest.mark.xfail(reason=OVER_MEMORY_TARGET[row.name], strict=True)]
        if row.name in OVER_MEMORY_TARGET else []))
    for row in TABLE
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("row", MEMORY_ROWS)
def test_compiled_update_makes_no_hidden_copies(row, path):
    shapes = SHAPES if path == "whole step" else [(256, 128), (4096,)]
    if path == "whole step":
        memory = _hlo(helpers.make_optimizer(row.name), shapes)
    else:
        memory = _fused_update_hlo(
            helpers.make_optimizer(row.name, fused=True), shapes)
    # A row's declared parameter-sized buffers (optimizer_table.Row
    # .xla_buffers, with its reason), else none.
    copies, temporaries, _ = row.xla_buffers or (0, 0, "")
    parameter_bytes = sum(4 * int(np.prod(shape)) for shape in shapes)
    assert memory["copies"] == copies * len(shapes), memory
    if not row.elementwise:
        # A matrix method's products (tests/optimizer_table.py: elementwise;
        # its temporaries are bounded in its own test).
        return
    assert memory["temporary_bytes"] <= (
        helpers.MEMORY_SLACK * memory["argument_bytes"]
        + temporaries * parameter_bytes), memory


# Known gaps, measured; strict, so a fix shows up as a failure to remove.
COSTLIER_THAN_KERAS = {
    ("jax", "lamb"): "with two variables of one shape, JAX's compiled LAMB "
    "step makes 24 loops and holds 409,652 B of temporaries against "
    "keras.optimizers.Lamb's 22 and 262,204 B (the broadcast bias "
    "corrections, shared by both variables' norm loops); with mixed shapes "
    "and on TensorFlow it costs less than Keras'",
    ("jax", "schedule_free_adamw"): "15 loops against keras.optimizers."
    "ScheduleFreeAdamW's 12 (the scalar weights of the average, lr_max and "
    "q; Keras uses c = 1/t), with the same temporaries (262,164 B against "
    "262,160 B) and no copy where Keras makes 2",
}


def _twin(row):
    reason = COSTLIER_THAN_KERAS.get((BACKEND, row.name))
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(row, id=row.name, marks=marks)


KERAS_TWINS = [
    _twin(row) for row in TABLE
    if row.keras_builtin(helpers.make_optimizer(row.name).get_config())
    is not None
]


@pytest.mark.parametrize("row", KERAS_TWINS)
def test_compiled_step_costs_no_more_than_keras(row):
    """The issue's XLA-on speed target, checked without timing: with the
    whole step compiled, our update is no more program than Keras' own."""
    shapes = [(256, 128), (256, 128)]
    ours = helpers.make_optimizer(row.name)
    mine = _hlo(ours, shapes)
    theirs = _hlo(row.keras_builtin(ours.get_config()), shapes)
    for cost in ("loops", "traffic_bytes", "temporary_bytes"):
        assert mine[cost] <= theirs[cost], (cost, mine, theirs)


@pytest.mark.parametrize("row", ROWS)
def test_compiled_step_follows_the_eager_path(row):
    params, grads = helpers.random_problem(STEPS, seed=7, shapes=SHAPES)
    runs = []
    for compiled in (False, True):
        optimizer = helpers.make_optimizer(
            row.name, fused=False, **row.settings[0])
        variables = helpers.make_variables(params)
        step = (helpers.compiled_step(optimizer, variables, xla=True)
                if compiled else
                lambda g: optimizer.apply(g, variables))
        for gradient_list in grads:
            step([keras.ops.convert_to_tensor(g, dtype="float64")
                  for g in gradient_list])
        runs.append([np.array(v) for v in variables])
    eager, compiled = runs
    for a, b in zip(compiled, eager):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    assert not np.allclose(eager[0], params[0])
