"""Retrieval training speed: what ranking metrics cost per training step.

Trains the model of `examples/movielens_implicit.py` (user and movie ids,
dim 32, in-batch softmax with logQ, batch 512) on synthetic implicit pairs
of the same size as MovieLens u1 (44k pairs, 943 users, 1682 items,
popularity-skewed), alternating the modes in one run:

* `no_metrics`: compiled with no ranking metric at all;
* `default`: `build_retrieval_model()` as shipped and as the example
  trains it: in-batch hits@10 is ranked in evaluation only;
* `per_step`: `train_metrics=True`, hits@10 ranked at every training step
  (the behaviour before issue 15);
* `no_metrics+val`, `default+val`: the same two with a validation split
  (10%) evaluated at each epoch end, where `default` ranks hits@10.

Usage:
    python benchmarks/retrieval_speed.py [--epochs 4] [--repeats 2]

Prints pairs/s per mode and the ratios to `no_metrics`; last, one JSON line
`{"benchmark": "retrieval_speed", "config": {...}, "results": {...}}`.
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=44_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import keras
    import numpy as np

    from keras_o2v.retrieval import build_retrieval_model
    from keras_o2v.retrieval import retrieval_dataset
    from keras_o2v.retrieval import sampling_probabilities

    rng = np.random.default_rng(0)
    users = rng.integers(1, 944, size=(args.pairs, 1))
    # Zipf-like item popularity, as in MovieLens.
    weights = 1.0 / np.arange(1, 1683) ** 0.8
    items = rng.choice(np.arange(1, 1683), size=(args.pairs, 1),
                       p=weights / weights.sum())
    q = sampling_probabilities(items)
    hp = {"enc0_network": "pooled_embedding", "enc0_vocab_size": "944",
          "enc0_max_seq_len": "1", "enc1_network": "pooled_embedding",
          "enc1_vocab_size": "1683", "enc1_max_seq_len": "1",
          "enc_dim": "32", "learning_rate": "0.005", "embedding_l2": "0.001"}
    split = args.pairs * 9 // 10
    modes = {"no_metrics": dict(batch_metrics_k=()),
             "default": dict(),
             "per_step": dict(train_metrics=True),
             "no_metrics+val": dict(batch_metrics_k=()),
             "default+val": dict()}
    seconds = {mode: [] for mode in modes}
    for _ in range(args.repeats):
        for mode, kwargs in modes.items():
            keras.utils.set_random_seed(0)
            model = build_retrieval_model(hp, temperature=0.2,
                                          logq_correction=True, **kwargs)
            train = retrieval_dataset(users[:split], items[:split],
                                      args.batch_size, q[:split], seed=0)
            val = (retrieval_dataset(users[split:], items[split:],
                                     args.batch_size, q[split:],
                                     shuffle=False)
                   if mode.endswith("+val") else None)
            model.fit(train, validation_data=val, epochs=1, verbose=0,
                      shuffle=False)
            start = time.perf_counter()
            model.fit(train, validation_data=val, epochs=args.epochs,
                      verbose=0, shuffle=False)
            seconds[mode].append(time.perf_counter() - start)
    pairs = split // args.batch_size * args.batch_size * args.epochs
    results = {f"{mode}_pairs_per_s": pairs / statistics.median(s)
               for mode, s in seconds.items()}
    for mode, base in (("default", "no_metrics"), ("per_step", "no_metrics"),
                       ("default+val", "no_metrics+val")):
        results[f"{mode}_vs_{base}"] = (results[f"{mode}_pairs_per_s"]
                                        / results[f"{base}_pairs_per_s"])
    for key, value in results.items():
        print(f"{key:36s} {value:12,.3f}")
    print(json.dumps({"benchmark": "retrieval_speed", "config": vars(args),
                      "results": {k: round(v, 3) for k, v in
                                  results.items()}}))


if __name__ == "__main__":
    main()
