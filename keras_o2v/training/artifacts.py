"""Atomic writes: a crashed run never leaves a file that looks complete."""

import json
import os

from keras_o2v.atomic import atomic_path


def write_json_atomic(path, obj):
    """Writes `obj` as JSON to `path` via a temporary file and a rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())


def save_model_atomic(model, path):
    """`model.save(path)` via a temporary `.keras` file and a rename."""
    with atomic_path(path, suffix=".keras") as tmp:  # Keras needs this suffix
        model.save(tmp)
