"""Shared steps of the sentence-pair examples (STS-B, SICK, SNLI).

Each example prepares its files with `keras_o2v.data.prepare` (GloVe 6B 50d
from `../shared/data/glove`, trimmed to the vocab, in the auxiliary channel),
trains with `keras_o2v.training.train`, and scores the test split here.
"""

import argparse
import json
import os
import time

import numpy as np

from keras_o2v.data.prepare import prepare
from keras_o2v.training import train
from movielens import default_data_dir

GLOVE = os.path.join("glove", "glove.6B.50d.top100k.txt")

# Frozen GloVe, one tied table, InferSent-style features (u*v, |u-v|).
BASE = {
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
    "optimizer": "adam",
    "learning_rate": "0.001",
    "mini_batch_size": "32",
    "epochs": "30",
    "early_stopping_patience": "3",
    "early_stopping_tolerance": "0.001",
}

# One tower for both sentences (a keras_o2v extension), a per-token ReLU
# layer max-pooled over the sentence; beats mean pooling on STS-B by 0.10.
SIAMESE_HCNN = {
    "enc0_network": "hcnn",
    "enc0_layers": "1",
    "enc0_cnn_filter_width": "1",
    "enc_dim": "300",
    "tied_encoder_weights": "True",
}


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-dir", default=default_data_dir(),
                   help="folder of the shared data sets (default "
                        "../shared/data)")
    p.add_argument("--work-dir", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[],
                   metavar="NAME=VALUE", help="override a hyperparameter")
    p.add_argument("--verbose", type=int, default=2)
    return p


def check_data(p, args, *paths):
    missing = [x for x in paths + (GLOVE,)
               if not os.path.exists(os.path.join(args.data_dir, x))]
    if missing:
        p.error(f"missing under --data-dir {args.data_dir!r}: {missing}")


def rankdata(x):
    """Ranks with ties averaged (as scipy.stats.rankdata)."""
    x = np.asarray(x)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, weights=ranks) / counts)[inverse]


def pearson(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def spearman(a, b):
    return pearson(rankdata(a), rankdata(b))


def cosine_rows(a, b):
    """Cosine similarity of each row of `a` with the same row of `b`."""
    a, b = np.asarray(a), np.asarray(b)
    return np.sum(a * b, 1) / (np.linalg.norm(a, axis=1)
                               * np.linalg.norm(b, axis=1) + 1e-12)


def padded(lists):
    out = np.zeros((len(lists), max(map(len, lists))), np.int32)
    for i, ids in enumerate(lists):
        out[i, :len(ids)] = ids
    return out


def work_dir(args, task):
    """`--work-dir`, else runs/TASK; prepared files go to its `data`."""
    return args.work_dir or os.path.join("runs", task)


def class_path(path):
    """Where `run(..., to_class=...)` writes `path` with class labels."""
    return path[:-len(".jsonl")] + ".classes.jsonl"


def write_classes(path, to_class):
    """Writes `path` with each label mapped by `to_class` (`class_path`)."""
    with open(path) as f, open(class_path(path), "w") as out:
        for line in f:
            row = json.loads(line)
            out.write(json.dumps({**row, "label": to_class(row["label"])})
                      + "\n")
    return class_path(path)


def run(args, files, columns, hyperparameters, label_map=None,
        delimiter=None, task="task", to_class=None):
    """Prepares, trains, and returns (figures, test labels, outputs).

    `to_class`, if given, maps each prepared (numeric) label to the class
    the model is trained on (`SPLIT.classes.jsonl` beside the prepared
    files, which keep the original labels, as do the returned test labels). `outputs` holds the model's test predictions (`"predictions"`) and
    the cosine similarity of the two sentences' encoder-0 embeddings
    (`"cosine"`).
    """
    start = time.perf_counter()
    work = work_dir(args, task)
    data = os.path.join(work, "data")
    summary = prepare(
        os.path.join(args.data_dir, files["train"]), data, *columns,
        validation=os.path.join(args.data_dir, files["validation"]),
        test=os.path.join(args.data_dir, files["test"]),
        embeddings=os.path.join(args.data_dir, GLOVE), delimiter=delimiter,
        label_map=label_map, extend_with_embeddings=True)
    size = str(summary["vocab_size"])
    hp = {**hyperparameters, "enc0_vocab_size": size, "enc1_vocab_size": size}
    for item in args.set:
        name, _, value = item.partition("=")
        hp[name] = value
    paths = {s: os.path.join(data, f"{s}.jsonl")
             for s in ("train", "validation", "test")}
    if to_class:
        paths = {s: write_classes(p, to_class) for s, p in paths.items()}
    result = train(paths["train"], hp, validation=paths["validation"],
                   test=paths["test"], auxiliary=data, seed=args.seed,
                   model_dir=os.path.join(work, "model"),
                   verbose=args.verbose)
    rows = [json.loads(line) for line in open(os.path.join(data,
                                                           "test.jsonl"))]
    gold = np.array([r["label"] for r in rows], np.float64)
    in0 = padded([r["in0"] for r in rows])
    in1 = padded([r["in1"] for r in rows])
    model = result.model
    predictions = model.predict({"in0": in0, "in1": in1}, verbose=0)
    cosine = cosine_rows(model.encoder0(in0, training=False),
                         model.encoder0(in1, training=False))
    figures = {"test_pairs": len(rows),
               "best_epoch": result.metrics["best_epoch"],
               "metrics": result.metrics,
               "seconds": round(time.perf_counter() - start, 1)}
    return figures, gold, {"predictions": predictions, "cosine": cosine}
