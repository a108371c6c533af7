"""Prepared data speed: conversion (1 vs 2 workers) and pipeline delivery.

Generates synthetic JSON Lines (default 500,000 pairs, `in0`/`in1` lengths
uniform in 1..50, vocab 20,000), converts them with 1 and with 2 worker
processes, then counts padded batches/s and pairs/s delivered by
`PreparedChannel.as_dataset()` and by `JsonlChannel.as_dataset()` (no model;
batch 1024; streaming regime: `--shuffle-buffer` smaller than the file):
`*_pairs_per_s` in the steady state, the dataset repeated as training reads
it, and `*_first_epoch_pairs_per_s` over one pass from a cold start. Batches
are pulled as `fit` pulls them, inside a `tf.function`;
`*_python_loop_pairs_per_s` is the steady state read by a Python `for`
loop instead, which also pays for making each batch Python objects.
`--decode` adds the decode-rate comparison behind the prepared encoding: one
`tf.train.Example` per record (int64 lists, `parse_example` 1024 at a time)
vs one Example of raw bytes per block of 1024 records.

Usage:
    python benchmarks/prepared_speed.py
    python benchmarks/prepared_speed.py --records 200000 --decode

Prints a table and, last, one JSON line:
`{"benchmark": "prepared_speed", "config": {...}, "results": {...}}`.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from throughput import write_jsonl  # noqa: E402


def deliver(dataset, max_seconds, tf, steps=50, skip=0):
    """(batches, pairs, seconds) of reading `dataset` as `fit` does.

    Batches are pulled inside a `tf.function`, `steps` per call (Keras'
    `steps_per_execution`), so no batch becomes Python objects; the first
    `skip` batches are not timed; the pass is capped in time.
    """
    iterator = iter(dataset)

    @tf.function
    def pull(k):
        batches = pairs = tf.constant(0)
        for _ in tf.range(k):
            batch = iterator.get_next_as_optional()
            if not batch.has_value():
                break
            batches += 1
            pairs += tf.shape(batch.get_value()[1])[0]
        return batches, pairs

    pull.get_concrete_function(tf.TensorSpec([], tf.int32))  # trace first
    if skip:
        pull(tf.constant(skip))
    batches = pairs = 0
    start = time.perf_counter()
    while time.perf_counter() - start <= max_seconds:
        b, p = pull(tf.constant(steps))
        batches, pairs = batches + int(b), pairs + int(p)
        if int(b) < steps:
            break
    return batches, pairs, time.perf_counter() - start


def deliver_python(dataset, max_seconds):
    """(batches, pairs, seconds) of a Python `for` loop over `dataset`:
    also counts making each batch's tensors into Python objects."""
    batches = pairs = 0
    start = time.perf_counter()
    for _, labels in dataset:
        batches += 1
        pairs += int(labels.shape[0])
        if time.perf_counter() - start > max_seconds:
            break
    return batches, pairs, time.perf_counter() - start


