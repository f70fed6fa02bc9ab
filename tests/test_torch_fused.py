"""`fused=True` on Keras' torch backend: the update loop compiled with
`torch.compile` gives the eager path's results.

Run by tests/test_backends.py in its torch process (this file needs
KERAS_BACKEND=torch; in the TensorFlow run the fused path is tested by
test_fused.py). One optimizer with a scalar state read across variables
(Prodigy) and Adam; the first step compiles (several seconds).
"""

import keras
import numpy as np
import pytest

from tests import helpers

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="torch.compile path; test_backends.py runs this file on torch")


@pytest.mark.parametrize("name", ["adam", "prodigy"])
def test_compiled_equals_eager(name):
    params, grads = helpers.random_problem(3, seed=11)
    results = {}
    for fused in (True, False):
        optimizer = helpers.make_optimizer(name, fused=fused)
        variables = helpers.make_variables(params)
        for gradient_list in grads:
            optimizer.apply(
                [keras.ops.convert_to_tensor(g) for g in gradient_list],
                variables)
        results[fused] = [keras.ops.convert_to_numpy(v) for v in variables]
        compiled = optimizer.__dict__.get("_torch_compiled")
        # fused=True really ran the compiled step; fused=False never made it.
        assert (compiled is not None and compiled.step is not None) == fused
    for a, b in zip(results[True], results[False]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)
    assert not np.allclose(results[True][0], params[0])


def test_each_optimizer_compiles_its_own_step():
    """TorchDynamo stops recompiling a function after its recompile limit
    (8) and then runs it eagerly without an error: with one shared update
    function the ninth fused optimizer of a process ran eagerly. With the
    limit at 1, two optimizers must still add a compiled graph each."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    limit = torch._dynamo.config.recompile_limit
    torch._dynamo.config.recompile_limit = 1
    try:
        for name in ("gradient_descent", "momentum"):
            before = counters["stats"]["unique_graphs"]
            optimizer = helpers.make_optimizer(name, learning_rate=0.1,
                                               fused=True)
            (variable,) = helpers.make_variables([np.ones(4)])
            for _ in range(2):
                optimizer.apply([keras.ops.ones(4, dtype=variable.dtype)],
                                [variable])
            assert counters["stats"]["unique_graphs"] > before, name
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(variable),
                np.ones(4) - 0.1 * (2.0 if name == "gradient_descent"
                                    else 1.0 + (1.0 + 0.9)),
                rtol=1e-12)
    finally:
        torch._dynamo.config.recompile_limit = limit
