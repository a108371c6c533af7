"""Prepared data: JSON Lines converted once to sharded TFRecord files.

`convert` validates JSON Lines with the same reader as training (so every
error is the same `ValueError`, naming file, line and field) and writes a
directory of TFRecord shards plus a `manifest.json`; `PreparedChannel` reads
such a directory with TensorFlow's own file readers and parsing ops, so the
steady state runs no Python per record or per batch (only once per epoch and
once per shard, to check the shard is still whole).

Encoding. Each TFRecord entry is one *block* of up to `block_records` (1024)
records: a `tf.train.Example` with five bytes features, `len0`, `len1`
(row lengths), `ids0`, `ids1` (ids, rows back to back) and `label`
(float32; softmax classes are exact in float32). Lengths and ids are
little-endian uint16 low halves; a block holding a value over 65535 also
has that column's high halves in `<name>:hi` (`ids0:hi`), so ids from
vocabularies under 65,536 (most) cost 2 bytes, not int32's 4: reading,
checksumming, parsing and copying the bytes is most of the pipeline's
work: on the same 1M records, format version 2 delivered 1.46-1.51M
pairs/s where version 1's int32 gave 1.05-1.19M (A/B in one process,
`benchmarks/README.md`, "Format version 2"). A window of blocks is
parsed by one `tf.io.parse_example`, each feature's bytes are joined and
`tf.io.decode_raw` gives the flat arrays: three memory copies, no varint
decoding, and tf.data handles one element per block instead of one per
record. Measured on 2 CPU cores (lengths uniform in 1..50, batches of
1024 pairs), `benchmarks/prepared_speed.py --decode`: this layout decodes
5.8M pairs/s; one `tf.train.Example` per record with int64 lists, parsed
1024 at a time with `parse_example`, 2.0M pairs/s, and a pipeline that
handles one tf.data element per record is capped near 0.25M pairs/s
(../shared/ENVIRONMENT.md). Rows are stored whole (untruncated) and cut
to the reading spec's `max_seq_len` at read time, so one conversion serves
any `max_seq_len`.

Extra fields of feature-rich objects (`enc0_fields`, `enc1_fields`) are
two more bytes features each, `len:<key>` and `val:<key>` (`in0_genres`),
and token weights one, `val:<key>_weights` (float32, rows as their ids'),
converted when the spec declares them and read like `in0`/`in1`;
negatives take `in1`'s fields with it.

Reading an epoch: shard order is shuffled (a function of seed and epoch),
shards are interleaved, blocks go through a shuffle buffer, then windows of
about `shuffle_buffer` records are decoded in a parallel map that also
truncates, adds negatives, shuffles records (or buckets them) and pads them
to dense rows; `rebatch` cuts the stream of windows into batches, carrying
each window's last rows into the next, so every batch but the last is full
and the batch count is exact. Each batch is cut to its longest row.

Differences from `JsonlChannel`: records are mixed within windows of about
`shuffle_buffer` records drawn from a shuffled stream of blocks (instead of
the JSONL buffer's half-and-half refill); negatives are drawn from the
window; after `MAX_REDRAWS` redraws an accidental hit is kept (the JSONL
reader then searches the buffer exhaustively, and raises if every `in1` is
the same).

Conversion with `workers` > 1 runs child processes that import only numpy,
orjson and `keras_o2v.data.jsonl` (importing TensorFlow costs ~7 s a
process): they stream validated blocks to this process over pipes, which
frames them with `tf.io.TFRecordWriter`. A big plain file is split into
byte ranges aligned to line starts, so one file converts in parallel too.
"""

import dataclasses
import hashlib
import itertools
import json
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import tensorflow as tf

from keras_o2v.atomic import atomic_path
from keras_o2v.data.dataset import DEFAULT_SHUFFLE_BUFFER
from keras_o2v.data.dataset import check_batching
from keras_o2v.data.dataset import check_on_error
from keras_o2v.data.dataset import epoch_counts
from keras_o2v.data.dataset import finish_dataset
from keras_o2v.data.dataset import input_element_spec
from keras_o2v.data.jsonl import DEFAULT_CHUNK_LINES
from keras_o2v.data.jsonl import ChannelStats
from keras_o2v.data.jsonl import FieldSpec
from keras_o2v.data.jsonl import InputSpec
from keras_o2v.data.jsonl import RecordSpec
from keras_o2v.data.jsonl import list_files
from keras_o2v.data.jsonl import no_records_message
from keras_o2v.data.jsonl import parse_line_chunk
from keras_o2v.data.jsonl import read_records
from keras_o2v.hyperparameters import WEIGHTS_SUFFIX
from keras_o2v.hyperparameters import is_weights_key

FORMAT = "keras_o2v.prepared"
VERSION = 2
MANIFEST = "manifest.json"
BLOCK_RECORDS = DEFAULT_CHUNK_LINES
DEFAULT_RECORDS_PER_SHARD = 100_000
MAX_REDRAWS = 10
# Suffix of the bytes feature holding an integer column's high halves.
HIGH = ":hi"
# Rows are stored whole: read with this max_seq_len, nothing is cut.
_WHOLE = 2**31 - 1
_MIN_SPLIT_BYTES = 1 << 20
_RECONVERT = ("Reconvert the JSON Lines with `keras-o2v convert` "
              "(keras_o2v.data.prepared.convert).")


# === Writing ===

