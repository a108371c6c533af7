"""Atomic outputs: a failed run never leaves one that looks complete.

A leaf module (no keras_o2v imports), so training, inference and export can
all write through it.
"""

import contextlib
import os
import shutil
import uuid


def temp_name(path, suffix=""):
    """A fresh hidden name beside `path`, so a rename to `path` is atomic."""
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    return os.path.join(directory, f".{base}.{uuid.uuid4().hex}{suffix}")


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


@contextlib.contextmanager
def atomic_path(path, suffix="", replace=True):
    """Yields a temporary path beside `path`, renamed onto `path` on success.

    Write a file or a directory at the yielded path. If the block raises, it
    is removed and `path` is left untouched.

    Args:
        path: str. The final path.
        suffix: str. Suffix of the temporary name (Keras needs `.keras`).
        replace: bool. Replace an existing file at `path`. If `False`, a
            concurrent writer that got there first makes the rename fail with
            `FileExistsError` (directories: the rename onto a non-empty
            directory fails on POSIX).
    """
    tmp = temp_name(path, suffix)
    try:
        yield tmp
        if replace:
            os.replace(tmp, path)
        elif os.path.lexists(path) and not os.path.isdir(path):
            raise FileExistsError(path)
        else:
            try:
                os.rename(tmp, path)
            except OSError as e:  # ENOTEMPTY / EEXIST: someone else won
                raise FileExistsError(path) from e
    finally:
        _remove(tmp)
