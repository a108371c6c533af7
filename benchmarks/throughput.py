"""Train throughput: JSONL pipeline vs the same batches held in memory.

For each encoder (`pooled_embedding`, `hcnn`, `bilstm`) this script trains the
same Object2Vec model (same hyperparameters, same initial weights) fed two
ways, and reports pairs/s for each and their ratio:

* **pipeline**: `JsonlChannel(...).as_dataset()` over a synthetic JSON Lines
  file, shuffling on, with `stats=scan(...)` so the dataset has a known
  cardinality -- exactly what `keras_o2v.training.train` feeds `fit`. With
  `--source prepared`, `PreparedChannel(...).as_dataset()` over the same
  records after `keras_o2v.data.prepared.convert` (converted once, kept in
  the work directory).
* **in-memory**: the very batches the pipeline produces for one epoch,
  materialised once as in-memory int32 tensors and served by
  `tf.data.Dataset.from_tensor_slices` over per-batch (offset, size, width)
  slices, with the batch order reshuffled each epoch and the same
  `prefetch(tf.data.AUTOTUNE)`. Each batch keeps the width
  the pipeline gave it (its longest sequence), so both modes do the same work
  per step (same padded shapes, same records, same batch count); only the
  source of the batches differs: parsing, shuffling and padding JSONL in a
  Python generator vs slicing tensors already in memory.

`ratio = pipeline pairs/s / in-memory pairs/s`. Target: >= 0.9 for
`pooled_embedding` (the cheapest model, hence the most sensitive to the input
pipeline); `hcnn` and `bilstm` are reported too.

Method:
* One model per mode, built from the same seed. Each model is first warmed
  up on one full epoch of its own dataset, so tracing is not timed.
* Then `--repeats` rounds, each timing one `fit(epochs=--epochs)` per mode,
  alternating which mode goes first, so slow drifts of a shared, noisy machine
  hit both modes alike. Reported figures are medians over rounds; the ratio
  is the median of the per-round ratios.
* `pairs/s` is timed from `on_train_begin` to `on_train_end` of a
  `fit(epochs=--epochs)` call: it includes creating the epoch iterator and
  waiting for the first batch (where the pipeline parses its shuffle buffer),
  but not the teardown of the last iterator when `fit` returns. That teardown
  is reported separately ("teardown", and "wall ratio" = the ratio from the
  wall time of the whole `fit` call) because with tf.data autotuning on it
  blocks until the autotuning thread's next wake-up, which falls
  10 * (2**k - 1) ms after the iterator was created (..., 2.55 s, 5.11 s,
  10.23 s, ...): whole-call times snap to those instants for *any* tf.data
  input, in-memory included, and turn the wall ratio into noise for short
  epochs. See benchmarks/README.md.
* `--no-autotune` applies `tf.data.Options().autotune.enabled = False` to both
  datasets (a diagnostic: no teardown stall, wall ratio ~= ratio).

Data: random ids in `[1, vocab)`, labels 0/1; by default every sequence has
exactly `--seq-len` ids (`--lengths fixed`, the most parsing per record);
`--lengths uniform` draws each length uniformly from `[1, seq-len]`.

Usage:
    python benchmarks/throughput.py
    python benchmarks/throughput.py --encoders pooled_embedding --repeats 5
    python benchmarks/throughput.py --records pooled_embedding=40960,hcnn=2560

Prints a table and, last, one JSON line:
`{"benchmark": "throughput", "config": {...}, "results": {...}}`.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import orjson  # noqa: E402

ENCODERS = ("pooled_embedding", "hcnn", "bilstm")
# hcnn and bilstm train at ~1k pairs/s on 2 CPU cores: fewer records keep
# the whole run within a few minutes.
DEFAULT_RECORDS = {"pooled_embedding": 20480, "hcnn": 5120, "bilstm": 5120}


def parse_records(text, encoders):
    """`"20480"` or `"pooled_embedding=20480,hcnn=5120"` -> dict per encoder."""
    records = dict(DEFAULT_RECORDS)
    if text:
        if "=" not in text:
            return {name: int(text) for name in encoders}
        for item in text.split(","):
            name, _, value = item.partition("=")
            if name.strip() not in ENCODERS:
                raise SystemExit(f"--records: unknown encoder {name!r}; "
                                 f"expected one of {list(ENCODERS)}.")
            records[name.strip()] = int(value)
    return {name: records.get(name, 20480) for name in encoders}


def parse_workers(text):
    """`--workers`: `"auto"` or an int >= 0."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected 'auto' or an integer >= 0, got {text!r}")
    return value