def decode_rates(source, spec, tf, seconds=3.0):
    """Pairs/s decoded: per-record int64 Examples vs raw-bytes blocks."""
    from keras_o2v.data import read_records
    from keras_o2v.data.prepared import encode_block

    chunks = []
    for chunk in read_records(source, spec):
        chunks.append(chunk)
        if len(chunks) == 50:
            break
    per_record = []
    for c in chunks:
        for i in range(len(c)):
            a, b = c.in0.starts[i], c.in1.starts[i]
            per_record.append(tf.train.Example(features=tf.train.Features(
                feature={
                    "in0": tf.train.Feature(int64_list=tf.train.Int64List(
                        value=c.in0.values[a:a + c.in0.lengths[i]])),
                    "in1": tf.train.Feature(int64_list=tf.train.Int64List(
                        value=c.in1.values[b:b + c.in1.lengths[i]])),
                    "label": tf.train.Feature(float_list=tf.train.FloatList(
                        value=[c.labels[i]]))})).SerializeToString())
    records = tf.constant(per_record)
    blocks = tf.constant([encode_block(c) for c in chunks])
    n = len(per_record)

    @tf.function
    def parse_records(raw):
        total = 0
        for start in range(0, n, 1024):
            f = tf.io.parse_example(raw[start:start + 1024], {
                "in0": tf.io.RaggedFeature(tf.int64),
                "in1": tf.io.RaggedFeature(tf.int64),
                "label": tf.io.FixedLenFeature([], tf.float32)})
            total += tf.size(f["in0"].flat_values) + tf.size(f["label"])
        return total

    @tf.function
    def parse_blocks(raw):
        f = tf.io.parse_example(raw, {k: tf.io.FixedLenFeature([], tf.string)
                                      for k in ("len0", "len1", "ids0",
                                                "ids1", "label")})
        # Lengths and ids are uint16 (format version 2), labels float32.
        return sum(tf.size(tf.io.decode_raw(
            tf.strings.reduce_join(f[k]),
            tf.float32 if k == "label" else tf.uint16)) for k in f)

    out = {}
    for name, fn, raw in (("example_per_record", parse_records, records),
                          ("block_raw_bytes", parse_blocks, blocks)):
        fn(raw)
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            fn(raw)
            reps += 1
        out[name] = reps * n / (time.perf_counter() - start)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--vocab", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--shuffle-buffer", type=int, default=65_536)
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="cap on each delivery measurement")
    parser.add_argument("--decode", action="store_true")
    parser.add_argument("--workdir")
    args = parser.parse_args()

    import tensorflow as tf

    from keras_o2v.data import InputSpec
    from keras_o2v.data import JsonlChannel
    from keras_o2v.data import RecordSpec
    from keras_o2v.data.prepared import PreparedChannel
    from keras_o2v.data.prepared import convert

    workdir = args.workdir or tempfile.mkdtemp(prefix="prepared_speed_")
    os.makedirs(workdir, exist_ok=True)
    spec = RecordSpec({f"in{i}": InputSpec(args.vocab, args.seq_len)
                       for i in (0, 1)}, label="softmax", num_classes=2)
    source = write_jsonl(
        os.path.join(workdir, f"pairs-{args.records}-{args.seq_len}.jsonl"),
        args.records, args.seq_len, args.vocab, "uniform", seed=0)
    results = {"file_mb": os.path.getsize(source) / 2**20}
    try:
        for workers in (1, 2):
            out = os.path.join(workdir, f"prepared-{workers}")
            start = time.perf_counter()
            convert(source, out, spec, workers=workers)
            results[f"convert_{workers}w_s"] = time.perf_counter() - start
        results["convert_speedup"] = (results["convert_1w_s"]
                                      / results["convert_2w_s"])
        prepared = PreparedChannel(
            os.path.join(workdir, "prepared-2"), spec, args.batch,
            shuffle_buffer=args.shuffle_buffer, seed=0)
        jsonl = JsonlChannel(source, spec, args.batch,
                             shuffle_buffer=args.shuffle_buffer, seed=0)
        for name, channel in (("prepared", prepared), ("jsonl", jsonl)):
            dataset = channel.as_dataset()
            deliver(dataset.take(3), args.seconds, tf)  # warm up (traces)
            # One pass from a cold start (the first window is decoded
            # before the first batch)...
            batches, pairs, seconds = deliver(dataset, args.seconds, tf)
            results[f"{name}_first_epoch_pairs_per_s"] = pairs / seconds
            # ...and the steady state: training reads the channel as one
            # repeated dataset (`fit_channels`), the next epoch starting
            # while this one ends.
            steady = dataset.repeat()
            batches, pairs, seconds = deliver(steady, args.seconds, tf,
                                              skip=20)
            results[f"{name}_batches_per_s"] = batches / seconds
            results[f"{name}_pairs_per_s"] = pairs / seconds
            # The same, read by a Python loop (as a custom training loop
            # that iterates the dataset in Python would).
            _, pairs, seconds = deliver_python(steady, args.seconds)
            results[f"{name}_python_loop_pairs_per_s"] = pairs / seconds
        results["prepared_vs_jsonl"] = (results["prepared_pairs_per_s"]
                                        / results["jsonl_pairs_per_s"])
        if args.decode:
            for name, rate in decode_rates(source, spec, tf).items():
                results[f"decode_{name}_pairs_per_s"] = rate
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"{'measure':32s} {'value':>14s}")
    for key, value in results.items():
        print(f"{key:32s} {value:14,.2f}")
    print(json.dumps({"benchmark": "prepared_speed", "config": vars(args),
                      "results": {k: round(v, 3) for k, v in
                                  results.items()}}))


if __name__ == "__main__":
    main()
