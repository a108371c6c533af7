"""A small synthetic pair data set, generated on demand (nothing shipped).

Tokens `1..vocab_size-1` are split into `num_topics` topics. Each record
pairs a sequence of 3-12 tokens drawn mostly (80%) from one topic with a
sequence of 2-6 tokens drawn mostly from a topic that is the same (label 1)
or a different one (label 0). An encoder has to learn which tokens belong
together, so a trained Object2Vec model reaches high accuracy and its
embeddings cluster by topic.
"""

import json
import os

import numpy as np


def _sequence(rng, topic, topics, length):
    noise = rng.random(length) < 0.2
    tokens = rng.choice(topics[topic], size=length)
    noise_tokens = rng.choice(np.concatenate(topics), size=length)
    return np.where(noise, noise_tokens, tokens).astype(int).tolist()


def make_pairs(num_records, vocab_size=200, num_topics=8, seed=0):
    """Returns a list of `{"label", "in0", "in1"}` dicts and topic ids."""
    rng = np.random.default_rng(seed)
    topics = np.array_split(np.arange(1, vocab_size), num_topics)
    records, topic_of = [], []
    for _ in range(num_records):
        topic = int(rng.integers(num_topics))
        label = int(rng.integers(2))
        other = topic if label else int(
            (topic + rng.integers(1, num_topics)) % num_topics)
        records.append({
            "label": label,
            "in0": _sequence(rng, topic, topics, int(rng.integers(3, 13))),
            "in1": _sequence(rng, other, topics, int(rng.integers(2, 7))),
        })
        topic_of.append(topic)
    return records, topic_of


def _write_jsonl(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    os.replace(tmp, path)


def write_demo_data(out_dir, num_train=4000, vocab_size=200, num_topics=8,
                    seed=0):
    """Writes train/validation/test/embed JSON Lines and hyperparameters.

    Returns:
        dict of the written paths.
    """
    os.makedirs(out_dir, exist_ok=True)
    n_eval = max(num_train // 8, 50)
    records, topic_of = make_pairs(num_train + 2 * n_eval, vocab_size,
                                   num_topics, seed)
    splits = {
        "train": records[:num_train],
        "validation": records[num_train:num_train + n_eval],
        "test": records[num_train + n_eval:],
    }
    paths = {}
    for name, rows in splits.items():
        paths[name] = os.path.join(out_dir, f"{name}.jsonl")
        _write_jsonl(paths[name], rows)
    # Embedding requests: in0 only, with the topic kept as a side field.
    paths["embed"] = os.path.join(out_dir, "embed.jsonl")
    _write_jsonl(paths["embed"], [
        {"in0": r["in0"], "topic": t}
        for r, t in zip(records[-n_eval:], topic_of[-n_eval:])
    ])
    hyperparameters = {
        "enc0_network": "pooled_embedding",
        "enc0_vocab_size": str(vocab_size),
        "enc0_max_seq_len": "12",
        "enc1_network": "enc0",
        "enc0_token_embedding_dim": "32",
        "enc_dim": "32",
        "mlp_dim": "32",
        "mlp_layers": "1",
        "mlp_activation": "relu",
        "output_layer": "softmax",
        "num_classes": "2",
        "epochs": "8",
        "mini_batch_size": "64",
        "learning_rate": "0.01",
    }
    paths["hyperparameters"] = os.path.join(out_dir, "hyperparameters.json")
    with open(paths["hyperparameters"], "w") as f:
        json.dump(hyperparameters, f, indent=2)
    return paths
