"""SavedModel export for TensorFlow Serving, and the functions it serves.

Signatures (int32 inputs of shape `(batch, None)`, 0 = padding):

| signature | inputs | output |
|---|---|---|
| `serving_default` | `in0`, `in1` | `scores`: probabilities `(batch, num_classes)`, or `(batch, 1)` for regression |
| `embed_in0` | `in0` | `embeddings`: encoder 0, `(batch, enc_dim)` |
| `embed_in1` | `in1` | `embeddings`: encoder 1, `(batch, enc_dim)` |

The signatures take ids whole: truncation to `encX_max_seq_len` is the
client's job (both routes of `keras-o2v serve` do it for you).
"""

import os
import re

import keras
import tensorflow as tf

from keras_o2v.atomic import atomic_path

DEFAULT_NAME = "object2vec"
# signature -> (input names, output name)
SIGNATURES = {
    "serving_default": (("in0", "in1"), "scores"),
    "embed_in0": (("in0",), "embeddings"),
    "embed_in1": (("in1",), "embeddings"),
}


def signature_for(fields):
    """The signature that serves instances holding `fields`."""
    return next(name for name, (inputs, _) in SIGNATURES.items()
                if inputs == tuple(fields))


def _endpoints(model):
    """(name, python function, input signature) of each signature."""

    def ids(name):
        return tf.TensorSpec((None, None), tf.int32, name=name)

    def scores(in0, in1):
        return {"scores": model({"in0": in0, "in1": in1}, training=False)}

    def embed_in0(in0):
        return {"embeddings": model.encoder0(in0, training=False)}

    def embed_in1(in1):
        return {"embeddings": model.encoder1(in1, training=False)}

    functions = {"serving_default": scores, "embed_in0": embed_in0,
                 "embed_in1": embed_in1}
    return [(name, functions[name], [ids(field) for field in inputs])
            for name, (inputs, _) in SIGNATURES.items()]


def serving_functions(model):
    """`{signature name: tf.function}`: what the SavedModel would serve.

    Each function takes its inputs by name as int32 arrays and returns
    `{output name: tensor}`. The fixed input signatures mean one trace per
    function whatever the batch size or length, and calls may run
    concurrently from several threads.
    """
    return {name: tf.function(fn, input_signature=signature)
            for name, fn, signature in _endpoints(model)}


def _versions(base):
    if not os.path.isdir(base):
        return []
    return [int(n) for n in os.listdir(base) if re.fullmatch(r"[0-9]+", n)]


def export_saved_model(model, export_dir, name=DEFAULT_NAME, version=None):
    """Exports `model` as a versioned SavedModel that TF Serving can load.

    Writes `<export_dir>/<name>/<version>/saved_model.pb` (+ variables), the
    layout `tensorflow/serving` watches (`--model_base_path` =
    `<export_dir>/<name>`). The version directory is written under a hidden
    temporary name (ignored by TF Serving, which only loads numeric
    directories) and renamed when complete.

    Args:
        model: a `keras_o2v.Object2Vec`.
        export_dir: str. The model repository root.
        name: str. The model name (a directory; TF Serving's `MODEL_NAME`).
        version: optional positive int. Defaults to the largest existing
            version + 1 (1 for a new model). An existing version is never
            overwritten.

    Returns:
        str, the version directory written.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+",
                                                     name) or name[0] == ".":
        raise ValueError("`name` must be a non-empty directory name of "
                         "letters, digits, `_`, `-` or `.` (not starting "
                         f"with `.`). Received: name={name!r}")
    base = os.path.join(export_dir, name)
    existing = _versions(base)
    if version is None:
        version = max(existing, default=0) + 1
    elif isinstance(version, bool) or not isinstance(version, int) or (
            version < 1):
        raise ValueError("`version` must be a positive integer (TF Serving "
                         f"loads numeric directories). Received: "
                         f"version={version!r}")
    path = os.path.join(base, str(version))
    already = (f"Version {version} of {name!r} already exists in {base!r}: "
               "pass a new `version`, or none for the next one.")
    if version in existing:
        raise ValueError(already)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for endpoint, fn, signature in _endpoints(model):
        archive.add_endpoint(endpoint, fn, input_signature=signature)
    os.makedirs(base, exist_ok=True)
    try:
        with atomic_path(path, replace=False) as tmp:
            archive.write_out(tmp, verbose=False)
    except FileExistsError:  # another export took this version meanwhile
        raise ValueError(already) from None
    return path
