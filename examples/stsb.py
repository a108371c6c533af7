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

    python examples/stsb.py --data-dir ../shared/data

`--set NAME=VALUE` overrides a hyperparameter (`--set epochs=1` for a quick
run). `--config sagemaker` trains SageMaker-style instead: two `bilstm`
towers with SageMaker's defaults (see `SAGEMAKER_HYPERPARAMETERS`);
`--seeds 0 1 2` trains once per seed and reports the mean and spread.
Results and ablations: examples/README.md. Baseline: InferSent
(trained on SNLI, GloVe 840B 300d) reaches STS-B test Pearson 75.8.
"""

import argparse
import json
import os
import time

import keras
import numpy as np

import keras_o2v
from keras_o2v.data.prepare import prepare
from keras_o2v.data.prepare import to_ids
from keras_o2v.datasets import default_data_dir
from keras_o2v.datasets import glove_file
from keras_o2v.datasets import text_pairs
from keras_o2v.hyperparameters import parse_overrides
from keras_o2v.retrieval import build_retrieval_model
from keras_o2v.retrieval import retrieval_dataset
from keras_o2v.training import train
from keras_o2v.training.pretrained import load_pretrained_embeddings

# The pair model. Frozen GloVe 50d (`vocab.json` and `embeddings.txt` of the
# auxiliary channel), one table for both sides. One encoder for both
# sentences (`tied_encoder_weights`, a keras_o2v extension: SageMaker keeps
# two towers): an `hcnn` of one layer of width 1, i.e. a per-token ReLU
# layer of `enc_dim` 300 max-pooled over the sentence (InferSent's max
# pooling, without a recurrent layer). InferSent's features (u*v, |u-v|),
# then a softmax over the 6 rounded scores 0..5.
HYPERPARAMETERS = {
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
    "num_classes": "6",
}
# SageMaker-style: two towers (`enc1_network` "enc0" copies enc0's
# settings, weights apart) of one `bilstm` layer (`encX_layers` auto), each
# with its own table of frozen GloVe 50d, and SageMaker's defaults for the
# rest: all three comparators, 2 linear MLP layers of 512, adam at 0.0004,
# batches of 32, patience 3 at tolerance 0.01. Apart from the defaults:
# `enc_dim` 300 (4096 is hours on CPU) and the same 6-class softmax.
SAGEMAKER_HYPERPARAMETERS = {
    "enc0_network": "bilstm",
    "enc1_network": "enc0",
    "enc0_max_seq_len": "64",
    "enc0_token_embedding_dim": "50",
    "enc0_vocab_file": "vocab.json",
    "enc0_pretrained_embedding_file": "embeddings.txt",
    "enc0_freeze_pretrained_embedding": "True",
    "enc_dim": "300",
    "optimizer": "adam",
    "learning_rate": "0.0004",
    "mini_batch_size": "32",
    "epochs": "30",
    "early_stopping_patience": "3",
    "output_layer": "softmax",
    "num_classes": "6",
}
CONFIGS = {"recipe": HYPERPARAMETERS, "sagemaker": SAGEMAKER_HYPERPARAMETERS}
GOALS = {"recipe": 0.70, "sagemaker": 0.65}  # pair score Pearson
CLASSES = np.arange(6)
INFERSENT_PEARSON = 0.758
PARAPHRASE_SCORE = 4.0  # sts-train pairs this similar are positives too


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=default_data_dir(),
                   help="folder of the shared data sets (default "
                        "../shared/data)")
    p.add_argument("--work-dir", default=None,
                   help="outputs: prepared data in WORK_DIR/data, the model "
                        "in WORK_DIR/model (default runs/stsb)")
    p.add_argument("--config", choices=sorted(CONFIGS), default="recipe",
                   help="recipe: one tied hcnn tower (default); sagemaker: "
                        "two bilstm towers with SageMaker's defaults")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="train the pair model once per seed and report "
                        "the mean and spread (default: --seed only)")
    p.add_argument("--set", action="append", default=[],
                   metavar="NAME=VALUE", help="override a hyperparameter")
    p.add_argument("--verbose", type=int, default=2)
    p.add_argument("--embedding-epochs", type=int, default=6,
                   help="epochs of the cosine embedding model (c); 0 "
                        "skips it (default 6)")
    return p


# === Metrics ===


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


def sentence_cosine(model, rows):
    """Cosine of each row's `in0` and `in1` embeddings, both by encoder 0."""
    u = keras_o2v.embed(model, [r["in0"] for r in rows], "in0")
    v = keras_o2v.embed(model, [r["in1"] for r in rows], "in0")
    return np.sum(u * v, 1) / (np.linalg.norm(u, axis=1)
                               * np.linalg.norm(v, axis=1) + 1e-12)


