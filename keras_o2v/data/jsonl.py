"""Streaming, validating reader of Object2Vec JSON Lines files.

One pair per line: `{"label": 1, "in0": [12, 7, 9], "in1": [44]}`. Files are
read in chunks of lines (never whole into memory). Every line is decoded on
its own (never joined with its neighbours: two broken lines must not make
one valid record), then the chunk is checked with vectorised numpy tests;
only a chunk that fails them is walked record by record (`check_record`) to
name the first bad line and field. Every problem is a `ValueError` that
names the file, the 1-based line number and the field; so is a corrupt or
truncated `.gz` file.

Rules:
* Blank lines are skipped (they still count for line numbers).
* `in0`/`in1` are non-empty lists of integer ids in `[0, vocab_size)`. Id 0 is
  padding: it is ignored by the encoders, so an input made only of 0s is
  rejected as empty.
* Sequences longer than `max_seq_len` keep their first `max_seq_len` ids.
* Softmax labels are integers in `[0, num_classes)` (`1.0` counts as 1);
  regression labels are finite numbers.
* A path may be a file or a directory (all its non-hidden files, sorted);
  files ending in `.gz` are decompressed on the fly.
"""

import dataclasses
import gzip
import itertools
import json
import math
import os
import zlib

import numpy as np
import orjson

from keras_o2v.data.records import Ragged
from keras_o2v.data.records import Records
from keras_o2v.hyperparameters import weights_key

