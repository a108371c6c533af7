"""Streaming, validating reader of Object2Vec JSON Lines files.

One pair per line: `{"label": 1, "in0": [12, 7, 9], "in1": [44]}`. Files are
read in chunks of lines (never whole into memory) and each chunk is checked
with vectorised numpy tests; only a chunk that fails them is walked record by
record (`check_record`) to name the first bad line and field. Every problem is
a `ValueError` that names the file, the 1-based line number and the field.

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
import math
import os

import numpy as np
import orjson

from keras_o2v.data.records import Ragged
from keras_o2v.data.records import Records

EXAMPLE_LINE = '{"label": 1, "in0": [12, 7, 9], "in1": [44]}'
DEFAULT_CHUNK_LINES = 1024


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What one input field (`in0` or `in1`) may hold."""

    vocab_size: int
    max_seq_len: int


@dataclasses.dataclass(frozen=True)
class RecordSpec:
    """What a record must hold.

    Args:
        inputs: dict field name -> `InputSpec`; the fields each record needs.
        label: `"softmax"`, `"regression"` or `None` (labels not read).
        num_classes: int. Valid softmax labels are `[0, num_classes)`.
    """

    inputs: dict
    label: str = None
    num_classes: int = 2

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
        return cls(inputs, label, hp["num_classes"])


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


def open_data_file(path):
    """Opens `path` for reading bytes, decompressing a `.gz` file."""
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _where(path, lineno, field=None):
    where = path if lineno is None else f"{path}, line {lineno}"
    return f"{where}, field `{field}`" if field else where


def _check_ids(path, lineno, field, value, spec):
    where = _where(path, lineno, field)
    valid = (f"Valid: a non-empty list of integer ids in "
             f"[0, {spec.vocab_size - 1}] (0 = padding)")
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of ids, got "
                         f"{type(value).__name__} {value!r:.80}. {valid}.")
    if not value:
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
                f"vocab_size={spec.vocab_size} (set `enc{field[-1]}_vocab_size` "
                f"to at least {token + 1}). {valid}.")
    if not any(value):
        raise ValueError(f"{where}: only padding ids (0); the input is "
                         f"empty. {valid}.")


def _check_label(path, lineno, value, spec):
    where = _where(path, lineno, "label")
    if spec.label == "softmax":
        valid = f"an integer class in [0, {spec.num_classes - 1}]"
        ok = (not isinstance(value, bool)
              and isinstance(value, (int, float))
              and math.isfinite(value) and float(value).is_integer()
              and 0 <= value < spec.num_classes)
    else:
        valid = "a finite number"
        ok = (not isinstance(value, bool)
              and isinstance(value, (int, float)) and math.isfinite(value))
    if not ok:
        raise ValueError(f"{where}: invalid label {value!r:.80}. Valid: "
                         f"{valid} (output_layer="
                         f"{'softmax' if spec.label == 'softmax' else 'mean_squared_error'}).")


def check_record(path, lineno, record, spec):
    """Raises a `ValueError` naming file, line and field if `record` is bad.

    `path` names the source; `lineno` may be None for in-memory records.
    """
    if not isinstance(record, dict):
        raise ValueError(f"{_where(path, lineno)}: expected a JSON object "
                         f"such as {EXAMPLE_LINE}, got "
                         f"{type(record).__name__}.")
    needed = list(spec.inputs) + (["label"] if spec.label else [])
    for field in needed:
        if field not in record:
            raise ValueError(f"{_where(path, lineno, field)}: missing. Each "
                             f"record needs {needed}, e.g. {EXAMPLE_LINE}.")
    for field, input_spec in spec.inputs.items():
        _check_ids(path, lineno, field, record[field], input_spec)
    if spec.label:
        _check_label(path, lineno, record["label"], spec)


def _parse_line(path, lineno, raw):
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"{_where(path, lineno)}: malformed JSON ({e}). Each "
                         f"line must be one JSON object such as "
                         f"{EXAMPLE_LINE}.") from None


