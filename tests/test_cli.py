"""The `optlab` command as a user runs it."""

import subprocess
import sys

from keras_optlab import cli
from keras_optlab import optimizers


def _run(*args):
    return subprocess.run([sys.executable, "-m", "keras_optlab.cli", *args],
                          capture_output=True, text=True, timeout=120)


def test_list_prints_every_optimizer_with_its_paper():
    result = _run("list")
    assert result.returncode == 0, result.stderr
    for info in optimizers.available():
        assert info.name in result.stdout
        assert info.reference in result.stdout


def test_list_markdown(capsys):
    assert cli.main(["list", "--format", "markdown"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| name |")
    assert len(out) == 2 + len(optimizers.available())


def test_list_says_where_weight_decay_is_coupled(capsys):
    assert cli.main(["list"]) == 0
    plain = capsys.readouterr().out
    assert cli.main(["list", "--format", "markdown"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    coupled = {info.name for info in optimizers.available()
               if info.weight_decay == "coupled"}
    assert coupled == {"lars", "adan", "prodigy", "novograd", "madgrad",
                       "lamb", "dadaptadam", "dadaptsgd"} | {
                           "schedule_free_sgd", "schedule_free_adamw",
                           "schedule_free_radam"}
    for info, row in zip(optimizers.available(), rows):
        assert f"| {info.weight_decay} |" in row, row
    assert plain.count("weight_decay: coupled") == len(coupled)


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "usage: optlab" in capsys.readouterr().out


def test_unknown_option_is_a_usage_error():
    result = _run("list", "--format", "html")
    assert result.returncode == 2
    assert "invalid choice: 'html'" in result.stderr
    assert "Traceback" not in result.stderr