EXAMPLE_LINE = '{"label": 1, "in0": [12, 7, 9], "in1": [44]}'
DEFAULT_CHUNK_LINES = 1024


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What one input field (`in0` or `in1`) may hold."""

    vocab_size: int
    max_seq_len: int


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """What one extra field of a feature-rich object may hold.

    A keras_o2v extension (hyperparameters `enc0_fields`/`enc1_fields`): the
    record key is `<side>_<name>` (e.g. `in0_genres`), a list of ids in
    `[0, vocab_size)` that may be empty; with `weighted`, the key
    `<side>_<name>_weights` holds one finite number per id.
    """

    vocab_size: int
    max_seq_len: int
    weighted: bool = False


@dataclasses.dataclass(frozen=True)
class RecordSpec:
    """What a record must hold.

    Args:
        inputs: dict field name -> `InputSpec`; the fields each record needs.
        label: `"softmax"`, `"regression"` or `None` (labels not read).
        num_classes: int. Valid softmax labels are `[0, num_classes)`.
        fields: dict key (`"in0_genres"`) -> `FieldSpec`: the extra fields
            of the sides in `inputs`. Defaults to none (SageMaker's
            format). With fields, a key `<side>_...` that is not declared
            is an error.
    """

    inputs: dict
    label: str = None
    num_classes: int = 2
    fields: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_hyperparameters(cls, hp, with_label=True):
        inputs = {
            f"in{i}": InputSpec(hp[f"enc{i}_vocab_size"],
                                hp[f"enc{i}_max_seq_len"])
            for i in (0, 1)
        }
        label = None
        if with_label:
            label = ("softmax" if hp["output_layer"] == "softmax"
                     else "regression")
        return cls(inputs, label, hp["num_classes"], field_specs(hp))

    def keys(self):
        """Every record key the spec reads, label excluded."""
        keys = list(self.inputs)
        for key, field in self.fields.items():
            keys += [key, weights_key(key)] if field.weighted else [key]
        return keys


def field_specs(hp, sides=("in0", "in1")):
    """`{key: FieldSpec}` of the extra fields in resolved hyperparameters."""
    return {
        f"{side}_{field['name']}": FieldSpec(
            field["vocab_size"], field["max_seq_len"], field["weighted"])
        for side in sides
        for field in hp.get(f"enc{side[-1]}_fields", [])
    }


def list_files(path):
    """The files of a channel: `path` itself, or the files in directory."""
    if os.path.isdir(path):
        files = sorted(
            os.path.join(path, name) for name in os.listdir(path)
            if not name.startswith(".")
            and os.path.isfile(os.path.join(path, name))
        )
        if not files:
            raise ValueError(f"Directory {path!r} holds no data files.")
        return files
    if not os.path.isfile(path):
        raise ValueError(f"Data path {path!r} is neither a file nor a "
                         "directory.")
    return [path]


class _CheckedGzipFile(gzip.GzipFile):
    """A `.gz` file whose corruption is a `ValueError` naming the file.

    `gzip` raises `BadGzipFile`, `EOFError` or `zlib.error` from the read
    that meets the damage, deep inside a caller's loop; this names the file
    and says what to do. Iteration calls `readline`, `json.load` calls
    `read`: both are covered.
    """

    def _checked(self, method, *args):
        try:
            return method(*args)
        except EOFError as e:
            raise ValueError(
                f"{self.name}: truncated gzip file ({e}). Copy or compress "
                "it again.") from None
        except (gzip.BadGzipFile, zlib.error) as e:
            raise ValueError(
                f"{self.name}: not a valid gzip file ({e}). Compress it with "
                "gzip, or drop the .gz suffix if it is plain text.") from None

    def read(self, size=-1):
        return self._checked(super().read, size)

    def read1(self, size=-1):
        return self._checked(super().read1, size)

    def readline(self, size=-1):
        return self._checked(super().readline, size)


def open_data_file(path):
    """Opens `path` for reading bytes, decompressing a `.gz` file."""
    if path.endswith(".gz"):
        return _CheckedGzipFile(path, "rb")
    return open(path, "rb")


def read_line_chunks(path, chunk_lines=DEFAULT_CHUNK_LINES):
    """Yields `(number of the first line, lines)` of one file.

    Lines are raw bytes with their line ends, `chunk_lines` at a time; line
    numbers are 1-based and count blank lines.
    """
    with open_data_file(path) as f:
        first = 1
        while lines := list(itertools.islice(f, chunk_lines)):
            yield first, lines
            first += len(lines)


def read_jsonl(path, with_line_numbers=False):
    """Every non-blank line of a JSON Lines file (`.gz` too) as a dict.

    For small files of free-form objects (queries, instances to embed or
    index, label rows); training records go through `read_records`.

    Args:
        path: str. The file.
        with_line_numbers: bool. Also return each row's 1-based file line
            (blank lines counted), so that a later check can name it.

    Returns:
        list of dicts, or `(rows, line_numbers)` with `with_line_numbers`.

    Raises:
        ValueError: naming the line, if one is not a JSON object.
    """
    rows, numbers = [], []
    with open_data_file(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise ValueError(f"{path}:{number}: not JSON ({e})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object, "
                                 f"got {type(row).__name__}")
            rows.append(row)
            numbers.append(number)
    return (rows, numbers) if with_line_numbers else rows


def column(rows, field, path, line_numbers, hint=""):
    """`row[field]` of every row; a missing one names its file line.

    Args:
        rows, line_numbers: what `read_jsonl(path, with_line_numbers=True)`
            returns.
        field: str. The field every row must hold.
        path: str. The file, for the error.
        hint: str. Where the field name came from, e.g. "--labels-field".
    """
    for row, number in zip(rows, line_numbers):
        if field not in row:
            hint_text = f" ({hint})" if hint else ""
            raise ValueError(
                f"{path}:{number}: field `{field}`{hint_text} missing; every "
                f"line must hold it. Keys on that line: {sorted(row)}")
    return [row[field] for row in rows]


def _where(path, lineno, field=None):
    where = path if lineno is None else f"{path}, line {lineno}"
    return f"{where}, field `{field}`" if field else where


def _ids_rule(spec):
    if isinstance(spec, FieldSpec):
        return (f"Valid: a list (may be empty) of integer ids in "
                f"[0, {spec.vocab_size - 1}] (0 = padding)")
    return (f"Valid: a non-empty list of integer ids in "
            f"[0, {spec.vocab_size - 1}] (0 = padding)")


def _vocab_hint(field):
    """Which hyperparameter sets the vocabulary of record key `field`."""
    side, _, name = field.partition("_")
    if name:
        return f"`vocab_size` of field {name!r} in `enc{side[-1]}_fields`"
    return f"`enc{field[-1]}_vocab_size`"


def _weights_rule(field):
    return (f"Valid: a list of finite numbers, one per id of `{field}`")


def _label_rule(spec):
    if spec.label == "softmax":
        return (f"Valid: an integer class in [0, {spec.num_classes - 1}] "
                "(output_layer=softmax)")
    return "Valid: a finite number (output_layer=mean_squared_error)"


def _check_ids(path, lineno, field, value, spec):
    where = _where(path, lineno, field)
    valid = _ids_rule(spec)
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of ids, got "
                         f"{type(value).__name__} {value!r:.80}. {valid}.")
    extra = isinstance(spec, FieldSpec)
    if not value and not extra:
        raise ValueError(f"{where}: empty list. {valid}.")
    for position, token in enumerate(value):
        if isinstance(token, bool) or not isinstance(token, int):
            raise ValueError(f"{where}: id at position {position} is not an "
                             f"integer: {token!r:.80}. {valid}.")
        if token < 0:
            raise ValueError(f"{where}: id at position {position} is "
                             f"negative: {token}. {valid}.")
        if token >= spec.vocab_size:
            raise ValueError(
                f"{where}: id {token} at position {position} is >= "
                f"vocab_size={spec.vocab_size} (set {_vocab_hint(field)} "
                f"to at least {token + 1}). {valid}.")
    if not any(value) and not extra:
        raise ValueError(f"{where}: only padding ids (0); the input is "
                         f"empty. {valid}.")


def _check_weights(path, lineno, field, value, ids):
    key = weights_key(field)
    where = _where(path, lineno, key)
    valid = _weights_rule(field)
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of weights, got "
                         f"{type(value).__name__} {value!r:.80}. {valid}.")
    if len(value) != len(ids):
        raise ValueError(f"{where}: {len(value)} weights for {len(ids)} ids "
                         f"in `{field}`. {valid}.")
    for position, weight in enumerate(value):
        if isinstance(weight, bool) or not (
                isinstance(weight, int) or isinstance(weight, float)
                and math.isfinite(weight)):
            raise ValueError(f"{where}: weight at position {position} is not "
                             f"a finite number: {weight!r:.80}. {valid}.")


def _undeclared(record, spec, known):
    """The first key of a declared side that `spec` does not read.

    `known`: `set(spec.keys())`, computed once by the caller.
    """
    if not spec.fields:
        return None  # SageMaker's format: other keys are ignored
    for key in record:
        if key not in known and any(key.startswith(side + "_")
                                    for side in spec.inputs):
            return key
    return None


def _check_label(path, lineno, value, spec):
    # `int` first: math.isfinite(10**400) raises OverflowError.
    ok = not isinstance(value, bool) and (
        isinstance(value, int)
        or isinstance(value, float) and math.isfinite(value))
    if spec.label == "softmax":
        ok = (ok and 0 <= value < spec.num_classes
              and float(value).is_integer())
    if not ok:
        raise ValueError(f"{_where(path, lineno, 'label')}: invalid label "
                         f"{value!r:.80}. {_label_rule(spec)}.")


def check_record(path, lineno, record, spec):
    """Raises a `ValueError` naming file, line and field if `record` is bad.

    `path` names the source; `lineno` may be None for in-memory records.
    """
    if not isinstance(record, dict):
        raise ValueError(f"{_where(path, lineno)}: expected a JSON object "
                         f"such as {EXAMPLE_LINE}, got "
                         f"{type(record).__name__}.")
    needed = spec.keys() + (["label"] if spec.label else [])
    for field in needed:
        if field not in record:
            raise ValueError(f"{_where(path, lineno, field)}: missing. Each "
                             f"record needs {needed}, e.g. {EXAMPLE_LINE}.")
    unknown = _undeclared(record, spec, set(spec.keys()))
    if unknown is not None:
        raise ValueError(
            f"{_where(path, lineno, unknown)}: unknown field. The declared "
            f"fields (hyperparameters `enc0_fields`, `enc1_fields`) give "
            f"the keys {spec.keys()}.")
    for field, input_spec in spec.inputs.items():
        _check_ids(path, lineno, field, record[field], input_spec)
    for field, field_spec in spec.fields.items():
        _check_ids(path, lineno, field, record[field], field_spec)
        if field_spec.weighted:
            _check_weights(path, lineno, field, record[weights_key(field)],
                           record[field])
    if spec.label:
        _check_label(path, lineno, record["label"], spec)


class _NonJsonNumber(str):
    """What Python's `json` reads for NaN, Infinity or an overflowing float."""