def _ids_column(lists, input_spec):
    """`Ragged` of one input over a chunk, or None if any record is bad.

    The vectorised twin of `_check_ids`: one numpy conversion per chunk.
    """
    if not all(type(x) is list for x in lists):
        return None
    lengths = np.fromiter(map(len, lists), np.int64, len(lists))
    if not lengths.all():
        return None
    # np.array (not np.fromiter, which truncates floats) so that any
    # non-integer id shows up in the dtype.
    flat = np.array(list(itertools.chain.from_iterable(lists)))
    if flat.ndim != 1 or flat.dtype.kind not in "iu" or len(flat) != int(
            lengths.sum()):
        return None
    if flat.min() < 0 or flat.max() >= input_spec.vocab_size:
        return None
    starts = np.cumsum(lengths) - lengths
    if not np.add.reduceat(flat != 0, starts).all():
        return None
    return Ragged(flat.astype(np.int32), lengths).truncate(
        input_spec.max_seq_len)


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
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    empty = Ragged.empty()
    return Records(columns.get("in0", empty), columns.get("in1", empty),
                   labels)


def _check_chunk(file, first_lineno, lines, spec):
    """Parses and checks `lines` one by one; raises on the first bad one."""
    for lineno, raw in enumerate(lines, start=first_lineno):
        if raw.strip():
            check_record(file, lineno, _parse_line(file, lineno, raw), spec)


def read_records(path, spec, chunk_lines=DEFAULT_CHUNK_LINES):
    """Yields validated `Records`, `chunk_lines` lines at a time.

    Each chunk is decoded with one `orjson.loads` call (its lines joined into
    a JSON array) and checked with numpy; a chunk that fails either is
    re-read line by line to name the first bad line and field.

    Args:
        path: a JSON Lines file or a directory of them.
        spec: `RecordSpec` saying which fields are required and valid.
        chunk_lines: int. Lines parsed per chunk.

    Raises:
        ValueError: on the first bad record, naming file, line and field.
    """
    for file in list_files(path):
        with open_data_file(file) as f:
            first_lineno = 1
            while True:
                lines = list(itertools.islice(f, chunk_lines))
                if not lines:
                    break
                body = [line for line in lines if not line.isspace()]
                chunk = None
                if body:
                    blob = b"[" + b",".join(body) + b"]"
                    # numpy would read JSON booleans as 1 and 0: such chunks
                    # take the record-by-record path.
                    if b"true" not in blob and b"false" not in blob:
                        try:
                            parsed = orjson.loads(blob)
                        except orjson.JSONDecodeError:
                            parsed = None
                        # A line such as `{...},{...}` would join as two
                        # records: only one value per line is accepted.
                        if parsed is not None and len(parsed) == len(body):
                            chunk = records_from_parsed(parsed, spec)
                    if chunk is None:
                        _check_chunk(file, first_lineno, lines, spec)
                        chunk = records_from_parsed(
                            [orjson.loads(line) for line in body], spec)
                    if chunk is None:
                        raise AssertionError(  # the two checks disagree
                            f"{file}: chunk of lines {first_lineno}-"
                            f"{first_lineno + len(lines) - 1} failed "
                            "validation but no record was found invalid.")
                    yield chunk
                first_lineno += len(lines)


@dataclasses.dataclass
class ChannelStats:
    """What a full validation pass over a channel found."""

    records: int = 0
    nonzero_labels: int = 0
    max_len0: int = 0
    max_len1: int = 0


def scan(path, spec, chunk_lines=DEFAULT_CHUNK_LINES):
    """Validates every record of a channel; returns `ChannelStats`."""
    stats = ChannelStats()
    for chunk in read_records(path, spec, chunk_lines):
        stats.records += len(chunk)
        stats.nonzero_labels += int(np.count_nonzero(chunk.labels))
        if len(chunk.in0):
            stats.max_len0 = max(stats.max_len0, int(chunk.in0.lengths.max()))
        if len(chunk.in1):
            stats.max_len1 = max(stats.max_len1, int(chunk.in1.lengths.max()))
    return stats
