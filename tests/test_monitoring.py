"""OptimizerMonitor: tags and values read back from the event files."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

import keras_optlab
from keras_optlab.monitoring import OptimizerMonitor
from keras_optlab.monitoring import optimizer_state
from keras_optlab.monitoring.optimizer_monitor import _FirstBatchHook
from tests.event_files import read_scalars
from tests.event_files import tensor_tags


def linear_problem(n=16, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = x @ rng.normal(size=(d, 1)) + 0.3 + 0.1 * rng.normal(size=(n, 1))
    return x.astype("float32"), y.astype("float32")


def linear_model(optimizer, d=3):
    model = keras.Sequential([keras.Input((d,)),
                              keras.layers.Dense(1, name="linear")])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def mse_gradient(w, b, x, y):
    """d/d(w, b) of mean((x w + b - y)^2), in float64."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    residual = x @ w + b - y
    return 2.0 * x.T @ residual / len(x), 2.0 * residual.mean(axis=0)


def test_gradient_update_and_learning_rate_match_closed_form(tmp_path):
    # Full-batch gradient descent, so each epoch is one step and the
    # numbers follow from the model's initial weights alone.
    x, y = linear_problem()
    lr = 0.05
    model = linear_model(keras.optimizers.SGD(lr))
    w, b = (np.asarray(v, np.float64) for v in model.get_weights())
    history = [(w, b)]
    for _ in range(2):
        gw, gb = mse_gradient(w, b, x, y)
        w, b = w - np.float32(lr) * gw, b - np.float32(lr) * gb
        history.append((w, b))
    model.fit(x, y, batch_size=len(x), epochs=2, verbose=0,
              callbacks=[OptimizerMonitor(tmp_path, probe_data=(x, y))])
    scalars = read_scalars(tmp_path)

    assert [s for s, _ in scalars["gradients/global_norm"]] == [1, 2]
    for step in (1, 2):
        w, b = history[step]
        gw, gb = mse_gradient(w, b, x, y)
        want = np.sqrt(np.sum(gw**2) + np.sum(gb**2))
        got = dict(scalars["gradients/global_norm"])[step]
        np.testing.assert_allclose(got, want, rtol=1e-5)
        np.testing.assert_allclose(
            dict(scalars["gradients/norm/linear"])[step], want, rtol=1e-5)
        residual = x @ w + b - y
        np.testing.assert_allclose(dict(scalars["probe/loss"])[step],
                                   np.mean(residual**2), rtol=1e-5)
        (w0, b0), (w1, b1) = history[step - 1], history[step]
        update = np.sqrt(np.sum((w1 - w0)**2) + np.sum((b1 - b0)**2))
        np.testing.assert_allclose(
            dict(scalars["updates/norm/linear"])[step], update, rtol=1e-4)
        np.testing.assert_allclose(
            dict(scalars["updates/ratio/linear"])[step],
            update / np.sqrt(np.sum(w0**2) + np.sum(b0**2)), rtol=1e-4)
        assert dict(scalars["learning_rate"])[step] == pytest.approx(lr)
        assert dict(scalars["gradients/nonfinite_fraction"])[step] == 0.0


