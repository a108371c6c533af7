"""Training pairs/s on an accelerator: JSON Lines, prepared data, in memory.

For each encoder (`--encoders`), batch size (`--batches`), precision
(float32, mixed) and XLA (off, on), one model is trained for `--steps`
steps from each source, after `--warmup` steps that trace and compile:

* `jsonl`: `JsonlChannel` over a synthetic JSON Lines file (what
  `keras-o2v train` reads without conversion);
* `prepared`: `PreparedChannel` over the same records after
  `keras-o2v convert` (`keras_o2v.data.prepared.convert`);
* `memory`: the same padded batches held as tensors (the floor no input
  pipeline can beat).

The file is larger than the shuffle buffer (the streaming regime of a real
data set). Runs stop once `--budget` seconds have passed (the rest are
listed as skipped), so the whole script fits a fixed slot of device time.
`--small` shrinks everything so the script runs in a few minutes on a CPU
(5 min on 2 cores): a check that it is ready, not a measurement. Each batch
is padded to its longest row, and XLA compiles once per batch shape: at
batch 256 and 2048 nearly every batch is 50 wide (lengths uniform in
1..50), but at `--small`'s batch of 64 about a quarter are narrower, so
its XLA rows time compilations (and a later source reuses the compiled
shapes of an earlier one).

Prints a table and, last, one JSON line:
`{"benchmark": "gpu_throughput", "config": {...}, "results": [...]}`;
each result has `pairs_per_s` and, for `jsonl`/`prepared`, `ratio` (to
`memory` with the same settings).

Usage:
    bash benchmarks/gpu.sh                  # on the GPU machine
    python benchmarks/gpu_throughput.py --small
"""

import argparse
import itertools
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from throughput import in_memory_dataset  # noqa: E402
from throughput import write_jsonl  # noqa: E402

SOURCES = ("memory", "jsonl", "prepared")


def log(message):
    print(message, file=sys.stderr, flush=True)


def hyperparameters(network, args, batch):
    return {"enc0_network": network, "enc1_network": "enc0",
            "enc0_vocab_size": args.vocab, "enc0_max_seq_len": args.seq_len,
            "enc_dim": args.dim, "enc0_token_embedding_dim": args.dim,
            "mlp_dim": args.dim, "mlp_layers": 1, "output_layer": "softmax",
            "num_classes": 2, "mini_batch_size": batch,
            "learning_rate": 0.001}


def datasets(paths, spec, batch, args):
    """`{source: repeated tf.data.Dataset}` of the same records."""
    from keras_o2v.data import JsonlChannel
    from keras_o2v.data.prepared import PreparedChannel

    kwargs = {"shuffle_buffer": args.shuffle_buffer, "seed": 0}
    jsonl = JsonlChannel(paths["jsonl"], spec, batch, **kwargs)
    prepared = PreparedChannel(paths["prepared"], spec, batch, **kwargs)
    capture = JsonlChannel(paths["jsonl"], spec, batch, **kwargs)
    batches = [capture.as_tensors(r) for r in capture.batches(0)]
    return {"memory": in_memory_dataset(batches, 0).repeat(),
            "jsonl": jsonl.as_dataset().repeat(),
            "prepared": prepared.as_dataset().repeat()}


def timed_steps(model, dataset, warmup, steps):
    """Pairs/s over `steps` training steps after `warmup` steps."""
    import keras

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == warmup - 1:
                self.start = time.perf_counter()

        def on_train_end(self, logs=None):
            self.end = time.perf_counter()

    clock = Clock()
    model.fit(dataset.take(warmup + steps), epochs=1, verbose=0,
              callbacks=[clock])
    return clock.end - clock.start


