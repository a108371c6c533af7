"""SavedModel export for TensorFlow Serving, and the functions it serves.

Signatures (ids of shape `(batch, None)`, 0 = padding):

| signature | inputs | output |
|---|---|---|
| `serving_default` | `in0`, `in1` (int64) | `scores`: probabilities `(batch, num_classes)`, or `(batch, 1)` for regression or a retrieval model's similarity |
| `embed_in0` | `in0` (int64) | `embeddings`: encoder 0, `(batch, enc_dim)` |
| `embed_in1` | `in1` (int64) | `embeddings`: encoder 1, `(batch, enc_dim)` |
| `serving_default_int32` | `in0`, `in1` (int32) | `scores` |
| `embed_in0_int32` | `in0` (int32) | `embeddings` |
| `embed_in1_int32` | `in1` (int32) | `embeddings` |

A model with extra fields (feature-rich objects, `enc0_fields`/
`enc1_fields`) takes them as more named inputs after the ids of each side
(`signature_inputs`): `embed_in0` then takes `in0, in0_history`, plus
`in0_history_weights` (float32 in every signature) for a weighted field.

Why int64 by default: a TF Serving signature has one dtype per input, and
gRPC clients send whatever dtype their `TensorProto` holds; TF Serving does
not convert. The usual client recipe,
`tf.make_tensor_proto(np.array([[6, 17, 606]]))`, sends int64 (numpy's
default integer, and the dtype of `tf.train.Example` integer features), so
the default names take int64: a client that does nothing special works.
Clients that build int32 protos on purpose (earlier exports of this
package took int32 under the default names) change one line: name the
`_int32` variant (`request.model_spec.signature_name =
"serving_default_int32"`), or send int64. REST clients are not affected: TF Serving converts JSON
numbers to the signature's dtype. Python callers of a loaded SavedModel may
pass numpy arrays of either dtype to either signature (tensors must match
it), but TensorFlow converts an int64 array for an `_int32` signature
without a range check: int64 ids belong in the default signatures.

The int64 signatures check that every id fits in int32 (the model's id
dtype) and fail with an `InvalidArgumentError` naming the input otherwise,
rather than let the cast wrap an id around into another valid one; then
they cast and call their `_int32` variant, so both give the same outputs
for the same ids. Ids outside `[0, encX_vocab_size)` but within int32
behave as in the `_int32` signatures (on CPU, a gather error).

The signatures take ids whole: truncation to `encX_max_seq_len` is the
client's job (both routes of `keras-o2v serve` do it for you).

Backends: export goes through `keras.export.ExportArchive`, which writes
TensorFlow graphs: under the TensorFlow backend directly, under the JAX
backend through `jax2tf` (the `_int32` functions are converted, the int64
check and cast around them are TensorFlow ops). Other backends (torch)
raise a `ValueError` saying what to do: a `.keras` file does not depend on
the backend, so load it with `KERAS_BACKEND=tensorflow` and export there.
"""

import inspect
import os
import re
from typing import NamedTuple

import keras
import tensorflow as tf

from keras_o2v.atomic import atomic_path
from keras_o2v.hyperparameters import input_keys
from keras_o2v.hyperparameters import is_weights_key

DEFAULT_NAME = "object2vec"
# Backends `keras.export.ExportArchive` writes a SavedModel from.
EXPORT_BACKENDS = ("tensorflow", "jax")
INT32_SUFFIX = "_int32"
INT32_MIN, INT32_MAX = -2**31, 2**31 - 1


class Signature(NamedTuple):
    """A serving signature: its input names, output name and id dtype."""

    inputs: tuple
    output: str
    dtype: str


# The default signatures -> (input names, output name).
_DEFAULTS = {
    "serving_default": (("in0", "in1"), "scores"),
    "embed_in0": (("in0",), "embeddings"),
    "embed_in1": (("in1",), "embeddings"),
}
# Every signature the SavedModel holds: the int64 defaults, then their
# int32 variants.
SIGNATURES = {
    **{name: Signature(inputs, output, "int64")
       for name, (inputs, output) in _DEFAULTS.items()},
    **{name + INT32_SUFFIX: Signature(inputs, output, "int32")
       for name, (inputs, output) in _DEFAULTS.items()},
}