# === Step 1: prepare the data ===


def prepare_stsb(data_dir, data):
    """STS-B as JSON Lines, `vocab.json` and GloVe rows in `data`.

    The prepared splits keep the gold scores; the model trains on classes
    (`write_classes`). Returns the vocab size.
    """
    sts = text_pairs.stsb(data_dir)
    summary = prepare(
        sts.paths["train"], data, sts.text0, sts.text1, sts.label,
        validation=sts.paths["dev"], test=sts.paths["test"],
        embeddings=glove_file(data_dir), delimiter=sts.delimiter,
        extend_with_embeddings=True)
    return summary["vocab_size"]


def to_class(score):
    """The nearest class, halves rounded up (2.5 -> 3)."""
    return int(score + 0.5)


def write_classes(path):
    """Writes `SPLIT.classes.jsonl` beside `path`, labels `to_class`-ed."""
    out_path = path[:-len(".jsonl")] + ".classes.jsonl"
    with open(path) as f, open(out_path, "w") as out:
        for line in f:
            row = json.loads(line)
            out.write(json.dumps({**row, "label": to_class(row["label"])})
                      + "\n")
    return out_path


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


# === Step 2: the pair model ===


def train_pair_model(args, data, vocab_size, model_dir, seed):
    """Trains on the class-labelled splits; returns `train`'s result."""
    hp = {**CONFIGS[args.config], "enc0_vocab_size": str(vocab_size),
          "enc1_vocab_size": str(vocab_size)}
    hp.update(parse_overrides(args.set))
    paths = {split: write_classes(os.path.join(data, f"{split}.jsonl"))
             for split in ("train", "validation", "test")}
    return train(paths["train"], hp, validation=paths["validation"],
                 test=paths["test"], auxiliary=data, seed=seed,
                 model_dir=model_dir, verbose=args.verbose)


# === Step 3: an embedding model trained for the cosine ===


def positive_pairs(data_dir, prepared, words, max_len):
    """Padded (in0, in1) ids of the embedding model's positive pairs.

    Entailment pairs of the NLI files and sts-train pairs scored at least
    `PARAPHRASE_SCORE`, each in both orders (the loss ranks `in1` for `in0`
    only).
    """
    premises, hypotheses = text_pairs.entailment_pairs(data_dir)
    in0, in1 = to_ids(premises, words), to_ids(hypotheses, words)
    for row in read_jsonl(os.path.join(prepared, "train.jsonl")):
        if row["label"] >= PARAPHRASE_SCORE:
            in0.append(row["in0"])
            in1.append(row["in1"])
    # An empty sentence becomes one <unk> (id 1): pooling needs a token.
    pad = [keras.utils.pad_sequences([ids[:max_len] or [1] for ids in side],
                                     padding="post")
           for side in (in0 + in1, in1 + in0)]
    return pad[0], pad[1]