@pytest.mark.parametrize("schedule, formula", [
    (keras.optimizers.schedules.ExponentialDecay(0.1, 3, 0.5),
     lambda k: 0.1 * 0.5 ** (k / 3)),
    (keras_optlab.schedules.StepDecay(0.2, step_size=3, gamma=0.1),
     lambda k: 0.2 * 0.1 ** (k // 3)),
])
def test_logged_learning_rate_is_the_schedule_at_the_iteration(
        tmp_path, schedule, formula):
    x, y = linear_problem(n=8)
    model = linear_model(keras_optlab.optimizers.get(
        "momentum", learning_rate=schedule))
    model.fit(x, y, batch_size=2, epochs=2, verbose=0,
              callbacks=[OptimizerMonitor(tmp_path, update_freq=1)])
    logged = read_scalars(tmp_path)["learning_rate"]
    assert [step for step, _ in logged] == list(range(1, 9))
    for step, value in logged:
        assert value == pytest.approx(formula(step), rel=1e-6), step


# Optimizers whose whole update is step_size * m_hat (Adam family) or
# step_size * g (RMSprop, Adagrad) under a constant gradient g, for which
# m_hat = g exactly: the logged step sizes must reproduce the step taken.
STEP_SIZE_CASES = [
    ("adam", lambda: keras_optlab.optimizers.get("adam", learning_rate=0.01)),
    ("adam paper eps=0.5", lambda: keras_optlab.optimizers.get(
        "adam", learning_rate=0.01, epsilon=0.5, epsilon_mode="outside")),
    ("adam amsgrad", lambda: keras_optlab.optimizers.get(
        "adam", learning_rate=0.01, epsilon=0.1, amsgrad=True)),
    ("adamax", lambda: keras_optlab.optimizers.get("adamax", epsilon=0.1)),
    ("rmsprop centered", lambda: keras_optlab.optimizers.get(
        "rmsprop", epsilon=0.1, centered=True)),
    ("adagrad paper", lambda: keras_optlab.optimizers.get(
        "adagrad", epsilon=0.1, epsilon_mode="outside")),
    ("adagrad", lambda: keras_optlab.optimizers.get("adagrad", epsilon=0.1)),
    # With alpha 0 AdEMAMix is Adam with epsilon "outside".
    ("ademamix alpha=0 eps=0.5", lambda: keras_optlab.optimizers.get(
        "ademamix", learning_rate=0.01, alpha=0.0, epsilon=0.5)),
    ("keras Adam eps=0.5", lambda: keras.optimizers.Adam(0.01, epsilon=0.5)),
    ("keras Adam amsgrad", lambda: keras.optimizers.Adam(
        0.01, epsilon=0.1, amsgrad=True)),
    ("keras Adamax", lambda: keras.optimizers.Adamax(epsilon=0.1)),
    ("keras RMSprop", lambda: keras.optimizers.RMSprop(epsilon=0.1)),
    ("keras Adagrad", lambda: keras.optimizers.Adagrad(epsilon=0.1)),
]


@pytest.mark.parametrize("label, make", STEP_SIZE_CASES,
                         ids=[c[0] for c in STEP_SIZE_CASES])
def test_step_sizes_reproduce_the_step_taken(label, make):
    rng = np.random.default_rng(3)
    shapes = [(3, 2), (4,)]
    gradients = [rng.normal(size=s) * np.logspace(-2, 1, np.prod(s)).reshape(s)
                 for s in shapes]
    variables = [keras.Variable(rng.normal(size=s), dtype="float64",
                                name=f"w{i}") for i, s in enumerate(shapes)]
    optimizer = make()
    for _ in range(3):
        before = [np.asarray(v) for v in variables]
        optimizer.apply([tf.constant(g) for g in gradients], variables)
    taken = np.concatenate([(b - np.asarray(v)).ravel()
                            for b, v in zip(before, variables)])
    sizes, _ = optimizer_state.step_sizes(optimizer, variables)
    flat_gradient = np.concatenate([g.ravel() for g in gradients])
    # Keras' own optimizers round beta_2 and epsilon through float32.
    rtol = 3e-5 if label.startswith("keras") else 1e-9
    np.testing.assert_allclose(sizes * flat_gradient, taken, rtol=rtol)


def all_optimizers():
    ours = [(info.name, lambda info=info: info.cls())
            for info in keras_optlab.optimizers.available()]
    builtins = [(name, getattr(keras.optimizers, name)) for name in (
        "SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad",
        "Adadelta", "Ftrl", "Lion", "Lamb")]
    wrapped = [("LossScale(adam)", lambda: keras.optimizers.LossScaleOptimizer(
        keras_optlab.optimizers.get("adam")))]
    return ours + builtins + wrapped


@pytest.mark.slow
def test_every_optimizer_gets_finite_tags(tmp_path):
    x, y = linear_problem(n=8)
    rules = {}
    for label, make in all_optimizers():
        keras.utils.clear_session(free_memory=False)
        model = keras.Sequential([keras.Input((3,)),
                                  keras.layers.Dense(4, name="hidden"),
                                  keras.layers.Dense(1, name="out")])
        # Eager: tracing a train function per optimizer costs more here.
        model.compile(optimizer=make(), loss="mse", run_eagerly=True)
        run = tmp_path / label
        model.fit(x, y, batch_size=8, epochs=2, verbose=0,
                  callbacks=[OptimizerMonitor(run, probe_data=(x, y))])
        scalars = read_scalars(run)
        for tag in ("learning_rate", "gradients/global_norm",
                    "gradients/norm/hidden", "gradients/norm/out",
                    "updates/norm/hidden", "updates/ratio/out"):
            assert tag in scalars, (label, tag)
        for tag, values in scalars.items():
            assert all(np.isfinite(v) for _, v in values), (label, tag)
        _, rules[label] = optimizer_state.step_sizes(
            model.optimizer, model.trainable_variables)
        if rules[label] is not None:
            assert "optimizer_state/step_size/p50" in scalars, label
    assert rules["adam"] == rules["Adam"] == rules["LossScale(adam)"] == "adam"
    assert rules["nadam"] == rules["Nadam"] == rules["adamw"] == "adam"
    assert rules["adagrad"] == "adagrad" and rules["rmsprop"] == "rmsprop"
    assert rules["adadelta"] == rules["Adadelta"] == "adadelta"
    assert rules["gradient_descent"] is None and rules["SGD"] is None


def test_loss_scale_optimizer_logs_unscaled_gradients_and_the_scale(
        tmp_path):
    x, y = linear_problem()
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.01), initial_scale=2.0**10)
    model = linear_model(optimizer)
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0,
              callbacks=[OptimizerMonitor(tmp_path, probe_data=(x, y),
                                          histograms=True)])
    w, b = (np.asarray(v, np.float64) for v in model.get_weights())
    gw, gb = mse_gradient(w, b, x, y)
    scalars = read_scalars(tmp_path)
    np.testing.assert_allclose(scalars["gradients/global_norm"][0][1],
                               np.sqrt(np.sum(gw**2) + np.sum(gb**2)),
                               rtol=1e-5)
    assert scalars["optimizer_state/loss_scale"][0][1] == 2.0**10
    assert scalars["learning_rate"][0][1] == pytest.approx(0.01)
    assert {"histograms/gradients/linear", "histograms/updates/linear"} <= (
        tensor_tags(tmp_path))


