"""Step time vs vocabulary size: embedding storage dense vs row_sparse.

For each vocabulary size (default 10k, 100k, 1M) and each storage type, this
script builds the same `pooled_embedding` Object2Vec model (batch 256, seq 50,
`enc_dim` = token dim = `mlp_dim` = 64, one MLP layer, softmax; enc1 copies
enc0, so there are two `vocab x 64` token tables) and times training steps on
in-memory batches (no input pipeline): `model.train_on_batch` on int32
tensors, one call per step, which returns only once the step is done.

* dense: the stock Keras optimizer (`--optimizer`, default Adam). Adam,
  RMSprop and Adadelta update every row's slots each step, Adagrad divides by
  its whole accumulator, weight decay touches every row: work grows with the
  vocabulary.
* row_sparse: the lazy optimizer from `keras_o2v.optimizers` (`LazyAdam`...),
  which touches only the rows in the batch.

Every sequence is full (50 ids), so each table sees 256 * 50 = 12,800
lookups per step. row_sparse work follows the number of distinct rows a batch
touches, so how ids are drawn (`--ids`) matters:

* `same` (default): the same batches at every vocabulary size, spread over
  the table. Ids are drawn uniformly from `[1, smallest vocab)` and mapped by
  a fixed random one-to-one map into `[1, vocab)`: every size sees the same
  duplicates and the same number of distinct rows (~7.2k at 10k), scattered
  over the whole table. Growth then measures the table size alone.
* `uniform`: uniform in `[1, vocab)`; distinct rows per batch grow with the
  vocabulary (~7.2k at 10k, ~12.0k at 100k, ~12.7k at 1M: a 10k table is
  saturated), so row_sparse's work grows ~1.8x by itself.
* `zipf`: rank r with probability proportional to 1/r, as word frequencies
  roughly are (~3.3k distinct rows at 10k, ~6.6k at 1M).

Method: all models are built first. Each gets `--warmup` untimed steps
(tracing, first scatters). Then `--rounds` rounds; in each round every model
runs a block of `--block` consecutive steps (the model order rotates from round
to round), the first step of a block untimed (it refills the caches the other
models evicted). So the noise of a shared machine spreads over all models
alike, and each model has rounds * (block - 1) timed steps. The figure is the
median wall-clock ms/step, with [min-max]; "CPU ms" is the median process CPU
time (all threads) per step. Growth = ms at the largest vocab / ms at the
smallest, from the medians (the goal: row_sparse growth <= 1.5), and also
from the minima and the CPU times, which other processes disturb less.

`--hugepages` re-runs the script with `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`
(glibc >= 2.35): large tables get transparent huge pages, which cuts the
TLB misses of random row accesses on a 1M-row table.

Usage:
    python benchmarks/row_sparse.py                  # ~2-4 min on 2 cores
    python benchmarks/row_sparse.py --ids uniform --hugepages
    python benchmarks/row_sparse.py --ids zipf --modes row_sparse
    python benchmarks/row_sparse.py --optimizer sgd --weight-decay 1e-4

Prints a table and, last, one JSON line:
`{"benchmark": "row_sparse", "config": {...}, "results": {...}, "growth":
{...}}`.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_o2v  # noqa: E402

MODES = ("dense", "row_sparse")
OPTIMIZERS = ("adam", "adagrad", "sgd", "rmsprop", "adadelta")


def log(message):
    print(message, file=sys.stderr, flush=True)


def make_batches(vocab, smallest, args, count=4):
    """`count` (x, y) batches of int32 tensors, ids drawn as `--ids` says."""
    rng = np.random.default_rng(args.seed)
    shape = (args.batch, args.seq_len)
    if args.ids == "zipf":
        weights = 1.0 / np.arange(1, vocab)
        weights /= weights.sum()
    if args.ids == "same":
        # One-to-one map of [1, smallest) into [1, vocab), fixed per vocab.
        spread = np.random.default_rng(args.seed + 1).permutation(
            np.arange(1, vocab))[:smallest - 1]
    batches = []
    for _ in range(count):
        x = {}
        for name in ("in0", "in1"):
            if args.ids == "zipf":
                ids = rng.choice(np.arange(1, vocab), size=shape, p=weights)
            elif args.ids == "same":
                ids = spread[rng.integers(0, smallest - 1, shape)]
            else:
                ids = rng.integers(1, vocab, shape)
            x[name] = tf.constant(ids, tf.int32)
        y = tf.constant(rng.integers(0, 2, (args.batch,)), tf.int32)
        batches.append((x, y))
    return batches


def build(vocab, mode, args):
    keras.utils.set_random_seed(args.seed)
    return keras_o2v.build_object2vec(
        enc0_network="pooled_embedding", enc0_vocab_size=vocab,
        enc0_max_seq_len=args.seq_len, enc_dim=args.enc_dim,
        mlp_dim=args.enc_dim, mlp_layers=1, optimizer=args.optimizer,
        weight_decay=args.weight_decay, token_embedding_storage_type=mode)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocabs", default="10000,100000,1000000",
                        help="comma-separated vocabulary sizes")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated storage types")
    parser.add_argument("--optimizer", default="adam", choices=OPTIMIZERS)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--ids", default="same",
                        choices=("same", "uniform", "zipf"))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--enc-dim", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--block", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=1.5,
                        help="max row_sparse growth, smallest->largest vocab")
    parser.add_argument("--hugepages", action="store_true",
                        help="back large allocations with huge pages "
                             "(re-executes with GLIBC_TUNABLES set)")
    args = parser.parse_args(argv)
    tunable = "glibc.malloc.hugetlb=1"
    if args.hugepages and tunable not in os.environ.get("GLIBC_TUNABLES", ""):
        # glibc reads its tunables once, at process start.
        env = dict(os.environ)
        env["GLIBC_TUNABLES"] = ":".join(
            filter(None, [env.get("GLIBC_TUNABLES"), tunable]))
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    vocabs = sorted(int(v) for v in args.vocabs.split(","))
    modes = [m.strip() for m in args.modes.split(",")]
    if args.block < 2 or set(modes) - set(MODES):
        parser.error(f"--block must be >= 2 and --modes a subset of {MODES}")

    keys = [(vocab, mode) for vocab in vocabs for mode in modes]
    models, batches, distinct = {}, {}, {}
    for vocab in vocabs:
        batches[vocab] = make_batches(vocab, vocabs[0], args)
        distinct[vocab] = int(np.mean([len(np.unique(x["in0"]))
                                       for x, _ in batches[vocab]]))
    for key in keys:
        log(f"building and warming up vocab {key[0]:,} {key[1]} ...")
        models[key] = build(*key, args)
        for step in range(args.warmup):
            models[key].train_on_batch(*batches[key[0]][step % 4])
    wall = {key: [] for key in keys}
    cpu = {key: [] for key in keys}
    for round_ in range(args.rounds):
        log(f"round {round_ + 1}/{args.rounds}")
        shift = round_ % len(keys)
        for key in keys[shift:] + keys[:shift]:
            for step in range(args.block):
                x, y = batches[key[0]][step % 4]
                start, start_cpu = time.perf_counter(), time.process_time()
                models[key].train_on_batch(x, y)
                if step:
                    wall[key].append((time.perf_counter() - start) * 1000)
                    cpu[key].append((time.process_time() - start_cpu) * 1000)

    results = {mode: {} for mode in modes}
    for vocab, mode in keys:
        times = wall[(vocab, mode)]
        results[mode][vocab] = {
            "ms_per_step": round(statistics.median(times), 2),
            "min": round(min(times), 2), "max": round(max(times), 2),
            "cpu_ms_per_step": round(statistics.median(cpu[(vocab, mode)]),
                                     2)}

    timed = args.rounds * (args.block - 1)
    print(f"\nms/step: median of {timed} steps [min-max] and median CPU ms; "
          f"optimizer={args.optimizer}, weight_decay={args.weight_decay}, "
          f"ids={args.ids}, batch {args.batch}, seq {args.seq_len}, two "
          f"tables of vocab x {args.enc_dim}")
    both = set(MODES) <= set(modes)
    header = f"{'vocab':>10} {'distinct ids':>12}" + "".join(
        f" {m:>20} {'CPU ms':>7}" for m in modes)
    header += f" {'dense/sparse':>12}" if both else ""
    print(header)
    print("-" * len(header))
    for vocab in vocabs:
        line = f"{vocab:>10,} {distinct[vocab]:>12,}"
        for mode in modes:
            r = results[mode][vocab]
            cell = f"{r['ms_per_step']:.1f} [{r['min']:.0f}-{r['max']:.0f}]"
            line += f" {cell:>20} {r['cpu_ms_per_step']:>7.0f}"
        if both:
            ratio = (results["dense"][vocab]["ms_per_step"]
                     / results["row_sparse"][vocab]["ms_per_step"])
            line += f" {ratio:>11.1f}x"
        print(line)
    growth = {}
    if len(vocabs) > 1:
        first, last = vocabs[0], vocabs[-1]
        for mode in modes:
            growth[mode] = {
                stat: round(results[mode][last][stat]
                            / results[mode][first][stat], 2)
                for stat in ("ms_per_step", "min", "cpu_ms_per_step")}
            g = growth[mode]
            print(f"growth {first:,} -> {last:,} ({mode}): "
                  f"{g['ms_per_step']:.2f}x (min {g['min']:.2f}x, "
                  f"CPU {g['cpu_ms_per_step']:.2f}x)")
        if "row_sparse" in growth:
            value = growth["row_sparse"]["ms_per_step"]
            met = "met" if value <= args.target else "NOT met"
            print(f"row_sparse growth (median) {value:.2f}x vs target <= "
                  f"{args.target}: {met}")
    config = {key: getattr(args, key) for key in
              ("optimizer", "weight_decay", "ids", "batch", "seq_len",
               "enc_dim", "warmup", "rounds", "block", "seed", "hugepages")}
    config.update(vocabs=vocabs, modes=modes,
                  distinct_ids_per_batch={str(v): d
                                          for v, d in distinct.items()})
    print(json.dumps({
        "benchmark": "row_sparse", "config": config,
        "results": {mode: {str(v): r for v, r in per.items()}
                    for mode, per in results.items()},
        "growth": growth}))


if __name__ == "__main__":
    main()
