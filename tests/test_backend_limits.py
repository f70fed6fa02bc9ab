"""Each entry of keras_optlab.backends.LIMITS, on the backend running the
tests: where the feature is supported it is built; where not, a clear
NotImplementedError names the backend and the reason, before any work."""

import keras
import numpy as np
import pytest

from keras_optlab import backends

BACKEND = keras.backend.backend()


def _probe():
    return np.ones((4, 3), "float32"), np.ones((4, 1), "float32")


def _build(feature, tmp_path):
    if feature == "OptimizerMonitor":
        from keras_optlab.monitoring import OptimizerMonitor
        return OptimizerMonitor(str(tmp_path), probe_data=_probe())
    if feature == "StabilityMonitor":
        from keras_optlab.monitoring import StabilityMonitor
        return StabilityMonitor(str(tmp_path), probe_data=_probe())
    raise AssertionError(f"no builder for {feature}")


def test_every_limit_has_a_reason():
    for feature, (supported, reason) in backends.LIMITS.items():
        assert "tensorflow" in supported, feature
        assert len(reason) > 20, feature


@pytest.mark.parametrize("feature", sorted(backends.LIMITS))
def test_feature_runs_or_refuses_clearly(feature, tmp_path):
    supported, reason = backends.LIMITS[feature]
    if BACKEND in supported:
        assert _build(feature, tmp_path) is not None
    else:
        with pytest.raises(NotImplementedError) as info:
            _build(feature, tmp_path)
        message = str(info.value)
        assert f"{feature} does not run on the '{BACKEND}' backend" in message
        assert reason in message