def write_jsonl(path, num_records, seq_len, vocab, lengths, seed):
    """Writes `num_records` random pairs to `path` (skips an existing file)."""
    if os.path.exists(path):
        return path
    rng = np.random.default_rng(seed)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        for start in range(0, num_records, 4096):
            n = min(4096, num_records - start)
            if lengths == "fixed":
                len0 = np.full(n, seq_len)
                len1 = np.full(n, seq_len)
            else:
                len0 = rng.integers(1, seq_len + 1, n)
                len1 = rng.integers(1, seq_len + 1, n)
            ids0 = rng.integers(1, vocab, int(len0.sum())).tolist()
            ids1 = rng.integers(1, vocab, int(len1.sum())).tolist()
            labels = rng.integers(0, 2, n).tolist()
            lines = []
            p0 = p1 = 0
            for i in range(n):
                a, b = int(len0[i]), int(len1[i])
                lines.append(orjson.dumps({"label": labels[i],
                                           "in0": ids0[p0:p0 + a],
                                           "in1": ids1[p1:p1 + b]}))
                p0 += a
                p1 += b
            f.write(b"\n".join(lines) + b"\n")
    os.replace(tmp, path)
    return path


def in_memory_dataset(batches, seed):
    """`tf.data.Dataset` serving `batches` (list of (x, y)) from memory.

    All rows live in two `(N, max_width)` int32 tensors; each element slices
    one batch back to its own rows and width. Batch order is reshuffled each
    epoch.
    """
    import tensorflow as tf

    sizes = np.array([len(y) for _, y in batches], np.int64)
    starts = np.cumsum(sizes) - sizes
    w0 = np.array([x["in0"].shape[1] for x, _ in batches], np.int64)
    w1 = np.array([x["in1"].shape[1] for x, _ in batches], np.int64)

    def stack(key, width):
        out = np.zeros((int(sizes.sum()), int(width.max())), np.int32)
        for (x, _), s, n, w in zip(batches, starts, sizes, width):
            out[s:s + n, :w] = x[key]
        return tf.constant(out)

    in0, in1 = stack("in0", w0), stack("in1", w1)
    labels = tf.constant(np.concatenate([y for _, y in batches]))

    def take(s, n, a, b):
        return ({"in0": in0[s:s + n, :a], "in1": in1[s:s + n, :b]},
                labels[s:s + n])

    dataset = tf.data.Dataset.from_tensor_slices((starts, sizes, w0, w1))
    dataset = dataset.shuffle(len(batches), seed=seed,
                              reshuffle_each_iteration=True)
    return dataset.map(take).prefetch(tf.data.AUTOTUNE)


def make_timer():
    import keras

    class Timer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.begin = time.perf_counter()
            self.first = None

        def on_train_batch_end(self, batch, logs=None):
            if self.first is None:
                self.first = time.perf_counter()

        def on_train_end(self, logs=None):
            self.end = time.perf_counter()

    return Timer()


def timed_fit(model, dataset, epochs, pairs, steps):
    """Trains; returns pairs/s (in-fit and whole-call wall) and seconds.

    As `keras_o2v.training` feeds `fit`: one repeated dataset and
    `steps_per_epoch`, so one iterator runs through all the epochs.
    """
    timer = make_timer()
    start = time.perf_counter()
    model.fit(dataset.repeat(), epochs=epochs, steps_per_epoch=steps,
              verbose=0, shuffle=False, callbacks=[timer])
    wall = time.perf_counter() - start
    in_fit = timer.end - timer.begin
    return {"pairs_per_s": pairs / in_fit, "wall_pairs_per_s": pairs / wall,
            "in_fit_s": in_fit, "wall_s": wall,
            "teardown_s": wall - in_fit - (timer.begin - start),
            "first_step_s": timer.first - timer.begin}


