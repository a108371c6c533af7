"""SNLI with keras_o2v: 3-class entailment, trained on dev, tested on test.

Only SNLI's dev (9842 gold pairs) and test (9824) splits are available here
(`../shared/data/snli`), so this trains on 90% of **dev**, early-stops on the
other 10%, and reports accuracy on the official **test** split. Published
SNLI figures train on the 550k-pair training set, so they are not
comparable: this run shows the pipeline on NLI data, not a state of the art.
Frozen GloVe 6B 50d in the auxiliary channel and the encoder of
`examples/stsb.py` (one tower for both sentences, a per-token ReLU layer
max-pooled).

    python examples/snli.py --data-dir ../shared/data

`--set NAME=VALUE` overrides a hyperparameter (`--set epochs=1` for a quick
run). Results and ablations: examples/README.md.
"""

import argparse
import json
import os
import time

import numpy as np

import keras_o2v
from keras_o2v.data.prepare import prepare
from keras_o2v.datasets import default_data_dir
from keras_o2v.datasets import glove_file
from keras_o2v.datasets import text_pairs
from keras_o2v.hyperparameters import parse_overrides
from keras_o2v.training import train

# Frozen GloVe 50d in one table for both sides; one `hcnn` tower of one
# width-1 layer (`enc_dim` 300, max-pooled) for both sentences
# (`tied_encoder_weights`); u*v, |u-v| and, since entailment is not
# symmetric, the concatenation; a softmax over the 3 labels.
HYPERPARAMETERS = {
    "enc0_network": "hcnn",
    "enc0_max_seq_len": "64",
    "enc0_token_embedding_dim": "50",
    "enc0_vocab_file": "vocab.json",
    "enc0_pretrained_embedding_file": "embeddings.txt",
    "enc0_freeze_pretrained_embedding": "True",
    "tied_token_embedding_weight": "True",
    "enc_dim": "300",
    "comparator_list": "hadamard, abs_diff, concat",
    "mlp_layers": "1",
    "mlp_dim": "256",
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
    "num_classes": "3",
}


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=default_data_dir(),
                   help="folder of the shared data sets (default "
                        "../shared/data)")
    p.add_argument("--work-dir", default=None,
                   help="outputs: the dev split in WORK_DIR/split, prepared "
                        "data in WORK_DIR/data, the model in WORK_DIR/model "
                        "(default runs/snli)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[],
                   metavar="NAME=VALUE", help="override a hyperparameter")
    p.add_argument("--verbose", type=int, default=2)
    return p


def split_dev(path, out_dir, seed):
    """Writes 90% / 10% of `path`'s lines to train/validation files."""
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    order = np.random.default_rng(seed).permutation(len(lines))
    cut = len(lines) // 10
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for name, idx in (("train", order[cut:]), ("validation", order[:cut])):
        paths[name] = os.path.join(out_dir, f"dev-{name}.jsonl")
        with open(paths[name], "wb") as f:
            f.writelines(lines[i] for i in idx)
    return paths


def main():
    p = parser()
    args = p.parse_args()
    try:
        snli = text_pairs.snli(args.data_dir)
        glove = glove_file(args.data_dir)
    except FileNotFoundError as e:
        p.error(str(e))
    start = time.perf_counter()
    work = args.work_dir or os.path.join("runs", "snli")
    data = os.path.join(work, "data")

    # Dev becomes train and validation; the official test split stays test.
    split = split_dev(snli.paths["dev"], os.path.join(work, "split"),
                      args.seed)
    summary = prepare(
        split["train"], data, snli.text0, snli.text1, snli.label,
        validation=split["validation"], test=snli.paths["test"],
        embeddings=glove, label_map=snli.label_map,
        extend_with_embeddings=True)
    size = str(summary["vocab_size"])
    hp = {**HYPERPARAMETERS, "enc0_vocab_size": size, "enc1_vocab_size": size}
    hp.update(parse_overrides(args.set))
    paths = {s: os.path.join(data, f"{s}.jsonl")
             for s in ("train", "validation", "test")}
    result = train(paths["train"], hp, validation=paths["validation"],
                   test=paths["test"], auxiliary=data, seed=args.seed,
                   model_dir=os.path.join(work, "model"),
                   verbose=args.verbose)

    with open(paths["test"]) as f:
        test = [json.loads(line) for line in f]
    gold = np.array([r["label"] for r in test])
    predictions = keras_o2v.predict(result.model, test)
    accuracy = float(np.mean(predictions.argmax(1) == gold))
    seconds = round(time.perf_counter() - start, 1)
    print(f"SNLI test (n={len(gold)}), trained on 90% of dev: accuracy "
          f"{accuracy:.4f}  (majority class ~0.34)  {seconds:.0f} s")
    print(json.dumps({"example": "snli", "test_accuracy": accuracy,
                      "seconds": seconds}))


if __name__ == "__main__":
    main()