def spec_for_conversion(hyperparameters=None):
    """The `RecordSpec` that `keras-o2v convert` validates with.

    With hyperparameters: exactly what `train` would check (vocab sizes,
    `output_layer`, `num_classes`). Without: any non-negative int32 ids and
    any finite labels; the manifest records the largest ids and the label
    range, which every reader checks against its model (`check_spec`).
    """
    if hyperparameters:
        from keras_o2v.hyperparameters import resolve_hyperparameters

        return RecordSpec.from_hyperparameters(
            resolve_hyperparameters(hyperparameters))
    any_ids = InputSpec(vocab_size=2**31 - 1, max_seq_len=_WHOLE)
    return RecordSpec({"in0": any_ids, "in1": any_ids}, "regression")



def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, payload):
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _put_integers(values, name, array):
    """Integer column `name` as little-endian uint16 low halves; the high
    halves follow in `name + HIGH` only in a block that has a value over
    0xFFFF. Vocabularies under 65,536 ids (most) are read at half the bytes
    of int32, which is most of the pipeline's work (module docstring)."""
    array = np.asarray(array, np.int64)
    values[name] = (array & 0xFFFF).astype("<u2").tobytes()
    if array.size and array.max() > 0xFFFF:
        values[name + HIGH] = (array >> 16).astype("<u2").tobytes()


def encode_block(records):
    """A serialized `tf.train.Example` holding one block of `Records`.

    Written by hand (Example > Features > map entry > Feature > BytesList)
    so that conversion workers need no TensorFlow.
    """
    values = {}
    for key, ragged in (("0", records.in0), ("1", records.in1)):
        _put_integers(values, "len" + key, ragged.lengths)
        _put_integers(values, "ids" + key, ragged.values)
    values["label"] = records.labels.astype("<f4").tobytes()
    for key, ragged in records.extra.items():
        if is_weights_key(key):
            # Token weights share their ids' row lengths (validated equal).
            values["val:" + key] = ragged.values.astype("<f4").tobytes()
        else:
            _put_integers(values, "len:" + key, ragged.lengths)
            _put_integers(values, "val:" + key, ragged.values)
    entries = b"".join(
        _field(1, _field(1, key.encode()) + _field(2, _field(1, _field(1, v))))
        for key, v in values.items())
    return _field(1, entries)


def _block_stats(records, spec):
    y = records.labels.astype(np.float64)
    histogram = None
    if spec.label == "softmax":
        histogram = np.bincount(records.labels.astype(np.int64),
                                minlength=spec.num_classes).tolist()
    return {
        "records": len(records),
        "nonzero_labels": int(np.count_nonzero(y)),
        "label_min": float(y.min()), "label_max": float(y.max()),
        "label_sum": float(y.sum()),
        "integer_labels": bool((y == np.floor(y)).all()),
        "histogram": histogram,
        "max_len": [int(records.in0.lengths.max()),
                    int(records.in1.lengths.max())],
        "max_id": [int(records.in0.values.max()),
                   int(records.in1.values.max())],
        "fields": {key: {"max_len": int(r.lengths.max()),
                         "max_id": int(r.values.max(initial=0))}
                   for key, r in records.extra.items()
                   if not is_weights_key(key)},
    }


def _merge_stats(total, part):
    if total is None:
        return dict(part)
    out = dict(total)
    out["records"] += part["records"]
    out["nonzero_labels"] += part["nonzero_labels"]
    out["label_min"] = min(total["label_min"], part["label_min"])
    out["label_max"] = max(total["label_max"], part["label_max"])
    out["label_sum"] = total["label_sum"] + part["label_sum"]
    out["integer_labels"] = total["integer_labels"] and part["integer_labels"]
    if total["histogram"] is not None:
        out["histogram"] = [a + b for a, b in zip(total["histogram"],
                                                  part["histogram"])]
    out["max_len"] = [max(a, b) for a, b in zip(total["max_len"],
                                                part["max_len"])]
    out["max_id"] = [max(a, b) for a, b in zip(total["max_id"],
                                               part["max_id"])]
    out["fields"] = {key: {stat: max(value, part["fields"][key][stat])
                           for stat, value in field.items()}
                     for key, field in total["fields"].items()}
    return out


def _count_newlines(f, end):
    f.seek(0)
    count, left = 0, end
    while left > 0:
        data = f.read(min(left, 1 << 22))
        if not data:
            break
        count += data.count(b"\n")
        left -= len(data)
    return count


def _read_range(file, start, end, spec, chunk_lines):
    """Yields the `Records` of the lines that start in `[start, end)`.

    Line numbers in errors are the file's own: the newlines before the
    range are counted first.
    """
    with open(file, "rb") as f:
        if start > 0:
            f.seek(start - 1)
            f.readline()  # to the first line start >= start
        pos = f.tell()
        first = 1 + _count_newlines(f, pos)
        f.seek(pos)
        while pos < end:
            lines = list(itertools.islice(f, chunk_lines))
            if not lines:
                break
            ends = np.cumsum([len(line) for line in lines]) + pos
            keep = int(np.searchsorted(ends - [len(x) for x in lines], end))
            lines = lines[:keep]
            pos = int(ends[keep - 1]) if keep else end
            chunk = parse_line_chunk(file, first, lines, spec)
            first += len(lines)
            if chunk is not None:
                yield chunk


def _task_blocks(task, spec, chunk_lines):
    """Yields `(payload, stats)` of each block of one task.

    A task is `(file, start, end)`; `start=end=None` means the whole file,
    read by `read_records` itself.
    """
    file, start, end = task
    if start is None:
        chunks = read_records(file, spec, chunk_lines)
    else:
        chunks = _read_range(file, start, end, spec, chunk_lines)
    for chunk in chunks:
        yield encode_block(chunk), _block_stats(chunk, spec)


