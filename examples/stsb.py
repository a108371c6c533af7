"""STS Benchmark with keras_o2v: sentence-pair similarity from GloVe.

Prepares `../shared/data/stsb` with `keras_o2v.data.prepare` (vocab from
sts-train, plus dev/test words that have a GloVe vector, as SageMaker's
sentence-similarity notebook combines vocabularies; GloVe 6B 50d trimmed to
the vocab for the auxiliary channel), trains a pair model on sts-train (early
stopping on sts-dev), then reports on sts-test Pearson and Spearman of

(a) the model's pair score: the expected similarity sum_k k * p(k) under its
    softmax over the 6 classes 0..5 (each gold score rounded to a class for
    training; Tai et al. 2015 predict STS scores the same way), and
(b) the cosine similarity of the two sentences' encoder-0 embeddings
    (embedding mode: each sentence sent alone as `in0`), and
(c) the same cosine for an embedding model trained for it (skip with
    `--embedding-epochs 0`): the same tower, trained with
    `keras_o2v.retrieval`'s in-batch softmax over cosine similarities on
    positive pairs only: the entailment pairs of SNLI dev/test and MultiNLI
    dev (InferSent's transfer data, what is here of it) and the sts-train
    pairs scored >= 4. The pair model's cosine (b) is a by-product of a
    comparator that never computes a cosine; this one is trained for it.

The model: frozen GloVe, one encoder for both sentences
(`tied_encoder_weights`, a keras_o2v extension: SageMaker keeps two towers),
an `hcnn` of one layer of width 1 (a per-token ReLU layer of `enc_dim` 300,
max-pooled over the sentence: InferSent's max pooling, without a recurrent
layer), and InferSent's features (u*v, |u-v|). Measured on sts-test pair
score Pearson, seed 0: mean pooling (regression on the 0-5 score) 0.62;
this encoder as two towers 0.48, as one tower 0.65 with a projection after
the pooling and 0.70 without; 0.72 with the 6-class softmax.

Baseline: InferSent (trained on SNLI, GloVe 840B 300d) reaches STS-B test
Pearson 75.8 (`../shared/data/README.md`).

    python examples/stsb.py --data-dir ../shared/data
"""

import json
import os
import time

import keras
import numpy as np
import text_pairs

from keras_o2v.data.prepare import to_ids
from keras_o2v.retrieval import build_retrieval_model
from keras_o2v.retrieval import retrieval_dataset
from keras_o2v.training.pretrained import load_pretrained_embeddings

HYPERPARAMETERS = {
    **text_pairs.BASE,
    **text_pairs.SIAMESE_HCNN,
    "output_layer": "softmax",
    "num_classes": "6",
}
CLASSES = np.arange(6)


INFERSENT_PEARSON = 0.758
# Entailment pairs (premise, hypothesis) for the embedding model: SNLI dev and
# test and MultiNLI dev-matched, the only NLI data here.
NLI = (("snli/snli_1.0_dev_gold.jsonl", "sentence1", "sentence2",
        "gold_label"),
       ("snli/snli_1.0_test_gold.jsonl", "sentence1", "sentence2",
        "gold_label"),
       ("multinli/multinli_1.0_dev_matched_gold.jsonl", "premise",
        "hypothesis", "label"))
PARAPHRASE_SCORE = 4.0  # sts-train pairs this similar are positives too


def to_class(score):
    """The nearest class, halves rounded up (2.5 -> 3)."""
    return int(score + 0.5)