def test_nonfinite_gradients_are_counted(tmp_path):
    x, y = linear_problem(n=8)
    x_bad = x.copy()
    x_bad[0, 0] = np.inf  # d loss / d w_0 and d b become non-finite
    model = linear_model(keras.optimizers.SGD(0.01))
    model.fit(x, y, epochs=1, verbose=0,
              callbacks=[OptimizerMonitor(tmp_path, probe_data=(x_bad, y))])
    fraction = read_scalars(tmp_path)["gradients/nonfinite_fraction"][0][1]
    # 3 kernel entries and 1 bias: the bias and all three weights see the
    # infinite residual of sample 0, so every entry is non-finite.
    assert fraction == 1.0


def test_update_freq_in_batches_and_epochs(tmp_path):
    x, y = linear_problem(n=12)
    model = linear_model(keras_optlab.optimizers.get("adam"))
    model.fit(x, y, batch_size=2, epochs=2, verbose=0, callbacks=[
        OptimizerMonitor(tmp_path / "every4", update_freq=4),
        OptimizerMonitor(tmp_path / "epoch")])
    steps = lambda run: [s for s, _ in read_scalars(run)["learning_rate"]]
    assert steps(tmp_path / "every4") == [4, 8, 12]
    assert steps(tmp_path / "epoch") == [6, 12]
    # The update is the last step's, so both runs agree at step 12.
    a = dict(read_scalars(tmp_path / "every4")["updates/global_norm"])[12]
    b = dict(read_scalars(tmp_path / "epoch")["updates/global_norm"])[12]
    assert a == b > 0