def bench_encoder(network, path, num_records, args, log):
    import keras
    import tensorflow as tf

    import keras_o2v
    from keras_o2v.data import JsonlChannel
    from keras_o2v.data import RecordSpec
    from keras_o2v.data import scan

    hp = {
        "enc0_network": network, "enc1_network": "enc0",
        "enc0_vocab_size": args.vocab, "enc0_max_seq_len": args.seq_len,
        "enc_dim": args.enc_dim, "enc0_token_embedding_dim": args.token_dim,
        "mlp_dim": args.enc_dim, "mlp_layers": 1, "output_layer": "softmax",
        "num_classes": 2, "mini_batch_size": args.batch,
        "learning_rate": 0.001,
        "token_embedding_storage_type": args.storage,
    }
    spec = RecordSpec.from_hyperparameters(
        keras_o2v.resolve_hyperparameters(hp))
    stats = scan(path, spec)
    channel_kwargs = {"shuffle": True, "seed": args.seed, "stats": stats}
    if args.shuffle_buffer:
        channel_kwargs["shuffle_buffer"] = args.shuffle_buffer
    if args.chunk_lines:
        channel_kwargs["chunk_lines"] = args.chunk_lines
    if args.workers is not None:
        channel_kwargs["workers"] = args.workers
    if args.source == "prepared":
        from keras_o2v.data.prepared import PreparedChannel
        from keras_o2v.data.prepared import convert

        prepared = path + ".prepared"
        if not os.path.isdir(prepared):
            convert(path, prepared, spec, workers=os.cpu_count() or 1)
        kwargs = {k: v for k, v in channel_kwargs.items()
                  if k in ("shuffle", "seed", "shuffle_buffer")}
        channel = PreparedChannel(prepared, spec, args.batch, **kwargs)
        capture = PreparedChannel(prepared, spec, args.batch, **kwargs)
        batches = [tf.nest.map_structure(lambda t: t.numpy(), batch)
                   for batch in capture.as_dataset().take(
                       capture.num_batches)]
        channel.workers = 0  # reported below; no parsing processes
    else:
        channel = JsonlChannel(path, spec, args.batch, **channel_kwargs)
        # The same settings, epoch 0: the very batches the pipeline makes.
        capture = JsonlChannel(path, spec, args.batch, **channel_kwargs)
        batches = [capture.as_tensors(r) for r in capture.batches(0)]
    pipeline = channel.as_dataset()
    memory = in_memory_dataset(batches, args.seed)
    if args.no_autotune:
        options = tf.data.Options()
        options.autotune.enabled = False
        pipeline = pipeline.with_options(options)
        memory = memory.with_options(options)
    assert int(memory.cardinality()) == channel.num_batches == len(batches)

    datasets = {"pipeline": pipeline, "memory": memory}
    models = {}
    for mode in datasets:
        keras.utils.set_random_seed(args.seed)
        models[mode] = keras_o2v.build_object2vec(hp)
    pairs = stats.records * args.epochs
    for mode, dataset in datasets.items():  # warm-up: tracing, first epoch
        start = time.perf_counter()
        models[mode].fit(dataset, epochs=1, verbose=0, shuffle=False)
        log(f"  {network}: warm-up {mode} epoch "
            f"{time.perf_counter() - start:.1f}s")

    runs = {"pipeline": [], "memory": []}
    for r in range(args.repeats):
        order = ("pipeline", "memory") if r % 2 == 0 else ("memory",
                                                          "pipeline")
        for mode in order:
            runs[mode].append(timed_fit(models[mode], datasets[mode],
                                        args.epochs, pairs, len(batches)))
        log(f"  {network}: round {r + 1}/{args.repeats}: pipeline "
            f"{runs['pipeline'][-1]['pairs_per_s']:.0f} pairs/s, in-memory "
            f"{runs['memory'][-1]['pairs_per_s']:.0f} pairs/s")

    def median(mode, key):
        return statistics.median(run[key] for run in runs[mode])

    ratios = [p["pairs_per_s"] / m["pairs_per_s"]
              for p, m in zip(runs["pipeline"], runs["memory"])]
    wall_ratios = [p["wall_pairs_per_s"] / m["wall_pairs_per_s"]
                   for p, m in zip(runs["pipeline"], runs["memory"])]
    return {
        "records": stats.records,
        "workers": channel.workers,
        "batches": len(batches),
        "mean_width": float(np.mean([x["in0"].shape[1] for x, _ in batches])),
        "pipeline_pairs_per_s": median("pipeline", "pairs_per_s"),
        "memory_pairs_per_s": median("memory", "pairs_per_s"),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "wall_ratio": statistics.median(wall_ratios),
        "pipeline_first_step_s": median("pipeline", "first_step_s"),
        "memory_first_step_s": median("memory", "first_step_s"),
        "pipeline_teardown_s": median("pipeline", "teardown_s"),
        "memory_teardown_s": median("memory", "teardown_s"),
        "runs": runs,
    }


