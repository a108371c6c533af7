"""STS Benchmark with keras_o2v: sentence-pair similarity from GloVe.

Prepares `../shared/data/stsb` with `keras_o2v.data.prepare` (vocab from
sts-train, plus dev/test words that have a GloVe vector, as SageMaker's
sentence-similarity notebook combines vocabularies; GloVe 6B 50d trimmed to
the vocab for the auxiliary channel), trains a pair regression model on
sts-train (early stopping on sts-dev) with frozen pretrained embeddings and a
tied token table, then reports on sts-test Pearson and Spearman of

(a) the model's pair score (predicted similarity, 0-5), and
(b) the cosine similarity of the two sentences' encoder-0 embeddings
    (embedding mode: each sentence sent alone as `in0`).

Baseline: InferSent (trained on SNLI, GloVe 840B 300d) reaches STS-B test
Pearson 75.8 (`../shared/data/README.md`).

    python examples/stsb.py --data-dir ../shared/data
"""

import argparse
import json
import os
import time

import numpy as np

from keras_o2v.data.prepare import prepare
from keras_o2v.training import train

HYPERPARAMETERS = {
    "enc0_network": "pooled_embedding",
    "enc0_max_seq_len": "64",
    "enc0_token_embedding_dim": "50",
    "enc0_vocab_file": "vocab.json",
    "enc0_pretrained_embedding_file": "embeddings.txt",
    "enc0_freeze_pretrained_embedding": "True",
    "tied_token_embedding_weight": "True",
    "enc_dim": "50",
    "comparator_list": "hadamard, abs_diff",
    "mlp_layers": "1",
    "mlp_dim": "128",
    "mlp_activation": "relu",
    "output_layer": "mean_squared_error",
    "optimizer": "adam",
    "learning_rate": "0.001",
    "mini_batch_size": "32",
    "epochs": "30",
    "early_stopping_patience": "3",
    "early_stopping_tolerance": "0.001",
}
INFERSENT_PEARSON = 0.758


def default_data_dir():
    here = os.path.join("..", "shared", "data")
    if os.path.isdir(here):
        return here
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "..", "shared", "data")


def rankdata(x):
    """Ranks with ties averaged (as scipy.stats.rankdata)."""
    x = np.asarray(x)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def pearson(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def spearman(a, b):
    return pearson(rankdata(a), rankdata(b))


def read_split(path):
    rows = [json.loads(line) for line in open(path)]
    return rows, np.array([r["label"] for r in rows], np.float64)


def padded(lists):
    out = np.zeros((len(lists), max(map(len, lists))), np.int32)
    for i, ids in enumerate(lists):
        out[i, :len(ids)] = ids
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--work-dir", default=os.path.join("runs", "stsb"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[],
                        metavar="NAME=VALUE", help="override a hyperparameter")
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args()
    stsb = os.path.join(args.data_dir, "stsb")
    glove = os.path.join(args.data_dir, "glove",
                         "glove.6B.50d.top100k.txt")
    if not os.path.isdir(stsb) or not os.path.isfile(glove):
        parser.error(f"need stsb/ and glove/ under --data-dir "
                     f"{args.data_dir!r}")
    start = time.perf_counter()
    data = os.path.join(args.work_dir, "data")
    summary = prepare(
        os.path.join(stsb, "sts-train.csv"), data, text0=5, text1=6, label=4,
        validation=os.path.join(stsb, "sts-dev.csv"),
        test=os.path.join(stsb, "sts-test.csv"), embeddings=glove,
        delimiter="\t", extend_with_embeddings=True)
    hp = {**HYPERPARAMETERS, "enc0_vocab_size": str(summary["vocab_size"]),
          "enc1_vocab_size": str(summary["vocab_size"])}
    for item in args.set:
        name, _, value = item.partition("=")
        hp[name] = value
    paths = {s: os.path.join(data, f"{s}.jsonl")
             for s in ("train", "validation", "test")}
    result = train(paths["train"], hp, validation=paths["validation"],
                   test=paths["test"], auxiliary=data, seed=args.seed,
                   model_dir=os.path.join(args.work_dir, "model"),
                   verbose=args.verbose)
    model = result.model
    rows, gold = read_split(paths["test"])
    in0, in1 = padded([r["in0"] for r in rows]), padded([r["in1"] for r in
                                                         rows])
    scores = model.predict({"in0": in0, "in1": in1}, verbose=0)[:, 0]
    e0 = np.asarray(model.encoder0(in0, training=False))
    e1 = np.asarray(model.encoder0(in1, training=False))
    cosine = np.sum(e0 * e1, 1) / (np.linalg.norm(e0, axis=1)
                                   * np.linalg.norm(e1, axis=1) + 1e-12)
    figures = {
        "pair_score_pearson": pearson(scores, gold),
        "pair_score_spearman": spearman(scores, gold),
        "embedding_cosine_pearson": pearson(cosine, gold),
        "embedding_cosine_spearman": spearman(cosine, gold),
        "best_epoch": result.metrics["best_epoch"],
        "seconds": time.perf_counter() - start,
    }
    print(f"sts-test (n={len(gold)}): pair score Pearson "
          f"{figures['pair_score_pearson']:.4f} / Spearman "
          f"{figures['pair_score_spearman']:.4f}; embedding cosine Pearson "
          f"{figures['embedding_cosine_pearson']:.4f} / Spearman "
          f"{figures['embedding_cosine_spearman']:.4f}  (InferSent Pearson "
          f"{INFERSENT_PEARSON}; goal >= 0.70)  "
          f"{figures['seconds']:.0f} s")
    print(json.dumps({"example": "stsb", **figures}))


if __name__ == "__main__":
    main()