def signature_for(fields):
    """The default (int64) signature that serves instances holding `fields`."""
    return next(name for name, (inputs, _) in _DEFAULTS.items()
                if inputs == tuple(fields))


def int32_signature(name):
    """The int32 signature computing what signature `name` computes."""
    return name if SIGNATURES[name].dtype == "int32" else name + INT32_SUFFIX


def _check_backend(what, hint):
    backend = keras.backend.backend()
    if backend not in EXPORT_BACKENDS:
        raise ValueError(
            f"{what} needs the TensorFlow or JAX Keras backend: it runs "
            "TensorFlow graphs, which Keras' `ExportArchive` builds from "
            f"those backends only. Received: KERAS_BACKEND={backend!r}. A "
            f"`.keras` file does not depend on the backend: {hint}")


_EXPORT = ("SavedModel export", "export it with KERAS_BACKEND=tensorflow "
           "(`KERAS_BACKEND=tensorflow keras-o2v export --model-dir ... "
           "--export-dir ...`), or in Python load it there with "
           "`keras.saving.load_model` and call "
           "`keras_o2v.export_saved_model`.")
_SERVE = ("Serving (`keras-o2v serve`)",
          "run the command with KERAS_BACKEND=tensorflow (e.g. `KERAS_BACKEND="
          "tensorflow keras-o2v serve --model-dir ...`); `keras-o2v predict` "
          "and, in Python, `keras_o2v.predict` run on any backend.")


def signature_inputs(hp, name):
    """Input names of signature `name` for a model's hyperparameters.

    The ids of its sides (`SIGNATURES[name].inputs`), then, for
    feature-rich objects, each extra field of those sides and its token
    weights (`in0_genres`, `in0_genres_weights`).
    """
    return tuple(input_keys(hp, SIGNATURES[name].inputs))


def _named(keys, body):
    """A function of `keys` (by position or by name) calling `body(dict)`.

    `tf.function` and the SavedModel signature take the parameter names
    from `__signature__`, so each input keeps its record key's name.
    """
    signature = inspect.Signature([inspect.Parameter(
        key, inspect.Parameter.POSITIONAL_OR_KEYWORD) for key in keys])

    def function(*args, **kwargs):
        return body(dict(signature.bind(*args, **kwargs).arguments))

    function.__signature__ = signature
    return function


def _model_functions(model):
    """`{default signature name: python function of int32 ids}`."""
    functions = {}
    for name in _DEFAULTS:
        sides = SIGNATURES[name].inputs
        if len(sides) == 2:
            # Object2Vec's output; a retrieval model's similarity, (batch, 1).
            def body(inputs):
                return {"scores": model.pair_scores(inputs)}
        else:
            def body(inputs, side=sides[0]):
                return {"embeddings": model.encode(side, inputs)}
        functions[name] = _named(signature_inputs(model.hyperparameters,
                                                  name), body)
    return functions


def _input_specs(hp, name, dtype):
    """`TensorSpec`s of a signature: ids of `dtype`, float32 weights."""
    return [tf.TensorSpec((None, None), tf.float32 if is_weights_key(key)
                          else dtype, name=key)
            for key in signature_inputs(hp, name)]


def _valid_ids(key, hp):
    """Where the ids of input `key` must lie, for error messages."""
    side, _, field = key.partition("_")
    if not field:
        name = f"enc{side[-1]}_vocab_size"
        return f"{name}={hp.get(name)}"
    size = next(f["vocab_size"] for f in hp[f"enc{side[-1]}_fields"]
                if f["name"] == field)
    return f"vocab_size={size} of field {field!r}"


def _to_int32(field, ids, valid):
    """int64 ids -> int32, failing on ids a cast would wrap around."""
    fits = tf.reduce_all((ids >= INT32_MIN) & (ids <= INT32_MAX))
    check = tf.debugging.Assert(fits, [
        f"`{field}` ids must fit in int32 (valid ids are in [0, {valid})), "
        "but the request holds ids from", tf.reduce_min(ids), "to",
        tf.reduce_max(ids)], name=f"check_{field}_fits_int32")
    with tf.control_dependencies([check]):
        return tf.cast(ids, tf.int32)


