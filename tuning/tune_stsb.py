"""Tuned STS Benchmark: sentence-pair similarity with GloVe.

Searches over a prepared STS-B directory (JSON Lines channels, `vocab.json`,
trimmed GloVe `embeddings.txt`, `prepare.json`), as `examples/stsb.py`
writes it with `keras_o2v.data.prepare` (text preparation is that example's
job, not this script's), with the `SPLIT.classes.jsonl` copies the example
trains on (each score rounded to one of 6 classes). The default
configuration is the example's HYPERPARAMETERS; the search tunes the ranges
below, including the encoder network (pooled embeddings or the hierarchical
CNN, whose knobs are conditional on it). Prints the best validation
cross-entropy beside the default configuration's, with sts-test Pearson of
the pair score (the expected class) for both:

    python examples/stsb.py --data-dir ../shared/data --work-dir runs/stsb
    python tuning/tune_stsb.py --prepared runs/stsb/data

An interrupted run resumes (`--overwrite` starts afresh); the default
configuration's figures are cached in the work directory.
"""

import argparse
import hashlib
import json
import logging
import os
import sys
import time

import keras
import numpy as np

from keras_o2v.inference import predict
from keras_o2v.training import train
from keras_o2v.atomic import write_json_atomic
from keras_o2v.tuning import run_search

from example_configs import load_example  # tuning/example_configs.py

stsb = load_example("stsb")

SEARCH = {
    "objective": "validation:cross_entropy",
    # The hcnn knobs are tuned only in trials that pick hcnn.
    "tune": ["enc0_layers", "enc0_cnn_filter_width"],
    "ranges": {
        "enc0_network": ["pooled_embedding", "hcnn"],
        "enc_dim": (32, 512),
        "dropout": (0.0, 0.5),
        "optimizer": ["adam", "rmsprop", "adagrad"],
        "learning_rate": (1e-4, 1e-2),
        "mini_batch_size": (16, 256),
        "mlp_layers": (1, 3),
        "mlp_dim": (32, 512),
        "mlp_activation": ["tanh", "relu"],
        "comparator_list": ["hadamard, abs_diff",
                            "hadamard, concat, abs_diff"],
    },
}
FILES = ("train.classes.jsonl", "validation.classes.jsonl", "test.jsonl",
         "prepare.json")


def test_pearson(model, path):
    """Pearson of the model's pair scores with the gold sts-test scores."""
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    pairs = [{"in0": r["in0"], "in1": r["in1"]} for r in rows]
    scores = predict(model, pairs) @ stsb.CLASSES
    return float(np.corrcoef(scores, [r["label"] for r in rows])[0, 1])


def default_figures(paths, hyperparameters, auxiliary, seed, work_dir):
    """Validation cross-entropy and test Pearson of the default config."""
    key = hashlib.sha256(json.dumps([hyperparameters, paths, seed],
                                    sort_keys=True).encode()).hexdigest()
    cache = os.path.join(work_dir, f"default-{key[:12]}.json")
    if os.path.exists(cache):
        with open(cache) as f:
            return json.load(f)
    result = train(paths["train"], hyperparameters,
                   validation=paths["validation"], auxiliary=auxiliary,
                   seed=seed, verbose=0)
    figures = {SEARCH["objective"]: result.metrics[SEARCH["objective"]],
               "test_pearson": test_pearson(result.model, paths["test"])}
    os.makedirs(work_dir, exist_ok=True)
    write_json_atomic(cache, figures)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prepared", default=os.path.join("runs", "stsb",
                                                           "data"),
                        help="prepared STS-B directory (examples/stsb.py "
                             "writes WORK_DIR/data)")
    parser.add_argument("--work-dir", default=os.path.join("runs", "tuning",
                                                           "stsb"))
    parser.add_argument("--tuner", default="bayesian",
                        choices=("random", "bayesian", "hyperband"))
    parser.add_argument("--max-trials", type=int, default=12)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    missing = [f for f in FILES
               if not os.path.exists(os.path.join(args.prepared, f))]
    if missing:
        parser.error(f"{args.prepared!r} lacks {missing}: prepare STS-B "
                     "first, e.g. python examples/stsb.py --data-dir "
                     "../shared/data --work-dir runs/stsb")
    with open(os.path.join(args.prepared, "prepare.json")) as f:
        vocab_size = str(json.load(f)["vocab_size"])
    base = {**stsb.HYPERPARAMETERS, "enc0_vocab_size": vocab_size,
            "enc1_vocab_size": vocab_size}
    paths = {split: os.path.join(args.prepared, f"{split}.classes.jsonl")
             for split in ("train", "validation")}
    paths["test"] = os.path.join(args.prepared, "test.jsonl")  # gold scores

    print("default configuration: training", flush=True)
    default = default_figures(paths, base, args.prepared, args.seed,
                              args.work_dir)
    start = time.perf_counter()
    search_dir = os.path.join(args.work_dir, "search")
    result = run_search(
        paths["train"], base, validation=paths["validation"],
        tuning_dir=search_dir,
        objective=SEARCH["objective"], tuner=args.tuner,
        max_trials=args.max_trials, tune=SEARCH["tune"],
        ranges=SEARCH["ranges"], auxiliary=args.prepared,
        overwrite=args.overwrite, seed=args.seed)
    seconds = time.perf_counter() - start
    best_model = keras.models.load_model(
        os.path.join(search_dir, "best_model", "model.keras"))
    best_pearson = test_pearson(best_model, paths["test"])

    objective = SEARCH["objective"]
    print()
    print(f"{'':<24}{objective:>32}{'sts-test Pearson':>20}")
    print(f"{'default configuration':<24}{default[objective]:>32.4f}"
          f"{default['test_pearson']:>20.4f}")
    print(f"{'best of ' + str(len(result.leaderboard)) + ' trials':<24}"
          f"{result.best_score:>32.4f}{best_pearson:>20.4f}")
    print(f"anchor: InferSent sts-test Pearson {stsb.INFERSENT_PEARSON}")
    print(f"search: {len(result.leaderboard)} trials in {search_dir}, "
          f"{seconds / 60:.1f} min this run")


if __name__ == "__main__":
    # The search's progress and leaderboard are log messages.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
