"""SICK (SemEval-2014 splits) with keras_o2v: relatedness and entailment.

Two models on `../shared/data/sick/semeval2014_splits` (train 4500, trial
500 as validation, test 4927), frozen GloVe 6B 50d in the auxiliary channel:

* SICK-R: the relatedness score (1-5) rounded to 5 classes, softmax; the
  pair score is the expected relatedness sum_k k * p(k); test Pearson.
* SICK-E: 3-class entailment (NEUTRAL / ENTAILMENT / CONTRADICTION); test
  accuracy.

Both use the encoder of `examples/stsb.py`: one tower for both sentences,
a per-token ReLU layer max-pooled.

    python examples/sick.py --data-dir ../shared/data [--task both]

`--set NAME=VALUE` overrides a hyperparameter (`--set epochs=1` for a quick
run). Results and ablations: examples/README.md. Baselines (InferSent,
transfer from SNLI with GloVe 840B 300d): SICK-R Pearson 0.884, SICK-E
accuracy 86.1.
"""

import argparse
import json
import os
import time

import numpy as np

import keras_o2v
from keras_o2v.data.prepare import prepare
from keras_o2v.datasets import default_data_dir
from keras_o2v.datasets import glove_file
from keras_o2v.datasets import text_pairs
from keras_o2v.hyperparameters import parse_overrides
from keras_o2v.training import train

# Frozen GloVe 50d in one table for both sides; one `hcnn` tower of one
# width-1 layer (`enc_dim` 300, max-pooled) for both sentences
# (`tied_encoder_weights`); InferSent's features (u*v, |u-v|); a softmax
# over the 5 rounded relatedness scores 1..5.
RELATEDNESS = {
    "enc0_network": "hcnn",
    "enc0_max_seq_len": "64",
    "enc0_token_embedding_dim": "50",
    "enc0_vocab_file": "vocab.json",
    "enc0_pretrained_embedding_file": "embeddings.txt",
    "enc0_freeze_pretrained_embedding": "True",
    "tied_token_embedding_weight": "True",
    "enc_dim": "300",
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
    "enc0_layers": "1",
    "enc0_cnn_filter_width": "1",
    "tied_encoder_weights": "True",
    "output_layer": "softmax",
    "num_classes": "5",
}
CLASSES = np.arange(1, 6)  # class k is relatedness k + 1
# Entailment is not symmetric: `concat` keeps which sentence is which.
ENTAILMENT = {**RELATEDNESS, "num_classes": "3",
              "comparator_list": "hadamard, abs_diff, concat",
              "mlp_dim": "256"}


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=default_data_dir(),
                   help="folder of the shared data sets (default "
                        "../shared/data)")
    p.add_argument("--work-dir", default=None,
                   help="outputs, one folder per task (default runs/sick)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[],
                   metavar="NAME=VALUE", help="override a hyperparameter")
    p.add_argument("--verbose", type=int, default=2)
    p.add_argument("--task", choices=("relatedness", "entailment", "both"),
                   default="both")
    return p


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


def to_class(score):
    """The nearest relatedness 1..5 (halves rounded up), minus 1."""
    return int(score + 0.5) - 1


def write_classes(path):
    """Writes `SPLIT.classes.jsonl` beside `path`, labels `to_class`-ed."""
    out_path = path[:-len(".jsonl")] + ".classes.jsonl"
    with open(path) as f, open(out_path, "w") as out:
        for line in f:
            row = json.loads(line)
            out.write(json.dumps({**row, "label": to_class(row["label"])})
                      + "\n")
    return out_path


def prepare_and_train(args, sick, hyperparameters, work, classes=False):
    """Prepares `sick` (a `TextPairs`) in WORK/data and trains on it.

    With `classes`, the model trains on `to_class` of the relatedness; the
    prepared files keep the scores. Returns the model, the gold test labels
    and the seconds taken.
    """
    start = time.perf_counter()
    data = os.path.join(work, "data")
    summary = prepare(
        sick.paths["train"], data, sick.text0, sick.text1, sick.label,
        validation=sick.paths["trial"], test=sick.paths["test"],
        embeddings=glove_file(args.data_dir), delimiter=sick.delimiter,
        label_map=sick.label_map, extend_with_embeddings=True)
    size = str(summary["vocab_size"])
    hp = {**hyperparameters, "enc0_vocab_size": size, "enc1_vocab_size": size}
    hp.update(parse_overrides(args.set))
    paths = {s: os.path.join(data, f"{s}.jsonl")
             for s in ("train", "validation", "test")}
    if classes:
        paths = {s: write_classes(path) for s, path in paths.items()}
    result = train(paths["train"], hp, validation=paths["validation"],
                   test=paths["test"], auxiliary=data, seed=args.seed,
                   model_dir=os.path.join(work, "model"),
                   verbose=args.verbose)
    with open(os.path.join(data, "test.jsonl")) as f:
        test = [json.loads(line) for line in f]
    predictions = keras_o2v.predict(result.model, test)
    gold = np.array([r["label"] for r in test], np.float64)
    return predictions, gold, round(time.perf_counter() - start, 1)


def main():
    p = parser()
    args = p.parse_args()
    try:
        relatedness = text_pairs.sick(args.data_dir, "relatedness_score")
        entailment = text_pairs.sick(args.data_dir, "entailment_judgment")
        glove_file(args.data_dir)
    except FileNotFoundError as e:
        p.error(str(e))
    work = args.work_dir or os.path.join("runs", "sick")
    summary = {}
    if args.task in ("relatedness", "both"):
        predictions, gold, seconds = prepare_and_train(
            args, relatedness, RELATEDNESS, os.path.join(work, "relatedness"),
            classes=True)
        scores = predictions @ CLASSES  # the expected relatedness
        r = pearson(scores, gold)
        summary.update(relatedness_pearson=r,
                       relatedness_spearman=pearson(rankdata(scores),
                                                    rankdata(gold)),
                       relatedness_seconds=seconds)
        print(f"SICK-R test (n={len(gold)}): Pearson {r:.4f}  "
              f"(InferSent 0.884)  {seconds:.0f} s")
    if args.task in ("entailment", "both"):
        predictions, gold, seconds = prepare_and_train(
            args, entailment, ENTAILMENT, os.path.join(work, "entailment"))
        accuracy = float(np.mean(predictions.argmax(1) == gold))
        summary.update(entailment_accuracy=accuracy,
                       entailment_seconds=seconds)
        print(f"SICK-E test (n={len(gold)}): accuracy {accuracy:.4f}  "
              f"(InferSent 0.861)  {seconds:.0f} s")
    print(json.dumps({"example": "sick", **summary}))


if __name__ == "__main__":
    main()
