"""The `optlab` commands' argument checks.

Every command's `check(args)` validates its arguments with these before any
work and raises `UsageError`, which `optlab` prints as one line naming the
option and the value received, with exit status 2. Standard library only:
the commands import this module at their top, and `optlab --help` stays
free of Keras and its backends.
"""

import math
import os

from keras_optlab.intervals import in_interval


class UsageError(Exception):
    """A bad argument: printed as one line, exit status 2, no traceback."""


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
    if not in_interval(value, low, high, closed):
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



def add_role_arguments(parser, work):
    """--chief, --worker ID and --oracle HOST:PORT: one job in several
    processes through Keras Tuner's chief/worker oracle; `work` names what
    the workers do ("trials", "benchmark trials")."""
    role = parser.add_mutually_exclusive_group()
    role.add_argument("--chief", action="store_true",
                      help=f"serve the oracle that hands out the {work} to "
                           "--worker processes")
    role.add_argument("--worker", metavar="ID",
                      help=f"run {work} for the chief at --oracle; ID names "
                           "this worker (unique per process; letters, "
                           "digits, '_', '.', '-')")
    parser.add_argument("--oracle", metavar="HOST:PORT",
                        default="127.0.0.1:8000",
                        help="the chief's address (default 127.0.0.1:8000)")


def check_oracle(args):
    """--oracle as (host, port) when --chief or --worker is given, and the
    worker's ID (`distributed.check_worker`: it names files); None
    otherwise."""
    if not (args.chief or args.worker is not None):
        return None
    host, _, port = args.oracle.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError("--oracle must be HOST:PORT with PORT in 1..65535. "
                         f"Received: --oracle={args.oracle!r}")
    if args.worker is not None:
        # Imported here: this module stays free of Keras for --help.
        from keras_optlab.lab.benchmark.distributed import check_worker

        try:
            check_worker(args.worker)
        except ValueError as error:
            raise UsageError(str(error).replace(
                "Received: worker=", "Received: --worker=")) from None
    return host, port
