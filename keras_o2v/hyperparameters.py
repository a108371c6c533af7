"""SageMaker Object2Vec hyperparameters: names, valid ranges, defaults.

This module is the single source of truth for every hyperparameter. It is
pure Python (no TensorFlow import) so configs can be checked anywhere.

`resolve_hyperparameters` accepts SageMaker's string-to-string map
(`{"enc_dim": "16", "tied_token_embedding_weight": "True"}`) as well as typed
values, and returns a plain, JSON-serialisable dict in which nothing is
implicit:

* `enc1_network="enc0"` is resolved: enc1 takes enc0's network *and* all of
  enc0's `encX_*` values (not its weights), and the resolved dict names the
  concrete network. An `enc1_*` value that the user set explicitly and that
  this copy would override raises a `ValueError` instead of being dropped.
* `encX_layers="auto"` becomes the network's own count (`ENCODERS`): 4 for
  `hcnn`, 1 for `bilstm`; `pooled_embedding` has no layers (resolved to 1,
  unused).
* `embedding_l2` (a keras_o2v extension, default 0) adds a lazy L2 penalty
  on the token vectors each batch looks up (see `TokenEmbedding`): the
  per-example regularisation of matrix factorisation, which decoupled
  `weight_decay` on the whole table cannot give.
* `tied_encoder_weights` (a keras_o2v extension, default False) makes
  encoder 1 the very layer of encoder 0 (a siamese tower, as InferSent and
  sentence-transformers train), which SageMaker cannot do ("you can't share
  parameter values"). It needs enc1 to be configured as enc0 (apart from
  `max_seq_len`) and implies `tied_token_embedding_weight=True`.
* `enc0_fields`/`enc1_fields`, `enc0_id_bias`/`enc1_id_bias` and `bias_l2`
  (keras_o2v extensions, off by default) make feature-rich objects: extra
  named token fields per side, each pooled (optionally with per-token
  weights) and added to the side's encoding, and per-id biases on the
  regression output (see `parse_fields` and `keras_o2v.layers.fields`).
* `enc0_activation`/`enc1_activation` (keras_o2v extensions, default
  `"linear"`: none) apply an activation to a side's whole encoding, its
  encoder's output plus its fields: `"sigmoid"` on a movie encoded from its
  raters' ratings is I-AutoRec's hidden layer.
* `token_embedding_storage_type="row_sparse"` trains the token tables with
  lazy row updates (`keras_o2v.optimizers`: only the rows a batch looks up,
  and their optimizer slots, are touched). No other setting is rejected with
  it, but two change meaning on the token tables: `weight_decay` decays only
  the rows in the batch, and `adam`/`rmsprop`/`adadelta` update a row's
  moments only when it is in a batch (Adam's bias correction still counts
  global steps), as MXNet's `lazy_update` did. `sgd` and `adagrad` update as
  with `dense`.
* `pooled_embedding` averages token embeddings, so SageMaker sets its token
  embedding dim to `enc_dim`. When `encX_token_embedding_dim` is not given we do
  the same; when it is given and differs, it is kept and the encoder adds a
  linear projection to `enc_dim` (never a silent override).

Resolving a resolved dict returns it unchanged.

The valid `encX_network` values come from the encoder registry, `ENCODERS`
(see `register_encoder`): each entry names the layer, the `encX_*` settings
it reads and what `"auto"` means for it. The model factory and the tuning
space read the same entries, so a new encoder is a layer plus one
`register_encoder` call.
"""

import dataclasses
import difflib
import importlib
import json
import logging
import math
import re

logger = logging.getLogger(__name__)

COMPARATORS = ("hadamard", "concat", "abs_diff")
OPTIMIZERS = ("adadelta", "adagrad", "adam", "sgd", "rmsprop")
OUTPUT_LAYERS = ("softmax", "mean_squared_error")
MLP_ACTIVATIONS = ("tanh", "relu", "linear")
# What `encX_activation` may apply to a side's encoding.
ENCODING_ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu")
# Set in AWS notebooks; they tune MXNet's kvstore and mean nothing here.
IGNORED_HYPERPARAMETERS = ("_kvstore", "_num_gpus", "_num_kv_servers")

