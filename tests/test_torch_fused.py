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
