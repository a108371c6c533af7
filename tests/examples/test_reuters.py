"""Reuters example: its F1 and decision rule (fast) and the real run (slow)."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
HAS_REUTERS = os.path.isdir(os.path.join(SHARED_DATA, "reuters21578"))


@pytest.fixture
def reuters(monkeypatch):
    monkeypatch.syspath_prepend(EXAMPLES)  # it imports its sibling movielens
    spec = importlib.util.spec_from_file_location(
        "reuters", os.path.join(EXAMPLES, "reuters.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_f1_scores_by_hand(reuters):
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0]], bool)
    pred = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]], bool)
    micro, macro = reuters.f1_scores(y, pred)
    # tp 2, fp 1, fn 1: 4 / 6. Topic 0: 2/3, topic 1: 2/3, topic 2: 0.
    assert micro == pytest.approx(4 / 6)
    assert macro == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)


def test_decide_gives_a_document_without_topics_its_best(reuters):
    p = np.array([[0.9, 0.2, 0.1], [0.3, 0.4, 0.1]])
    np.testing.assert_array_equal(
        reuters.decide(p, 0.5, False), [[1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(
        reuters.decide(p, 0.5, True), [[1, 0, 0], [0, 1, 0]])


def test_best_threshold_is_chosen_on_the_given_scores(reuters):
    y = np.array([[1, 0], [0, 1], [0, 0]], bool)
    p = np.array([[0.8, 0.3], [0.1, 0.62], [0.55, 0.2]])
    threshold, micro = reuters.best_threshold(y, p, False)
    # Above 0.55 and up to 0.62 every call is right.
    assert 0.55 < threshold <= 0.62
    assert micro == 1.0


def test_score_average_means_the_last_epochs(reuters):
    calls = iter([(np.array([1.0]), np.array([2.0])),
                  (np.array([3.0]), np.array([6.0]))])
    average = reuters.ScoreAverage(lambda model: next(calls), epochs=5, k=2)
    for epoch in range(5):
        average.on_epoch_end(epoch)
    assert average.count == 2
    val, test = average.mean()
    assert val[0] == 2.0 and test[0] == 4.0


def test_bad_arguments_are_named(reuters):
    with pytest.raises(SystemExit):
        reuters.parser().parse_args(["--negatives", "some"])
    with pytest.raises(SystemExit):
        reuters.parser().parse_args(["--ensemble", "0"])
    args = reuters.parser().parse_args(["--negatives", "8"])
    assert args.negatives == 8 and args.ensemble == 5


@pytest.mark.slow
@pytest.mark.skipif(not HAS_REUTERS,
                    reason=f"no reuters21578 under {SHARED_DATA}")
def test_one_model_on_modapte(tmp_path):
    pytest.importorskip("sklearn")
    out = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "reuters.py"), "--data-dir",
         SHARED_DATA, "--work-dir", str(tmp_path), "--ensemble", "1",
         "--svm-anchor", "--verbose", "0"],
        check=True, capture_output=True, text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["test_documents"] == 3019
    assert figures["categories"] == 90
    assert figures["train_pairs"] == 6993 * 90  # every (document, topic)
    assert figures["micro_f1"] >= 0.85
    assert figures["svm"]["micro_f1"] >= 0.87


def tiny_model(reuters, n_labels=5):
    from keras_o2v.models import build_object2vec
    hp = {**reuters.HYPERPARAMETERS, "enc0_vocab_size": "50",
          "enc1_vocab_size": str(n_labels + 1), "enc_dim": "8",
          "enc0_token_embedding_dim": "8", "enc1_token_embedding_dim": "8",
          "mlp_dim": "16"}
    return build_object2vec(hp)


def test_score_all_equals_predict_on_every_pair(reuters):
    # Encoding each document and topic once, then comparing, gives what
    # `model.predict` gives on the (document, topic) pairs.
    model = tiny_model(reuters)
    rng = np.random.default_rng(0)
    ids = [list(rng.integers(1, 50, size=n)) for n in (3, 7, 1, 12, 5)]
    fast = reuters.score_all(model, ids, 5, max_len=10, docs_per_batch=2)
    slow = reuters.score_pairs(model, ids, 5, max_len=10)
    assert fast.shape == (5, 5)
    np.testing.assert_allclose(fast, slow, atol=1e-6)
    # By hand for one pair: document 3 (cut to 10 tokens), topic 2.
    p = model.predict({"in0": np.array([ids[3][:10]], np.int32),
                       "in1": np.array([[3]], np.int32)}, verbose=0)
    assert fast[3, 2] == pytest.approx(float(p[0, 1]), abs=1e-6)


def test_all_topics_trains_the_object2vec_it_wraps(reuters):
    model = tiny_model(reuters)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, size=(8, 6)).astype(np.int32)
    y = rng.random((8, 5)) < 0.3
    trained = reuters.fit_all_topics(
        {**model.hyperparameters, "epochs": 1, "mini_batch_size": 20},
        x, y, seed=0, verbose=0)
    scores = reuters.AllTopics(trained, 5)(x)
    np.testing.assert_allclose(
        scores, reuters.score_all(trained, [list(r) for r in x], 5, 6),
        atol=1e-6)
