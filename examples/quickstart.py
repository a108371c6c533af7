"""Quickstart: train, evaluate, embed, score, save and export an Object2Vec.

Object2Vec learns embeddings of discrete objects from labelled pairs: two
encoders turn `in0` and `in1` (lists of token ids) into vectors, a
comparator and an MLP turn the two vectors into a label. This script walks
through the whole life of a model on a small synthetic data set that
keras_o2v generates, so it needs no download:

    python examples/quickstart.py

It takes about 20 seconds on 2 CPU cores. `--num-train` and `--epochs`
make it smaller still; `--work-dir` says where its files go.
"""

import argparse
import json
import os

import keras
import numpy as np

import keras_o2v
from keras_o2v.data.synthetic import write_demo_data
from keras_o2v.training import evaluate
from keras_o2v.training import load_model
from keras_o2v.training import train

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--work-dir", default=os.path.join("runs", "quickstart"))
parser.add_argument("--num-train", type=int, default=4000,
                    help="training pairs (default 4000)")
parser.add_argument("--epochs", type=int, default=8,
                    help="training epochs (default 8)")
args = parser.parse_args()

"""
## The data

`write_demo_data` writes the files `keras-o2v demo-data` writes: JSON Lines
splits in SageMaker's format, one `{"label", "in0", "in1"}` pair per line,
and the hyperparameters that suit them. Token ids `1..199` fall into 8
topics; a pair is labelled 1 when both sides come mostly from the same
topic. Id 0 is padding.
"""

paths = write_demo_data(os.path.join(args.work_dir, "data"),
                        num_train=args.num_train, seed=0)
with open(paths["train"]) as f:
    print("A training pair:", f.readline().strip())

"""
## The hyperparameters

SageMaker's names and string values, so a SageMaker configuration runs
unchanged: here two pooled-embedding encoders (token vectors averaged),
the second configured like the first (`enc1_network="enc0"`: the same
settings, its own weights), a one-layer MLP and a softmax over the 2
labels.
"""

with open(paths["hyperparameters"]) as f:
    hyperparameters = json.load(f)
hyperparameters["epochs"] = str(args.epochs)
print(json.dumps(hyperparameters, indent=1))

"""
## Training

`train` reads the channels, trains with early stopping on the validation
loss (keeping the best epoch's weights), evaluates the test channel and
writes `model.keras`, `hyperparameters.json` and `metrics.json` to
`model_dir`. The metric names are SageMaker's.
"""

model_dir = os.path.join(args.work_dir, "model")
result = train(paths["train"], hyperparameters,
               validation=paths["validation"], test=paths["test"],
               model_dir=model_dir, seed=0, verbose=2)
# `best_epoch` counts from 0.
print(f"test accuracy {result.metrics['test:accuracy']:.3f} with the weights "
      f"of epoch {result.metrics['best_epoch'] + 1} of "
      f"{result.metrics['epochs_completed']}")
model = result.model

"""
## Evaluation

`evaluate` scores any labelled file in the same format.
"""

print("evaluate(test):", evaluate(model, paths["test"]))

"""
## Pair scores

`keras_o2v.predict` takes SageMaker's inference instances. With both `in0`
and `in1` it returns the softmax over the labels: column 1 is the
probability that the two sides belong together. Sequences may differ in
length; they are padded for you.
"""

with open(paths["test"]) as f:
    test_pairs = [json.loads(line) for line in f]
scores = keras_o2v.predict(model, test_pairs[:4])
for pair, score in zip(test_pairs, scores):
    print(f"label {pair['label']}  P(label 1) {score[1]:.3f}  in0 "
          f"{pair['in0']}  in1 {pair['in1']}")

"""
## Embeddings

With only `in0` (or only `in1`), `predict` returns that encoder's
embeddings; `keras_o2v.embed` does the same from id lists. The model never
saw the topics, yet sequences of one topic end up close together: each
embedding's nearest neighbour (by cosine) mostly shares its topic.
"""

with open(paths["embed"]) as f:
    requests = [json.loads(line) for line in f]
vectors = keras_o2v.embed(model, [r["in0"] for r in requests], "in0")
topics = np.array([r["topic"] for r in requests])
unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
similarity = unit @ unit.T
np.fill_diagonal(similarity, -np.inf)
same_topic = np.mean(topics[similarity.argmax(1)] == topics)
print(f"{len(vectors)} embeddings of shape {vectors.shape[1:]}; nearest "
      f"neighbour shares the topic for {same_topic:.0%} (chance: 1 in 8)")

"""
## Saving and loading

`model.keras` is a plain Keras file: `load_model` (or
`keras.models.load_model`) restores the model without custom objects, and
it scores exactly as before.
"""

restored = load_model(model_dir)
np.testing.assert_allclose(keras_o2v.predict(restored, test_pairs[:4]),
                           scores, atol=1e-6)
print(f"reloaded {os.path.join(model_dir, 'model.keras')}: same scores")

"""
## Export for serving

`export_saved_model` writes a versioned SavedModel that TensorFlow Serving
loads, with pair-score and embedding signatures (TensorFlow and JAX
backends). `keras-o2v serve` serves `model_dir` without it.
"""

if keras.backend.backend() in ("tensorflow", "jax"):
    version_dir = keras_o2v.export_saved_model(
        model, os.path.join(args.work_dir, "export"))
    print(f"exported {version_dir}")