def _non_json_number(text):
    value = float(text)
    return value if math.isfinite(value) else _NonJsonNumber(text)


def find_non_json_number(raw):
    """`(field, text)` of a NaN/Infinity/1e400 in a line orjson rejected.

    Python's `json` reads those (JSON itself has none); orjson, rightly,
    rejects them as malformed, which hides what is wrong. Returns None if
    the line is malformed for another reason.
    """
    try:
        record = json.loads(raw, parse_constant=_NonJsonNumber,
                            parse_float=_non_json_number)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    for field, value in record.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, _NonJsonNumber):
                return field, str(item)
    return None


def malformed_json_message(where, raw, error, rules=None,
                           example=EXAMPLE_LINE):
    """The message for a line that is not one JSON value.

    Args:
        where: str naming the line (`"a.jsonl, line 3"`).
        raw: the line's bytes.
        error: orjson's error.
        rules: optional dict field -> text of what the field may hold.
        example: str. A valid line, shown in the message.
    """
    found = find_non_json_number(raw)
    if found is None:
        return (f"{where}: malformed JSON ({error}). Each line must be one "
                f"JSON object such as {example}.")
    field, text = found
    rule = (rules or {}).get(field)
    return (f"{where}, field `{field}`: {text} is not a JSON number (JSON "
            "has no NaN or Infinity, and a number must fit a 64-bit float)."
            + (f" {rule}." if rule else ""))