def train_embedding_model(args, prepared, epochs):
    """The tower trained for cosine: in-batch softmax on positive pairs.

    Same hyperparameters (`--config`, frozen GloVe) as the pair model,
    trained as `keras_o2v.retrieval` trains two towers: each pair's
    `in1` against the batch's other `in1` by cosine / 0.05.
    """
    with open(os.path.join(prepared, "vocab.json")) as f:
        vocab = json.load(f)
    words = sorted(vocab, key=vocab.get)
    hp = {**CONFIGS[args.config], "enc0_vocab_size": str(len(vocab)),
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
    p = parser()
    args = p.parse_args()
    try:  # every file, before minutes of work
        text_pairs.stsb(args.data_dir)
        glove_file(args.data_dir)
        if args.embedding_epochs:
            text_pairs.snli(args.data_dir)
            text_pairs.multinli(args.data_dir)
    except FileNotFoundError as e:
        p.error(str(e))
    start = time.perf_counter()
    work = args.work_dir or os.path.join("runs", "stsb")
    data = os.path.join(work, "data")

    vocab_size = prepare_stsb(args.data_dir, data)
    test = read_jsonl(os.path.join(data, "test.jsonl"))  # gold scores
    gold = np.array([r["label"] for r in test], np.float64)
    seeds = args.seeds or [args.seed]
    runs = []
    for seed in seeds:
        model_dir = os.path.join(
            work, "model" if len(seeds) == 1 else f"model_seed{seed}")
        result = train_pair_model(args, data, vocab_size, model_dir, seed)
        scores = keras_o2v.predict(result.model, test) @ CLASSES
        cosine = sentence_cosine(result.model, test)
        runs.append({
            "seed": seed, "best_epoch": result.metrics["best_epoch"],
            "pair_score_pearson": pearson(scores, gold),
            "pair_score_spearman": spearman(scores, gold),
            "embedding_cosine_pearson": pearson(cosine, gold),
            "embedding_cosine_spearman": spearman(cosine, gold)})
        if len(seeds) > 1:
            print(f"seed {seed}: pair score Pearson "
                  f"{runs[-1]['pair_score_pearson']:.4f}; embedding cosine "
                  f"Pearson {runs[-1]['embedding_cosine_pearson']:.4f}")
    # One seed: its figures; several: their means, and each run.
    figures = {
        "config": args.config, "test_pairs": len(test),
        "best_epoch": runs[0]["best_epoch"],
        "seconds": round(time.perf_counter() - start, 1),
        **{key: float(np.mean([run[key] for run in runs]))
           for key in runs[0] if key.endswith(("pearson", "spearman"))}}
    if len(seeds) > 1:
        pair = [run["pair_score_pearson"] for run in runs]
        figures.update(pair_score_pearson_std=float(np.std(pair)),
                       runs=runs)
        print(f"{args.config}, seeds {seeds}: pair score Pearson mean "
              f"{np.mean(pair):.4f}, std {np.std(pair):.4f}, range "
              f"{min(pair):.4f}-{max(pair):.4f}")
    mean_of = f", mean of {len(seeds)} seeds" if len(seeds) > 1 else ""
    print(f"sts-test (n={len(gold)}{mean_of}): pair score Pearson "
          f"{figures['pair_score_pearson']:.4f} / Spearman "
          f"{figures['pair_score_spearman']:.4f}; embedding cosine Pearson "
          f"{figures['embedding_cosine_pearson']:.4f} / Spearman "
          f"{figures['embedding_cosine_spearman']:.4f}  (InferSent Pearson "
          f"{INFERSENT_PEARSON}; goal >= {GOALS[args.config]:.2f})  "
          f"{figures['seconds']:.0f} s")

    if args.embedding_epochs:
        start = time.perf_counter()
        model, pairs = train_embedding_model(args, data,
                                             args.embedding_epochs)
        cosine = sentence_cosine(model, test)
        figures.update(
            embedding_model_cosine_pearson=pearson(cosine, gold),
            embedding_model_cosine_spearman=spearman(cosine, gold),
            embedding_model_pairs=pairs,
            embedding_model_seconds=round(time.perf_counter() - start, 1))
        print(f"sts-test: cosine of the embedding model (in-batch softmax "
              f"on {pairs} NLI entailment and sts-train pairs) Pearson "
              f"{figures['embedding_model_cosine_pearson']:.4f} / Spearman "
              f"{figures['embedding_model_cosine_spearman']:.4f}  "
              f"{figures['embedding_model_seconds']:.0f} s")
    print(json.dumps({"example": "stsb", **figures}))


if __name__ == "__main__":
    main()
