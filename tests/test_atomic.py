"""keras_optlab.atomic: a kill between the write and the rename, or a write
that fails, leaves the previous file whole and nothing under the final name
that is not a whole result."""

import errno
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from keras_optlab import atomic
from keras_optlab.lab.bench import report as bench_report
from keras_optlab.lab.landscape import plotting

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Writes the new content to the temporary file (all of it, or half), says
# so, and waits to be killed: the rename never happens.
WRITER = """
import sys, time
from keras_optlab import atomic
path, content, part = sys.argv[1], sys.argv[2], float(sys.argv[3])

def write(temporary):
    with open(temporary, "w") as f:
        f.write(content[:int(len(content) * part)])
        f.flush()
        print(temporary, flush=True)
        time.sleep(600)

atomic.write_atomically(path, write)
"""


@pytest.mark.parametrize("part", [1.0, 0.5])
def test_a_kill_before_the_rename_leaves_the_previous_file(tmp_path, part):
    path = tmp_path / "trials.json"
    atomic.write_json(path, {"trials": [1, 2]})
    new = json.dumps({"trials": list(range(1000))})
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), new, str(part)], cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
        text=True)
    temporary = writer.stdout.readline().strip()
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert writer.returncode == -signal.SIGKILL
    # The content reached the disk, under the temporary name only.
    with open(temporary) as f:
        assert f.read() == new[:int(len(new) * part)]
    assert os.path.dirname(temporary) == str(tmp_path)
    assert os.path.basename(temporary).startswith(".")
    with open(path) as f:
        assert json.load(f) == {"trials": [1, 2]}
    # The next write is unaffected by the leftover.
    atomic.write_json(path, {"trials": [3]})
    with open(path) as f:
        assert json.load(f) == {"trials": [3]}


def test_a_serializer_raising_midway_leaves_the_previous_file(tmp_path):
    path = tmp_path / "best_hyperparameters.json"
    atomic.write_json(path, {"value": 0.5})
    before = path.read_bytes()
    # json.dump streams: the list is written before the object fails.
    with pytest.raises(TypeError, match="not JSON serializable"):
        atomic.write_json(path, {"a": list(range(5000)), "b": object()})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]


def test_a_full_disk_leaves_the_previous_file(tmp_path):
    path = tmp_path / "curves.png"
    path.write_bytes(b"previous picture")

    def write(temporary):
        with open(temporary, "wb") as f:
            f.write(b"\x89PNG half of it")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic.write_atomically(path, write)
    assert path.read_bytes() == b"previous picture"
    assert os.listdir(tmp_path) == [path.name]


def test_the_temporary_name_keeps_the_extension(tmp_path):
    assert atomic.temporary_path(tmp_path / "beale.gif").endswith(".gif")
    weights = atomic.temporary_path(tmp_path / "c.weights.h5",
                                    suffix=".weights.h5")
    assert os.path.basename(weights) == f".c.tmp{os.getpid()}.weights.h5"


def test_bench_report_that_fails_to_serialize_keeps_the_previous(tmp_path):
    """A real writer: a report holding a value json cannot write (a numpy
    float32) fails after part of it was written."""
    json_path, markdown_path = tmp_path / "bench.json", tmp_path / "bench.md"
    json_path.write_text('{"previous": true}')
    report = {"meta": {"backend": "tensorflow"},
              "speed": [{"ms": float(i)} for i in range(200)],
              "bad": np.float32(1.0)}
    with pytest.raises(TypeError):
        bench_report.write(report, json_path=str(json_path))
    assert json_path.read_text() == '{"previous": true}'
    assert sorted(os.listdir(tmp_path)) == ["bench.json"]
    assert not markdown_path.exists()


def test_pictures_replace_the_previous_whole(tmp_path):
    png, gif = tmp_path / "saddle.png", tmp_path / "saddle.gif"
    png.write_bytes(b"old")
    gif.write_bytes(b"old")
    points = {"a": np.array([[1.0, 0.5], [0.9, 0.6], [0.8, 0.7]])}
    plotting.plot_trajectories("saddle", points, str(png))
    plotting.animate_trajectories("saddle", points, str(gif), frames=3)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert gif.read_bytes().startswith(b"GIF89a")
    assert sorted(os.listdir(tmp_path)) == ["saddle.gif", "saddle.png"]
