"""`optlab benchmark` as a user runs it: bad arguments are one line naming
the option and the value, before any training or file; a quick run writes
its report and resumes."""

import json
import re

import pytest

from keras_optlab import cli


@pytest.mark.parametrize("arguments, message", [
    (["--workloads", "digits_mlp,nosuch"],
     "Unknown workload .*Received: --workloads='nosuch'"),
    (["--optimizers", "adam,nosuch"], "Received: --optimizers='nosuch'"),
    (["--optimizers", "adam,adam"], "listed twice. Received: "
                                    "--optimizers='adam'"),
    (["--optimizers", ","], "Received: --optimizers=','"),
    (["--ruleset", "external", "--trials", "0"], "--trials=.0."),
    (["--trials", "2"], "--trials=.2."),
    (["--studies", "x"], "--studies=.x."),
    (["--seed", "-1"], "--seed=.-1."),
])
def test_bad_arguments_are_one_line_before_any_file(tmp_path, capsys,
                                                    arguments, message):
    out = tmp_path / "out"
    status = cli.main(["benchmark", "--quick", "--out", str(out),
                       *arguments])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert len(error.splitlines()) == 1, error
    assert error.startswith("optlab benchmark: error:")
    assert re.search(message, error), error
    assert not out.exists()


def test_check_passes_for_every_bundled_workload(tmp_path, capsys):
    assert cli.main(["benchmark", "--check", "--out",
                     str(tmp_path / "out")]) == 0
    assert "check passed" in capsys.readouterr().out


def test_quick_run_writes_its_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "out"
    arguments = ["benchmark", "--quick", "--workloads", "digits_mlp",
                 "--optimizers", "adam,keras:adam", "--out", str(out)]
    assert cli.main(arguments) == 0
    printed = capsys.readouterr().out
    assert printed.count("digits_mlp") >= 2 and "[2/2]" in printed
    records = [json.loads(line) for line in
               (out / "records.jsonl").read_text().splitlines()]
    assert [r["optimizer"] for r in records] == ["adam", "keras:adam"]
    report = json.loads((out / "report.json").read_text())
    shown = {r["optimizer"]: r["time_to_target"] for r in report["rows"]}
    assert shown == {r["optimizer"]: r["time_to_target"] for r in records}
    assert "### digits_mlp" in (out / "report.md").read_text()
    assert f"tensorboard --logdir {out / 'tensorboard'}" in printed
    assert (out / "tensorboard" / "digits_mlp" / "keras_adam").is_dir()
    assert cli.main(arguments) == 0  # resumed: nothing left to train
    assert "[1/2]" not in capsys.readouterr().out
    assert len((out / "records.jsonl").read_text().splitlines()) == 2
    # Another seed in the same folder: one line, nothing trained.
    assert cli.main(arguments + ["--seed", "3"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "seed 0 and target 0.95" in error and "--out=" in error
