"""Atomic writes: a crashed run never leaves a file that looks complete."""

import json
import os
import uuid


def temp_name(path, suffix=""):
    """A fresh hidden name beside `path`, so a rename to `path` is atomic."""
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    return os.path.join(directory, f".{base}.{uuid.uuid4().hex}{suffix}")


def write_json_atomic(path, obj):
    """Writes `obj` as JSON to `path` via a temporary file and a rename."""
    tmp = temp_name(path)
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_model_atomic(model, path):
    """`model.save(path)` via a temporary `.keras` file and a rename."""
    tmp = temp_name(path, suffix=".keras")  # Keras requires this suffix
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