FIELD_COMBINERS = ("mean", "sum", "sqrtn")
FIELD_EXAMPLE = ('{"name": "genres", "vocab_size": 20, "max_seq_len": 6, '
                 '"weighted": false, "combiner": "mean"}')
_FIELD_KEYS = ("name", "vocab_size", "max_seq_len", "weighted", "combiner",
               "l2", "embedding")
_FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

_REQUIRED = object()
_FILENAME_RE = re.compile(r"^[A-Za-z0-9._]*$")


@dataclasses.dataclass(frozen=True)
class Spec:
    """One hyperparameter: its kind, default and valid values."""

    name: str
    kind: str  # int | float | choice | bool | layers | filename | comparators
    default: object = _REQUIRED
    low: float = None
    high: float = None
    choices: tuple = ()
    extension: bool = False  # a keras_o2v addition, not a SageMaker name

    @property
    def required(self):
        return self.default is _REQUIRED

    def describe(self):
        """Valid values in words, as used in error messages."""
        if self.kind in ("int", "float"):
            word = "an integer" if self.kind == "int" else "a number"
            if self.high is None:
                return f"{word} >= {self.low}"
            return f"{word} in [{self.low}, {self.high}]"
        if self.kind == "choice":
            return f"one of {list(self.choices)}"
        if self.kind == "bool":
            return "a boolean ('True' or 'False')"
        if self.kind == "layers":
            return f"'auto' or an integer in [{self.low}, {self.high}]"
        if self.kind == "filename":
            return "a file name of letters, digits, '_' or '.'"
        if self.kind == "fields":
            return ("a list (or its JSON text) of field objects such as "
                    f"{FIELD_EXAMPLE}")
        return (
            f"a comma-separated, non-repeating, non-empty subset of "
            f"{list(COMPARATORS)}"
        )


def _encoder_specs(prefix, network_choices, network_default):
    specs = [
        Spec(f"{prefix}_network", "choice", network_default,
             choices=network_choices),
        Spec(f"{prefix}_cnn_filter_width", "int", 3, 1, 9),
        Spec(f"{prefix}_freeze_pretrained_embedding", "bool", True),
        Spec(f"{prefix}_layers", "layers", "auto", 1, 4),
        Spec(f"{prefix}_pretrained_embedding_file", "filename", ""),
        Spec(f"{prefix}_token_embedding_dim", "int", 300, 2, 1000),
        Spec(f"{prefix}_vocab_file", "filename", ""),
    ]
    # enc0's sizes are required; enc1's default to "copy enc0" (None).
    size_default = _REQUIRED if prefix == "enc0" else None
    specs += [
        Spec(f"{prefix}_max_seq_len", "int", size_default, 1, 5000),
        Spec(f"{prefix}_vocab_size", "int", size_default, 2, 3_000_000),
    ]
    return specs


