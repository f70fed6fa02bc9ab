"""The `optlab` command.

Each sub-command lives in `keras_optlab/commands/<name>.py` and exposes
`NAME`, `HELP`, `add_arguments(parser)`, `check(args)` and `run(args) -> int`;
COMMANDS lists them in the order `optlab --help` shows.

`check(args)` validates every argument (and the recipe, data and output
paths a command uses) before any work, raising `UsageError`; it returns what
`run` needs, and `run` starts by calling it. `optlab COMMAND --check ...`
stops after it. A bad argument is one line on stderr and exit status 2; no
file is written or changed before the check has passed.
"""

import argparse
import importlib
import os
import sys

# TensorFlow's start-up chatter is not the command's output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COMMANDS = [
    "keras_optlab.commands.list_optimizers",
    "keras_optlab.commands.tune",
    "keras_optlab.commands.lr_find",
    "keras_optlab.commands.landscape",
    "keras_optlab.commands.compare",
    "keras_optlab.commands.bench",
]


class UsageError(Exception):
    """A bad argument: printed as one line, exit status 2, no traceback."""


class _ParseError(Exception):
    """argparse's complaint, already prefixed with the (sub)command."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage block and then the error, then exits; a
    # user gets one line instead, with where to look for the usage.
    def error(self, message):
        raise _ParseError(f"{self.prog}: error: {message} (see "
                          f"`{self.prog} --help`)")


def check_output_file(option, path):
    """A file the command will write: not a directory, in a folder that
    exists. Checked before the work, so no hour of work ends in an error."""
    path = str(path)
    if not path:
        raise UsageError(f"{option} wants a file path. Received: {option}=''")
    if os.path.isdir(path):
        raise UsageError(f"{option} is a directory; expected a file path. "
                         f"Received: {option}={path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{option}: the folder {folder!r} does not exist. "
                         f"Received: {option}={path!r}")
    return path


def check_output_directory(option, path):
    """A directory the command will create or write into: not a file, and
    no file in the way above it."""
    path = str(path)
    if not path:
        raise UsageError(f"{option} wants a directory. Received: {option}=''")
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UsageError(f"{option}: {parent!r} is a file; expected a "
                         f"directory. Received: {option}={path!r}")
    return path


def check_number(option, text, low=None, high=None, closed="[]",
                 integer=False):
    """`text` (a string or a number) as a finite float (or int) in range,
    or a UsageError naming the option and what it wants."""
    import math

    kind = "an integer" if integer else "a number"

    def show(bound):
        return str(int(bound)) if integer else f"{bound:g}"

    bounds = ""
    if low is not None and high is not None:
        bounds = f" in {closed[0]}{show(low)}, {show(high)}{closed[1]}"
    elif low is not None:
        bounds = f" {'>' if closed[0] == '(' else '>='} {show(low)}"
    elif high is not None:
        bounds = f" {'<' if closed[1] == ')' else '<='} {show(high)}"
    want = f"{option} wants {kind}{bounds}. Received: {option}={text!r}"
    try:
        value = int(text) if integer else float(text)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(want) from None
    if not math.isfinite(value):
        raise UsageError(want)
    too_low = low is not None and (value < low or
                                   (closed[0] == "(" and value == low))
    too_high = high is not None and (value > high or
                                     (closed[1] == ")" and value == high))
    if too_low or too_high:
        raise UsageError(want)
    return value


def check_numbers(option, text, **bounds):
    """Comma-separated numbers, each checked as by `check_number`."""
    values = []
    for item in str(text).split(","):
        try:
            values.append(check_number(option, item.strip(), **bounds))
        except UsageError as error:
            raise UsageError(f"{error} (one of comma-separated values "
                             f"{text!r})") from None
    return values


def build_parser(modules):
    parser = _Parser(
        prog="optlab",
        description="The optimizer lab for Keras 3.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in modules:
        sub = subparsers.add_parser(module.NAME, help=module.HELP,
                                    description=module.HELP)
        module.add_arguments(sub)
        sub.add_argument(
            "--check", action="store_true",
            help="check the arguments (and the recipe, data and output "
                 "paths) and exit: status 0 when the command would run")
        sub.set_defaults(_module=module)
    return parser


def main(argv=None):
    modules = [importlib.import_module(name) for name in COMMANDS]
    parser = build_parser(modules)
    try:
        args = parser.parse_args(argv)
    except _ParseError as error:
        print(_one_line(str(error)), file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return done.code
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return 2
    try:
        if args.check:
            module.check(args)
            print(f"optlab {args.command}: check passed")
            return 0
        return module.run(args) or 0
    except UsageError as error:
        print(_one_line(f"optlab {args.command}: error: {error}"),
              file=sys.stderr)
        return 2
    except OSError as error:
        # A file the command reads or writes (permissions, a full disk).
        where = f" {error.filename!r}" if error.filename else ""
        print(_one_line(f"optlab {args.command}: error:{where}: "
                        f"{error.strerror or error}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"optlab {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line(text):
    return " ".join(str(text).split())


if __name__ == "__main__":
    # Under `python -m keras_optlab.cli` this module is `__main__`, and the
    # commands raise `keras_optlab.cli.UsageError`, a different class: run
    # the imported module's main so they are caught (exit status 2).
    from keras_optlab import cli

    sys.exit(cli.main())
