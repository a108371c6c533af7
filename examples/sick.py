"""SICK (SemEval-2014 splits) with keras_o2v: relatedness and entailment.

Two models on `../shared/data/sick/semeval2014_splits` (train 4500, trial
500 as validation, test 4927), frozen GloVe 6B 50d in the auxiliary channel:

* SICK-R: the relatedness score (1-5) rounded to 5 classes, softmax; the
  pair score is the expected relatedness sum_k k * p(k); test Pearson.
* SICK-E: 3-class entailment (NEUTRAL / ENTAILMENT / CONTRADICTION); test
  accuracy.

Both use `examples/stsb.py`'s encoder (`text_pairs.SIAMESE_HCNN`: one tower
for both sentences, a per-token ReLU layer max-pooled). Measured at seed 0:
SICK-R Pearson 0.829 (mean pooling with regression: 0.736), SICK-E accuracy
0.820 (mean pooling: 0.751).

Baselines (InferSent, transfer from SNLI with GloVe 840B 300d): SICK-R
Pearson 0.884, SICK-E accuracy 86.1 (`../shared/data/README.md`).

    python examples/sick.py --data-dir ../shared/data [--task both]
"""

import json
import os

import numpy as np

import text_pairs

FILES = {"train": "sick/semeval2014_splits/SICK_train.txt",
         "validation": "sick/semeval2014_splits/SICK_trial.txt",
         "test": "sick/semeval2014_splits/SICK_test_annotated.txt"}
LABELS = {"NEUTRAL": 0, "ENTAILMENT": 1, "CONTRADICTION": 2}
RELATEDNESS = {**text_pairs.BASE, **text_pairs.SIAMESE_HCNN,
               "output_layer": "softmax", "num_classes": "5"}
CLASSES = np.arange(1, 6)  # class k is relatedness k + 1
ENTAILMENT = {**text_pairs.BASE, **text_pairs.SIAMESE_HCNN,
              "output_layer": "softmax",
              "num_classes": "3", "comparator_list": "hadamard, abs_diff, "
                                                     "concat",
              "mlp_dim": "256"}


def to_class(score):
    """The nearest relatedness 1..5 (halves rounded up), minus 1."""
    return int(score + 0.5) - 1


def main():
    parser = text_pairs.parser(__doc__.split("\n")[0])
    parser.add_argument("--task", choices=("relatedness", "entailment",
                                           "both"), default="both")
    args = parser.parse_args()
    text_pairs.check_data(parser, args, *FILES.values())
    work = args.work_dir or os.path.join("runs", "sick")
    summary = {}
    if args.task in ("relatedness", "both"):
        args.work_dir = os.path.join(work, "relatedness")
        figures, gold, out = text_pairs.run(
            args, FILES, ("sentence_A", "sentence_B", "relatedness_score"),
            RELATEDNESS, task="sick-r", to_class=to_class)
        scores = out["predictions"] @ CLASSES
        pearson = text_pairs.pearson(scores, gold)
        summary.update(relatedness_pearson=pearson,
                       relatedness_spearman=text_pairs.spearman(scores, gold),
                       relatedness_seconds=figures["seconds"])
        print(f"SICK-R test (n={len(gold)}): Pearson {pearson:.4f}  "
              f"(InferSent 0.884)  {figures['seconds']:.0f} s")
    if args.task in ("entailment", "both"):
        args.work_dir = os.path.join(work, "entailment")
        figures, gold, out = text_pairs.run(
            args, FILES, ("sentence_A", "sentence_B", "entailment_judgment"),
            ENTAILMENT, label_map=LABELS, task="sick-e")
        accuracy = float(np.mean(out["predictions"].argmax(1) == gold))
        summary.update(entailment_accuracy=accuracy,
                       entailment_seconds=figures["seconds"])
        print(f"SICK-E test (n={len(gold)}): accuracy {accuracy:.4f}  "
              f"(InferSent 0.861)  {figures['seconds']:.0f} s")
    print(json.dumps({"example": "sick", **summary}))


if __name__ == "__main__":
    main()