SPECS = {
    spec.name: spec
    for spec in [
        # The network choices are the registered encoders (set below).
        *_encoder_specs("enc0", (), "hcnn"),
        *_encoder_specs("enc1", ("enc0",), "enc0"),
        Spec("bucket_width", "int", 0, 0, 100),
        Spec("comparator_list", "comparators", list(COMPARATORS)),
        Spec("dropout", "float", 0.0, 0.0, 1.0),
        Spec("early_stopping_patience", "int", 3, 1, 5),
        Spec("early_stopping_tolerance", "float", 0.01, 1e-6, 0.1),
        Spec("enc_dim", "int", 4096, 4, 10000),
        Spec("epochs", "int", 30, 1, 100),
        Spec("learning_rate", "float", 0.0004, 1e-6, 1.0),
        Spec("mini_batch_size", "int", 32, 1, 10000),
        Spec("mlp_activation", "choice", "linear", choices=MLP_ACTIVATIONS),
        Spec("mlp_dim", "int", 512, 2, 10000),
        Spec("mlp_layers", "int", 2, 0, 10),
        Spec("negative_sampling_rate", "int", 0, 0, None),
        Spec("num_classes", "int", 2, 2, 30),
        Spec("optimizer", "choice", "adam", choices=OPTIMIZERS),
        Spec("output_layer", "choice", "softmax", choices=OUTPUT_LAYERS),
        Spec("tied_token_embedding_weight", "bool", False),
        Spec("token_embedding_storage_type", "choice", "dense",
             choices=("dense", "row_sparse")),
        Spec("weight_decay", "float", 0.0, 0.0, 10000.0),
        # keras_o2v extensions: optional, and off by default, so SageMaker
        # configs behave as SageMaker's.
        Spec("embedding_l2", "float", 0.0, 0.0, 100.0, extension=True),
        Spec("tied_encoder_weights", "bool", False, extension=True),
        # Feature-rich objects: extra fields per side, per-id biases.
        Spec("enc0_fields", "fields", [], extension=True),
        Spec("enc1_fields", "fields", [], extension=True),
        Spec("enc0_id_bias", "bool", False, extension=True),
        Spec("enc1_id_bias", "bool", False, extension=True),
        Spec("bias_l2", "float", 0.0, 0.0, 100.0, extension=True),
        Spec("enc0_activation", "choice", "linear",
             choices=ENCODING_ACTIVATIONS, extension=True),
        Spec("enc1_activation", "choice", "linear",
             choices=ENCODING_ACTIVATIONS, extension=True),
    ]
}
EXTENSIONS = tuple(name for name, spec in SPECS.items() if spec.extension)

# The enc1 settings that `enc1_network="enc0"` copies from enc0.
ENCODER_FIELDS = (
    "cnn_filter_width",
    "freeze_pretrained_embedding",
    "layers",
    "max_seq_len",
    "pretrained_embedding_file",
    "token_embedding_dim",
    "vocab_file",
    "vocab_size",
)

# === Encoder registry ===

# The `encX_*` settings that only some networks read (the others, sizes and
# vocabulary files, go to every encoder).
ENCODER_KNOBS = ("layers", "cnn_filter_width")


@dataclasses.dataclass(frozen=True)
class EncoderEntry:
    """One `encX_network` value: its layer and the settings it reads.

    Attributes:
        name: str. The `encX_network` value.
        layer: the layer class, or its import path `"package.module.Class"`
            (the built-in entries use paths, so that this module needs no
            Keras).
        knobs: dict. `encX_*` setting (from `ENCODER_KNOBS`) -> the layer's
            constructor argument that receives it.
        auto_layers: int. What `encX_layers="auto"` resolves to.
        token_dim_is_enc_dim: bool. The encoder pools token vectors into the
            encoding, so an unset `encX_token_embedding_dim` is `enc_dim`
            (SageMaker's rule for `pooled_embedding`) and is not tuned.
    """

    name: str
    layer: object
    knobs: dict
    auto_layers: int = 1
    token_dim_is_enc_dim: bool = False

    def layer_class(self):
        """The layer class (imported on first use for a path)."""
        if not isinstance(self.layer, str):
            return self.layer
        module, _, name = self.layer.rpartition(".")
        return getattr(importlib.import_module(module), name)

    @property
    def tunable_settings(self):
        """The `encX_*` settings a search may tune for this network."""
        own_token_dim = () if self.token_dim_is_enc_dim else (
            "token_embedding_dim",)
        return (*self.knobs, *own_token_dim)