def run(args):
    import keras
    import tensorflow as tf

    import keras_o2v
    from keras_o2v.data import RecordSpec
    from keras_o2v.data.prepared import convert

    devices = [d.name for d in tf.config.list_physical_devices("GPU")]
    workdir = args.workdir or tempfile.mkdtemp(prefix="o2v-gpu-bench-")
    paths = {"jsonl": write_jsonl(os.path.join(workdir, "train.jsonl"),
                                  args.records, args.seq_len, args.vocab,
                                  "uniform", 0),
             "prepared": os.path.join(workdir, "train.prepared")}
    spec = RecordSpec.from_hyperparameters(keras_o2v.resolve_hyperparameters(
        hyperparameters("pooled_embedding", args, 256)))
    start = time.perf_counter()
    convert([paths["jsonl"]], paths["prepared"], spec,
            workers=min(8, os.cpu_count() or 1))
    log(f"converted {args.records} records in "
        f"{time.perf_counter() - start:.1f}s; GPUs: {devices or 'none'}")

    deadline = time.monotonic() + args.budget
    results = []
    grid = itertools.product(args.encoders, args.batches, ("float32", "mixed"),
                             (False, True))
    for network, batch, precision, xla in grid:
        config = {"encoder": network, "batch": batch, "precision": precision,
                  "xla": xla}
        if time.monotonic() > deadline:
            results.extend({**config, "source": s, "skipped": "budget"}
                           for s in SOURCES)
            continue
        sources = datasets(paths, spec, batch, args)
        memory = None
        for source in SOURCES:
            policy = "mixed_float16" if precision == "mixed" else "float32"
            if precision == "mixed" and devices:
                policy = "mixed_bfloat16"
            keras.config.set_dtype_policy(policy)
            try:
                keras.utils.set_random_seed(0)
                model = keras_o2v.build_object2vec(
                    hyperparameters(network, args, batch))
            finally:
                keras.config.set_dtype_policy("float32")
            model.jit_compile = xla
            try:
                seconds = timed_steps(model, sources[source], args.warmup,
                                      args.steps)
            except Exception as e:  # e.g. an op XLA cannot compile
                results.append({**config, "source": source,
                                "error": f"{type(e).__name__}: {e}"[:300]})
                continue
            row = {**config, "source": source,
                   "pairs_per_s": args.steps * batch / seconds}
            if source == "memory":
                memory = row["pairs_per_s"]
            elif memory:
                row["ratio"] = row["pairs_per_s"] / memory
            results.append(row)
            log(f"{network:<17}{batch:>6} {precision:<8}"
                f"{'xla' if xla else '':<4}{source:<9}"
                f"{row['pairs_per_s']:>12.0f} pairs/s"
                + (f"  ratio {row['ratio']:.2f}" if "ratio" in row else ""))
    return devices, results


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true",
                        help="tiny sizes: checks the script on a CPU")
    parser.add_argument("--encoders",
                        default="pooled_embedding,hcnn,bilstm")
    parser.add_argument("--batches", default="256,2048")
    parser.add_argument("--records", type=int, default=400_000)
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--vocab", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--shuffle-buffer", type=int, default=65_536)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--budget", type=float, default=360,
                        help="seconds of runs; later ones are skipped")
    parser.add_argument("--workdir")
    args = parser.parse_args(argv)
    args.encoders = args.encoders.split(",")
    args.batches = [int(b) for b in args.batches.split(",")]
    if args.small:
        args.records, args.batches, args.budget = 6000, [64], 300
        args.shuffle_buffer, args.warmup, args.steps = 2048, 3, 8
        args.vocab, args.dim = 2000, 16
    devices, results = run(args)
    print(f"{'encoder':<17}{'batch':>6} {'precision':<9}{'xla':<5}"
          f"{'source':<9}{'pairs/s':>12}{'ratio':>7}")
    for r in results:
        figure = (f"{r['pairs_per_s']:>12.0f}" if "pairs_per_s" in r
                  else f"{r.get('skipped') or 'error':>12}")
        ratio = f"{r['ratio']:>7.2f}" if "ratio" in r else ""
        print(f"{r['encoder']:<17}{r['batch']:>6} {r['precision']:<9}"
              f"{'on' if r['xla'] else 'off':<5}{r['source']:<9}{figure}"
              f"{ratio}")
    config = {k: v for k, v in vars(args).items() if k != "workdir"}
    print(json.dumps({"benchmark": "gpu_throughput", "config": {
        **config, "gpus": devices, "cpus": os.cpu_count()},
        "results": results}))


if __name__ == "__main__":
    main()
