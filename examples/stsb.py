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

import json

import text_pairs

HYPERPARAMETERS = {**text_pairs.BASE,
                   "output_layer": "mean_squared_error"}
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
                                        task="stsb")
    scores = out["predictions"][:, 0]
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
