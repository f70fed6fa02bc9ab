"""The `optlab` command: its parser and the dispatch to a sub-command.

Each sub-command lives in `keras_optlab/cli/commands/<name>.py` and exposes
`NAME`, `HELP`, `add_arguments(parser)`, `check(args)` and `run(args) -> int`;
COMMANDS lists them in the order `optlab --help` shows.

`check(args)` validates every argument (and the recipe, data and output
paths a command uses) before any work, raising `UsageError` (the checks are
in keras_optlab/cli/checks.py); it returns what `run` needs, and `run`
starts by calling it. `optlab COMMAND --check ...` stops after it. A bad
argument is one line on stderr and exit status 2; no file is written or
changed before the check has passed.

Parsing and `--help` import no Keras and no backend. Before `check`,
`start.start_backend` imports them with TensorFlow's C++ start-up lines
hidden (`optlab --verbose COMMAND` shows them).
"""

import argparse
import importlib
import sys

from keras_optlab.cli import start
from keras_optlab.cli.checks import UsageError

COMMANDS = [
    "keras_optlab.cli.commands.list_optimizers",
    "keras_optlab.cli.commands.tune",
    "keras_optlab.cli.commands.lr_find",
    "keras_optlab.cli.commands.landscape",
    "keras_optlab.cli.commands.compare",
    "keras_optlab.cli.commands.bench",
    "keras_optlab.cli.commands.benchmark",
]


class _ParseError(Exception):
    """argparse's complaint, already prefixed with the (sub)command."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage block and then the error, then exits; a
    # user gets one line instead, with where to look for the usage.
    def error(self, message):
        raise _ParseError(f"{self.prog}: error: {message} (see "
                          f"`{self.prog} --help`)")


def build_parser(modules):
    parser = _Parser(
        prog="optlab",
        description="The optimizer lab for Keras 3.",
    )
    parser.add_argument(
        "--verbose", action="store_true",
        help="show TensorFlow's start-up lines on stderr (C++ log lines "
             "such as 'failed call to cuInit'; hidden by default)")
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
    # The command modules import only the standard library and the checks:
    # parsing, `--help` and argparse's errors load no Keras, no backend.
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
        start.start_backend(verbose=args.verbose)
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
        where = f" {error.filename!r}:" if error.filename else ""
        print(_one_line(f"optlab {args.command}: error:{where} "
                        f"{error.strerror or error}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"optlab {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line(text):
    return " ".join(str(text).split())