def _parse_line(path, lineno, raw, spec=None):
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        rules = {}
        if spec is not None:
            rules = {field: _ids_rule(s) for field, s in
                     {**spec.inputs, **spec.fields}.items()}
            rules.update({weights_key(key): _weights_rule(key)
                          for key, f in spec.fields.items() if f.weighted})
            if spec.label:
                rules["label"] = _label_rule(spec)
        raise ValueError(malformed_json_message(
            _where(path, lineno), raw, e, rules)) from None


def _ids_column(lists, input_spec, truncate=True):
    """`Ragged` of one input over a chunk, or None if any record is bad.

    The vectorised twin of `_check_ids`: one numpy conversion per chunk.
    """
    if not all(type(x) is list for x in lists):
        return None
    lengths = np.fromiter(map(len, lists), np.int64, len(lists))
    extra = isinstance(input_spec, FieldSpec)
    if not extra and not lengths.all():
        return None
    # np.array (not np.fromiter, which truncates floats) so that any
    # non-integer id shows up in the dtype.
    flat = np.array(list(itertools.chain.from_iterable(lists)))
    if not len(flat):  # extra fields only: every list empty
        flat = flat.astype(np.int32)
    elif flat.ndim != 1 or flat.dtype.kind not in "iu" or len(
            flat) != int(lengths.sum()) or flat.min() < 0 or (
            flat.max() >= input_spec.vocab_size):
        return None
    if not extra:
        starts = np.cumsum(lengths) - lengths
        if not np.add.reduceat(flat != 0, starts).all():
            return None
    ragged = Ragged(flat.astype(np.int32), lengths)
    return ragged.truncate(input_spec.max_seq_len) if truncate else ragged


def _weights_column(lists, ids):
    """float32 `Ragged` of a field's token weights, aligned with `ids`, or
    None if any record is bad."""
    if not all(type(x) is list for x in lists):
        return None
    lengths = np.fromiter(map(len, lists), np.int64, len(lists))
    if not np.array_equal(lengths, ids.lengths):
        return None
    flat = list(itertools.chain.from_iterable(lists))
    if any(type(w) not in (int, float) for w in flat):
        return None
    values = np.asarray(flat, np.float64)
    if not np.isfinite(values).all():
        return None
    return Ragged(values.astype(np.float32), lengths)


def _fields_columns(records, spec):
    """`{key: Ragged}` of the extra fields (and weights), or None if any
    record is bad."""
    columns = {}
    for key, field in spec.fields.items():
        ids = _ids_column([r[key] for r in records], field, truncate=False)
        if ids is None:
            return None
        if field.weighted:
            weights = _weights_column([r[weights_key(key)] for r in records],
                                      ids)
            if weights is None:
                return None
            columns[weights_key(key)] = weights.truncate(field.max_seq_len)
        columns[key] = ids.truncate(field.max_seq_len)
    if spec.fields:
        known = set(spec.keys())
        if any(_undeclared(r, spec, known) for r in records):
            return None
    return columns


def _labels_column(labels, spec):
    """Label array of a chunk, or None if any label is bad."""
    if any(type(y) not in (int, float) for y in labels):
        return None
    y = np.asarray(labels, np.float64)
    if not np.isfinite(y).all():
        return None
    if spec.label == "regression":
        return y.astype(np.float32)
    if not ((y == np.floor(y)).all() and y.min() >= 0
            and y.max() < spec.num_classes):
        return None
    return y.astype(np.int32)


def records_from_parsed(records, spec):
    """Validated `Records` of parsed `records`, or None if any is bad.

    The vectorised check: call `check_record` on each record to find which
    one is bad and why.
    """
    try:
        columns = {}
        for field, input_spec in spec.inputs.items():
            columns[field] = _ids_column([r[field] for r in records],
                                         input_spec)
            if columns[field] is None:
                return None
        if spec.label:
            labels = _labels_column([r["label"] for r in records], spec)
            if labels is None:
                return None
        else:
            labels = np.zeros(len(records), np.int32)
        extra = _fields_columns(records, spec)
        if extra is None:
            return None
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    empty = Ragged.empty()
    return Records(columns.get("in0", empty), columns.get("in1", empty),
                   labels, extra)