def _whole_rows(spec):
    """`spec` with no truncation: prepared data keeps rows whole."""
    inputs = {name: InputSpec(s.vocab_size, _WHOLE)
              for name, s in spec.inputs.items()}
    fields = {key: FieldSpec(f.vocab_size, _WHOLE, f.weighted)
              for key, f in spec.fields.items()}
    return RecordSpec(inputs, spec.label, spec.num_classes, fields)


def _plan_tasks(files, workers):
    """Tasks `(file, start, end)`: whole files, big plain files split."""
    if workers <= 1:
        return [(file, None, None) for file in files]
    sizes = {f: os.path.getsize(f) for f in files}
    target = max(_MIN_SPLIT_BYTES,
                 sum(s for f, s in sizes.items() if not f.endswith(".gz"))
                 // workers)
    tasks = []
    for file in files:
        parts = 1 if file.endswith(".gz") else max(1, -(-sizes[file] //
                                                        target))
        if parts == 1:
            tasks.append((file, None, None))
            continue
        cuts = [sizes[file] * k // parts for k in range(parts + 1)]
        tasks.extend((file, a, b) for a, b in zip(cuts, cuts[1:]))
    return tasks


class _ShardWriter:
    """Writes the blocks of one task into shards of `records_per_shard`."""

    def __init__(self, directory, task_index, records_per_shard):
        self.directory = directory
        self.task_index = task_index
        self.records_per_shard = records_per_shard
        self.shards = []  # manifest entries, in order
        self.stats = None
        self._writer = None
        self._current = None

    def write(self, payload, stats):
        if self._writer is None:
            name = f"shard-{self.task_index:05d}-{len(self.shards):05d}" \
                   ".tfrecord"
            self._writer = tf.io.TFRecordWriter(
                os.path.join(self.directory, name))
            self._current = {"file": name, "records": 0, "blocks": 0,
                             "nonzero_labels": 0}
        self._writer.write(payload)
        self._current["records"] += stats["records"]
        self._current["blocks"] += 1
        self._current["nonzero_labels"] += stats["nonzero_labels"]
        self.stats = _merge_stats(self.stats, stats)
        if self._current["records"] >= self.records_per_shard:
            self.close()

    def close(self):
        if self._writer is None:
            return
        self._writer.close()
        path = os.path.join(self.directory, self._current["file"])
        self._current["bytes"] = os.path.getsize(path)
        self._current["sha256"] = file_sha256(path)
        self.shards.append(self._current)
        self._writer = self._current = None


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while data := f.read(1 << 22):
            digest.update(data)
    return digest.hexdigest()


# A worker process imports jsonl.py and this module without the package's
# __init__ files and with a stub `tensorflow`: it only parses and encodes.
_BOOTSTRAP = """
import sys, types
root = sys.argv[1]
for name, path in (("keras_o2v", root), ("keras_o2v.data", root + "/data")):
    module = types.ModuleType(name)
    module.__path__ = [path]
    sys.modules[name] = module
sys.modules["tensorflow"] = types.ModuleType("tensorflow")
from keras_o2v.data.prepared import _worker_main
_worker_main()
"""


def _worker_main():
    """Child process: reads its tasks from stdin, pickles blocks to stdout."""
    job = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    try:
        for index, task in job["tasks"]:
            for payload, stats in _task_blocks(task, job["spec"],
                                               job["chunk_lines"]):
                pickle.dump(("block", index, payload, stats), out,
                            protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(("exit",), out)
    except Exception as e:  # sent to the parent, which raises it
        pickle.dump(("error", e), out)
    out.flush()


def _run_workers(tasks, spec, chunk_lines, workers, writers):
    """Runs `tasks` in `workers` child processes, writing their blocks."""
    # Greedy balance by bytes: the biggest task to the least loaded worker.
    loads = [[0, []] for _ in range(workers)]
    for index in sorted(range(len(tasks)), key=lambda i: -_task_size(
            tasks[i])):
        least = min(loads, key=lambda x: x[0])
        least[0] += _task_size(tasks[index])
        least[1].append((index, tasks[index]))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    procs, errors = [], []

    def pump(proc):
        try:
            while True:
                try:
                    message = pickle.load(proc.stdout)
                except EOFError:
                    errors.append(RuntimeError(
                        f"A conversion worker exited with code "
                        f"{proc.wait()} before finishing."))
                    return
                if message[0] == "block":
                    writers[message[1]].write(message[2], message[3])
                elif message[0] == "error":
                    errors.append(message[1])
                    return
                else:
                    return
        except BaseException as e:  # e.g. disk full while writing
            errors.append(e)

    threads = []
    try:
        for _, mine in loads:
            if not mine:
                continue
            proc = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, root],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            procs.append(proc)
            pickle.dump({"tasks": sorted(mine), "spec": spec,
                         "chunk_lines": chunk_lines}, proc.stdin)
            proc.stdin.close()
            thread = threading.Thread(target=pump, args=(proc,), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            while thread.is_alive():
                thread.join(0.1)
                if errors:
                    break
            if errors:
                break
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


def _task_size(task):
    file, start, end = task
    return os.path.getsize(file) if start is None else end - start


def _input_files(inputs):
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files = []
    for path in inputs:
        files.extend(list_files(os.fspath(path)))
    return files


def convert(inputs, output_dir, spec, *, workers=1,
            records_per_shard=DEFAULT_RECORDS_PER_SHARD,
            block_records=BLOCK_RECORDS):
    """Converts JSON Lines to a prepared directory for `PreparedChannel`.

    Every record is validated as `train` does; rows are stored whole (not
    truncated). The directory is written beside `output_dir` under a hidden
    name and renamed into place once complete, replacing any earlier
    conversion; on error nothing is left behind.

    Args:
        inputs: a JSON Lines file or directory, or a list of them.
        output_dir: str. The prepared directory to write.
        spec: `RecordSpec` with a `label` ("softmax" or "regression") to
            validate with (vocab sizes, classes).
        workers: int. Processes parsing in parallel. Defaults to 1.
        records_per_shard: int. Records per shard file (each worker task
            starts its own shards). Defaults to 100000.
        block_records: int. Records per TFRecord entry. Defaults to 1024.

    Returns:
        dict. The manifest written.

    Raises:
        ValueError: on the first bad record (naming file, line and field,
            as `read_records` does), on bad arguments, or if the inputs
            hold no record.
    """
    for name, value in (("workers", workers),
                        ("records_per_shard", records_per_shard),
                        ("block_records", block_records)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1. "
                             f"Received: {name}={value!r}")
    if spec.label not in ("softmax", "regression"):
        raise ValueError("`spec.label` must be 'softmax' or 'regression' "
                         f"(prepared data stores labels). Received: "
                         f"spec.label={spec.label!r}")
    if set(spec.inputs) != {"in0", "in1"}:
        raise ValueError("`spec.inputs` must be in0 and in1. Received: "
                         f"{sorted(spec.inputs)}")
    files = _input_files(inputs)
    whole = _whole_rows(spec)
    tasks = _plan_tasks(files, workers)
    with atomic_path(os.fspath(output_dir)) as tmp:
        os.makedirs(tmp)
        writers = [_ShardWriter(tmp, i, records_per_shard)
                   for i in range(len(tasks))]
        if workers == 1:
            for writer, task in zip(writers, tasks):
                for payload, stats in _task_blocks(task, whole,
                                                   block_records):
                    writer.write(payload, stats)
        else:
            _run_workers(tasks, whole, block_records,
                         min(workers, len(tasks)), writers)
        for writer in writers:
            writer.close()
        totals = None
        for writer in writers:
            if writer.stats is not None:
                totals = _merge_stats(totals, writer.stats)
        if totals is None:
            raise ValueError(no_records_message(
                inputs if isinstance(inputs, str) else ", ".join(files)))
        manifest = _manifest(spec, files, block_records, totals,
                             [s for w in writers for s in w.shards])
        with open(os.path.join(tmp, MANIFEST), "w") as f:
            json.dump(manifest, f, indent=1)
    return manifest


def _manifest(spec, files, block_records, totals, shards):
    return {
        "format": FORMAT,
        "version": VERSION,
        "encoding": ("TFRecord; one tf.train.Example per block of records; "
                     "bytes features len0, len1 (row lengths), ids0, ids1 "
                     "and label (float32 LE); extra fields len:<key> and "
                     "val:<key> (ids; weights: float32 LE, rows as their "
                     "ids'); lengths and ids are uint16 LE low halves, "
                     "their high halves in <name>:hi in blocks holding a "
                     "value over 65535; rows whole, not truncated"),
        "block_records": block_records,
        "records": totals["records"],
        "nonzero_labels": totals["nonzero_labels"],
        "labels": {"min": totals["label_min"], "max": totals["label_max"],
                   "sum": totals["label_sum"],
                   "integer": totals["integer_labels"],
                   "histogram": totals["histogram"]},
        "max_len": {"in0": totals["max_len"][0],
                    "in1": totals["max_len"][1]},
        "max_id": {"in0": totals["max_id"][0], "in1": totals["max_id"][1]},
        # Extra fields of feature-rich objects (`enc0_fields`...): bytes
        # features `len:<key>` and `val:<key>` (weights: `<key>_weights`).
        "fields": {key: {**totals["fields"][key],
                         "weighted": spec.fields[key].weighted}
                   for key in spec.fields},
        "spec": {"inputs": {name: dataclasses.asdict(s)
                            for name, s in spec.inputs.items()},
                 "fields": {key: dataclasses.asdict(f)
                            for key, f in spec.fields.items()},
                 "label": spec.label, "num_classes": spec.num_classes},
        "sources": [os.path.abspath(f) for f in files],
        "shards": shards,
    }


# === Reading ===


def is_prepared(path):
    """True if `path` is a directory holding a prepared-data manifest."""
    manifest = os.path.join(os.fspath(path), MANIFEST)
    if not os.path.isdir(path) or not os.path.isfile(manifest):
        return False
    try:
        with open(manifest) as f:
            return json.load(f).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def load_manifest(path, verify=True):
    """The manifest of a prepared directory, its shards checked.

    Args:
        path: str. A directory written by `convert`.
        verify: bool. Also compare each shard's sha256 with the manifest
            (reads every byte once: ~1 s per GB); sizes are always
            compared. Defaults to True.

    Raises:
        ValueError: naming the manifest or shard, if the manifest is missing,
            of another format or version, or a shard is missing, of the
            wrong size (truncated) or checksum.
    """
    file = os.path.join(path, MANIFEST)
    try:
        with open(file) as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{path!r} is not prepared data: no {MANIFEST}. "
                         f"{_RECONVERT}") from None
    except ValueError as e:
        raise ValueError(f"{file}: not valid JSON ({e}). {_RECONVERT}") \
            from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{file}: not a {FORMAT} manifest. {_RECONVERT}")
    if manifest.get("version") != VERSION:
        raise ValueError(
            f"{file}: format version {manifest.get('version')!r}; this "
            f"keras_o2v reads version {VERSION}. {_RECONVERT}")
    for shard in manifest["shards"]:
        shard_path = os.path.join(path, shard["file"])
        if not os.path.isfile(shard_path):
            raise ValueError(f"{shard_path}: shard listed in {file} is "
                             f"missing. {_RECONVERT}")
        size = os.path.getsize(shard_path)
        if size != shard["bytes"]:
            raise ValueError(
                f"{shard_path}: {size} bytes, the manifest says "
                f"{shard['bytes']} (truncated or changed). {_RECONVERT}")
        if verify and file_sha256(shard_path) != shard["sha256"]:
            raise ValueError(f"{shard_path}: sha256 differs from the "
                             f"manifest's (corrupted or changed). "
                             f"{_RECONVERT}")
    return manifest


def check_spec(manifest, spec, path):
    """Raises a `ValueError` if `spec` cannot read the prepared data.

    Checks vocab sizes against the largest ids and labels against the
    output layer and number of classes.
    """
    file = os.path.join(path, MANIFEST)
    for name in ("in0", "in1"):
        if name not in spec.inputs:
            continue
        max_id = manifest["max_id"][name]
        if spec.inputs[name].vocab_size <= max_id:
            raise ValueError(
                f"{file}: `{name}` holds id {max_id}, >= vocab_size="
                f"{spec.inputs[name].vocab_size}. Set `enc{name[-1]}"
                f"_vocab_size` to at least {max_id + 1}.")
    stored = manifest.get("fields", {})
    for key, field in spec.fields.items():
        if key not in stored:
            raise ValueError(
                f"{file}: the model reads field `{key}`, which this data "
                f"lacks (it holds {sorted(stored) or 'no extra fields'}). "
                "Convert with the model's hyperparameters (`keras-o2v "
                "convert --hyperparameters ...`).")
        if field.weighted and not stored[key]["weighted"]:
            raise ValueError(
                f"{file}: field `{key}` is weighted in the model but was "
                "converted without weights. Convert with the model's "
                "hyperparameters (`keras-o2v convert --hyperparameters "
                "...`).")
        if field.vocab_size <= stored[key]["max_id"]:
            raise ValueError(
                f"{file}: `{key}` holds id {stored[key]['max_id']}, >= its "
                f"vocab_size={field.vocab_size}. Set the field's "
                f"`vocab_size` to at least {stored[key]['max_id'] + 1}.")
    labels = manifest["labels"]
    if spec.label == "softmax":
        if not labels["integer"]:
            raise ValueError(
                f"{file}: labels are not all integers (converted for "
                "regression), so output_layer=softmax cannot use them. Use "
                f"output_layer=mean_squared_error, or {_RECONVERT[0].lower()}"
                f"{_RECONVERT[1:]}")
        if labels["min"] < 0 or labels["max"] >= spec.num_classes:
            raise ValueError(
                f"{file}, field `label`: labels span [{labels['min']:g}, "
                f"{labels['max']:g}], outside [0, {spec.num_classes - 1}]. "
                f"Set `num_classes` to at least {int(labels['max']) + 1}.")


def manifest_stats(manifest, spec):
    """`ChannelStats` of prepared data as `spec` reads it (rows cut to its
    `max_seq_len`)."""
    return ChannelStats(
        records=manifest["records"],
        nonzero_labels=manifest["nonzero_labels"],
        label_sum=manifest["labels"].get("sum"),
        max_len0=min(manifest["max_len"]["in0"],
                     spec.inputs["in0"].max_seq_len),
        max_len1=min(manifest["max_len"]["in1"],
                     spec.inputs["in1"].max_seq_len))


def _ids_key(key):
    """The ids input of `key` (`in0_tags` for `in0_tags_weights`)."""
    return key[:-len(WEIGHTS_SUFFIX)] if is_weights_key(key) else key


def _columns(key):
    """The bytes features of input `key`: (row lengths, values)."""
    if key in ("in0", "in1"):
        return "len" + key[-1], "ids" + key[-1]
    return "len:" + _ids_key(key), "val:" + key


def _side(key):
    return key.partition("_")[0]


def _window_blocks(shuffle_buffer, block_records):
    return max(1, -(-shuffle_buffer // block_records))


class PreparedChannel:
    """A train, validation or test channel read from prepared data.

    The same public interface as `keras_o2v.data.JsonlChannel`; see this
    module's docstring for how an epoch is read and how it differs.

    Args:
        path: a directory written by `convert`.
        spec: `keras_o2v.data.RecordSpec` of the model (vocab sizes,
            `max_seq_len`, labels).
        batch_size: int. Pairs per batch.
        shuffle: bool. Shuffle shards, blocks and records each epoch.
            Defaults to True; use False for evaluation.
        shuffle_buffer: int. Records shuffled together (a window). Defaults
            to 100000.
        bucket_width: int. Group records of similar length in each window;
            0 disables. Defaults to 0.
        negative_sampling_rate: int. Negatives per positive, `in1` drawn
            from the window. Defaults to 0.
        seed: optional int. Same seed, same batches.
        drop_remainder: bool. Drop the last, smaller batch. Defaults to False.
        num_shards, shard_index: ints. Read only the shard files whose
            position is `shard_index` modulo `num_shards` (one part per
            worker); `tf.data` auto-sharding is then off. Defaults to 1, 0.
        verify: bool. Check every shard's sha256 now. Defaults to True.

    Raises:
        ValueError: before any batch is read, on bad arguments, damaged
            prepared data, or a `spec` that cannot read it (see
            `load_manifest`, `check_spec`).
    """

    def __init__(self, path, spec, batch_size, shuffle=True,
                 shuffle_buffer=DEFAULT_SHUFFLE_BUFFER, bucket_width=0,
                 negative_sampling_rate=0, seed=None, drop_remainder=False,
                 num_shards=1, shard_index=0, verify=True):
        check_batching(batch_size, shuffle_buffer)
        if not 0 <= shard_index < num_shards:
            raise ValueError(
                f"`shard_index` must be in [0, num_shards={num_shards}). "
                f"Received: shard_index={shard_index}")
        self.manifest = load_manifest(path, verify)
        check_spec(self.manifest, spec, path)
        shards = self.manifest["shards"]
        if num_shards > len(shards):
            raise ValueError(
                f"`num_shards={num_shards}` needs at least that many shard "
                f"files; {path!r} has {len(shards)}. Convert with a smaller "
                "`records_per_shard`.")
        self.path = path
        self.spec = spec
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.shuffle_buffer = shuffle_buffer
        self.bucket_width = bucket_width
        self.negative_sampling_rate = negative_sampling_rate
        self.seed = seed
        self.drop_remainder = drop_remainder
        self.num_shards = num_shards
        self.shard_index = shard_index
        self.shards = shards[shard_index::num_shards]
        self.stats = manifest_stats(self.manifest, spec)
        self.error = None
        # Epoch whose shuffle the next pass over `as_dataset()` uses; a
        # resumed run sets it so that epoch k is shuffled as in a full run.
        self.next_epoch = 0
        # Without a seed, a random one per channel (tensors need a value).
        self._seed = (int(np.random.default_rng().integers(2**31))
                      if seed is None else int(seed) % 2**31)

    # --- counts ---

    @property
    def _records(self):
        return sum(s["records"] for s in self.shards)

    @property
    def epoch_records(self):
        """Records (negatives included) one full epoch delivers.

        Exact from the manifest; unlike `JsonlChannel`'s running counter it
        does not count up during the epoch.
        """
        return self._epoch_counts()[0]

    records_per_epoch = epoch_records

    @property
    def num_batches(self):
        """Batches per epoch (exact, from the manifest)."""
        return self._epoch_counts()[1]

    def _epoch_counts(self):
        return epoch_counts(
            self._records, sum(s["nonzero_labels"] for s in self.shards),
            self.negative_sampling_rate, self.batch_size,
            self.drop_remainder)

    def element_spec(self):
        return input_element_spec(self.spec)

    # --- the pipeline ---

    def _shard_ok(self, index, on_error):
        """Python, once per shard per epoch: is the shard still whole?"""
        shard = self.shards[int(index)]
        shard_path = os.path.join(self.path, shard["file"])
        size = (os.path.getsize(shard_path) if os.path.isfile(shard_path)
                else None)
        if size == shard["bytes"]:
            return True
        self.error = ValueError(
            f"{shard_path}: " + ("missing" if size is None else
                                 f"{size} bytes, the manifest says "
                                 f"{shard['bytes']} (truncated or changed)")
            + f" while reading. {_RECONVERT}")
        if on_error == "raise":
            raise self.error
        return False

    def _read_shard(self, index, on_error):
        """Blocks of shard `index` as `(bytes, ok)`; one `ok=False` if bad."""
        ok = tf.py_function(lambda i: self._shard_ok(i, on_error), [index],
                            tf.bool)
        ok.set_shape(())
        files = tf.constant([os.path.join(self.path, s["file"])
                             for s in self.shards])
        good = tf.data.TFRecordDataset(tf.gather(files, index)).take(
            tf.where(ok, tf.constant(-1, tf.int64), 0))
        bad = tf.data.Dataset.from_tensors(tf.constant(b"")).take(
            tf.where(ok, tf.constant(0, tf.int64), 1))
        return good.concatenate(bad).map(
            lambda raw: (raw, tf.strings.length(raw) > 0))

    def _seed_of(self, epoch, step):
        return tf.stack([tf.cast(self._seed, tf.int64),
                         tf.cast(epoch, tf.int64) * 1_000_003
                         + tf.cast(step, tf.int64)])

    def _stored(self, key, stat):
        """`stat` of input `key` in the data (weights: their ids'):
        `"max_len"`, its longest row, or `"max_id"`, its largest id."""
        if key in ("in0", "in1"):
            return self.manifest[stat][key]
        return self.manifest["fields"][_ids_key(key)][stat]

    def _limit(self, key):
        """The spec's truncation length of input `key`."""
        if key in ("in0", "in1"):
            return self.spec.inputs[key].max_seq_len
        return self.spec.fields[_ids_key(key)].max_seq_len

    def _decode(self, raw):
        """`({key: RaggedTensor}, labels)` of a window of blocks: every
        input the spec reads (`spec.keys()`)."""
        keys = self.spec.keys()
        floats, ints, wide = ["label"], [], []
        for key in keys:
            lengths, values = _columns(key)
            if is_weights_key(key):
                floats.append(values)
                continue
            ints += [lengths, values]
            wide += [name for name, stat in ((lengths, "max_len"),
                                             (values, "max_id"))
                     if self._stored(key, stat) > 0xFFFF]
        string = tf.io.FixedLenFeature([], tf.string)
        features = tf.io.parse_example(raw, {
            **{name: string for name in floats + ints},
            # Absent from the blocks whose values all fit in 16 bits.
            **{name + HIGH: tf.io.FixedLenFeature([], tf.string, b"")
               for name in wide}})

        def column(name, dtype):
            return tf.io.decode_raw(tf.strings.reduce_join(features[name]),
                                    dtype)

        def integers(name):
            low = tf.cast(column(name, tf.uint16), tf.int32)
            if name not in wide:
                return low
            # Each value's high half, 0 in the blocks written without.
            has_high = tf.strings.length(features[name + HIGH]) > 0
            counts = tf.strings.length(features[name]) // 2
            block = tf.repeat(tf.range(tf.size(counts)), counts)
            skipped = tf.cumsum(tf.where(has_high, 0, counts), exclusive=True)
            high = tf.cast(column(name + HIGH, tf.uint16), tf.int32)
            index = tf.where(tf.gather(has_high, block),
                             tf.range(tf.size(low)) - tf.gather(skipped,
                                                                block),
                             tf.size(high))
            high = tf.gather(tf.concat([high, [0]], 0), index)
            return tf.bitwise.bitwise_or(low, tf.bitwise.left_shift(high, 16))

        out, row_lengths = {}, {}
        for key in keys:
            lengths_name, values_name = _columns(key)
            if lengths_name not in row_lengths:
                row_lengths[lengths_name] = integers(lengths_name)
            lengths = row_lengths[lengths_name]
            values = (column(values_name, tf.float32) if is_weights_key(key)
                      else integers(values_name))
            limit = self._limit(key)
            if self._stored(key, "max_len") > limit:
                # Keep each row's head, as the JSON Lines reader does.
                position = tf.ragged.range(lengths).flat_values
                values = tf.boolean_mask(values, position < limit)
                lengths = tf.minimum(lengths, limit)
            out[key] = tf.RaggedTensor.from_row_lengths(values, lengths,
                                                        validate=False)
        return out, column("label", tf.float32)

    def _negatives(self, columns, labels, seed):
        """`rate` negatives per positive, `in1` (and its fields) drawn from
        the window."""
        in1 = columns["in1"]
        rate = self.negative_sampling_rate
        owner = tf.repeat(tf.where(labels != 0)[:, 0], rate)
        n = tf.shape(labels, out_type=tf.int64)[0]
        dense = in1.to_tensor()
        lengths = in1.row_lengths()

        def hits(draws):
            same_length = tf.gather(lengths, owner) == tf.gather(lengths,
                                                                 draws)
            same_ids = tf.reduce_all(
                tf.gather(dense, owner) == tf.gather(dense, draws), axis=1)
            return same_length & same_ids

        def draw(k):
            return tf.random.stateless_uniform(
                tf.shape(owner), tf.random.experimental.stateless_fold_in(
                    seed, k), maxval=n, dtype=tf.int64)

        def redraw(k, draws, hit):
            draws = tf.where(hit, draw(k), draws)
            return k + 1, draws, hits(draws)

        draws = draw(0)
        _, draws, _ = tf.while_loop(
            lambda k, d, h: (k <= MAX_REDRAWS) & tf.reduce_any(h), redraw,
            (tf.constant(1), draws, hits(draws)))
        negatives = {key: tf.gather(ragged, draws if _side(key) == "in1"
                                    else owner)
                     for key, ragged in columns.items()}
        return negatives, tf.zeros(tf.shape(owner), tf.float32)

    def _order(self, columns, n, seed, offset):
        """Record order of a window: shuffled or bucketed batches.

        Buckets go by the longest row of each record's inputs, extra fields
        included (see `keras_o2v.data.bucketing`).

        `offset` is the window's first record in the epoch: with bucketing,
        its first `(-offset) % batch_size` records complete the previous
        window's last batch, so the bucketed batches that follow start on
        batch boundaries.
        """
        if not self.shuffle:
            return tf.range(n)
        if self.bucket_width <= 0:
            # O(n), unlike an argsort of random keys (about 8x slower).
            return tf.random.experimental.stateless_shuffle(tf.range(n), seed)
        noise = tf.random.stateless_uniform([n], seed, dtype=tf.float64)
        length = tf.reduce_max(tf.stack(
            [columns[key].row_lengths() for key in self.spec.keys()
             if not is_weights_key(key)]), axis=0)
        key = tf.cast(length // self.bucket_width, tf.float64) + noise
        order = tf.argsort(key, stable=True)
        bs = self.batch_size
        head = tf.minimum(tf.cast((-offset) % bs, tf.int32), n)
        full = head + (n - head) // bs * bs
        batches = tf.reshape(order[head:full], [-1, bs])
        batch_noise = tf.random.stateless_uniform(
            [tf.shape(batches)[0]], tf.random.experimental.stateless_fold_in(
                seed, 1), dtype=tf.float64)
        batches = tf.gather(batches, tf.argsort(batch_noise))
        return tf.concat([order[:head], tf.reshape(batches, [-1]),
                          order[full:]], 0)

    def _width(self, key):
        """Columns of the dense rows of input `key`: its longest kept row."""
        return min(self._stored(key, "max_len"), self._limit(key))

    def _window(self, step, raw, offset, epoch):
        """Decodes a window, adds negatives, orders it: dense rows out.

        Rows are padded to the longest row of the data (`_width`) so that
        every window has the same row shape and `rebatch` can cut batches
        across windows; each batch is cut to its own longest row later.
        """
        columns, labels = self._decode(raw)
        seed = self._seed_of(epoch, step)
        if self.negative_sampling_rate > 0:
            negatives, ny = self._negatives(columns, labels, seed)
            columns = {key: tf.concat([ragged, negatives[key]], 0)
                       for key, ragged in columns.items()}
            labels = tf.concat([labels, ny], 0)
        n = tf.shape(labels)[0]
        order = self._order(columns, n,
                            tf.random.experimental.stateless_fold_in(seed, 2),
                            offset)
        out = []
        for key in self.spec.keys():
            ids = columns[key]
            # Padding, then a dense gather: cheaper than gathering ragged rows.
            dense = ids.to_tensor(shape=[None, self._width(key)])
            out += [tf.gather(dense, order),
                    tf.gather(tf.cast(ids.row_lengths(), tf.int32), order)]
        # Labels leave in the dtype and shape `fit` takes, so that the
        # per-batch map (`_pad`) only cuts rows.
        labels = tf.gather(labels, order)
        if self.spec.label == "regression":
            labels = tf.reshape(labels, [-1, 1])
        else:
            labels = tf.cast(labels, tf.int32)
        return (*out, labels)

    def _window_records(self, raw):
        """Records (negatives included) a window of blocks yields."""
        features = tf.io.parse_example(raw, {
            k: tf.io.FixedLenFeature([], tf.string) for k in ("len0",
                                                              "label")})
        records = tf.reduce_sum(tf.strings.length(features["len0"])) // 2
        if self.negative_sampling_rate > 0:
            labels = tf.io.decode_raw(tf.strings.reduce_join(
                features["label"]), tf.float32)
            records += self.negative_sampling_rate * tf.reduce_sum(
                tf.cast(labels != 0, tf.int32))
        return tf.cast(records, tf.int64)

    def _pad(self, *columns):
        """One batch: each input's rows cut to its longest row.

        `columns` is `_window`'s output: `(dense, lengths)` per input of
        `spec.keys()`, then the labels, ready for `fit`.
        """
        *columns, labels = columns
        inputs = {key: dense[:, :tf.reduce_max(lengths)]
                  for key, dense, lengths in zip(
                      self.spec.keys(), columns[::2], columns[1::2])}
        return inputs, labels

    def _epoch(self, epoch, on_error):
        """The batches of one epoch, a dataset of TensorFlow ops only."""
        parallel = max(2, os.cpu_count() or 2)
        n = len(self.shards)
        index = tf.range(n, dtype=tf.int64)
        if self.shuffle:
            index = tf.gather(index, tf.argsort(tf.random.stateless_uniform(
                [n], self._seed_of(epoch, -1))))
        shards = tf.data.Dataset.from_tensor_slices(index)
        cycle = min(n, 4) if self.shuffle else 1
        blocks = shards.interleave(
            lambda i: self._read_shard(i, on_error), cycle_length=cycle,
            num_parallel_calls=cycle, deterministic=True)
        blocks = blocks.take_while(lambda raw, ok: ok).map(
            lambda raw, ok: raw)
        window = _window_blocks(self.shuffle_buffer,
                                self.manifest["block_records"])
        if self.shuffle:
            # The order comes from our seed alone. With a global seed of 0
            # (keras.utils.set_random_seed(0)), tf.data's seed logic would
            # test `(0, tensor) == (0, 0)` and fail on the tensor seed.
            graph = tf.compat.v1.get_default_graph()
            global_seed, graph.seed = graph.seed, None
            try:
                blocks = blocks.shuffle(
                    window, seed=self._seed_of(epoch, -2)[1] + self._seed)
            finally:
                graph.seed = global_seed
        windows = blocks.batch(window)
        if self.shuffle and self.bucket_width > 0:
            # Each window's first record in the epoch (a cheap count of
            # its records; the decode below runs in parallel).
            windows = windows.scan(
                tf.constant(0, tf.int64),
                lambda total, raw: (total + self._window_records(raw),
                                    (raw, total)))
        else:
            windows = windows.map(lambda raw: (raw, tf.constant(0, tf.int64)))
        windows = windows.enumerate().map(
            lambda step, window: self._window(step, *window, epoch),
            num_parallel_calls=parallel, deterministic=True)
        # `rebatch` (C++) carries each window's last rows into the next
        # window's first batch: every batch but the last is full.
        return windows.rebatch(self.batch_size,
                               drop_remainder=self.drop_remainder).map(
            self._pad, num_parallel_calls=parallel, deterministic=True)

    def as_dataset(self, on_error="raise"):
        """A `tf.data.Dataset`; each pass over it is a fresh epoch.

        Args:
            on_error: `"raise"` (default): a shard found damaged while
                reading fails the pass with a TensorFlow error, the
                `ValueError` kept in `self.error`. `"stop"`: the pass ends
                quietly before that shard's blocks and the caller must raise
                `self.error`, as `keras_o2v.training` does after each step.
        """
        check_on_error(on_error)

        def epochs():
            # Python once per epoch: which epoch's shuffle to use.
            epoch = self.next_epoch
            self.next_epoch += 1
            yield epoch

        dataset = tf.data.Dataset.from_generator(
            epochs, output_signature=tf.TensorSpec((), tf.int64))
        dataset = dataset.flat_map(lambda e: self._epoch(e, on_error))
        return finish_dataset(dataset, self.num_batches, self.num_shards)
