"""Implicit top-10 recommendation on MovieLens-100k u1 with in-batch softmax.

Protocol (the one the anchors were measured on): the anchors' positives are
the ratings >= 4 in `u1.base`; targets are the ratings >= 4 in `u1.test`;
every item the user rated in `u1.base` is excluded from their ranking. The
model trains on the ratings >= `--min-rating` (default 3) of `u1.base`:
that a user chose to watch and rate a movie is a signal too, and ratings of
3 add half as many pairs again (hit@10 0.229 over seeds 0-2, against 0.212
from the ratings >= 4 alone). The popularity anchor counts the ratings >=
4, as measured.
Reported: hit@10 per positive (each test positive ranked against the
items that are neither seen nor the user's other test positives), HR@10 per
user (share of users with a test positive in their top 10), NDCG@10 per
user, MRR and mean rank over all 1682 items.

Model: `keras_o2v.retrieval.RetrievalModel`, Object2Vec's pooled-embedding
encoders (user id in `in0`, movie id in `in1`) scored by cosine, trained on
positive pairs only with the in-batch softmax, accidental hits masked and
the logQ correction: in-batch negatives are popularity-distributed, and
without the correction popular movies are over-penalised.

    python examples/movielens_implicit.py --data-dir ../shared/data
    python examples/movielens_implicit.py --seeds 0 1 2   # mean and spread

The same model from the command line: `--write-cli-data DIR` writes the
split as JSON Lines (train pairs, evaluation queries, candidate items) and
the hyperparameters, and prints the `keras-o2v train --objective retrieval`
and `keras-o2v evaluate-retrieval` commands that train and score it.

`--history N` adds a feature-rich user: an `in0_history` field holding up
to N movies the user rated in u1.base (the train split only; a training
pair's own movie left out), pooled with SVD++'s 1/sqrt(n) and added to the
user id's embedding.

Anchors on this protocol: popularity ranking hit@10 0.130; StarSpace's best
configuration 0.121. Results and ablations: examples/README.md.
"""

import argparse
import collections
import json
import os
import time

import keras
import numpy as np

import keras_o2v
from keras_o2v.datasets import default_data_dir
from keras_o2v.datasets import movielens
from keras_o2v.datasets.movielens import NUM_ITEMS
from keras_o2v.datasets.movielens import NUM_USERS
from keras_o2v.retrieval import EmbeddingIndex
from keras_o2v.retrieval import build_index
from keras_o2v.retrieval import build_retrieval_model
from keras_o2v.retrieval import evaluate_retrieval
from keras_o2v.retrieval import retrieval_dataset
from keras_o2v.retrieval import sampling_probabilities

# The ids-as-one-token encoders of examples/movielens.py; no comparator or
# MLP: a retrieval model scores by cosine. The other hyperparameters are
# flags (`--enc-dim`, `--learning-rate`, ...).
HYPERPARAMETERS = {
    "enc0_network": "pooled_embedding",
    "enc0_vocab_size": str(NUM_USERS + 1),
    "enc0_max_seq_len": "1",
    "enc1_network": "pooled_embedding",
    "enc1_vocab_size": str(NUM_ITEMS + 1),
    "enc1_max_seq_len": "1",
    "optimizer": "adam",
}


def load_split(data_dir, split="u1", min_rating=4):
    """Train pairs (the base ratings >= `min_rating`), per-user seen items
    and per-user test positives (test ratings >= 4)."""
    base, test = movielens.load_ratings(data_dir, split)
    positives = base[base[:, 2] >= min_rating]
    seen = collections.defaultdict(set)
    for user, item, _ in base:
        seen[int(user)].add(int(item))
    targets = collections.defaultdict(set)
    for user, item, rating in test:
        if rating >= 4 and int(item) not in seen[int(user)]:
            targets[int(user)].add(int(item))
    return positives, seen, targets


def popularity_baseline(positives, seen, targets, k=10):
    """Most-liked movies first: the anchor (hit@10 0.130 with the ratings
    >= 4 as `positives`)."""
    counts = np.bincount(positives[:, 1], minlength=NUM_ITEMS + 1)[1:]
    # A one-dimensional "embedding" whose dot product ranks by popularity.
    index = EmbeddingIndex(counts[:, None].astype(np.float32),
                           ids=np.arange(1, NUM_ITEMS + 1), metric="dot")
    users = sorted(targets)
    return evaluate_retrieval(index, np.ones((len(users), 1), np.float32),
                              [sorted(targets[u]) for u in users],
                              exclude=[sorted(seen[u]) for u in users],
                              ks=(k,))