# network name -> EncoderEntry, in registration order. Read by
# `resolve_hyperparameters`, `keras_o2v.models` (which layer to build and
# with which arguments) and `keras_o2v.tuning.space` (which knobs to tune).
ENCODERS = {}
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def register_encoder(name, layer, *, knobs=None, auto_layers=1,
                     token_dim_is_enc_dim=False):
    """Makes `name` a valid `enc0_network`/`enc1_network` value.

    The layer is built with the arguments of
    `keras_o2v.layers.encoders.base.Encoder` (`vocab_size`,
    `token_embedding_dim`, `enc_dim`, `embedding_l2`, `token_embedding`,
    `freezable_rows`, `name`) plus one argument per knob. See
    `keras_o2v.layers.Encoder` for a worked example.

    Args:
        name: str. The network name, lowercase letters, digits and `_`.
        layer: the layer class (or its import path `"module.Class"`).
        knobs: optional dict. `encX_*` setting -> constructor argument, for
            the settings in `ENCODER_KNOBS` that the layer reads, e.g.
            `{"layers": "num_layers"}`. Defaults to none.
        auto_layers: int in [1, 4]. What `encX_layers="auto"` resolves to.
            Defaults to 1.
        token_dim_is_enc_dim: bool. An unset `encX_token_embedding_dim`
            is `enc_dim` (for encoders that pool token vectors). Defaults to
            False.

    Returns:
        The `EncoderEntry`.

    Raises:
        ValueError: for a name already registered or not a valid name, an
            unknown knob, or `auto_layers` out of range.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name) or (
            name == "enc0"):
        raise ValueError(
            "`name` must be lowercase letters, digits and '_', starting with "
            f"a letter, and not 'enc0'. Received: name={name!r}")
    if name in ENCODERS:
        raise ValueError(
            f"`name` must not be a registered network ({list(ENCODERS)}); "
            f"call `unregister_encoder` first to replace one. Received: "
            f"name={name!r}")
    knobs = dict(knobs or {})
    unknown = sorted(set(knobs) - set(ENCODER_KNOBS))
    if unknown:
        raise ValueError(f"`knobs` must name settings in {list(ENCODER_KNOBS)}"
                         f". Received: knobs={knobs!r}")
    layers = SPECS["enc0_layers"]
    if (isinstance(auto_layers, bool) or not isinstance(auto_layers, int)
            or not layers.low <= auto_layers <= layers.high):
        raise ValueError(
            f"`auto_layers` must be an integer in [{layers.low}, "
            f"{layers.high}]. Received: auto_layers={auto_layers!r}")
    entry = EncoderEntry(name, layer, knobs, auto_layers,
                         bool(token_dim_is_enc_dim))
    ENCODERS[name] = entry
    _set_network_choices()
    return entry


def unregister_encoder(name):
    """Removes a network added with `register_encoder`."""
    if name not in ENCODERS:
        raise ValueError(f"`name` must be a registered network "
                         f"({list(ENCODERS)}). Received: name={name!r}")
    del ENCODERS[name]
    _set_network_choices()


def _set_network_choices():
    for prefix, extra in (("enc0", ()), ("enc1", ("enc0",))):
        name = f"{prefix}_network"
        SPECS[name] = dataclasses.replace(
            SPECS[name], choices=(*extra, *ENCODERS))


# The built-in networks; SageMaker's order.
register_encoder(
    "hcnn", "keras_o2v.layers.encoders.hcnn.HCNNEncoder",
    knobs={"layers": "num_layers", "cnn_filter_width": "cnn_filter_width"},
    auto_layers=4)
register_encoder("bilstm", "keras_o2v.layers.encoders.bilstm.BiLSTMEncoder",
                 knobs={"layers": "num_layers"}, auto_layers=1)
register_encoder(
    "pooled_embedding",
    "keras_o2v.layers.encoders.pooled_embedding.PooledEmbeddingEncoder",
    token_dim_is_enc_dim=True)


def _token_dim_is_enc_dim(network):
    entry = ENCODERS.get(network)
    return entry is not None and entry.token_dim_is_enc_dim


def defaults():
    """The SageMaker defaults of every optional hyperparameter."""
    return {
        name: spec.default
        for name, spec in SPECS.items()
        if not spec.required
    }


def _error(spec, value):
    return ValueError(
        f"`{spec.name}` must be {spec.describe()}. "
        f"Received: {spec.name}={value!r}"
    )


def _parse_bool(spec, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _error(spec, value)


def _parse_number(spec, value, integer):
    if isinstance(value, bool):
        raise _error(spec, value)
    parsed = value
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = int(text) if integer else float(text)
        except ValueError:
            raise _error(spec, value) from None
    elif integer and isinstance(value, float) and value.is_integer():
        parsed = int(value)
    if integer and not isinstance(parsed, int):
        raise _error(spec, value)
    if not integer and not isinstance(parsed, (int, float)):
        raise _error(spec, value)
    if not integer:
        parsed = float(parsed)
        if not math.isfinite(parsed):
            raise _error(spec, value)
    if parsed < spec.low or (spec.high is not None and parsed > spec.high):
        raise _error(spec, value)
    return parsed


def parse_fields(value, name="enc0_fields"):
    """The extra fields of one side: JSON text or a list of dicts -> the
    list of complete field dicts (`_FIELD_KEYS`, defaults filled in).

    A field `{"name": "genres", ...}` of `enc0_fields` is read from the
    record key `in0_genres` (and `in0_genres_weights` if `weighted`).
    Defaults: `max_seq_len` 1, `weighted` False, `combiner` "mean" (the
    weighted mean; "sum", or "sqrtn": the sum divided by the root of the
    sum of squared weights, SVD++'s 1/sqrt(n) with unit weights), `l2`
    None (the field's table takes `embedding_l2`; a number sets its own
    lazy L2, as SVD++ regularises its implicit factors on their own),
    `embedding` None (its own table; `"in0"` or `"in1"`: the token table of
    that side's encoder, e.g. a user's history read with the item vectors).
    """
    def fail(why):
        return ValueError(f"`{name}` must be a list of field objects such "
                          f"as {FIELD_EXAMPLE}; {why}. Received: "
                          f"{name}={value!r:.200}")

    items = value
    if isinstance(value, str):
        try:
            items = json.loads(value) if value.strip() else []
        except ValueError as e:
            raise fail(f"not JSON ({e})") from None
    if not isinstance(items, (list, tuple)):
        raise fail("not a list")
    fields, names = [], set()
    for index, item in enumerate(items):
        where = f"field {index}"
        if not isinstance(item, dict):
            raise fail(f"{where} is not an object")
        unknown = sorted(set(item) - set(_FIELD_KEYS))
        if unknown:
            raise fail(f"{where} has unknown keys {unknown}; valid keys: "
                       f"{list(_FIELD_KEYS)}")
        field = {"max_seq_len": 1, "weighted": False, "combiner": "mean",
                 "l2": None, "embedding": None, **item}
        if not isinstance(field.get("name"), str) or not _FIELD_NAME_RE.match(
                field["name"]) or field["name"].endswith("weights"):
            raise fail(f"{where}: `name` must be lower-case letters, digits "
                       "and '_', starting with a letter, not ending in "
                       "'weights'")
        if field["name"] in names:
            raise fail(f"{where}: name {field['name']!r} repeats")
        names.add(field["name"])
        for key, low, high in (("vocab_size", 2, 3_000_000),
                               ("max_seq_len", 1, 5000)):
            v = field.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or not (
                    low <= v <= high):
                raise fail(f"{where}: `{key}` must be an integer in "
                           f"[{low}, {high}]")
        if not isinstance(field["weighted"], bool):
            raise fail(f"{where}: `weighted` must be true or false")
        l2 = field["l2"]
        if l2 is not None and (isinstance(l2, bool) or not isinstance(
                l2, (int, float)) or not 0 <= l2 <= 100):
            raise fail(f"{where}: `l2` must be null or a number in [0, 100]")
        if field["embedding"] not in (None, "in0", "in1"):
            raise fail(f"{where}: `embedding` must be null, 'in0' or 'in1'")
        if field["combiner"] not in FIELD_COMBINERS:
            raise fail(f"{where}: `combiner` must be one of "
                       f"{list(FIELD_COMBINERS)}")
        fields.append({key: field[key] for key in _FIELD_KEYS})
    return fields


def parse_comparator_list(value, name="comparator_list"):
    """`"hadamard, concat"` or a sequence of names -> list of names."""
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = [str(item).strip() for item in value]
    else:
        items = None
    if (
        not items
        or any(item not in COMPARATORS for item in items)
        or len(set(items)) != len(items)
    ):
        raise ValueError(
            f"`{name}` must be a comma-separated, non-repeating, non-empty "
            f"subset of {list(COMPARATORS)}. Received: {name}={value!r}"
        )
    return items


def parse_value(name, value):
    """Parses one hyperparameter (string or typed) and checks its range."""
    spec = SPECS[name]
    if spec.kind == "int":
        return _parse_number(spec, value, integer=True)
    if spec.kind == "float":
        return _parse_number(spec, value, integer=False)
    if spec.kind == "bool":
        return _parse_bool(spec, value)
    if spec.kind == "choice":
        text = value.strip() if isinstance(value, str) else value
        if text not in spec.choices:
            raise _error(spec, value)
        return text
    if spec.kind == "layers":
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            return _parse_number(spec, value, integer=True)
        except ValueError:
            raise _error(spec, value) from None
    if spec.kind == "filename":
        if not isinstance(value, str) or not _FILENAME_RE.match(value):
            raise _error(spec, value)
        return value
    if spec.kind == "fields":
        return parse_fields(value, name)
    return parse_comparator_list(value, name)


def read_hyperparameters(path):
    """The hyperparameter map of a JSON file (`{}` for `path=None`).

    The file holds one JSON object, e.g. SageMaker's string-to-string map
    `{"enc_dim": "64"}`; `resolve_hyperparameters` checks the values.
    """
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            hp = json.load(f)
    except (OSError, ValueError) as e:  # UnicodeDecodeError: a binary file
        raise ValueError(f"Cannot read hyperparameters from {path!r}: {e}. "
                         "It must be a UTF-8 JSON object, e.g. "
                         "{\"enc_dim\": \"64\"}.") from None
    if not isinstance(hp, dict):
        raise ValueError(f"{path!r} must hold a JSON object of "
                         "hyperparameters, e.g. {\"enc_dim\": \"64\"}.")
    return hp


def parse_overrides(items, flag="--set"):
    """`["name=value", ...]` (a command line's) -> `{"name": "value"}`."""
    overrides = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"`{flag}` must look like name=value. "
                             f"Received: {flag} {item!r}")
        overrides[name.strip()] = value
    return overrides


def resolve_hyperparameters(hyperparameters=None, **kwargs):
    """Validates hyperparameters and returns the resolved, explicit dict.

    Args:
        hyperparameters: dict. SageMaker-style map; values may be strings
            (`"20"`, `"True"`, `"auto"`) or typed values.
        **kwargs: more hyperparameters; they override `hyperparameters`.

    Returns:
        A dict holding every hyperparameter in `SPECS` with a concrete value.

    Raises:
        ValueError: for an unknown name, a missing required value, a value out
            of range, or enc1 settings that conflict with `enc1_network="enc0"`.
    """
    given = dict(hyperparameters or {})
    given.update(kwargs)
    for name in IGNORED_HYPERPARAMETERS:
        if given.pop(name, None) is not None:
            logger.info("Ignoring `%s`: it configures MXNet only.", name)
    unknown = sorted(set(given) - set(SPECS))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, SPECS, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)"
                                        if close else ""))
        raise ValueError(
            f"Unknown hyperparameter(s): {', '.join(hints)}. Valid names: "
            f"{sorted(SPECS)}"
        )
    _drop_implicit_token_dims(given)
    explicit = {
        name: parse_value(name, value)
        for name, value in given.items()
        if value is not None
    }
    for name, spec in SPECS.items():
        if spec.required and name not in explicit:
            raise ValueError(f"`{name}` is required. Valid values: "
                             f"{spec.describe()}.")
    resolved = {**defaults(), **explicit}
    _resolve_enc1(resolved, explicit)
    for prefix in ("enc0", "enc1"):
        _resolve_encoder(resolved, explicit, prefix)
    _resolve_tied_encoders(resolved, explicit)
    _check_cross_field(resolved)
    return resolved