def positive_pairs(data_dir, prepared, words, max_len):
    """Padded (in0, in1) ids of the embedding model's positive pairs.

    Entailment pairs of the NLI files and sts-train pairs scored at least
    `PARAPHRASE_SCORE`, each in both orders (the loss ranks `in1` for `in0`
    only).
    """
    first, second = [], []
    for path, text0, text1, label in NLI:
        with open(os.path.join(data_dir, path)) as f:
            for line in f:
                row = json.loads(line)
                if row[label] == "entailment":
                    first.append(row[text0])
                    second.append(row[text1])
    in0, in1 = to_ids(first, words), to_ids(second, words)
    with open(os.path.join(prepared, "train.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            if row["label"] >= PARAPHRASE_SCORE:
                in0.append(row["in0"])
                in1.append(row["in1"])
    pad = [text_pairs.padded([ids[:max_len] or [1] for ids in side])
           for side in (in0 + in1, in1 + in0)]
    return pad[0], pad[1]


def train_embedding_model(args, prepared, epochs):
    """The tower trained for cosine: in-batch softmax on positive pairs.

    Same hyperparameters (tied hcnn encoder, frozen GloVe) as the pair
    model, trained as `keras_o2v.retrieval` trains two towers: each pair's
    `in1` against the batch's other `in1` by cosine / 0.05.
    """
    with open(os.path.join(prepared, "vocab.json")) as f:
        vocab = json.load(f)
    words = sorted(vocab, key=vocab.get)
    hp = {**HYPERPARAMETERS, "enc0_vocab_size": str(len(vocab)),
          "enc1_vocab_size": str(len(vocab))}
    in0, in1 = positive_pairs(args.data_dir, prepared, words,
                              int(hp["enc0_max_seq_len"]))
    keras.utils.set_random_seed(args.seed)
    model = build_retrieval_model(hp, similarity="cosine", temperature=0.05)
    load_pretrained_embeddings(model, prepared, args.seed)
    model.fit(retrieval_dataset(in0, in1, 128, seed=args.seed),
              epochs=epochs, verbose=args.verbose)
    return model, len(in0)


def main():
    parser = text_pairs.parser(__doc__.split("\n")[0])
    parser.add_argument("--embedding-epochs", type=int, default=6,
                        help="epochs of the cosine embedding model (c); 0 "
                             "skips it (default 6)")
    args = parser.parse_args()
    files = {"train": "stsb/sts-train.csv", "validation": "stsb/sts-dev.csv",
             "test": "stsb/sts-test.csv"}
    nli = [path for path, *_ in NLI] if args.embedding_epochs else []
    text_pairs.check_data(parser, args, *files.values(), *nli)
    # Tab-separated, no header: sentences in fields 5 and 6, score in 4.
    figures, gold, out = text_pairs.run(args, files, (5, 6, 4),
                                        HYPERPARAMETERS, delimiter="\t",
                                        task="stsb", to_class=to_class)
    scores = out["predictions"] @ CLASSES
    figures.update(
        pair_score_pearson=text_pairs.pearson(scores, gold),
        pair_score_spearman=text_pairs.spearman(scores, gold),
        embedding_cosine_pearson=text_pairs.pearson(out["cosine"], gold),
        embedding_cosine_spearman=text_pairs.spearman(out["cosine"], gold))
    print(f"sts-test (n={len(gold)}): pair score Pearson "
          f"{figures['pair_score_pearson']:.4f} / Spearman "
          f"{figures['pair_score_spearman']:.4f}; embedding cosine Pearson "
          f"{figures['embedding_cosine_pearson']:.4f} / Spearman "
          f"{figures['embedding_cosine_spearman']:.4f}  (InferSent Pearson "
          f"{INFERSENT_PEARSON}; goal >= 0.70)  {figures['seconds']:.0f} s")
    if args.embedding_epochs:
        start = time.perf_counter()
        prepared = os.path.join(text_pairs.work_dir(args, "stsb"), "data")
        model, pairs = train_embedding_model(args, prepared,
                                             args.embedding_epochs)
        with open(os.path.join(prepared, "test.jsonl")) as f:
            rows = [json.loads(line) for line in f]
        cosine = text_pairs.cosine_rows(
            model.encoder0(text_pairs.padded([r["in0"] for r in rows])),
            model.encoder0(text_pairs.padded([r["in1"] for r in rows])))
        figures.update(
            embedding_model_cosine_pearson=text_pairs.pearson(cosine, gold),
            embedding_model_cosine_spearman=text_pairs.spearman(cosine,
                                                                 gold),
            embedding_model_pairs=pairs,
            embedding_model_seconds=round(time.perf_counter() - start, 1))
        print(f"sts-test: cosine of the embedding model (in-batch softmax "
              f"on {pairs} NLI entailment and sts-train pairs) Pearson "
              f"{figures['embedding_model_cosine_pearson']:.4f} / Spearman "
              f"{figures['embedding_model_cosine_spearman']:.4f}  "
              f"{figures['embedding_model_seconds']:.0f} s")
    figures.pop("metrics")
    print(json.dumps({"example": "stsb", **figures}))


if __name__ == "__main__":
    main()
