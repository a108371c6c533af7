"""MovieLens-100k with keras_o2v: rating regression and binary recommendation.

Converts the official `ua` split of ML-100k (`ua.base` -> train, `ua.test` ->
test; 10 ratings per user held out) into Object2Vec JSON Lines with the user
id in `in0` and the movie id in `in1`, as SageMaker's movie-recommendation
notebook does, then trains:

(a) rating regression (`output_layer=mean_squared_error`), printing test RMSE;
(b) binary recommendation (label = rating > 3, softmax over 2 classes),
    printing test accuracy.

Unlike the notebook, which early-stops on ua.test, we hold out a random 5%
of ua.base as the validation channel, so ua.test stays unseen until the end.
`--config notebook` runs the notebook's own hyperparameters, unchanged, on
its own protocol instead: all of ua.base trains, ua.test is the validation
channel (and so what early stopping watches), and the figure is the
validation RMSE the notebook reports (MSE ~0.91, RMSE ~0.954).

    python examples/movielens.py --data-dir ../shared/data [--task regression]
    python examples/movielens.py --config notebook --task regression \
        --seeds 0 1 2   # each seed's RMSE, their mean and spread

Results and ablations: examples/README.md. Peers: SageMaker's notebook
reports validation MSE ~0.91 (RMSE ~0.954) and accuracy ~0.704; Surprise SVD
reaches RMSE 0.951 on ua.test.
"""

import argparse
import json
import os
import time

import numpy as np

import keras_o2v
from keras_o2v.datasets import default_data_dir
from keras_o2v.datasets import movielens
from keras_o2v.datasets.movielens import NUM_ITEMS
from keras_o2v.datasets.movielens import NUM_USERS
from keras_o2v.hyperparameters import parse_overrides
from keras_o2v.training import train

# Shared by both tasks: one-token inputs, so pooled_embedding is a plain
# embedding lookup, and "hadamard, concat" with no MLP is a biased matrix
# factorisation (w.(u*v) + a.u + b.v + c). `embedding_l2` (a keras_o2v
# extension) regularises each looked-up row, per example, as MF does; without
# it the notebook's configuration overfits after 1-2 epochs.
COMMON = {
    "enc0_network": "pooled_embedding",
    "enc0_vocab_size": str(NUM_USERS + 1),
    "enc0_max_seq_len": "1",
    "enc1_network": "pooled_embedding",
    "enc1_vocab_size": str(NUM_ITEMS + 1),
    "enc1_max_seq_len": "1",
    "enc_dim": "32",
    "comparator_list": "hadamard, concat",
    "mlp_layers": "0",
    "embedding_l2": "0.1",
    "optimizer": "adam",
    "learning_rate": "0.0005",
    "mini_batch_size": "64",
    "epochs": "50",
    "early_stopping_patience": "5",
    "early_stopping_tolerance": "0.00001",
    "_kvstore": "device",
    "_num_gpus": "auto",
    "_num_kv_servers": "auto",
}
REGRESSION = {**COMMON, "output_layer": "mean_squared_error"}
# With enc_dim 32 the validation cross-entropy plateaus for ~15 epochs before
# the user-item interactions start to help, and early stopping (patience <= 5
# in SageMaker's range) often ends the run there; enc_dim 128 leaves the
# plateau sooner.
CLASSIFICATION = {**COMMON, "output_layer": "softmax", "num_classes": "2",
                  "enc_dim": "128", "embedding_l2": "0.3",
                  "learning_rate": "0.001", "mini_batch_size": "256"}
# SageMaker's movie-recommendation notebook, string for string (everything
# else at SageMaker's defaults: token dim 300, all three comparators,
# dropout 0, early-stopping patience 3 and tolerance 0.01).
NOTEBOOK_REGRESSION = {
    "enc0_network": "pooled_embedding", "enc0_max_seq_len": "1",
    "enc0_vocab_size": str(NUM_USERS + 1),
    "enc1_network": "pooled_embedding", "enc1_max_seq_len": "1",
    "enc1_vocab_size": str(NUM_ITEMS + 1),
    "enc_dim": "1024", "mlp_dim": "256", "mlp_layers": "1",
    "mlp_activation": "tanh", "optimizer": "adam", "learning_rate": "0.001",
    "mini_batch_size": "64", "epochs": "20",
    "output_layer": "mean_squared_error",
    "_kvstore": "device", "_num_gpus": "auto", "_num_kv_servers": "auto",
}
# The notebook's binary cell sets enc_dim, mlp_dim, relu, batch and softmax;
# the values it leaves unstated are taken from the regression cell.
NOTEBOOK_CLASSIFICATION = {
    **NOTEBOOK_REGRESSION, "enc_dim": "2048", "mlp_dim": "1024",
    "mlp_activation": "relu", "mini_batch_size": "2048",
    "output_layer": "softmax", "num_classes": "2",
}


def split_ratings(data_dir, seed=0, split="ua", notebook=False):
    """(user, item, rating) arrays of train, validation and test.

    The base file is shuffled; its first 5% is the validation set, the rest
    the train set. `split` names any ML-100k split (`ua`, `u1`, ...). With
    `notebook`, as SageMaker's notebook: all of the base file trains and the
    test file is also the validation set.
    """
    base, test = movielens.load_ratings(data_dir, split)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(base))  # SageMaker asks for shuffled input
    if notebook:
        return {"train": base[order], "validation": test, "test": test}
    n_val = len(base) // 20
    return {"train": base[order[n_val:]], "validation": base[order[:n_val]],
            "test": test}