def write_cli_data(out_dir, positives, seen, targets, args):
    """The split as files for `keras-o2v`; returns the commands to run."""
    os.makedirs(out_dir, exist_ok=True)

    def write(name, rows):
        with open(os.path.join(out_dir, name), "w") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
        return os.path.join(out_dir, name)

    train = write("train.jsonl", ({"label": 1, "in0": [int(u)],
                                   "in1": [int(i)]} for u, i, _ in positives))
    queries = write("queries.jsonl", (
        {"in0": [u], "relevant": sorted(targets[u]),
         "exclude": sorted(seen[u])} for u in sorted(targets)))
    candidates = write("candidates.jsonl", (
        {"id": i, "in1": [i]} for i in range(1, NUM_ITEMS + 1)))
    hp_file = os.path.join(out_dir, "hyperparameters.json")
    with open(hp_file, "w") as f:
        json.dump({**HYPERPARAMETERS, "enc_dim": str(args.enc_dim),
                   "epochs": str(args.epochs),
                   "mini_batch_size": str(args.batch_size),
                   "learning_rate": str(args.learning_rate),
                   "embedding_l2": str(args.embedding_l2)}, f, indent=1)
    model_dir = os.path.join(out_dir, "model")
    logq = "" if args.no_logq else " --logq-correction"
    return [f"keras-o2v train --objective retrieval --train {train} "
            f"--hyperparameters {hp_file} --similarity {args.similarity} "
            f"--temperature {args.temperature}{logq} --seed {args.seed} "
            f"--model-dir {model_dir}",
            f"keras-o2v evaluate-retrieval --model-dir {model_dir} "
            f"--queries {queries} --candidates {candidates} "
            f"--metric {args.similarity}"]


def history_rows(pairs, seen, length, rng):
    """Each user's train items (`in0_history`), without the pair's own item.

    Leaving the target out makes training look like evaluation, where the
    held-out item is never in the history. Longer histories keep a random
    `length` of their items.
    """
    rows = np.zeros((len(pairs), length), np.int32)
    for row, (user, item) in enumerate(pairs):
        items = sorted(seen[int(user)] - {int(item)})
        if len(items) > length:
            items = rng.choice(items, length, replace=False)
        rows[row, :len(items)] = items
    return rows


