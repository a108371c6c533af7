"""`train(objective="retrieval")` and `keras-o2v train --objective
retrieval`: the in-batch softmax model from SageMaker-format channels."""

import json
import logging
import os
import re

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_o2v
from keras_o2v.cli import main
from keras_o2v.retrieval import RetrievalModel
from keras_o2v.training import evaluate
from keras_o2v.training import load_model
from keras_o2v.training import train

HP = {"enc0_network": "pooled_embedding", "enc0_vocab_size": "21",
      "enc0_max_seq_len": "1", "enc1_network": "pooled_embedding",
      "enc1_vocab_size": "11", "enc1_max_seq_len": "1", "enc_dim": "8",
      "learning_rate": "0.05", "mini_batch_size": "32", "epochs": "4"}
HITS = re.compile(r"#quality_metric: host=\S+, epoch=(\d+), validation "
                  r"batch_hits_at_10 <score>=(\S+)")


def pairs(n, seed):
    """User u likes items u % 5 * 2 + 1 and + 2; every 4th line a
    label-0 pair, which the retrieval objective skips."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        user = int(rng.integers(1, 21))
        item = user % 5 * 2 + 1 + int(rng.integers(0, 2))
        rows.append({"label": 0 if i % 4 == 3 else 1, "in0": [user],
                     "in1": [item]})
    return rows


@pytest.fixture(scope="module")
def channels(tmp_path_factory):
    out = tmp_path_factory.mktemp("retrieval")
    paths = {}
    for name, n, seed in (("train", 800, 0), ("validation", 200, 1),
                          ("test", 200, 2)):
        paths[name] = str(out / f"{name}.jsonl")
        with open(paths[name], "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in pairs(n, seed))
    return paths


def test_train_retrieval_writes_model_and_epoch_end_metrics(
        channels, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="keras_o2v")
    model_dir = str(tmp_path / "model")
    result = train(channels["train"], HP, validation=channels["validation"],
                   test=channels["test"], model_dir=model_dir, seed=0,
                   verbose=0, objective="retrieval",
                   retrieval={"temperature": 0.1, "logq_correction": True})
    assert isinstance(result.model, RetrievalModel)
    assert result.model.logq_correction and result.model.temperature == 0.1
    history = result.history
    # Ranked at each epoch end on validation, never per training step.
    assert "batch_hits_at_10" not in history
    assert len(history["val_batch_hits_at_10"]) == 4
    assert history["loss"][-1] < history["loss"][0]
    metrics = result.metrics
    assert set(metrics) == {"best_epoch", "epochs_completed", "train:loss",
                            "validation:loss", "validation:batch_hits_at_10",
                            "test:loss", "test:batch_hits_at_10"}
    assert metrics["test:batch_hits_at_10"] > 0.5
    logged = [HITS.search(r.getMessage()) for r in caplog.records]
    assert [int(m.group(1)) for m in logged if m] == [0, 1, 2, 3]

    with open(os.path.join(model_dir, "metrics.json")) as f:
        assert json.load(f) == pytest.approx(metrics)
    loaded = load_model(model_dir)
    assert isinstance(loaded, RetrievalModel)
    # Evaluated again from the file: the test channel's own logQ estimate
    # (train's in the run), the same in-batch ranking.
    again = evaluate(loaded, channels["test"])
    assert again["batch_hits_at_10"] == pytest.approx(
        metrics["test:batch_hits_at_10"])
    users = keras_o2v.embed(loaded, [[u] for u in range(1, 21)], "in0")
    assert users.shape == (20, 8)


def test_retrieval_options_are_checked(channels):
    with pytest.raises(ValueError, match="`negative_sampling_rate` must be 0"):
        train(channels["train"], {**HP, "negative_sampling_rate": "1"},
              objective="retrieval")
    with pytest.raises(ValueError, match="`objective` must be one of"):
        train(channels["train"], HP, objective="two_tower")
    with pytest.raises(ValueError, match="need objective='retrieval'"):
        train(channels["train"], HP, retrieval={"temperature": 0.1})
    with pytest.raises(ValueError, match="keys must be among"):
        train(channels["train"], HP, objective="retrieval",
              retrieval={"temprature": 0.1})


def test_retrieval_export_scores_pairs(channels, tmp_path):
    result = train(channels["train"], {**HP, "epochs": "1"}, verbose=0,
                   objective="retrieval", seed=0)
    path = keras_o2v.export_saved_model(result.model, str(tmp_path))
    served = tf.saved_model.load(path)
    in0 = np.array([[1], [2], [3]])
    in1 = np.array([[3], [4], [9]])
    scores = served.signatures["serving_default"](
        in0=tf.constant(in0), in1=tf.constant(in1))["scores"].numpy()
    expected = np.asarray(result.model.pair_scores({"in0": in0, "in1": in1}))
    assert scores.shape == (3, 1)
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    embeddings = served.signatures["embed_in1"](in1=tf.constant(in1))
    np.testing.assert_allclose(
        embeddings["embeddings"].numpy(),
        keras_o2v.embed(result.model, in1.tolist(), "in1"), atol=1e-5)


def test_cli_trains_and_ranks_retrieval(channels, tmp_path, capsys):
    model_dir = str(tmp_path / "cli")
    hp_file = str(tmp_path / "hp.json")
    with open(hp_file, "w") as f:
        json.dump(HP, f)
    assert main(["train", "--objective", "retrieval", "--train",
                 channels["train"], "--validation", channels["validation"],
                 "--hyperparameters", hp_file, "--temperature", "0.1",
                 "--logq-correction", "--seed", "0", "--verbose", "0",
                 "--model-dir", model_dir]) == 0
    printed = capsys.readouterr().out
    assert "validation batch_hits_at_10 <score>=" in printed
    queries = str(tmp_path / "queries.jsonl")
    candidates = str(tmp_path / "candidates.jsonl")
    with open(queries, "w") as f:
        for user in range(1, 21):
            liked = [user % 5 * 2 + 1, user % 5 * 2 + 2]
            f.write(json.dumps({"in0": [user], "relevant": liked}) + "\n")
    with open(candidates, "w") as f:
        for item in range(1, 11):
            f.write(json.dumps({"id": item, "in1": [item]}) + "\n")
    assert main(["evaluate-retrieval", "--model-dir", model_dir,
                 "--queries", queries, "--candidates", candidates,
                 "--k", "2"]) == 0
    out = capsys.readouterr().out
    results = json.loads(out[out.index("{"):])
    # Each user's two items out of ten: the model learned them.
    assert results["test:recall@2"] > 0.8 and results["test:queries"] == 20


def test_cli_retrieval_flags_need_the_objective(channels, tmp_path, capsys):
    assert main(["train", "--train", channels["train"], "--temperature",
                 "0.1", "--model-dir", str(tmp_path / "m")]) == 2
    assert ("error: --temperature need --objective retrieval."
            in capsys.readouterr().err)
    assert not os.path.exists(tmp_path / "m")


def test_predict_scores_retrieval_pairs(channels, tmp_path):
    result = train(channels["train"], {**HP, "epochs": "1"}, verbose=0,
                   objective="retrieval", seed=0)
    pairs_ = [{"in0": [1], "in1": [3]}, {"in0": [2], "in1": [9]}]
    scores = keras_o2v.predict(result.model, pairs_)
    expected = keras.ops.convert_to_numpy(result.model.pair_scores(
        {"in0": np.array([[1], [2]]), "in1": np.array([[3], [9]])}))
    assert scores.shape == (2, 1)
    np.testing.assert_allclose(scores, expected, atol=1e-6)
