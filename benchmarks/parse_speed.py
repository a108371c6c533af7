"""JSONL parsing speed: is the input pipeline fast enough to feed training?

Measures, on one synthetic JSON Lines file (default: 200,000 pairs, every
`in0`/`in1` exactly 50 ids from a 20,000-id vocabulary), records/s of each
stage of `keras_o2v.data`, with no model involved:

* `read lines`: reading the file line by line (I/O floor).
* `orjson.loads`: decoding each line to a dict (JSON floor).
* `read_records`: `keras_o2v.data.read_records` -- decode, validate every
  record (vectorised per chunk), truncate, build flat `Records`.
* `parallel xN`: `keras_o2v.data.parallel.read_records_parallel` with N
  worker processes (`--workers`, default 1 and 2): the same chunks as
  `read_records`, parsed in forked processes (the fork is timed too).
* `batches+pad`: `JsonlChannel(..., shuffle=True).batches()` plus
  `as_tensors()` for each batch -- everything the training generator does:
  read_records, the shuffle buffer, batch assembly and padding to dense
  int32 arrays. The batches are not handed to `tf.data`; the
  `tf.data`/training side is measured by `benchmarks/throughput.py`.

For `batches+pad` it also reports the latency of the first batch and the
longest gap between two consecutive batches: the generator parses in bursts
(it fills the shuffle buffer before yielding), and a training step has to
wait whenever a burst outlasts the prefetched batches.

Each stage is timed `--repeats` times over the whole file (median reported).
`--profile` adds a cProfile of `read_records` and of `batches+pad`;
`--chunk-lines` sets the lines parsed per chunk (the package default is
8192; the Python objects of a whole chunk of parsed lines stay alive at
once, so the chunk size changes the speed).

Usage:
    python benchmarks/parse_speed.py
    python benchmarks/parse_speed.py --records 50000 --repeats 1 --profile

Prints a table and, last, one JSON line:
`{"benchmark": "parse_speed", "config": {...}, "results": {...}}`.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import orjson  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from throughput import write_jsonl  # noqa: E402


def chunk_kwargs(args):
    return {"chunk_lines": args.chunk_lines} if args.chunk_lines else {}


def stage_read_lines(path, spec, args):
    n = 0
    with open(path, "rb") as f:
        for _ in f:
            n += 1
    return n, {}


def stage_orjson(path, spec, args):
    n = 0
    loads = orjson.loads
    with open(path, "rb") as f:
        for line in f:
            loads(line)
            n += 1
    return n, {}


def stage_read_records(path, spec, args):
    from keras_o2v.data import read_records

    return sum(len(chunk) for chunk in read_records(
        path, spec, **chunk_kwargs(args))), {}


def stage_parallel(workers):
    def stage(path, spec, args):
        from keras_o2v.data.parallel import read_records_parallel

        return sum(len(chunk) for chunk in read_records_parallel(
            path, spec, workers=workers, **chunk_kwargs(args))), {}

    return stage


def stage_batches(path, spec, args):
    from keras_o2v.data import JsonlChannel

    channel = JsonlChannel(path, spec, args.batch, shuffle=True,
                           seed=args.seed, workers=0, **chunk_kwargs(args))
    n = 0
    gaps = []
    start = last = time.perf_counter()
    for records in channel.batches(0):
        channel.as_tensors(records)
        n += len(records)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    return n, {"first_batch_s": gaps[0], "max_gap_s": max(gaps[1:] or [0.0]),
               "batches": len(gaps),
               "gaps_over_100ms": sum(g > 0.1 for g in gaps[1:]),
               "total_s": last - start}


STAGES = {
    "read lines": stage_read_lines,
    "orjson.loads": stage_orjson,
    "read_records": stage_read_records,
    "batches+pad": stage_batches,
}


def profile(name, fn, path, spec, args, top=12):
    profiler = cProfile.Profile()
    profiler.enable()
    fn(path, spec, args)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(f"\n=== cProfile: {name} (top {top} by own time) ===")
    print("\n".join(line for line in out.getvalue().splitlines()
                    if line.strip())[:6000])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--lengths", choices=("fixed", "uniform"),
                        default="fixed",
                        help="sequence lengths: all seq-len, or uniform in "
                             "[1, seq-len] (default: %(default)s)")
    parser.add_argument("--vocab", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-lines", type=int, default=None,
                        help="lines parsed per chunk by read_records and "
                             "JsonlChannel (default: the package default)")
    parser.add_argument("--workers", default="1,2",
                        help="worker counts of the `parallel xN` stages "
                             "(default: %(default)s)")
    parser.add_argument("--stages", default=None,
                        help="comma-separated subset of: "
                             + ", ".join(STAGES) + ", parallel xN "
                             "(default: all)")
    parser.add_argument("--profile", action="store_true",
                        help="also print cProfile tables")
    parser.add_argument("--workdir", default=None,
                        help="where the JSONL file goes (default: a temporary "
                             "directory, removed at the end)")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args(argv)
    for n in args.workers.split(","):
        if n.strip():
            STAGES[f"parallel x{int(n)}"] = stage_parallel(int(n))
    # The parallel stages right after `read_records`, which they mirror.
    order = list(STAGES)
    order.remove("batches+pad")
    order.append("batches+pad")
    stages = [s.strip() for s in (args.stages or ",".join(order)).split(",")
              if s.strip()]
    for s in stages:
        if s not in STAGES:
            parser.error(f"unknown stage {s!r}; expected {list(STAGES)}")

    import keras_o2v
    from keras_o2v.data import RecordSpec
    from keras_o2v.data.jsonl import DEFAULT_CHUNK_LINES

    def log(message):
        if not args.json_only:
            print(message, file=sys.stderr, flush=True)

    spec = RecordSpec.from_hyperparameters(keras_o2v.resolve_hyperparameters({
        "enc0_network": "pooled_embedding", "enc0_vocab_size": args.vocab,
        "enc0_max_seq_len": args.seq_len, "mini_batch_size": args.batch}))
    workdir = args.workdir or tempfile.mkdtemp(prefix="o2v_parse_")
    os.makedirs(workdir, exist_ok=True)
    results = {}
    try:
        path = os.path.join(
            workdir, f"pairs_{args.records}_{args.lengths}{args.seq_len}_"
            f"v{args.vocab}_s{args.seed}.jsonl")
        start = time.perf_counter()
        write_jsonl(path, args.records, args.seq_len, args.vocab,
                    args.lengths, args.seed)
        size_mb = os.path.getsize(path) / 1e6
        log(f"{path}: {args.records} pairs, {size_mb:.1f} MB "
            f"({time.perf_counter() - start:.1f}s)")
        for name in stages:
            runs = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                n, extra = STAGES[name](path, spec, args)
                seconds = time.perf_counter() - t
                runs.append({"seconds": seconds, **extra})
            assert n == args.records, (name, n)
            seconds = statistics.median(r["seconds"] for r in runs)
            results[name] = {
                "records_per_s": args.records / seconds,
                "us_per_record": 1e6 * seconds / args.records,
                "mb_per_s": size_mb / seconds,
                "seconds": seconds,
                "seconds_all": [r["seconds"] for r in runs],
            }
            for key in ("first_batch_s", "max_gap_s", "gaps_over_100ms",
                        "batches"):
                if key in runs[0]:
                    results[name][key] = statistics.median(
                        r[key] for r in runs)
            log(f"  {name}: {results[name]['records_per_s']:.0f} records/s")
        if args.profile:
            for name in ("read_records", "batches+pad"):
                profile(name, STAGES[name], path, spec, args)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    if not args.json_only:
        print()
        print(f"JSONL parse speed: {args.records} pairs, {args.lengths} "
              f"lengths <= {args.seq_len}, {size_mb:.0f} MB, median of "
              f"{args.repeats}")
        header = (f"{'stage':<14} {'records/s':>10} {'us/record':>10} "
                  f"{'MB/s':>7} {'batches/s':>10}")
        print(header)
        print("-" * len(header))
        for name, r in results.items():
            print(f"{name:<14} {r['records_per_s']:>10.0f} "
                  f"{r['us_per_record']:>10.2f} {r['mb_per_s']:>7.1f} "
                  f"{r['records_per_s'] / args.batch:>10.1f}")
        if "batches+pad" in results:
            r = results["batches+pad"]
            print(f"\nbatches+pad: first batch after {r['first_batch_s']:.2f}s"
                  f", longest gap between batches {r['max_gap_s']:.2f}s, "
                  f"{r['gaps_over_100ms']:.0f} of {r['batches']:.0f} gaps "
                  "> 0.1s (shuffle-buffer refills)")
    config = {"records": args.records, "seq_len": args.seq_len,
              "lengths": args.lengths, "vocab": args.vocab,
              "batch": args.batch, "repeats": args.repeats,
              "chunk_lines": args.chunk_lines or DEFAULT_CHUNK_LINES,
              "file_mb": round(size_mb, 1), "workers": args.workers,
              "cpus": os.cpu_count()}
    summary = {name: {k: (round(v, 4) if isinstance(v, float) else v)
                      for k, v in r.items()}
               for name, r in results.items()}
    print(json.dumps({"benchmark": "parse_speed", "config": config,
                      "results": summary}))


if __name__ == "__main__":
    main()
