"""Atomic outputs: a failed run never leaves one that looks complete.

A leaf module (no keras_o2v imports), so training, inference and export can
all write through it.
"""

import contextlib
import ctypes
import json
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


def _exchange(a, b):
    """Swaps two paths in one atomic step; False where the OS cannot.

    Linux's renameat2(RENAME_EXCHANGE): the only way to replace a non-empty
    directory without a moment in which neither version is there.
    """
    rename_exchange, at_fdcwd = 2, -100
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b),
                     rename_exchange) == 0


def _replace(tmp, path):
    """`os.replace(tmp, path)`, which also replaces an existing directory."""
    if not (os.path.isdir(tmp) and os.path.isdir(path)
            and not os.path.islink(path)):
        os.replace(tmp, path)
    elif not _exchange(tmp, path):
        # No atomic swap here: move the old one aside, then the new one in.
        # A crash in between leaves the old one under a hidden name.
        old = temp_name(path, ".old")
        os.rename(path, old)
        try:
            os.rename(tmp, path)
        except BaseException:
            os.rename(old, path)
            raise
        _remove(old)
    # After a swap `tmp` holds the old directory; the caller removes it.


def check_parent(path):
    """Raises a `ValueError` unless the directory that will hold `path`
    exists."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"Cannot write {path!r}: its directory "
                         f"{directory!r} does not exist. Create it first.")


@contextlib.contextmanager
def atomic_path(path, suffix="", replace=True):
    """Yields a temporary path beside `path`, renamed onto `path` on success.

    Write a file or a directory at the yielded path. If the block raises, it
    is removed and `path` is left untouched.

    Args:
        path: str. The final path.
        suffix: str. Suffix of the temporary name (Keras needs `.keras`).
        replace: bool. Replace an existing file or directory at `path` (a
            directory is swapped in atomically where the OS can). If
            `False`, a concurrent writer that got there first makes the
            rename fail with `FileExistsError` (directories: the rename onto
            a non-empty directory fails on POSIX).

    Raises:
        ValueError: before the block runs, if `path`'s directory does not
            exist.
    """
    check_parent(path)
    tmp = temp_name(path, suffix)
    try:
        yield tmp
        if replace:
            _replace(tmp, path)
        elif os.path.lexists(path) and not os.path.isdir(path):
            raise FileExistsError(path)
        else:
            try:
                os.rename(tmp, path)
            except OSError as e:  # ENOTEMPTY / EEXIST: someone else won
                raise FileExistsError(path) from e
    finally:
        _remove(tmp)


def write_json_atomic(path, obj):
    """Writes `obj` as JSON to `path` via a temporary file and a rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())


def write_jsonl_atomic(path, rows):
    """Writes one JSON object per line to `path`, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)


def save_model_atomic(model, path):
    """`model.save(path)` via a temporary `.keras` file and a rename."""
    with atomic_path(path, suffix=".keras") as tmp:  # Keras needs this suffix
        model.save(tmp)
