"""Training throughput of a pooled Object2Vec model on each Keras backend.

Each backend runs in its own subprocess (a backend is fixed per process) on
the same in-memory numpy data: batch 256 pairs, sequences of 50 ids from a
20k vocabulary, token embeddings 64, pooled encoders, as in
ENVIRONMENT.md's tf.data table. One warm-up epoch (tracing/compiling), then
`--epochs` timed epochs of `fit`; pairs/s is their mean.

    python benchmarks/backends.py --steps 60 --epochs 3

Prints a table and, last, one JSON line.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")
HP = {"enc0_network": "pooled_embedding", "enc0_vocab_size": 20000,
      "enc0_max_seq_len": 50, "enc0_token_embedding_dim": 64,
      "enc1_network": "enc0", "enc_dim": 64, "mlp_dim": 64, "mlp_layers": 1,
      "num_classes": 2}


def measure(batch_size, steps, epochs, seq_len):
    """Runs in the subprocess: returns seconds per timed epoch."""
    import keras
    import numpy as np

    import keras_o2v

    rng = np.random.default_rng(0)
    n = batch_size * steps
    lengths = rng.integers(seq_len // 2, seq_len + 1, size=(2, n))
    x = {}
    for i, name in enumerate(("in0", "in1")):
        ids = rng.integers(1, HP["enc0_vocab_size"], size=(n, seq_len))
        # Trailing padding, as the data pipeline gives.
        ids[np.arange(seq_len) >= lengths[i][:, None]] = 0
        x[name] = ids.astype("int32")
    y = rng.integers(0, 2, size=n).astype("int32")
    keras.utils.set_random_seed(0)
    model = keras_o2v.build_object2vec(HP)
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # warm-up
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0,
                  shuffle=False)
        times.append(time.perf_counter() - start)
    return {"backend": keras.backend.backend(), "epoch_s": times,
            "pairs": n}


def run_backend(backend, args):
    env = {**os.environ, "KERAS_BACKEND": backend,
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, __file__, "--child", "--batch-size",
           str(args.batch_size), "--steps", str(args.steps), "--epochs",
           str(args.epochs), "--seq-len", str(args.seq_len)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        tail = (result.stdout + result.stderr)[-2000:]
        return {"backend": backend, "error": tail}
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60,
                        help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3,
                        help="timed epochs, after one warm-up epoch")
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--child", action="store_true",
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.batch_size, args.steps, args.epochs,
                                 args.seq_len)))
        return
    rows = []
    for backend in args.backends.split(","):
        module = "tensorflow" if backend == "tensorflow" else backend
        if importlib.util.find_spec(module) is None:
            rows.append({"backend": backend, "error": "not installed"})
            continue
        row = run_backend(backend, args)
        if "epoch_s" in row:
            mean = sum(row["epoch_s"]) / len(row["epoch_s"])
            row["pairs_per_s"] = round(row["pairs"] / mean)
            row["steps_per_s"] = round(args.steps / mean, 1)
        rows.append(row)
    print(f"{'backend':<12}{'pairs/s':>10}{'steps/s':>10}  epoch seconds")
    for row in rows:
        if "error" in row:
            print(f"{row['backend']:<12}{'failed':>10}  "
                  f"{row['error'].splitlines()[-1] if row['error'] else ''}")
            continue
        epochs = ", ".join(f"{t:.2f}" for t in row["epoch_s"])
        print(f"{row['backend']:<12}{row['pairs_per_s']:>10}"
              f"{row['steps_per_s']:>10}  {epochs}")
    print(json.dumps({"batch_size": args.batch_size, "seq_len": args.seq_len,
                      "steps": args.steps, "results": rows}))


if __name__ == "__main__":
    main()
