"""The speed harness (`optlab bench`, keras_optlab/lab/bench/) and the
benchmark scripts in benchmarks/: the report's form and its traffic model,
the peak-memory measurement, fresh processes per optimizer. No timing is
asserted: speed claims come from the harness' runs (benchmarks/RESULTS.md).
"""

import json

import pytest


def test_bench_quick_writes_json_and_markdown(tmp_path):
    from keras_optlab import cli

    json_path, md_path = tmp_path / "bench.json", tmp_path / "bench.md"
    # --no-memory: the memory child process (a fresh TensorFlow) would
    # double the test's time; test_bench_step_memory covers its output.
    status = cli.main(["bench", "--quick", "--optimizers", "adam,lars",
                       "--no-memory", "--json", str(json_path),
                       "--markdown", str(md_path)])
    assert status == 0
    report = json.loads(json_path.read_text())
    assert report["quick"] and report["bandwidth"]["numpy_gb_s"] > 0
    assert [r["optimizer"] for r in report["steps"]] == ["adam", "lars"]
    adam, lars = report["steps"]
    # Adam reads param, grad, m, v and writes param, m, v: 7 float32.
    assert adam["slots_per_param"] == 2
    assert adam["bytes_moved_per_param"] == 28
    # LARS' norms read w and g once more (bench.EXTRA_READS).
    assert lars["extra_reads_per_param"] == 2
    assert lars["bytes_moved_per_param"] == 4 * (3 + 2 + 2)
    assert set(adam["candidates"]) == {
        "fused", "per-variable", "plain", "keras", "fused+xla", "keras+xla"}
    assert "keras" not in lars["candidates"]  # Keras has no LARS
    # fused="auto" compiles LARS' update.
    assert lars["default_path"] == "fused"
    assert lars["default_fraction_of_bound"] == (
        lars["candidates"]["fused"]["fraction_of_bound"])
    # What XLA compiled: every compiled candidate, read from its HLO. No
    # program can move less than the rule must (28 B per parameter), and
    # with the whole step compiled ours is Keras' program.
    compiled = adam["compiled"]
    assert set(compiled) == {"fused", "per-variable", "fused+xla",
                             "keras+xla"}
    assert all(c["traffic_bytes_per_param"] >= 28 and c["loops"] > 0
               for c in compiled.values())
    assert (compiled["fused+xla"]["traffic_bytes_per_param"]
            == compiled["keras+xla"]["traffic_bytes_per_param"])
    assert "keras+xla" not in lars["compiled"]
    fused = compiled["fused"]
    assert (f"| adam | 28 | {fused['traffic_bytes_per_param']:.0f}, "
            f"{fused['loops']}, {fused['temporary_fraction']:.2f}, "
            f"{fused['copies']} |") in md_path.read_text()
    for stats in adam["candidates"].values():
        assert stats["n"] == report["repeats"]
        assert 0 < stats["p10_ms"] <= stats["median_ms"] <= stats["p90_ms"]
    assert set(report["fit"]["seconds_per_epoch"]) == {"ours_adam",
                                                        "keras_adam"}
    markdown = md_path.read_text()
    assert adam["copy_gb_s"] > 0 and adam["bound_ms"] > 0
    assert "| adam | 28 | 8.0 |" in markdown
    assert "Keras Adam / ours:" in markdown


