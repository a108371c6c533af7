"""XLA and per-batch widths: why sequence models compile without XLA.

Every channel pads each batch to its own longest row, so a model reading
sequences sees many input shapes, and XLA compiles one program per shape.
Keras' `jit_compile="auto"` turns XLA on for TensorFlow on one GPU, so
`keras_o2v.models.compile_object2vec` compiles sequence models with
`jit_compile=False` (`jit_compile_for`). This script trains the same pooled
model on the same batches (synthetic JSON Lines, lengths uniform in
1..`--seq-len`, batch `--batch`) with `jit_compile` False and True, and
prints the seconds and the number of distinct (in0, in1) widths.

    python benchmarks/xla_widths.py --steps 300

Prints a table and, last, one JSON line.
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


def run(args, path):
    """Trains with and without XLA; prints the table and the JSON line."""
    import keras

    import keras_o2v
    from keras_o2v.data import JsonlChannel
    from keras_o2v.data import RecordSpec

    hp = keras_o2v.resolve_hyperparameters({
        "enc0_network": "pooled_embedding", "enc1_network": "pooled_embedding",
        "enc0_max_seq_len": args.seq_len, "enc1_max_seq_len": args.seq_len,
        "enc0_vocab_size": args.vocab, "enc1_vocab_size": args.vocab,
        "enc_dim": 32, "mlp_dim": 32, "output_layer": "softmax",
        "num_classes": 2, "mini_batch_size": args.batch})
    spec = RecordSpec.from_hyperparameters(hp)
    batches = list(JsonlChannel(path, spec, args.batch, seed=0).as_dataset())
    widths = {(x["in0"].shape[1], x["in1"].shape[1]) for x, _ in batches}
    results = {"steps": len(batches), "distinct_widths": len(widths)}
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = keras_o2v.build_object2vec(hp)
        model.jit_compile = jit
        start = time.perf_counter()
        for x, y in batches:
            model.train_on_batch(x, y)
        results[f"jit_{str(jit).lower()}_s"] = time.perf_counter() - start
    results["xla_slowdown"] = results["jit_true_s"] / results["jit_false_s"]
    for name, value in results.items():
        print(f"{name:<18}{value:>10.2f}" if isinstance(value, float)
              else f"{name:<18}{value:>10}")
    print(json.dumps({"benchmark": "xla_widths", "config": vars(args),
                      "results": results}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--vocab", type=int, default=2000)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="o2v-xla-")
    try:
        path = write_jsonl(os.path.join(workdir, "pairs.jsonl"),
                           args.steps * args.batch, args.seq_len,
                           args.vocab, "uniform", 0)
        run(args, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
