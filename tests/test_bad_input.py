"""Bad input everywhere: fuzzed recipes and command lines, data files,
corrupt or foreign `.keras` files, and failing commands that must leave the
disk alone.

The fuzz runs `optlab COMMAND --check ...` in-process through `cli.main`:
`--check` validates every argument, the recipe, the data and the output
paths and stops before any work, so no example trains. The property: exit
status 0 (the command would run), or status 2 and exactly one line on
stderr naming the option or field; never a traceback, never another
exception.
"""

import hashlib
import json
import os
import string
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_optlab import cli
from keras_optlab import optimizers
from keras_optlab.saving import ModelFileError
from keras_optlab.saving import load_model
from keras_optlab.tuning import recipes

FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                database=None, suppress_health_check=list(HealthCheck))


def run_cli(argv, capsys):
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_clean_outcome(status, err, argv, out=""):
    assert "Traceback" not in err, (argv, err)
    if status == 0:
        return
    if status == 2 and not err:  # no command: the help, on stdout
        assert "usage: optlab" in out
        return
    assert status == 2, (argv, status, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, (argv, err)
    assert lines[0].startswith("optlab"), (argv, err)
    assert "error:" in lines[0], (argv, err)


# --- recipes -----------------------------------------------------------------

SECTIONS = ["", "data", "data.synthetic", "model", "search", "space",
            "space.learning_rate", "space.epsilon", "space.beta_2",
            "early_stopping", "pruning", "nonsense"]
KEYS = sorted(set().union(*recipes.FIELDS.values())
              | {"adam", "momentum", "rmsprop", "bogus", "x"})
TOML_VALUES = st.sampled_from([
    "0", "-1", "1", "2", "3", "1e308", "-1e308", "inf", "-inf", "nan", "0.5",
    "1.0", "99999999999999999", "true", "false", '""', '"adam"', '"mlp"',
    '"conv"', '"digits"', '"random"', '"bayesian"', '"hyperband"',
    '"val_loss"', '"min"', '"sideways"', '"missing.npz"', '"x.csv"',
    '"synthetic_images"', "[]", "[1]", "[0.1, 0.001]", "[1e-4, 1.0]",
    "[0.0, 0.5]", "[-1, 2]", '["adam"]', '["adam", "adam"]', '["nope"]',
    "[16]", "[0]", '[true, "a"]', "[nan, 1]", "[1, inf]", "[0.9, 1.5]",
    "{a = 1}", "1979-05-27", '"\\u00e9"', "[[1]]",
])


@st.composite
def toml_documents(draw):
    """Valid TOML built from the recipe's own sections and keys, with
    values of every kind: wrong types, out of range, huge, NaN, inf."""
    lines = []
    for section in draw(st.lists(st.sampled_from(SECTIONS), max_size=4,
                                 unique=True)):
        if section:
            lines.append(f"[{section}]")
        for key in draw(st.lists(st.sampled_from(KEYS), max_size=4,
                                 unique=True)):
            lines.append(f"{key} = {draw(TOML_VALUES)}")
    return "\n".join(lines) + "\n"


def mutated(text_strategy):
    """Shipped recipes with characters deleted, repeated or replaced."""
    @st.composite
    def build(draw):
        text = draw(text_strategy)
        for _ in range(draw(st.integers(1, 4))):
            if not text:
                break
            i = draw(st.integers(0, len(text) - 1))
            op = draw(st.sampled_from(["delete", "repeat", "replace"]))
            if op == "delete":
                text = text[:i] + text[i + 1:]
            elif op == "repeat":
                text = text[:i] + text[i] * 3 + text[i:]
            else:
                text = text[:i] + draw(st.sampled_from(
                    list("[]=\"'.,#\n 0-9ea") + ["nan", "inf", "-"])) \
                    + text[i + 1:]
        return text.encode()
    return build()


SHIPPED = [open(os.path.join("tuning", name)).read()
           for name in sorted(os.listdir("tuning")) if name.endswith(".toml")]

RECIPE_BYTES = st.one_of(
    toml_documents().map(str.encode),
    mutated(st.sampled_from(SHIPPED)),
    st.text(alphabet=string.printable, max_size=80).map(str.encode),
    st.binary(max_size=80),
    st.just(b""),
    st.just(b"\xff\xfe[search]\nmax_trials = 2\n"),  # not UTF-8
    st.just("name = \"caf\u00e9\"\n".encode("latin-1")),
)


@FUZZ
@given(content=RECIPE_BYTES)
def test_recipe_loader_fuzz_raises_only_recipe_error(tmp_path_factory,
                                                     content):
    path = tmp_path_factory.mktemp("recipe") / "fuzz.toml"
    path.write_bytes(content)
    try:
        recipe = recipes.load_recipe(path)
    except recipes.RecipeError as error:
        message = str(error)
        assert "\n" not in message
        assert message.startswith(str(path)) or "not found" in message
    else:
        assert isinstance(recipe, recipes.Recipe)


# Each valid example reads the data and builds the model: fewer of them.
@settings(FUZZ, max_examples=15)
@given(content=RECIPE_BYTES)
def test_tune_check_fuzzed_recipe_one_line_or_ok(tmp_path_factory, capsys,
                                                 content):
    folder = tmp_path_factory.mktemp("tune")
    path = folder / "fuzz.toml"
    path.write_bytes(content)
    argv = ["tune", str(path), "--check", "--directory",
            str(folder / "runs")]
    status, _, err = run_cli(argv, capsys)
    assert_clean_outcome(status, err, content)
    assert not (folder / "runs").exists()  # --check writes nothing


# --- command lines -----------------------------------------------------------

# Values that probe each kind of option: numbers of every sign and size,
# non-numbers, empty, lists with holes, paths that are folders or missing.
VALUES = ["0", "1", "-1", "3", "1e-300", "1e308", "1e999", "-0", "nan",
          "inf", "-inf", "x", "", " ", "1,2", "1,", ",", "1,x", "0.5,0.5",
          "adam", "adam,adam", "momentum,keras:Adam", "keras:Nope",
          "nope", "gradient_descent", "quick", "digits", "auto", "0.9",
          "2.5", "adam=0.1", "adam=x", "=", "1:2", "host:80", "host:99999",
          "chief", "tuning", "no/such/dir/file.png", "out.txt", "plot.png",
          "rosenbrock", "beale", "saddle", "random", "hyperband", "table",
          "html", "\x00", "\u00e9", "-", "--"]

INTEGERS = ["0", "1", "-1", "3", "2", "64", "4294967296", "-0", "1e3", "x"]
NUMBERS = ["0", "1", "-1", "1e-300", "1e-6", "10", "1e308", "1e999", "nan",
           "inf", "-inf", "0.5", "x", ""]
ANY = VALUES
FLAG = None
# Each command's options with the values worth trying there (drawn from
# ANY now and then).
OPTIONS = {
    "list": {"--format": ["table", "markdown", "html"]},
    "tune": {"": ["quick", "digits", "nope", "tuning", "x.toml"],
             "--tuner": ["random", "grid", "annealing", "hyperband"],
             "--max-trials": INTEGERS, "--hyperband-iterations": INTEGERS,
             "--directory": ANY,
             "--overwrite": FLAG, "--seed": INTEGERS, "--no-pruning": FLAG,
             "--chief": FLAG, "--worker": ["1", "", "chief", "w"],
             "--oracle": ["host:80", "host:99999", "1:2", "x", ":80"]},
    "lr-find": {"--optimizer": ["adam", "prodigy", "nope", "keras:Adam"],
                "--data": ["digits", "regression", "mnist"],
                "--batch-size": INTEGERS, "--min-lr": NUMBERS,
                "--max-lr": NUMBERS, "--steps": INTEGERS,
                "--rule": ["steepest", "min_over_10", "max"],
                "--plot": ["p.png", "p.txt", "p", "tuning", "no/dir/p.png"],
                "--seed": INTEGERS},
    "landscape": {"--function": ["rosenbrock", "beale", "saddle", "nope"],
                  "--optimizers": ["adam", "adam,adam", "momentum,keras:Adam",
                                   "keras:Nope", ",", "nope", "prodigy"],
                  "--lr": ["adam=0.1", "adam=x", "adam=nan", "=", "nope=1",
                           "adam=-1", "adam=1e999"],
                  "--steps": INTEGERS,
                  "--start": ["1,2", "1,x", "nan,0", "1", "1,2,3", ","],
                  "--out": ["out", "tuning", "tuning/x", ""],
                  "--no-gif": FLAG},
    "compare": {"--recipe": ["quick", "nope", "tuning", "x.toml"],
                "--optimizers": ["adam", "adam,adam", "keras:Adam", "nope",
                                 ",", "keras:Nope"],
                "--lrs": ["0.1", "0.1,x", "0,1", "-1", "nan", "1e999", ","],
                "--epochs": INTEGERS, "--batch-size": INTEGERS,
                "--target": ["auto", "0.5", "5", "0", "nan", "x"],
                "--out": ["out", "tuning", ""], "--seed": INTEGERS},
    "bench": {"--quick": FLAG, "--sizes": ["20000", "1e6", "19", "inf", "x",
                                            "1e999", "100,", "-5"],
              "--optimizers": ["adam", "nope", ",", "adam,prodigy"],
              "--repeats": INTEGERS, "--no-fit": FLAG,
              "--json": ["b.json", "tuning", "no/dir/b.json", ""],
              "--markdown": ["b.md", "b.json", "tuning", ""]},
}
TOKENS = sorted({o for options in OPTIONS.values() for o in options if o}
                | {"--bogus", "-x", "-h"} | set(VALUES))


@st.composite
def argument_vectors(draw):
    """Mostly well-formed command lines with bad values (so the check
    stage is reached), now and then a missing value, an unknown option or
    a stray token (so argparse's errors are covered too)."""
    command = draw(st.sampled_from(sorted(OPTIONS) + ["nosuch", ""]))
    argv = [command, "--check"] if command else []
    options = OPTIONS.get(command, {})
    for option in draw(st.lists(st.sampled_from(sorted(options) or [""]),
                                max_size=4, unique=True)):
        pool = options.get(option, ANY)
        if option:
            argv.append(option)
        if pool is FLAG or not draw(st.integers(0, 15)):
            continue  # a flag, or (rarely) a value left out
        argv.append(draw(st.sampled_from(
            ANY if not draw(st.integers(0, 7)) else pool)))
    if not draw(st.integers(0, 7)):
        argv.insert(draw(st.integers(0, len(argv))),
                    draw(st.sampled_from(TOKENS)))
    return argv


@FUZZ
@given(argv=argument_vectors())
def test_cli_fuzz_one_line_or_ok(tmp_path_factory, monkeypatch, capsys,
                                 argv):
    # Relative output paths land in a fresh folder; "tuning" there is a
    # folder where a file is expected.
    folder = tmp_path_factory.mktemp("cli")
    monkeypatch.chdir(folder)
    (folder / "tuning").mkdir()
    monkeypatch.setattr(sys, "argv", ["optlab"])
    if "--check" not in argv and argv and argv[0] in OPTIONS:
        pytest.fail("every fuzzed command line stops at --check")
    try:
        status, out, err = run_cli(argv, capsys)
    except SystemExit as done:  # only `-h` may exit, with status 0
        assert done.code == 0, argv
        return
    assert_clean_outcome(status, err, argv, out)
    written = sorted(p.name for p in folder.rglob("*") if p.name != "tuning")
    assert written == [], (argv, written)


@pytest.mark.parametrize("argv, expected", [
    (["bench", "--sizes", "inf"], "--sizes wants a number"),
    (["bench", "--sizes", "1e999"], "--sizes wants a number"),
    (["landscape", "--start", "1,x"], "--start wants a number"),
    (["landscape", "--start", "nan,0"], "--start wants a number"),
    (["landscape", "--steps", "-5"], "--steps wants an integer in [1, 10000000]"),
    (["landscape", "--optimizers", ","], "--optimizers wants"),
    (["landscape", "--lr", "adam=nan"], "--lr adam wants a number >= 0"),
    (["compare", "--target", "5"], "--target wants a number in (0, 1]"),
    (["compare", "--target", "nan"], "--target wants a number in (0, 1]"),
    (["compare", "--lrs", "0.1,inf"], "--lrs wants a number > 0"),
    (["lr-find", "--min-lr", "nan"], "--min-lr wants a number > 0"),
    (["lr-find", "--plot", "plot.txt"], "--plot must end in an image"),
    (["lr-find", "--batch-size", "0"], "--batch-size wants an integer"),
    (["tune", "--seed", "-1"], "--seed wants an integer in [0, "),
    (["tune", "--tuner", "hyperband", "--hyperband-iterations", "0"],
     "--hyperband-iterations wants an integer >= 1"),
    (["tune", "quick", "--hyperband-iterations", "2"],
     "--hyperband-iterations applies only to the Hyperband tuner. "
     "Received: --hyperband-iterations=2, tuner=random"),
    (["tune", "--oracle", "h:99999", "--chief"], "--oracle must be"),
    (["tune", "--worker", "", "--oracle", "h:1"], "--worker=''"),
    (["bench", "--json", "same.json", "--markdown", "same.json"],
     "name the same file"),
    (["bench", "--json", "missing/x.json"], "does not exist"),
    (["list", "--format"], "expected one argument"),
])
def test_bad_values_rejected_before_any_work(argv, expected, tmp_path,
                                             monkeypatch, capsys):
    """Each named case, one by one. Before the check stage, several ended
    in a traceback (`landscape --start 1,x`, `bench --sizes inf`), in one
    from matplotlib after the training (`lr-find --plot plot.txt`), in a
    search whose every trial failed (`tune --seed -1`), or in a run with a
    nonsense setting (`compare --target 5`)."""
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli(argv[:1] + ["--check"] + argv[1:], capsys)
    assert status == 2, err
    assert expected in err
    assert len(err.strip().splitlines()) == 1


def test_check_passes_for_valid_command_lines(tmp_path, capsys):
    for argv in (["list"], ["tune", "quick", "--directory", str(tmp_path)],
                 ["landscape", "--steps", "10", "--out", str(tmp_path)],
                 ["lr-find", "--plot", str(tmp_path / "p.png")],
                 ["compare", "--recipe", "quick", "--out", str(tmp_path)],
                 ["bench", "--quick", "--json", str(tmp_path / "b.json")]):
        status, out, err = run_cli(argv[:1] + ["--check"] + argv[1:], capsys)
        assert status == 0, (argv, err)
        assert "check passed" in out
    assert os.listdir(tmp_path) == []


def _optlab(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-c", "import sys; from keras_optlab import cli; "
         "sys.exit(cli.main())", *args], capture_output=True, text=True,
        timeout=120, cwd=cwd, env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_process_exit_status_and_one_line(tmp_path):
    """The entry point as a process: status 2 and one line for a bad
    recipe; no traceback. (tests/test_cli.py::
    test_unknown_option_is_a_usage_error does the same for argparse.)"""
    recipe = tmp_path / "bad.toml"
    recipe.write_bytes(b"[search]\nmax_trials = nan\n")
    result = _optlab("tune", str(recipe), "--check", cwd=tmp_path)
    # TensorFlow's C++ start-up lines are hidden (keras_optlab/cli/
    # start.py): stderr holds our one line and nothing else.
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert "`search.max_trials` must be an integer >= 1" in lines[0]


# --- saved models ------------------------------------------------------------


def _tiny(optimizer="adam", steps=1):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    x = np.ones((4, 3), "float32")
    for _ in range(steps):
        model.train_on_batch(x, np.zeros((4, 2), "float32"))
    return model


def _rewrite_config(source, target, edit):
    """Copies the .keras archive `source` to `target` with config.json
    passed through `edit(dict)`."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            dst.writestr(item, data)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    path = folder / "good.keras"
    _tiny(optimizers.get("adam")).save(path)
    return path


def _foreign_optimizer(config):
    config["compile_config"]["optimizer"].update(
        class_name="NoSuchOptimizer", module="keras_optlab.optimizers",
        registered_name="keras_optlab>NoSuchOptimizer")


def _foreign_layer(config):
    layer = config["config"]["layers"][-1]
    layer.update(class_name="NoSuchLayer", module="my_project.layers",
                 registered_name="my_project>NoSuchLayer")


@pytest.mark.parametrize("make, expected", [
    (lambda good, bad: bad.write_bytes(good.read_bytes()[:300]),
     "is not a zip archive (or a truncated one)"),
    (lambda good, bad: bad.write_bytes(
        good.read_bytes()[:-400] + bytes(400)), "truncated"),
    (lambda good, bad: bad.write_bytes(np.random.default_rng(0).bytes(500)),
     "is not a zip archive"),
    (lambda good, bad: bad.write_bytes(b""), "is not a zip archive"),
    (lambda good, bad: zipfile.ZipFile(bad, "w").writestr("a.txt", "hi"),
     "is a zip archive but not a Keras model (no config.json, "
     "metadata.json)"),
    (lambda good, bad: _rewrite_config(good, bad, _foreign_optimizer),
     "NoSuchOptimizer"),
    (lambda good, bad: _rewrite_config(good, bad, _foreign_layer),
     "NoSuchLayer"),
    (lambda good, bad: bad.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100)),
     "is an HDF5 file (the legacy Keras 2 format)"),
    (lambda good, bad: bad.mkdir(), "is a directory; expected a .keras"),
    (lambda good, bad: None, "no such file"),
])
def test_corrupt_or_foreign_model_file_one_line(saved, tmp_path, make,
                                                expected):
    bad = tmp_path / "bad.keras"
    make(saved, bad)
    with pytest.raises(ModelFileError) as info:
        load_model(bad)
    message = str(info.value)
    assert message.startswith(str(bad)) and "\n" not in message
    assert expected in message


def test_damaged_member_is_caught_by_its_checksum(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("model.weights.h5")
    # Flip a byte inside the (stored, uncompressed) weights member.
    offset = info.header_offset + 30 + len(info.filename) + 64
    data[offset] ^= 0xFF
    bad = tmp_path / "flipped.keras"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="fails its checksum"):
        load_model(bad)


def test_lambda_layer_is_refused_never_run(tmp_path):
    """A Lambda holds Python bytecode: under safe_mode (ours, always) the
    file is refused before the code is deserialized."""
    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ValueError, match="safe_mode"):
        keras.saving.load_model(path)  # Keras' own default refuses too
    with pytest.raises(ModelFileError, match="holds code .* never loaded"):
        load_model(path)


def test_good_file_loads_with_optimizer_state(saved):
    model = load_model(saved)
    assert type(model.optimizer).__module__.startswith("keras_optlab.")
    assert int(model.optimizer.iterations.numpy()) == 1


def test_fresh_process_loads_every_optimizer_and_wrapper(tmp_path):
    """Saved here, loaded in a new process that only imports keras_optlab:
    keras.saving.load_model(safe_mode=True, no custom_objects) restores
    each registered optimizer, Lookahead, SWA and Cautious with their
    state, and SAMModel. (In-process reloads with continued training are
    checked in test_serialization.py, test_lookahead.py, test_swa.py,
    test_sam.py, test_cautious.py.)"""
    from keras_optlab.training import SAMModel

    expected = {}

    def save(model, name):
        # Built, not trained: the state variables are saved, and no train
        # function is traced for each of ~30 models.
        model.optimizer.build(model.trainable_variables)
        model.save(tmp_path / f"{name}.keras")
        expected[f"{name}.keras"] = [type(model).__name__,
                                     type(model.optimizer).__name__,
                                     str(len(model.optimizer.variables))]

    for info in optimizers.available():
        save(_tiny(optimizers.get(info.name), steps=0), info.name)
    save(_tiny(optimizers.Lookahead(optimizers.get("adam")), steps=0),
         "Lookahead")
    save(_tiny(optimizers.SWA(optimizers.get("adam"), start_step=1),
               steps=0), "SWA")
    save(_tiny(optimizers.Cautious(optimizers.get("lion")), steps=0),
         "Cautious")
    sam = SAMModel(keras.Sequential([keras.Input((3,)),
                                     keras.layers.Dense(2)]), rho=0.1)
    sam.compile(optimizer=optimizers.get("adam"), loss="mse")
    sam.train_on_batch(np.ones((4, 3), "float32"), np.zeros((4, 2)))
    save(sam, "sam")
    code = (
        "import os, sys, keras, keras_optlab\n"
        "for name in sorted(os.listdir(sys.argv[1])):\n"
        "    m = keras.saving.load_model(os.path.join(sys.argv[1], name),"
        " safe_mode=True)\n"
        "    keras_optlab.saving.load_model(os.path.join(sys.argv[1], name))\n"
        "    print(name, type(m).__name__, type(m.optimizer).__name__,"
        " len(m.optimizer.variables))\n")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = {line.split()[0]: line.split()[1:]
              for line in result.stdout.splitlines()}
    assert loaded == expected


def test_exact_resume_refuses_a_damaged_checkpoint(tmp_path):
    from keras_optlab.training.resume import ExactResume

    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    (tmp_path / "checkpoint.json").write_text(json.dumps(
        {"epoch": 1, "batch": None, "weights": "ckpt-e1.weights.h5"}))
    (tmp_path / "ckpt-e1.weights.h5").write_bytes(b"not hdf5 at all")
    model = _tiny(optimizers.get("adam"), steps=0)
    with pytest.raises(ValueError) as info:
        model.fit(x, y, epochs=2, verbose=0,
                  callbacks=[ExactResume(tmp_path)])
    message = str(info.value)
    assert "\n" not in message
    assert f"cannot load the checkpoint {tmp_path / 'ckpt-e1.weights.h5'}" \
        in message
    (tmp_path / "checkpoint.json").write_text("{half a record")
    with pytest.raises(ValueError, match="is not a checkpoint record"):
        model.fit(x, y, epochs=2, verbose=0,
                  callbacks=[ExactResume(tmp_path)])


# --- a failing command changes nothing on disk -------------------------------


def _snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes())
            .hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _existing_outputs(folder):
    results = folder / "runs" / "quick" / "results"
    results.mkdir(parents=True)
    for name in ("trials.csv", "trials.json", "best_model.keras"):
        (results / name).write_bytes(os.urandom(64))
    (folder / "oracle.json").write_text("{}")
    for name in ("bench.json", "bench.md", "lr_find.png", "rosenbrock.png",
                 "rosenbrock.gif", "compare/compare.md", "compare/curves.png"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(os.urandom(64))
    np.savez(folder / "nan.npz", x=np.full((20, 2), np.nan),
             y=np.arange(20) % 2)
    (folder / "bad_data.toml").write_text(
        'name = "quick"\n[data]\ndataset = "nan.npz"\n')
    (folder / "bad.toml").write_text(
        'name = "quick"\n[search]\nmax_trials = 0\n')


@pytest.mark.parametrize("argv", [
    ["tune", "bad.toml", "--directory", "runs"],
    ["tune", "bad.toml", "--directory", "runs", "--overwrite"],
    ["tune", "bad_data.toml", "--directory", "runs", "--overwrite"],
    ["tune", "quick", "--directory", "runs", "--overwrite", "--seed", "-1"],
    ["bench", "--json", "bench.json", "--markdown", "bench.md", "--sizes",
     "x"],
    ["bench", "--json", "bench.json", "--markdown", "bench.md",
     "--optimizers", "nope"],
    ["lr-find", "--plot", "lr_find.png", "--min-lr", "nan"],
    ["landscape", "--out", ".", "--start", "1,x"],
    ["landscape", "--out", ".", "--optimizers", "adam,nope"],
    ["compare", "--out", "compare", "--lrs", "0.1,-1"],
    ["compare", "--out", "compare", "--recipe", "bad_data.toml"],
], ids=lambda argv: " ".join(argv))
def test_failing_command_leaves_every_file_byte_identical(
        argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _existing_outputs(tmp_path)
    before = _snapshot(tmp_path)
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert _snapshot(tmp_path) == before