def test_bench_step_memory():
    """The peak-memory measurement, run here in-process (the harness runs
    it in a child process with a malloc that unmaps freed buffers), and its
    Markdown table."""
    from keras_optlab.lab import bench

    measured = bench.step_memory_child(["adam"], 40_000, 2, steps=1)
    assert measured["method"] in ("vmhwm", "gpu_peak")
    adam = measured["results"]["adam"]
    assert set(adam) == set(bench.MEMORY_LABELS)
    for stats in adam.values():
        # float32 params and grads, Adam's two slots, and the scalars
        # (`iterations`, the learning rate).
        assert 40_000 * 16 < stats["held_bytes"] < 40_000 * 16 + 64
        assert stats["step_peak_extra_bytes"] >= 0
        assert stats["step_peak_extra_fraction"] == (
            stats["step_peak_extra_bytes"] / stats["held_bytes"])
    report = {
        "machine": bench.machine(), "repeats": 1, "warmup": 1,
        "bandwidth": {"tensorflow_gb_s": 1.0, "numpy_gb_s": 1.0},
        "steps": [{
            "optimizer": "adam", "params": 40_000, "variables": 2,
            "bytes_moved_per_param": 28, "state_bytes_per_param": 8.0,
            "copy_gb_s": 1.0, "bound_ms": 1.0, "memory_method": "vmhwm",
            "default_path": "fused", "default_fraction_of_bound": 1.0,
            "candidates": {label: dict(
                {"median_ms": 1.0, "p10_ms": 1.0, "p90_ms": 1.0,
                 "first_call_s": 1.0, "fraction_of_bound": 1.0},
                **adam.get(label, {})) for label in (
                    "fused", "per-variable", "plain", "keras", "fused+xla",
                    "keras+xla")},
        }],
    }
    fused = adam["fused"]
    assert (f"| adam | {fused['step_peak_extra_fraction']:.2f} "
            f"({fused['step_peak_extra_bytes'] / 1e6:.1f} MB) |"
            in bench.to_markdown(report))


@pytest.mark.slow
def test_bench_times_each_optimizer_in_a_fresh_process():
    """Full runs time (and measure) every optimizer in its own process (a
    process making and deleting Keras optimizers keeps growing); the
    child's result has the in-process result's form."""
    from keras_optlab.lab import bench

    isolated = bench.time_optimizer_isolated("momentum", 20_000, 2, 1, 2)
    in_process = bench.time_optimizer("momentum", 20_000, 2, 1, 2)
    assert set(isolated) == set(in_process)
    assert set(isolated["candidates"]) == set(in_process["candidates"])
    assert isolated["params"] == in_process["params"] == 20_000
    assert all(stats["n"] == 2 for stats in isolated["candidates"].values())
    # A failing child names what it was timing and says why.
    with pytest.raises(RuntimeError, match=(
            r"Timing nope at 20,000 parameters failed: .*ValueError: "
            r"Unknown optimizer. Received: identifier='nope'")):
        bench.time_optimizer_isolated("nope", 20_000, 2, 1, 2)
    # Peak memory, likewise one process per optimizer, merged.
    measured = bench.step_memory(["momentum", "gradient_descent"], 20_000, 2)
    assert set(measured["results"]) == {"momentum", "gradient_descent"}
    assert set(measured["results"]["momentum"]) == set(bench.MEMORY_LABELS)


def test_xla_pairs_script_times_both_compiled_steps(capsys):
    """benchmarks/xla_pairs.py, the long XLA-on comparison RESULTS.md
    quotes: its table row for an optimizer Keras has, none for one it
    lacks."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "benchmarks" / "xla_pairs.py"
    spec = importlib.util.spec_from_file_location("xla_pairs", path)
    xla_pairs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(xla_pairs)
    stats = xla_pairs.pair("momentum", 20_000, 4)
    assert set(stats) == {"fused+xla", "keras+xla"}
    assert all(s["n"] == 4 and 0 < s["p10_ms"] <= s["p90_ms"]
               for s in stats.values())
    assert xla_pairs.pair("yogi", 20_000, 4) is None
    xla_pairs.main(["--size", "20000", "--repeats", "2", "--optimizers",
                    "gradient_descent,yogi"])
    table = capsys.readouterr().out
    assert "| gradient_descent | " in table and "| yogi |" not in table


def test_bench_rejects_unknown_optimizer(capsys):
    from keras_optlab import cli

    assert cli.main(["bench", "--quick", "--optimizers", "nope"]) == 2
    assert "unknown optimizer 'nope'" in capsys.readouterr().err


def test_digits_cnn_fit_times_each_optimizer_against_the_first():
    """The fit comparison of the matrix methods (benchmarks/matrix_fit.py),
    on 64 samples: one epoch timed per optimizer after the compiling one."""
    from keras_optlab.lab.bench.fit import time_digits_cnn_fit

    result = time_digits_cnn_fit(("adam", "muon"), epochs=2, samples=64)
    assert set(result["seconds_per_epoch"]) == {"adam", "muon"}
    assert all(s["n"] == 1 for s in result["seconds_per_epoch"].values())
    assert result["ratio"]["adam"] == 1.0 and result["ratio"]["muon"] > 0
    assert result["steps_per_epoch"] == 2
