"""Cautious follows its NumPy reference (tests/wrapper_references.py) over
the inner optimizer's own reference: C-AdamW and C-Lion (ours), Keras' Lion and SGD with momentum,
C-MARS, each rescaling; in `fit` with and without `jit_compile`; config
and `.keras` round trips; bad arguments. Float64 steps: rtol 1e-9, atol
1e-12 (helpers.RTOL64 / ATOL64); float32 `fit`: rtol 2e-5, atol 1e-6, as
tests/test_lookahead.py. MirroredStrategy: tests/test_wrappers_distribute.py.
"""

import keras
import numpy as np
import pytest

import keras_optlab
from keras_optlab.optimizers import MARS
from keras_optlab.optimizers import AdamW
from keras_optlab.optimizers import Cautious
from keras_optlab.optimizers import Lion
from tests import helpers
from tests import models
from tests import references as refs
from tests import wrapper_references as wrefs

RTOL, ATOL = helpers.RTOL64, helpers.ATOL64
LR = 0.01
ADAM_HYPER = {"epsilon": 1e-8, "epsilon_mode": "outside"}

# (inner optimizer, its reference and hyperparameters, the decoupled weight
# decay Keras applies, rescale)
CASES = {
    "c-adamw": (lambda: AdamW(LR, weight_decay=0.1, **ADAM_HYPER),
                refs.AdamRef, ADAM_HYPER, 0.1, "count"),
    "c-adamw-mean": (lambda: AdamW(LR, weight_decay=0.1, **ADAM_HYPER),
                     refs.AdamRef, ADAM_HYPER, 0.1, "mean"),
    "c-lion": (lambda: Lion(LR, weight_decay=0.05), refs.LionRef, {}, 0.05,
               "count"),
    "c-lion-none": (lambda: Lion(LR, beta_1=0.5), refs.LionRef,
                    {"beta_1": 0.5}, None, None),
    # Keras' own optimizers. (Not Keras' Adam here: on TensorFlow its
    # bias correction rounds beta_2 through float32 and its moment update
    # does not, which no single beta_2 of a reference reproduces.)
    "keras-c-momentum": (
        lambda: keras.optimizers.SGD(LR, momentum=0.75, weight_decay=0.1),
        refs.MomentumRef, {"momentum": 0.75}, 0.1, "count"),
    "keras-c-lion": (lambda: keras.optimizers.Lion(LR), refs.LionRef, {},
                     None, "mean"),
    "c-mars": (lambda: MARS(LR), refs.MARSRef, {}, None, "count"),
}


def _reference(params, inner_ref, hyper, weight_decay, rescale):
    if weight_decay is not None:
        weight_decay = helpers.as_float32(weight_decay)
    return wrefs.CautiousRef(inner_ref(params, **hyper), rescale,
                             weight_decay)


@pytest.mark.parametrize("case", sorted(CASES))
def test_follows_reference(case):
    make_inner, inner_ref, hyper, weight_decay, rescale = CASES[case]
    params, grads = helpers.random_problem(25, seed=3)
    optimizer = Cautious(make_inner(), rescale=rescale)
    actual = helpers.run_keras(optimizer, params, grads)
    reference = _reference(params, inner_ref, hyper, weight_decay, rescale)
    expected = []
    for step_grads in grads:
        reference.step(step_grads, helpers.as_float32(LR))
        expected.append([p.copy() for p in reference.params])
    helpers.assert_trajectories_close(actual, expected, RTOL, ATOL)
    # The mask acted: it dropped some coordinates and kept others.
    kept = np.concatenate([m.ravel() for step in reference.masks[1:]
                           for m in step])
    assert 0.01 < kept.mean() < 0.99
    assert int(optimizer.iterations.numpy()) == 25


def test_inner_state_is_the_unmasked_one():
    """The inner optimizer's moments are those of the inner optimizer
    alone on the same gradients (only the weights are masked)."""
    params, grads = helpers.random_problem(10, seed=4)
    wrapped = Cautious(AdamW(LR, weight_decay=0.0))
    alone = AdamW(LR, weight_decay=0.0)
    helpers.run_keras(wrapped, params, grads)
    helpers.run_keras(alone, params, grads)
    for a, b in zip(wrapped.inner_optimizer.variables, alone.variables):
        np.testing.assert_allclose(np.asarray(a.numpy()),
                                   np.asarray(b.numpy()), rtol=1e-12)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_follows_reference(jit_compile):
    x, y = wrefs.linear_problem()
    model = models.linear_model(Cautious(Lion(0.01, weight_decay=0.1)),
                                jit_compile)
    params = [w.numpy() for w in model.weights]
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    reference = wrefs.CautiousRef(refs.LionRef(params), "count",
                                  helpers.as_float32(0.1))
    wrefs.run_on_batches(reference, x, y, 8, 2, helpers.as_float32(0.01))
    for got, want in zip(model.weights, reference.params):
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-5, atol=1e-6)
    assert int(model.optimizer.iterations.numpy()) == 8


def test_save_and_reload_continues_identically(tmp_path):
    x, y = wrefs.linear_problem()
    fit = dict(batch_size=8, shuffle=False, verbose=0)

    def make():
        model = models.linear_model(Cautious(AdamW(0.05), rescale="mean"))
        model.set_weights([np.full((3, 1), 0.1), np.zeros(1)])
        return model

    straight = make()
    straight.fit(x, y, epochs=2, **fit)
    first = make()
    first.fit(x, y, epochs=1, **fit)
    path = tmp_path / "cautious.keras"
    first.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.optimizer, Cautious)
    assert reloaded.optimizer.rescale == "mean"
    assert isinstance(reloaded.optimizer.inner_optimizer, AdamW)
    assert int(reloaded.optimizer.iterations.numpy()) == 4
    reloaded.fit(x, y, epochs=1, **fit)
    for got, want in zip(reloaded.weights, straight.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("rescale", ["count", "mean", None])
def test_config_round_trip(rescale):
    optimizer = Cautious(Lion(0.003, beta_1=0.8), rescale=rescale,
                         name="c")
    config = optimizer.get_config()
    assert config["rescale"] == rescale
    for restored in (
        Cautious.from_config(config),
        keras.optimizers.deserialize(keras.optimizers.serialize(optimizer)),
    ):
        assert isinstance(restored, Cautious)
        assert restored.get_config() == config
        assert type(restored.inner_optimizer) is Lion


def test_registered_for_saving():
    assert keras.saving.get_registered_name(Cautious) == (
        "keras_optlab>Cautious")
    assert keras_optlab.optimizers.Cautious is Cautious
    registered = {info.name for info in keras_optlab.optimizers.available()}
    assert "cautious" not in registered


@pytest.mark.parametrize("kwargs, error, text", [
    ({"rescale": "median"}, ValueError, "rescale='median'"),
    ({"optimizer": 3}, TypeError, "optimizer=3"),
    ({"learning_rate": 0.1}, ValueError, "learning_rate=0.1"),
    ({"optimizer": AdamW(gradient_accumulation_steps=2)}, ValueError,
     "gradient_accumulation_steps=2"),
])
def test_bad_arguments(kwargs, error, text):
    arguments = {"optimizer": AdamW()}
    arguments.update(kwargs)
    with pytest.raises(error, match=text):
        Cautious(**arguments)