def _int64_functions(model, int32_functions):
    """`{default name: function of int64 ids}` around the int32 ones.

    Plain TensorFlow (the check and the cast), whatever the backend of the
    int32 functions, which may be `jax2tf` conversions. Token weights pass
    through as float32.
    """
    hp = model.hyperparameters
    functions = {}
    for name in _DEFAULTS:
        keys = signature_inputs(hp, name)

        def body(inputs, name=name, keys=keys):
            converted = [
                inputs[key] if is_weights_key(key)
                else _to_int32(key, inputs[key], _valid_ids(key, hp))
                for key in keys]
            return int32_functions[name + INT32_SUFFIX](*converted)

        functions[name] = tf.function(
            _named(keys, body), input_signature=_input_specs(hp, name,
                                                             tf.int64),
            autograph=False)
        functions[name].get_concrete_function()  # traced: one signature
    return functions


def _archive(model, purpose):
    """(`ExportArchive` holding every signature, `{name: tf.function}`)."""
    _check_backend(*purpose)
    archive = keras.export.ExportArchive()
    archive.track(model)
    functions = {}
    for name, fn in _model_functions(model).items():
        int32_name = name + INT32_SUFFIX
        functions[int32_name] = archive.add_endpoint(
            int32_name, fn, input_signature=_input_specs(
                model.hyperparameters, int32_name, tf.int32))
    for name, fn in _int64_functions(model, functions).items():
        # Traced tf.functions go in as they are, on every backend.
        archive.add_endpoint(name, fn)
        functions[name] = fn
    return archive, {name: functions[name] for name in SIGNATURES}


def serving_functions(model):
    """`{signature name: tf.function}`: what the SavedModel would serve.

    Each function takes its inputs by name as int arrays (numpy arrays of
    either dtype convert; tensors must have the signature's dtype) and
    returns `{output name: tensor}`. The fixed input signatures mean one
    trace per function whatever the batch size or length, and calls may run
    concurrently from several threads. TensorFlow and JAX backends (see the
    module docstring); others raise a `ValueError`. Under JAX the functions
    hold a copy of the weights, taken when built; under TensorFlow they
    read the model's variables.
    """
    return _archive(model, _SERVE)[1]


def _versions(base):
    if not os.path.isdir(base):
        return []
    return [int(n) for n in os.listdir(base) if re.fullmatch(r"[0-9]+", n)]


def export_saved_model(model, export_dir, name=DEFAULT_NAME, version=None):
    """Exports `model` as a versioned SavedModel that TF Serving can load.

    Writes `<export_dir>/<name>/<version>/saved_model.pb` (+ variables), the
    layout `tensorflow/serving` watches (`--model_base_path` =
    `<export_dir>/<name>`), holding the signatures of `SIGNATURES` (int64
    defaults and their `_int32` variants; see the module docstring). The
    version directory is written under a hidden temporary name (ignored by
    TF Serving, which only loads numeric directories) and renamed when
    complete.

    Args:
        model: a `keras_o2v.Object2Vec`.
        export_dir: str. The model repository root.
        name: str. The model name (a directory; TF Serving's `MODEL_NAME`).
        version: optional positive int. Defaults to the largest existing
            version + 1 (1 for a new model). An existing version is never
            overwritten.

    Returns:
        str, the version directory written.

    Raises:
        ValueError: for a bad `name` or `version`, an existing version, or
            a Keras backend other than TensorFlow or JAX.
    """
    _check_backend(*_EXPORT)
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
    archive, _ = _archive(model, _EXPORT)
    os.makedirs(base, exist_ok=True)
    try:
        with atomic_path(path, replace=False) as tmp:
            archive.write_out(tmp, verbose=False)
    except FileExistsError:  # another export took this version meanwhile
        raise ValueError(already) from None
    return path