def write_jsonl(path, ratings, binary):
    """One Object2Vec record per rating: user id in `in0`, movie in `in1`."""
    with open(path, "w") as f:
        for user, item, rating in ratings:
            label = int(rating > 3) if binary else int(rating)
            f.write(json.dumps({"label": label, "in0": [int(user)],
                                "in1": [int(item)]}) + "\n")


def prepare(data_dir, out_dir, binary, seed=0, notebook=False):
    """Writes train/validation/test JSON Lines; returns their paths."""
    splits = split_ratings(data_dir, seed, notebook=notebook)
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for name, rows in splits.items():
        paths[name] = os.path.join(out_dir, f"{name}.jsonl")
        write_jsonl(paths[name], rows, binary)
    return paths


def run(task, data_dir, work_dir, seed, verbose, overrides=None,
        config="example"):
    """Prepares and trains one task; returns its metrics and seconds.

    `config`: `"example"` (this example's hyperparameters and protocol) or
    `"notebook"` (SageMaker's notebook's). `overrides` (a dict) replaces
    hyperparameters of the task's configuration.
    """
    binary = task == "classification"
    notebook = config == "notebook"
    work_dir = os.path.join(work_dir, "notebook") if notebook else work_dir
    paths = prepare(data_dir, os.path.join(work_dir, task), binary, seed,
                    notebook)
    if notebook:
        hp = NOTEBOOK_CLASSIFICATION if binary else NOTEBOOK_REGRESSION
    else:
        hp = CLASSIFICATION if binary else REGRESSION
    hp = {**hp, **(overrides or {})}
    start = time.perf_counter()
    result = train(paths["train"], hp, validation=paths["validation"],
                   test=paths["test"], seed=seed,
                   model_dir=os.path.join(work_dir, task, "model"),
                   verbose=verbose)
    seconds = time.perf_counter() - start
    return result.metrics, seconds


def describe(task, config):
    """A task's printed figure: (its metric, what it is, peers and goal)."""
    if task == "classification":
        return ("test:accuracy", "ua.test binary accuracy (rating > 3)",
                "SageMaker notebook ~0.704; target >= 0.704")
    if config == "notebook":
        return ("test:root_mean_squared_error",
                "ua.test RMSE, the notebook's config and protocol",
                "the notebook on SageMaker ~0.954; goal <= 0.956")
    return ("test:root_mean_squared_error", "ua.test RMSE",
            "SageMaker notebook ~0.954, Surprise SVD 0.951; target <= 0.95")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=default_data_dir(),
                        help="folder holding ml-100k/ (default "
                             "../shared/data)")
    parser.add_argument("--work-dir", default=os.path.join("runs",
                                                           "movielens"))
    parser.add_argument("--task", choices=("regression", "classification",
                                           "both"), default="both")
    parser.add_argument("--config", choices=("example", "notebook"),
                        default="example",
                        help="'example' (default): this example's "
                             "hyperparameters, 5%% of ua.base held out for "
                             "validation; 'notebook': SageMaker's notebook's "
                             "hyperparameters unchanged, validation on "
                             "ua.test as the notebook does")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        metavar="SEED",
                        help="train once per seed and print each figure, "
                             "their mean and spread (default: --seed only)")
    parser.add_argument("--set", action="append", default=[],
                        metavar="NAME=VALUE",
                        help="override a hyperparameter (e.g. epochs=1)")
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args()
    try:  # a usage error now, not a traceback later
        overrides = parse_overrides(args.set)
        movielens.load_ratings(args.data_dir, "ua")
    except (FileNotFoundError, ValueError) as e:
        parser.error(str(e))
    print(f"keras_o2v {keras_o2v.__version__}, data from {args.data_dir}")

    seeds = args.seeds or [args.seed]
    summary = {"config": args.config, "seeds": seeds}
    tasks = (["regression", "classification"] if args.task == "both"
             else [args.task])
    for task in tasks:
        metric, what, peers = describe(task, args.config)
        key = "test_accuracy" if task == "classification" else "test_rmse"
        runs = []
        for seed in seeds:
            work = (args.work_dir if len(seeds) == 1
                    else os.path.join(args.work_dir, f"seed{seed}"))
            metrics, seconds = run(task, args.data_dir, work, seed,
                                   args.verbose, overrides, args.config)
            runs.append({"seed": seed, key: metrics[metric],
                         "best_epoch": metrics["best_epoch"],
                         "seconds": round(seconds, 1)})
            of_seed = f", seed {seed}" if len(seeds) > 1 else ""
            print(f"{what}{of_seed}: {metrics[metric]:.4f}  ({peers})  "
                  f"best epoch {metrics['best_epoch']}, {seconds:.0f} s",
                  flush=True)
        # One seed: its figure; several: their mean, spread and each run.
        values = [r[key] for r in runs]
        summary.update({key: float(np.mean(values)),
                        f"{task}_seconds": sum(r["seconds"] for r in runs)})
        if len(seeds) > 1:
            summary.update({f"{key}_std": float(np.std(values)),
                            f"{task}_runs": runs})
            print(f"{what} over seeds {seeds}: mean {np.mean(values):.4f} "
                  f"+- {np.std(values):.4f} (std), range "
                  f"{min(values):.4f}-{max(values):.4f}  ({peers})")
    print(json.dumps({"example": "movielens", **summary}))


if __name__ == "__main__":
    main()