@pytest.mark.parametrize("kwargs, message", [
    ({"update_freq": 0}, "update_freq=0"),
    ({"update_freq": "batch"}, "update_freq='batch'"),
    ({"update_freq": True}, "update_freq=True"),
    ({"probe_data": np.zeros(3)}, "probe_data=ndarray"),
])
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        OptimizerMonitor(tmp_path, **kwargs)


def test_under_keras_tuner_each_trial_gets_its_own_run(tmp_path):
    x, y = linear_problem(n=8)
    def build(hp):
        lr = hp.Choice("lr", [0.01, 0.001])
        return linear_model(keras_optlab.optimizers.get("adam",
                                                        learning_rate=lr))

    tuner = keras_tuner.GridSearch(
        build, objective="loss", max_trials=2,
        directory=tmp_path / "tuner", project_name="p")
    monitor = OptimizerMonitor(tmp_path / "logs", probe_data=(x, y),
                               subdir_per_fit=True)
    tuner.search(x, y, epochs=1, verbose=0, callbacks=[monitor])
    runs = sorted(os.listdir(tmp_path / "logs"))
    assert runs == ["fit_0000", "fit_0001"]
    logged = [read_scalars(tmp_path / "logs" / r)["learning_rate"][0][1]
              for r in runs]
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    assert logged == pytest.approx(
        [t.hyperparameters.get("lr") for t in trials])
    assert monitor._writer is None  # the original was never used


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url, deadline):
    last_error = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except OSError as error:  # not listening yet
            last_error = error
            time.sleep(0.5)
    raise TimeoutError(f"{url}: {last_error}")


@pytest.mark.slow  # the server's start-up alone takes 5-15 s here
def test_a_tensorboard_server_shows_our_runs_and_tags(tmp_path):
    x, y = linear_problem(n=8)
    for name in ("adam", "momentum"):
        keras.utils.clear_session(free_memory=False)
        model = linear_model(keras_optlab.optimizers.get(name))
        model.fit(x, y, epochs=1, verbose=0, callbacks=[
            OptimizerMonitor(tmp_path / name, probe_data=(x, y))])
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir",
         str(tmp_path), "--port", str(port), "--host", "127.0.0.1",
         "--reload_interval", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        runs = []
        while (set(runs) != {"adam", "momentum"}
               and time.monotonic() < deadline):
            runs = get_json(f"{base}/data/runs", deadline)
            time.sleep(0.5)
        assert set(runs) == {"adam", "momentum"}
        tags = get_json(f"{base}/data/plugin/scalars/tags", deadline)
        assert "optimizer_state/velocity/rms" in tags["adam"]
        assert "optimizer_state/step_size/p50" in tags["adam"]
        assert "optimizer_state/velocity/rms" in tags["momentum"]
        assert "gradients/global_norm" in tags["momentum"]
        series = get_json(
            f"{base}/data/plugin/scalars/scalars?run=adam&tag=learning_rate",
            deadline)
        assert series[0][2] == pytest.approx(0.001)  # [wall time, step, value]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def scalar_values(run, prefix):
    return {tag: values for tag, values in read_scalars(run).items()
            if tag.startswith(prefix)}


class Batches(keras.utils.PyDataset):
    """x, y in batches of `size`, in order."""

    def __init__(self, x, y, size):
        super().__init__()
        self.x, self.y, self.size = x, y, size

    def __len__(self):
        return len(self.x) // self.size

    def __getitem__(self, index):
        part = slice(index * self.size, (index + 1) * self.size)
        return self.x[part], self.y[part]


def cycle(batches):
    while True:
        yield from (batches[i] for i in range(len(batches)))


@pytest.mark.parametrize("source", ["arrays", "dataset", "py_dataset",
                                    "generator"])
