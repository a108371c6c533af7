"""Peak memory of `keras-o2v predict` as the input grows: is it constant?

Writes synthetic pair files of each size in `--lines` (default 10k and
100k lines; random ids in `[1, vocab)`, lengths uniform in `[1, seq-len]`,
with labels, as a test channel would have them), saves one model, then runs
`keras-o2v predict` on each file in its own process and reads that process's
peak resident set size from `os.wait4` (`ru_maxrss`). A process that only
imports keras_o2v and loads the model gives the baseline; `predict - base`
is what prediction itself holds at its peak; `lines/s` counts the wall time
beyond the baseline's (start-up excluded).

Usage:
    python benchmarks/batch_predict_rss.py                 # ~1 min on 2 cores
    python benchmarks/batch_predict_rss.py --lines 10000,100000,300000

Prints a table and, last, one JSON line:
`{"benchmark": "batch_predict_rss", "config": {...}, "results": [...]}`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import orjson  # noqa: E402

BASELINE = ("from keras_o2v.training import load_model; "
            "load_model({model_dir!r})")


def write_pairs(path, lines, seq_len, vocab, seed):
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        for start in range(0, lines, 4096):
            rows = []
            for _ in range(min(4096, lines - start)):
                rows.append(orjson.dumps({
                    "label": int(rng.integers(2)),
                    "in0": rng.integers(1, vocab, rng.integers(
                        1, seq_len + 1)).tolist(),
                    "in1": rng.integers(1, vocab, rng.integers(
                        1, seq_len + 1)).tolist()}))
            f.write(b"\n".join(rows) + b"\n")


def run_measured(argv):
    """(peak RSS in MiB, wall s) of a child process running `argv`."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{argv} exited with {process.returncode}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start  # KiB on Linux


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", default="10000,100000")
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--vocab", type=int, default=20000)
    parser.add_argument("--enc-dim", type=int, default=64)
    parser.add_argument("--chunk-lines", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args(argv)

    import keras_o2v

    workdir = tempfile.mkdtemp(prefix="o2v-rss-bench-")
    hp = {"enc0_network": "pooled_embedding", "enc0_vocab_size": args.vocab,
          "enc0_max_seq_len": args.seq_len, "enc_dim": args.enc_dim,
          "mlp_layers": 1, "mlp_dim": args.enc_dim}
    keras_o2v.build_object2vec(hp, compile=False).save(
        os.path.join(workdir, "model.keras"))
    base_rss, base_wall = run_measured([sys.executable, "-c", BASELINE.format(
        model_dir=workdir)])
    results = []
    for lines in map(int, args.lines.split(",")):
        path = os.path.join(workdir, f"{lines}.jsonl")
        print(f"writing {lines} lines", file=sys.stderr, flush=True)
        write_pairs(path, lines, args.seq_len, args.vocab, args.seed)
        rss, wall = run_measured([
            sys.executable, "-m", "keras_o2v.cli", "predict", "--model-dir",
            workdir, "--input", path, "--output", path + ".out",
            "--chunk-lines", str(args.chunk_lines)])
        results.append({"lines": lines,
                        "input_mib": os.path.getsize(path) / 2**20,
                        "peak_rss_mib": rss, "over_baseline_mib": rss
                        - base_rss, "wall_s": wall,
                        # Start-up (imports, model load) is not prediction.
                        "lines_per_s": lines / max(wall - base_wall, 1e-9)})
    if not args.json_only:
        print(f"baseline (import + load model): {base_rss:.0f} MiB peak RSS, "
              f"{base_wall:.1f} s")
        print(f"{'lines':>8}{'input MiB':>11}{'peak RSS MiB':>14}"
              f"{'- baseline':>12}{'wall s':>8}{'lines/s':>9}")
        for r in results:
            print(f"{r['lines']:>8}{r['input_mib']:>11.1f}"
                  f"{r['peak_rss_mib']:>14.0f}{r['over_baseline_mib']:>12.0f}"
                  f"{r['wall_s']:>8.1f}{r['lines_per_s']:>9.0f}")
    print(json.dumps({"benchmark": "batch_predict_rss",
                      "config": {**vars(args), "baseline_rss_mib": base_rss,
                                 "baseline_wall_s": base_wall},
                      "results": results}))


if __name__ == "__main__":
    main()
