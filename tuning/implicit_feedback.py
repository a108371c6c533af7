"""MovieLens-100k with implicit feedback in `in0`: an experiment, not a search.

Object2Vec's pooled encoder averages the embeddings of a *list* of ids, so
the data alone can give the user side SVD++'s implicit feedback: `in0` holds
the user id followed by every movie the user rated in the base file (their
ratings are not used), and the model averages those vectors. No model code
changes: only the data conversion and `enc0_vocab_size`/`enc0_max_seq_len`
differ. This script trains one configuration (`--hyperparameters`, e.g. the
best map of `tuning/tune_movielens.py --task regression`; by default the
example's REGRESSION) on both representations, split as
`tuning/tune_movielens.py` retrains for its test figures, and prints ua.test
(and `--also-split`) RMSE side by side:

    R=runs/tuning/movielens/regression
    python tuning/implicit_feedback.py \\
        --hyperparameters $R/search-per-user/best_hyperparameters.json

It shares the work directory (and cached runs) of `tune_movielens.py`.
"""

import argparse
import collections
import json
import os
import sys

import numpy as np

from keras_o2v.hyperparameters import parse_overrides

from example_configs import load_example  # tuning/example_configs.py

import tune_movielens as tuned  # tuning/tune_movielens.py

movielens = load_example("movielens")


def write_implicit(path, ratings, rated_by):
    """JSON Lines with `in0` = the user, then the movies the user rated."""
    offset = movielens.NUM_USERS  # movie m is token NUM_USERS + m in in0
    with open(path, "w") as f:
        for user, item, rating in ratings:
            f.write(json.dumps({
                "label": int(rating),
                "in0": [int(user)] + [offset + m for m in rated_by[user]],
                "in1": [int(item)]}) + "\n")


def prepare_implicit(data_dir, out_dir, split, per_user):
    """A split of `tuning/tune_movielens.py`, with implicit feedback in `in0`.

    Returns the paths and the longest `in0`.
    """
    rows = tuned.split_ratings(data_dir, split, per_user=per_user)
    rated_by = collections.defaultdict(list)
    for user, item, _ in np.concatenate([rows["train"], rows["validation"]]):
        rated_by[user].append(int(item))  # the base file: never the test
    paths = tuned.write_split(rows, out_dir, lambda path, ratings: (
        write_implicit(path, ratings, rated_by)))
    return paths, 1 + max(len(items) for items in rated_by.values())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hyperparameters", metavar="FILE.json",
                        help="configuration to train (default: the example's "
                             "REGRESSION)")
    parser.add_argument("--data-dir", default=movielens.default_data_dir())
    parser.add_argument("--work-dir", default=os.path.join(
        "runs", "tuning", "movielens", "regression"))
    parser.add_argument("--also-split", action="append", default=[])
    parser.add_argument("--validation", choices=("per-user", "random"),
                        default="random",
                        help="validation split (default: the example's "
                             "random 5%%, as tuning/tune_movielens.py retrains "
                             "for its test figures)")
    parser.add_argument("--set", action="append", default=[],
                        metavar="NAME=VALUE", help="override a hyperparameter")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    hp = dict(movielens.REGRESSION)
    if args.hyperparameters:
        with open(args.hyperparameters) as f:
            hp = json.load(f)
    hp.update(parse_overrides(args.set))
    metric = "test:root_mean_squared_error"
    print(f"{'split':<8}{'ids only':>12}{'+ implicit':>12}")
    per_user = tuned.PER_USER if args.validation == "per-user" else 0
    for split in ["ua", *args.also_split]:
        suffix = f"{split}-{args.validation}"
        plain = tuned.prepare_split(args.data_dir, os.path.join(
            args.work_dir, f"data-{suffix}"), split, False, per_user=per_user)
        implicit, longest = prepare_implicit(args.data_dir, os.path.join(
            args.work_dir, f"implicit-{suffix}"), split, per_user)
        implicit_hp = {
            **hp, "enc0_vocab_size": str(movielens.NUM_USERS
                                         + movielens.NUM_ITEMS + 1),
            "enc0_max_seq_len": str(longest)}
        results = [
            tuned.train_once(plain, hp, args.seed, args.work_dir,
                             f"plain-{suffix}")[metric],
            tuned.train_once(implicit, implicit_hp, args.seed, args.work_dir,
                             f"implicit-{suffix}")[metric],
        ]
        print(f"{split:<8}{results[0]:>12.4f}{results[1]:>12.4f}",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