def _drop_implicit_token_dims(given):
    """Forgets a pooled token dim equal to `enc_dim`: it is the implicit one.

    A resolved dict holds it explicitly, and `enc_dim` may exceed the token
    dim's own range (1000), so re-resolving must not range-check it.
    """
    networks = {"enc0": str(given.get("enc0_network", "hcnn")).strip()}
    enc1 = str(given.get("enc1_network", "enc0")).strip()
    networks["enc1"] = networks["enc0"] if enc1 == "enc0" else enc1
    for prefix, network in networks.items():
        name = f"{prefix}_token_embedding_dim"
        if (_token_dim_is_enc_dim(network) and name in given
                and str(given[name]).strip()
                == str(given.get("enc_dim", SPECS["enc_dim"].default)).strip()):
            del given[name]


def _resolve_enc1(resolved, explicit):
    if resolved["enc1_network"] == "enc0":
        for field in ENCODER_FIELDS:
            name0, name1 = f"enc0_{field}", f"enc1_{field}"
            if name1 in explicit and explicit[name1] != resolved[name0]:
                raise ValueError(
                    f"`{name1}={explicit[name1]!r}` conflicts with "
                    f"`enc1_network='enc0'`, which copies every enc0 setting "
                    f"(`{name0}={resolved[name0]!r}`). Set `enc1_network` to "
                    f"one of {list(ENCODERS)} to configure enc1 on its "
                    f"own, or remove `{name1}`."
                )
            resolved[name1] = resolved[name0]
        resolved["enc1_network"] = resolved["enc0_network"]
        # enc0's token dim may itself be implicit: keep it implicit for enc1.
        if "enc0_token_embedding_dim" in explicit:
            explicit["enc1_token_embedding_dim"] = explicit[
                "enc0_token_embedding_dim"]
        if "enc0_layers" in explicit:
            explicit["enc1_layers"] = explicit["enc0_layers"]
        return
    for field in ("max_seq_len", "vocab_size"):
        if resolved[f"enc1_{field}"] is None:
            raise ValueError(
                f"`enc1_{field}` is required when `enc1_network` is "
                f"{resolved['enc1_network']!r} (it is copied from enc0 only "
                f"when `enc1_network='enc0'`)."
            )