def print_table(results, target):
    header = (f"{'encoder':<17} {'records':>7} {'pipeline':>10} "
              f"{'in-memory':>10} {'ratio':>6} {'[min-max]':>11} "
              f"{'wall ratio':>10} {'1st step':>13} {'teardown':>13}")
    print()
    print("Train throughput, pairs/s (median over rounds); ratio = pipeline / "
          "in-memory")
    print("1st step (iterator start -> first step done) and teardown (after "
          "the last step), seconds: pipeline/in-memory")
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        print(f"{name:<17} {r['records']:>7} {r['pipeline_pairs_per_s']:>10.0f}"
              f" {r['memory_pairs_per_s']:>10.0f} {r['ratio']:>6.3f} "
              f"{r['ratio_min']:>5.2f}-{r['ratio_max']:<5.2f} "
              f"{r['wall_ratio']:>10.3f} "
              f"{r['pipeline_first_step_s']:>6.2f}/{r['memory_first_step_s']:<6.2f}"
              f" {r['pipeline_teardown_s']:>6.2f}/{r['memory_teardown_s']:<6.2f}")
    if "pooled_embedding" in results:
        ratio = results["pooled_embedding"]["ratio"]
        verdict = "PASS" if ratio >= target else "FAIL"
        print(f"\npooled_embedding ratio {ratio:.3f} vs target >= {target}: "
              f"{verdict}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", default=",".join(ENCODERS),
                        help="comma-separated encoder networks "
                             "(default: %(default)s)")
    parser.add_argument("--records", default=None,
                        help="pairs per file: one int for all encoders, or "
                             "name=int,... (default: pooled_embedding=20480,"
                             "hcnn=5120,bilstm=5120)")
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--lengths", choices=("fixed", "uniform"),
                        default="fixed",
                        help="sequence lengths: all seq-len, or uniform in "
                             "[1, seq-len] (default: %(default)s)")
    parser.add_argument("--vocab", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--enc-dim", type=int, default=64,
                        help="enc_dim and mlp_dim (default: %(default)s)")
    parser.add_argument("--token-dim", type=int, default=64,
                        help="enc0_token_embedding_dim (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=1,
                        help="epochs per timed fit call (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed rounds per mode (default: %(default)s)")
    parser.add_argument("--shuffle-buffer", type=int, default=None,
                        help="JsonlChannel shuffle_buffer (default: the "
                             "channel's, 100000, which holds a whole default "
                             "file; a smaller one makes the pipeline stream "
                             "and re-parse the file in windows, as it does "
                             "for channels larger than the buffer)")
    parser.add_argument("--chunk-lines", type=int, default=None,
                        help="JsonlChannel chunk_lines (default: the "
                             "channel's)")
    parser.add_argument("--workers", type=parse_workers, default=None,
                        help="JsonlChannel workers: parsing processes, 0 = "
                             "in the generator's thread, or 'auto' "
                             "(default: the channel's, 'auto')")
    parser.add_argument("--source", choices=("jsonl", "prepared"),
                        default="jsonl",
                        help="pipeline input: JSON Lines (JsonlChannel) or "
                             "the same records converted to prepared data "
                             "(PreparedChannel); default jsonl")
    parser.add_argument("--storage", choices=("dense", "row_sparse"),
                        default="dense",
                        help="token_embedding_storage_type (default dense)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-autotune", action="store_true",
                        help="disable tf.data autotuning on both datasets")
    parser.add_argument("--target", type=float, default=0.9,
                        help="pooled_embedding ratio target "
                             "(default: %(default)s)")
    parser.add_argument("--workdir", default=None,
                        help="where the JSONL files go (default: a temporary "
                             "directory, removed at the end)")
    parser.add_argument("--json-only", action="store_true",
                        help="print only the final JSON line")
    args = parser.parse_args(argv)

    encoders = [e.strip() for e in args.encoders.split(",") if e.strip()]
    for name in encoders:
        if name not in ENCODERS:
            parser.error(f"unknown encoder {name!r}; expected {ENCODERS}")
    records = parse_records(args.records, encoders)

    def log(message):
        if not args.json_only:
            print(message, file=sys.stderr, flush=True)

    workdir = args.workdir or tempfile.mkdtemp(prefix="o2v_throughput_")
    os.makedirs(workdir, exist_ok=True)
    import tensorflow as tf

    started = time.perf_counter()
    results = {}
    try:
        for name in encoders:
            n = records[name]
            path = os.path.join(
                workdir, f"pairs_{n}_{args.lengths}{args.seq_len}_"
                f"v{args.vocab}_s{args.seed}.jsonl")
            write_jsonl(path, n, args.seq_len, args.vocab, args.lengths,
                        args.seed)
            log(f"{name}: {n} pairs from {path}")
            results[name] = bench_encoder(name, path, n, args, log)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    config = {
        "seq_len": args.seq_len, "lengths": args.lengths,
        "vocab": args.vocab, "batch": args.batch, "enc_dim": args.enc_dim,
        "token_dim": args.token_dim, "epochs": args.epochs,
        "repeats": args.repeats, "no_autotune": args.no_autotune,
        "shuffle_buffer": args.shuffle_buffer,
        "chunk_lines": args.chunk_lines,
        "workers": "auto" if args.workers is None else args.workers,
        "source": args.source, "storage": args.storage,
        "cpus": os.cpu_count(), "tensorflow": tf.__version__,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if not args.json_only:
        print_table(results, args.target)
    summary = {name: {k: (round(v, 4) if isinstance(v, float) else v)
                      for k, v in r.items() if k != "runs"}
               for name, r in results.items()}
    if "pooled_embedding" in results:
        summary["pooled_embedding"]["meets_target"] = (
            results["pooled_embedding"]["ratio"] >= args.target)
    print(json.dumps({"benchmark": "throughput", "config": config,
                      "results": summary}))


if __name__ == "__main__":
    main()