def train_and_evaluate(positives, seen, targets, args, seed):
    keras.utils.set_random_seed(seed)
    hp = dict(HYPERPARAMETERS)
    if args.history:
        hp["enc0_fields"] = [{
            "name": "history", "vocab_size": NUM_ITEMS + 1,
            "max_seq_len": args.history, "combiner": args.history_combiner,
            # The movie tower's vectors, or a table of the user tower's own.
            "embedding": "in1" if args.history_table == "in1" else None}]
    model = build_retrieval_model(
        hp, enc_dim=str(args.enc_dim),
        learning_rate=str(args.learning_rate),
        embedding_l2=str(args.embedding_l2), similarity=args.similarity,
        temperature=args.temperature, logq_correction=not args.no_logq)
    users, items = positives[:, :1], positives[:, 1:2]
    if args.anonymous:  # every user is id 1: the tower reads the history
        users = np.ones_like(users)
    rng = np.random.default_rng(seed)
    fields = None
    if args.history:
        fields = {"in0_history": history_rows(positives[:, :2], seen,
                                              args.history, rng)}
    dataset = retrieval_dataset(
        users, items, args.batch_size,
        sampling_probability=sampling_probabilities(items), seed=seed,
        fields=fields)
    start = time.perf_counter()
    model.fit(dataset, epochs=args.epochs, verbose=args.verbose)
    seconds = time.perf_counter() - start
    index = build_index(model, [[i] for i in range(1, NUM_ITEMS + 1)],
                        ids=np.arange(1, NUM_ITEMS + 1),
                        metric=args.similarity)
    eval_users = sorted(targets)
    if args.history:  # the whole train history of each user
        history = history_rows([(u, 0) for u in eval_users], seen,
                               args.history, rng)
        queries = keras_o2v.embed(model, [
            {"in0": [1 if args.anonymous else u],
             "in0_history": [int(i) for i in h if i]}
            for u, h in zip(eval_users, history)], "in0")
    else:
        queries = keras_o2v.embed(model, [[u] for u in eval_users], "in0")
    results = evaluate_retrieval(
        index, queries, [sorted(targets[u]) for u in eval_users],
        exclude=[sorted(seen[u]) for u in eval_users], ks=(10,))
    return model, index, results, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--work-dir", default=os.path.join(
        "runs", "movielens_implicit"))
    parser.add_argument("--enc-dim", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--embedding-l2", type=float, default=0.001)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--similarity", default="cosine",
                        choices=("cosine", "dot"))
    parser.add_argument("--no-logq", action="store_true",
                        help="train without the logQ correction")
    parser.add_argument("--history", type=int, default=0, metavar="N",
                        help="give the user tower an `in0_history` field: "
                        "up to N items the user rated in u1.base (SVD++'s "
                        "1/sqrt(n) pooling); 0 (default): the user id only")
    parser.add_argument("--anonymous", action="store_true",
                        help="with --history: give every user the same "
                        "id, so the user tower is its history alone (it "
                        "then also serves users unseen in training)")
    parser.add_argument("--history-combiner", default="sqrtn",
                        choices=("mean", "sum", "sqrtn"),
                        help="pooling of the history (default sqrtn)")
    parser.add_argument("--history-table", choices=("in1", "own"),
                        default="own",
                        help="read the history with a table of its own "
                        "(default) or the movie tower's vectors (in1)")
    parser.add_argument("--min-rating", type=int, default=3,
                        choices=range(1, 6), metavar="{1..5}",
                        help="train on the u1.base ratings >= this (default "
                        "3); evaluation targets stay the ratings >= 4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        metavar="SEED",
                        help="train once per seed and print the mean and "
                        "spread (default: --seed only)")
    parser.add_argument("--verbose", type=int, default=2)
    parser.add_argument("--write-cli-data", metavar="DIR",
                        help="write the split for keras-o2v, print the "
                        "commands, and exit")
    args = parser.parse_args()
    try:
        positives, seen, targets = load_split(args.data_dir,
                                              min_rating=args.min_rating)
        liked, _, _ = load_split(args.data_dir)
    except (FileNotFoundError, ValueError) as e:
        parser.error(str(e))
    if args.write_cli_data:
        print("\n".join(write_cli_data(args.write_cli_data, positives, seen,
                                       targets, args)))
        return
    print(f"{len(positives)} train pairs (ratings >= {args.min_rating}), "
          f"{len(targets)} test users, {sum(map(len, targets.values()))} "
          "test positives")
    pop = popularity_baseline(liked, seen, targets)
    seeds = args.seeds or [args.seed]
    runs, seconds = [], 0.0
    for seed in seeds:
        model, index, results, took = train_and_evaluate(
            positives, seen, targets, args, seed)
        work = (args.work_dir if len(seeds) == 1
                else os.path.join(args.work_dir, f"seed{seed}"))
        os.makedirs(work, exist_ok=True)
        model.save(os.path.join(work, "model.keras"))
        index.save(os.path.join(work, "items.index"))
        runs.append(results)
        seconds += took
        if len(seeds) > 1:
            print(f"seed {seed}: hit@10 per positive "
                  f"{results['hit@10_per_relevant']:.4f}", flush=True)
    # One seed: its figures; several: their means, spread and each run (the
    # counts of queries and positives are the same for every seed).
    rates = [key for key, value in runs[0].items()
             if isinstance(value, float)]
    results = {**runs[0], **{key: float(np.mean([r[key] for r in runs]))
                             for key in rates}}
    label = ("in-batch softmax" if len(seeds) == 1
             else f"mean of {len(seeds)} seeds")
    for name, r in (("popularity", pop), (label, results)):
        print(f"{name:>17}: hit@10 per positive "
              f"{r['hit@10_per_relevant']:.4f}  HR@10 per user "
              f"{r['hits@10']:.4f}  NDCG@10 {r['ndcg@10']:.4f}  MRR "
              f"{r['mrr']:.4f}  mean rank {r['mean_rank']:.0f}")
    spread = {}
    if len(seeds) > 1:
        hits = [r["hit@10_per_relevant"] for r in runs]
        spread = {"model_std": {key: float(np.std([r[key] for r in runs]))
                                for key in rates},
                  "runs": [{"seed": s, **r} for s, r in zip(seeds, runs)]}
        print(f"hit@10 per positive over seeds {seeds}: mean "
              f"{np.mean(hits):.4f} +- {np.std(hits):.4f} (std), range "
              f"{min(hits):.4f}-{max(hits):.4f}")
    print("anchors: popularity hit@10 0.130, StarSpace 0.121; goal >= 0.22")
    print(json.dumps({"example": "movielens_implicit",
                      "args": vars(args), "train_seconds": round(seconds, 1),
                      "popularity": pop, "model": results, **spread}))


if __name__ == "__main__":
    main()
