"""Writing a file so that a kill, a full disk or an error during the write
never leaves a truncated file under its name.

Every file keras_optlab writes as a result (tuning results, `optlab compare`
and `optlab bench` reports, pictures, `ExactResume` checkpoints, pruning
records) goes through `write_atomically`: the content is written to a
hidden temporary file in the same folder, flushed to disk, and renamed over
the final name with `os.replace`, which is atomic on POSIX and Windows when
both names are on one file system (hence the same folder). Readers, and a
process started after a kill, see the previous file or the whole new one.

A write that raises removes its temporary file. A process killed between
the write and the rename leaves its temporary file behind (nothing can
remove it); it is hidden (`.<name>.tmp<pid><suffix>`) and never read.
"""

import json
import os


def fsync_directory(directory):
    """Makes a rename in `directory` durable across a power cut."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not possible on every platform (Windows)
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_path(path, suffix=None):
    """The temporary name `write_atomically` writes `path` under."""
    folder, name = os.path.split(os.fspath(path))
    if suffix is None:
        suffix = os.path.splitext(name)[1]
    stem = name[:len(name) - len(suffix)] if suffix else name
    return os.path.join(folder, f".{stem}.tmp{os.getpid()}{suffix}")


def write_atomically(path, write, suffix=None):
    """Writes `path` through `write(temporary_path)`, then `os.replace`s it
    into place: `path` holds either its old content or the whole new one.

    Args:
        path: the final file.
        write: a function that writes the whole content to the path it is
            given (`figure.savefig`, `model.save`, ...).
        suffix: how the temporary name ends; defaults to `path`'s extension,
            which writers that choose the format by extension need
            (matplotlib, Pillow, `model.save`). `save_weights` needs
            `".weights.h5"`.

    Returns:
        `path`.
    """
    path = os.fspath(path)
    temporary = temporary_path(path, suffix)
    try:
        write(temporary)
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        # KeyboardInterrupt too: what was written is not a result.
        if os.path.lexists(temporary):
            os.remove(temporary)
        raise
    fsync_directory(os.path.dirname(path) or ".")
    return path


def write_text(path, text):
    """`write_atomically` for a string (UTF-8)."""
    def write(temporary):
        with open(temporary, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return write_atomically(path, write)


def write_json(path, value, **options):
    """`write_atomically` for `json.dump(value, file, **options)`."""
    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(value, f, **options)
    return write_atomically(path, write)