def _resolve_encoder(resolved, explicit, prefix):
    network = resolved[f"{prefix}_network"]
    entry = ENCODERS[network]
    layers_name = f"{prefix}_layers"
    if resolved[layers_name] == "auto":
        resolved[layers_name] = entry.auto_layers
    elif ("layers" not in entry.knobs and layers_name in explicit
            and explicit[layers_name] != entry.auto_layers):
        logger.warning("`%s` is ignored: %s has no layers.", layers_name,
                       network)
    dim_name = f"{prefix}_token_embedding_dim"
    if entry.token_dim_is_enc_dim and dim_name not in explicit:
        # SageMaker's rule: a pooled encoder's token dim is enc_dim.
        resolved[dim_name] = resolved["enc_dim"]


def _resolve_tied_encoders(resolved, explicit):
    """One encoder for both inputs: enc1 must be configured as enc0."""
    if not resolved["tied_encoder_weights"]:
        return
    if explicit.get("tied_token_embedding_weight") is False:
        raise ValueError(
            "`tied_encoder_weights=True` shares the whole encoder, token "
            "embedding included, so `tied_token_embedding_weight` cannot be "
            "False. Received: tied_token_embedding_weight=False")
    resolved["tied_token_embedding_weight"] = True
    # max_seq_len only truncates the data: one encoder reads any length.
    _require_equal_encoders(
        resolved, ("network",) + tuple(f for f in ENCODER_FIELDS
                                       if f != "max_seq_len"),
        "`tied_encoder_weights=True` uses encoder 0 for both inputs",
        " (or set `enc1_network='enc0'`)")


