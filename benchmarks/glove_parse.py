"""Pretrained-vector loading speed: a 400k x 300 GloVe-format file.

Writes a synthetic GloVe text file (default 400,000 rows x 300 values, the
size of glove.6B/42B files; ~1 GB) and a vocab of `--vocab` words, most of
them in the file, then times `keras_o2v.data.auxiliary.pretrained_matrix`
(stream the file, parse only the rows of vocab words, build the matrix).
Prints rows/s and MB/s, then one JSON line.

    python benchmarks/glove_parse.py
    python benchmarks/glove_parse.py --rows 100000 --dim 50
"""

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_o2v.data.auxiliary import pretrained_matrix  # noqa: E402


def write_file(path, rows, dim, seed=0):
    rng = np.random.default_rng(seed)
    # Vector text is recycled from 1000 random rows: only words must differ
    # for the parser, and this keeps writing fast.
    vectors = [" ".join(f"{v:.5f}" for v in rng.normal(0, 0.4, dim))
               for _ in range(1000)]
    with open(path, "w") as f:
        for i in range(rows):
            f.write(f"w{i} {vectors[i % 1000]}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--vocab", type=int, default=100_000)
    parser.add_argument("--oov", type=float, default=0.1,
                        help="fraction of vocab words not in the file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "vectors.txt")
        write_file(path, args.rows, args.dim)
        size_mb = os.path.getsize(path) / 1e6
        rng = np.random.default_rng(1)
        n_oov = int(args.vocab * args.oov)
        in_file = rng.choice(args.rows, args.vocab - n_oov, replace=False)
        words = [f"w{i}" for i in in_file] + [f"oov{i}" for i in range(n_oov)]
        vocab = {w: i + 2 for i, w in enumerate(words)}
        start = time.perf_counter()
        result = pretrained_matrix(vocab, path, args.vocab + 2, args.dim,
                                   seed=0)
        seconds = time.perf_counter() - start
    rows_per_s = result.file_rows / seconds
    print(f"{result.file_rows} rows x {args.dim} ({size_mb:.0f} MB), vocab "
          f"{args.vocab} ({result.oov_words} OOV): {seconds:.2f} s, "
          f"{rows_per_s:,.0f} rows/s, {size_mb / seconds:.0f} MB/s")
    print(json.dumps({"benchmark": "glove_parse", "config": vars(args),
                      "results": {"seconds": round(seconds, 3),
                                  "rows_per_s": round(rows_per_s),
                                  "mb_per_s": round(size_mb / seconds, 1),
                                  "oov_words": result.oov_words}}))


if __name__ == "__main__":
    main()