def test_without_probe_data_the_first_batch_is_the_probe(tmp_path, source):
    """The default probe is fit's first batch: the same gradients/ and
    probe/ values as probe_data=that batch, for each kind of input."""
    x, y = linear_problem(n=12)
    data = {"arrays": lambda: dict(x=x, y=y, batch_size=4),
            "dataset": lambda: dict(x=tf.data.Dataset.from_tensor_slices(
                (x, y)).batch(4)),
            "py_dataset": lambda: dict(x=Batches(x, y, 4)),
            "generator": lambda: dict(x=cycle(Batches(x, y, 4)),
                                      steps_per_epoch=3)}[source]()
    model = linear_model(keras_optlab.optimizers.get("adam"))
    model.fit(**data, epochs=2, shuffle=False, verbose=0, callbacks=[
        OptimizerMonitor(tmp_path / "default", update_freq=2),
        OptimizerMonitor(tmp_path / "given", probe_data=(x[:4], y[:4]),
                         update_freq=2)])
    for prefix in ("gradients/", "probe/"):
        default = scalar_values(tmp_path / "default", prefix)
        given = scalar_values(tmp_path / "given", prefix)
        assert sorted(default) == sorted(given)
        assert default == given
    steps = [s for s, _ in scalar_values(
        tmp_path / "default", "gradients/norm/linear")[
        "gradients/norm/linear"]]
    assert steps == [2, 4, 6]


def trained_weights(callbacks, x, y):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8),
                              keras.layers.Dropout(0.3),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras_optlab.optimizers.get("adam"), loss="mse")
    model.fit(x, y, batch_size=5, epochs=3, shuffle=True, verbose=0,
              callbacks=callbacks)
    return [np.asarray(w) for w in model.get_weights()], model


def test_taking_the_probe_batch_leaves_training_unchanged(tmp_path, caplog):
    """Shuffled batches (the last one smaller), dropout: the weights after
    fit are bit for bit those of a fit without the monitor; the first call
    of Keras' train function is handed back afterwards."""
    x, y = linear_problem(n=23)
    want, _ = trained_weights([], x, y)
    # Two monitors in one fit share the batch.
    monitors = [OptimizerMonitor(tmp_path / "every", update_freq=1),
                OptimizerMonitor(tmp_path / "epoch")]
    with caplog.at_level("INFO", logger=OptimizerMonitor.__module__):
        got, model = trained_weights(monitors, x, y)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    norms = dict(read_scalars(tmp_path / "every")["gradients/global_norm"])
    assert sorted(norms) == list(range(1, 16))
    assert all(np.isfinite(v) and v > 0 for v in norms.values())
    at_epochs = read_scalars(tmp_path / "epoch")["gradients/global_norm"]
    assert [s for s, _ in at_epochs] == [5, 10, 15]
    assert all(norms[s] == v for s, v in at_epochs)
    assert caplog.text.count(
        "first training batch of this fit (5 samples)") == 2
    assert not isinstance(model.train_function, _FirstBatchHook)


def test_no_probe_batch_with_several_steps_per_execution(tmp_path):
    x, y = linear_problem(n=8)
    model = linear_model(keras_optlab.optimizers.get("adam"))
    model.compile(optimizer="adam", loss="mse", steps_per_execution=2)
    with pytest.warns(UserWarning, match="steps_per_execution=2.*probe_data"):
        model.fit(x, y, batch_size=2, epochs=1, verbose=0,
                  callbacks=[OptimizerMonitor(tmp_path)])
    tags = read_scalars(tmp_path)
    assert "learning_rate" in tags
    assert not [t for t in tags if t.startswith(("gradients/", "probe/"))]


def test_no_probe_batch_under_a_distribution_strategy(tmp_path,
                                                     mirrored_strategy):
    x, y = linear_problem(n=8)
    with mirrored_strategy.scope():
        model = linear_model(keras_optlab.optimizers.get("adam"))
    with pytest.warns(UserWarning, match="not a tf.data iterator"):
        model.fit(x, y, batch_size=4, epochs=2, verbose=0,
                  callbacks=[OptimizerMonitor(tmp_path)])
    tags = read_scalars(tmp_path)
    assert [s for s, _ in tags["learning_rate"]] == [2, 4]
    assert not [t for t in tags if t.startswith(("gradients/", "probe/"))]