def _require_equal_encoders(resolved, fields, reason, hint=""):
    """Raises unless each `enc1_<field>` equals `enc0_<field>`."""
    for field in fields:
        v0, v1 = resolved[f"enc0_{field}"], resolved[f"enc1_{field}"]
        if v0 != v1:
            raise ValueError(
                f"{reason}, so `enc1_{field}` must equal `enc0_{field}`"
                f"{hint}. Received: enc0_{field}={v0!r}, enc1_{field}={v1!r}")


def _check_cross_field(resolved):
    if resolved["tied_token_embedding_weight"]:
        _require_equal_encoders(
            resolved, ("vocab_size", "token_embedding_dim"),
            "`tied_token_embedding_weight=True` shares one token embedding")
    for prefix in ("enc0", "enc1"):
        if (resolved[f"{prefix}_pretrained_embedding_file"]
                and not resolved[f"{prefix}_vocab_file"]):
            raise ValueError(
                f"`{prefix}_pretrained_embedding_file` needs `{prefix}_vocab_"
                f"file` (a JSON vocab in the auxiliary channel) to map its "
                f"words to ids. Received: {prefix}_vocab_file=''")
    if resolved["tied_token_embedding_weight"]:
        for field in ("pretrained_embedding_file", "vocab_file",
                      "freeze_pretrained_embedding"):
            v0, v1 = resolved[f"enc0_{field}"], resolved[f"enc1_{field}"]
            if resolved["enc1_pretrained_embedding_file"] and v0 != v1:
                raise ValueError(
                    f"`tied_token_embedding_weight=True` shares enc0's token "
                    f"embedding, so `enc1_{field}` must be empty or equal "
                    f"`enc0_{field}`. Received: enc0_{field}={v0!r}, "
                    f"enc1_{field}={v1!r}")
    for prefix in ("enc0", "enc1"):
        if (resolved[f"{prefix}_id_bias"]
                and resolved["output_layer"] != "mean_squared_error"):
            raise ValueError(
                f"`{prefix}_id_bias=True` adds a scalar per id to the "
                "regression output, so it needs `output_layer="
                "'mean_squared_error'`. Received: output_layer="
                f"{resolved['output_layer']!r}")
    for prefix in ("enc0", "enc1"):
        for field in resolved[f"{prefix}_fields"]:
            _check_shared_field_table(resolved, prefix, field)
    if (resolved["tied_encoder_weights"]
            and resolved["enc0_fields"] != resolved["enc1_fields"]):
        raise ValueError(
            "`tied_encoder_weights=True` uses encoder 0 for both inputs, so "
            "`enc1_fields` must equal `enc0_fields`. Received: enc0_fields="
            f"{resolved['enc0_fields']!r}, enc1_fields="
            f"{resolved['enc1_fields']!r}")
    if (resolved["negative_sampling_rate"] > 0
            and resolved["output_layer"] != "softmax"):
        raise ValueError(
            "`negative_sampling_rate` > 0 makes negatives labelled 0, so it "
            "needs `output_layer='softmax'`. Received: negative_sampling_rate="
            f"{resolved['negative_sampling_rate']}, output_layer="
            f"{resolved['output_layer']!r}"
        )