def _check_chunk(file, first_lineno, lines, spec):
    """Parses and checks `lines` one by one; raises on the first bad one."""
    for lineno, raw in enumerate(lines, start=first_lineno):
        if raw.strip():
            check_record(file, lineno, _parse_line(file, lineno, raw, spec),
                         spec)


def _decode_each(lines):
    """Each line decoded alone, or None if any is not one JSON value."""
    try:
        return list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        return None


def read_records(path, spec, chunk_lines=DEFAULT_CHUNK_LINES):
    """Yields validated `Records`, `chunk_lines` lines at a time.

    Each line is decoded alone with `orjson.loads` and the chunk is checked
    with numpy; a chunk that fails either is re-read line by line to name
    the first bad line and field.

    Args:
        path: a JSON Lines file or a directory of them.
        spec: `RecordSpec` saying which fields are required and valid.
        chunk_lines: int. Lines parsed per chunk.

    Raises:
        ValueError: on the first bad record, naming file, line and field.
    """
    for file in list_files(path):
        for first_lineno, lines in read_line_chunks(file, chunk_lines):
            chunk = parse_line_chunk(file, first_lineno, lines, spec)
            if chunk is not None:
                yield chunk


def parse_line_chunk(file, first_lineno, lines, spec):
    """Validated `Records` of one chunk of raw lines, or None if all blank.

    What `read_records` does with each chunk, also for readers that get
    their lines elsewhere (byte ranges of a file parsed in worker processes,
    `keras_o2v.data.parallel` and `keras_o2v.data.prepared`): the same
    decoding, checks and error messages.

    Args:
        file: str naming the file in error messages.
        first_lineno: int. 1-based line number of `lines[0]` in `file`.
        lines: list of raw lines (bytes, with their line ends).
        spec: `RecordSpec`.

    Raises:
        ValueError: on the first bad record, naming file, line and field.
    """
    body = [line for line in lines if not line.isspace()]
    if not body:
        return None
    chunk = None
    joined = b"".join(body)
    # numpy would read JSON booleans as 1 and 0: such chunks take the
    # record-by-record path.
    if b"true" not in joined and b"false" not in joined:
        parsed = _decode_each(body)
        if parsed is not None:
            chunk = records_from_parsed(parsed, spec)
    if chunk is None:
        _check_chunk(file, first_lineno, lines, spec)
        chunk = records_from_parsed(_decode_each(body), spec)
    if chunk is None:
        raise AssertionError(  # the two checks disagree
            f"{file}: chunk of lines {first_lineno}-"
            f"{first_lineno + len(lines) - 1} failed validation but "
            "no record was found invalid.")
    return chunk


@dataclasses.dataclass
class ChannelStats:
    """What a full validation pass over a channel found."""

    records: int = 0
    nonzero_labels: int = 0
    max_len0: int = 0
    max_len1: int = 0
    # None where unknown (prepared data converted before it was recorded).
    label_sum: float = 0.0

    @property
    def label_mean(self):
        """Mean label, or None if unknown."""
        if self.label_sum is None or not self.records:
            return None
        return self.label_sum / self.records


def no_records_message(path):
    return (f"{path}: no records (the channel is empty or holds only blank "
            f"lines). Each line must be one JSON object such as "
            f"{EXAMPLE_LINE}.")


def scan(path, spec, chunk_lines=DEFAULT_CHUNK_LINES):
    """Validates every record of a channel; returns `ChannelStats`.

    Raises:
        ValueError: naming file, line and field of the first bad record, or
            if the channel holds no record.
    """
    stats = ChannelStats()
    for chunk in read_records(path, spec, chunk_lines):
        stats.records += len(chunk)
        stats.nonzero_labels += int(np.count_nonzero(chunk.labels))
        stats.label_sum += float(np.sum(chunk.labels, dtype=np.float64))
        if len(chunk.in0):
            stats.max_len0 = max(stats.max_len0, int(chunk.in0.lengths.max()))
        if len(chunk.in1):
            stats.max_len1 = max(stats.max_len1, int(chunk.in1.lengths.max()))
    if not stats.records:
        raise ValueError(no_records_message(path))
    return stats