WEIGHTS_SUFFIX = "_weights"


def weights_key(key):
    """The record key of field `key`'s token weights (`in0_genres_weights`)."""
    return key + WEIGHTS_SUFFIX


def is_weights_key(key):
    """Whether record key `key` holds token weights (float32) not ids."""
    return key.endswith(WEIGHTS_SUFFIX)


def input_keys(hp, sides=("in0", "in1")):
    """The record keys of `sides` in resolved hyperparameters, in order:
    the sides' ids, then each extra field (and its `_weights`)."""
    keys = list(sides)
    for side in sides:
        for field in hp.get(f"enc{side[-1]}_fields", []):
            key = f"{side}_{field['name']}"
            keys += [key, weights_key(key)] if field["weighted"] else [key]
    return keys


def _check_shared_field_table(resolved, prefix, field):
    """A field reading an encoder's token table must fit that table."""
    side = field["embedding"]
    if side is None:
        return
    enc = f"enc{side[-1]}"
    sizes = {"vocab_size": (field["vocab_size"],
                            resolved[f"{enc}_vocab_size"]),
             "token embedding dim": (resolved["enc_dim"],
                                     resolved[f"{enc}_token_embedding_dim"])}
    for what, (mine, table) in sizes.items():
        if mine != table:
            raise ValueError(
                f"Field {field['name']!r} of `{prefix}_fields` reads the "
                f"token table of `{side}` (`embedding={side!r}`), so its "
                f"{what} must be the table's: {table}. Received: {mine} "
                f"(a field's vectors have `enc_dim` columns).")


def to_sagemaker_strings(resolved):
    """Renders a resolved dict as SageMaker's string-to-string map."""
    out = {}
    for name, value in resolved.items():
        if isinstance(value, bool):
            out[name] = str(value)
        elif SPECS[name].kind == "fields":
            out[name] = json.dumps(value)
        elif isinstance(value, list):
            out[name] = ", ".join(value)
        else:
            out[name] = str(value)
    return out
