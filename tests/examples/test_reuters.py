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
def reuters():
    spec = importlib.util.spec_from_file_location(
        "reuters_example", os.path.join(EXAMPLES, "reuters.py"))
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
    # A topic is its id alone: the example has no topic fields to feed.
    args = reuters.parser().parse_args(
        ["--set", 'enc1_fields=[{"name": "meta", "vocab_size": 9}]'])
    corpus = reuters.Corpus(docs=[["a"]], words=["<pad>", "<unk>", "a"],
                            y_train=np.zeros((1, 3)), y_test=np.zeros((1, 3)),
                            fit_idx=np.arange(1), val_idx=np.arange(0))
    with pytest.raises(ValueError, match="`enc1_fields` must be empty.*"
                       "Received: enc1_fields=.*meta"):
        reuters.hyperparameters(args, corpus)


def tiny_corpus(reuters, n_docs=10, n_labels=3):
    rng = np.random.default_rng(0)
    y = rng.random((n_docs, n_labels)) < 0.4
    corpus = reuters.Corpus(
        docs=[], words=[], y_train=y, y_test=y[:2],
        fit_idx=np.arange(2, n_docs), val_idx=np.arange(2))
    corpus.inputs_train = [{"in0": [int(i) + 2] * (1 + i % 3)}
                           for i in range(n_docs)]
    return corpus


@pytest.mark.parametrize("negatives", ["all", "2"])
def test_refit_trains_on_every_training_document(reuters, tmp_path,
                                                 negatives):
    corpus = tiny_corpus(reuters)
    hp = {"enc0_max_seq_len": "4"}
    rng = np.random.default_rng(0)
    args = reuters.parser().parse_args(["--negatives", negatives])
    sets, _ = reuters.training_data(args, corpus, hp, str(tmp_path), None,
                                    rng)
    assert sorted(sets) == ["all", "fit"]
    if negatives == "all":
        # Padded inputs of the 8 fitting documents, then of all 10.
        assert sets["fit"][0]["in0"].shape == (8, 3)
        assert sets["all"][0]["in0"].shape == (10, 3)
        np.testing.assert_array_equal(sets["all"][0]["in0"][2:],
                                      sets["fit"][0]["in0"])
        assert sets["all"][1] == 10 * 3
    else:
        # Each document's positives and 2 negatives (fewer when it has
        # fewer other topics), as JSON Lines.
        for name, idx in (("fit", corpus.fit_idx), ("all", range(10))):
            path, n_pairs = sets[name]
            with open(path) as f:
                records = [json.loads(line) for line in f]
            positives = corpus.y_train[idx].sum(1)
            assert len(records) == n_pairs == int(
                (positives + np.minimum(2, 3 - positives)).sum())
            assert {r["in0"][0] for r in records} == {
                i + 2 for i in idx}
    args = reuters.parser().parse_args(["--negatives", negatives,
                                        "--no-refit"])
    sets, _ = reuters.training_data(args, corpus, hp, str(tmp_path), None,
                                    rng)
    assert list(sets) == ["fit"]


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
    # Wide & deep (the default): each part's figures, then the average's.
    wide, deep = figures["wide"], figures["wide"]["object2vec"]
    assert 0.0 <= wide["weight"] <= 1.0
    assert wide["micro_f1"] >= 0.87 and wide["no_refit_micro_f1"] >= 0.87
    assert figures["micro_f1"] >= 0.87
    # One model, refit on every training document: the running ensemble is
    # that refit, tested at the first model's threshold.
    member = figures["members"][0]
    assert figures["refit"]
    assert member["ensemble_micro_f1"] == deep["micro_f1"] >= 0.85
    assert member["refit_micro_f1"] == deep["micro_f1"]
    assert deep["no_refit_micro_f1"] == member["micro_f1"] >= 0.85
    assert deep["threshold"] == member["threshold"]
    assert figures["no_refit"]["threshold"] == figures["threshold"]
    with np.load(os.path.join(tmp_path, "scores.npz")) as scores:
        assert scores["wide_test"].shape == scores["test"].shape == (3019, 90)
    assert figures["svm"]["micro_f1"] >= 0.87
    assert figures["svm"]["no_refit_micro_f1"] >= 0.87


def write_small_reuters(folder, rng, n_train=120, n_test=40):
    """A ModApte-shaped corpus: 3 topics, each with its own words."""
    cues = {"acq": "merger shares stake bid", "earn": "profit dividend net",
            "crude": "oil barrel opec refinery"}
    noise = [f"w{i}" for i in range(40)]
    topics = list(cues)
    os.makedirs(folder)
    for name, n in (("train", n_train), ("test", n_test)):
        with open(os.path.join(folder, f"modapte90_{name}.jsonl"), "w") as f:
            for i in range(n):
                labels = sorted(rng.choice(topics, rng.integers(1, 3),
                                           replace=False))
                words = [w for t in labels for w in cues[t].split()]
                words += list(rng.choice(noise, 6))
                f.write(json.dumps({
                    "newid": i, "labels": labels, "title": labels[0],
                    "body": " ".join(rng.permutation(words))}) + "\n")
    with open(os.path.join(folder, "modapte90_categories.txt"), "w") as f:
        f.write("\n".join(topics) + "\n")


def test_seeds_run_whole_splits_and_report_their_mean(tmp_path):
    pytest.importorskip("sklearn")
    write_small_reuters(str(tmp_path / "data" / "reuters21578"),
                        np.random.default_rng(0))
    work = tmp_path / "runs"
    out = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "reuters.py"), "--data-dir",
         str(tmp_path / "data"), "--work-dir", str(work), "--seeds", "0",
         "1", "--ensemble", "1", "--stop-words", "0", "--svm-anchor",
         "--set", "epochs=2", "--verbose", "0"],
        check=True, capture_output=True, text=True, timeout=600).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    runs = figures["runs"]
    assert figures["seeds"] == [0, 1]
    # Each seed is its own run: its held-out documents, its models.
    assert [r["members"][0]["seed"] for r in runs] == [0, 1]
    for name, value in (
            ("micro_f1", lambda r: r["micro_f1"]),
            ("no_refit_micro_f1", lambda r: r["no_refit"]["micro_f1"]),
            ("object2vec_micro_f1",
             lambda r: r["wide"]["object2vec"]["micro_f1"]),
            ("wide_micro_f1", lambda r: r["wide"]["micro_f1"]),
            ("svm_micro_f1", lambda r: r["svm"]["micro_f1"])):
        values = [value(r) for r in runs]
        assert figures[name] == pytest.approx(np.mean(values))
        assert figures[f"{name}_std"] == pytest.approx(np.std(values))
    assert figures["micro_f1"] > 0.8  # the topics' words decide
    for seed in (0, 1):
        with np.load(work / f"seed{seed}" / "scores.npz") as scores:
            assert scores["test"].shape == (40, 3)
    assert "micro-F1 over seeds [0, 1]: mean" in out


def test_summarise_reports_only_the_parts_that_ran(reuters):
    runs = [{"micro_f1": 0.8, "macro_f1": 0.5, "wide": None, "svm": None},
            {"micro_f1": 0.9, "macro_f1": 0.7, "wide": None, "svm": None}]
    summary = reuters.summarise(runs)
    assert summary == pytest.approx({"micro_f1": 0.85, "micro_f1_std": 0.05,
                                     "macro_f1": 0.6, "macro_f1_std": 0.1})


def score_pairs(model, ids, n_labels, max_len):
    """`score_all` the slow way: `model.predict` on every (document, topic)
    pair, each document encoded once per topic."""
    in0 = np.repeat(np.array([(d[:max_len] + [0] * max_len)[:max_len]
                              for d in ids], np.int32), n_labels, axis=0)
    in1 = np.tile(np.arange(1, n_labels + 1, dtype=np.int32), len(ids))
    p = model.predict({"in0": in0, "in1": in1[:, None]}, verbose=0)
    return p[:, 1].reshape(len(ids), n_labels)


def tiny_model(reuters, n_labels=5, **hyperparameters):
    from keras_o2v.models import build_object2vec
    hp = {**reuters.HYPERPARAMETERS, "enc0_vocab_size": "50",
          "enc1_vocab_size": str(n_labels + 1), "enc_dim": "8",
          "enc0_token_embedding_dim": "8", "enc1_token_embedding_dim": "8",
          "mlp_dim": "16", **hyperparameters}
    return build_object2vec(hp)


@pytest.mark.parametrize("activations", [
    {}, {"enc0_activation": "tanh", "enc1_activation": "sigmoid"}])
def test_score_all_equals_predict_on_every_pair(reuters, activations):
    # Encoding each document and topic once, then comparing, gives what
    # `model.predict` gives on the (document, topic) pairs, each side's
    # `encX_activation` included; `AllTopics`, which trains, gives the same.
    model = tiny_model(reuters, **activations)
    rng = np.random.default_rng(0)
    ids = [list(rng.integers(1, 50, size=n)) for n in (3, 7, 1, 12, 5)]
    fast = reuters.score_all(model, ids, 5, max_len=10, docs_per_batch=2)
    slow = score_pairs(model, ids, 5, max_len=10)
    assert fast.shape == (5, 5)
    np.testing.assert_allclose(fast, slow, atol=1e-6)
    np.testing.assert_allclose(
        reuters.AllTopics(model, 5)(reuters.pad_inputs(ids, 10)), slow,
        atol=1e-6)
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


def tiny_tfidf_model(reuters, n_labels=5):
    from keras_o2v.models import build_object2vec
    hp = {**reuters.HYPERPARAMETERS, **reuters.TFIDF, "enc0_vocab_size": "2",
          "enc0_max_seq_len": "1", "enc1_vocab_size": str(n_labels + 1),
          "enc_dim": "8", "enc0_token_embedding_dim": "8",
          "enc1_token_embedding_dim": "8", "mlp_dim": "16",
          "enc0_fields": json.dumps([{"name": "words", "vocab_size": 50,
                                      "max_seq_len": 20, "weighted": True,
                                      "combiner": "sum"}])}
    return build_object2vec(hp)


def test_score_all_with_the_tfidf_field_equals_predict(reuters):
    model = tiny_tfidf_model(reuters)
    rng = np.random.default_rng(0)
    docs = []
    for n in (3, 7, 1, 12):
        words = np.sort(rng.choice(np.arange(1, 50), n, replace=False))
        docs.append({"in0": [1], "in0_words": words.tolist(),
                     "in0_words_weights": rng.random(n).tolist()})
    fast = reuters.score_all(model, docs, 5, max_len=1, docs_per_batch=3)
    pairs = reuters.pad_inputs([d for d in docs for _ in range(5)], 1)
    pairs["in1"] = np.tile(np.arange(1, 6, dtype=np.int32), len(docs))[:, None]
    slow = model.predict(pairs, verbose=0)[:, 1].reshape(len(docs), 5)
    np.testing.assert_allclose(fast, slow, atol=1e-6)
    # The weights count: doubling one document's weights changes its scores.
    docs[1]["in0_words_weights"] = [
        2 * w for w in docs[1]["in0_words_weights"]]
    again = reuters.score_all(model, docs, 5, max_len=1)
    np.testing.assert_allclose(again[[0, 2, 3]], fast[[0, 2, 3]], atol=1e-6)
    assert np.abs(again[1] - fast[1]).max() > 1e-4
    # AllTopics reads the same padded inputs.
    np.testing.assert_allclose(
        reuters.AllTopics(model, 5)(reuters.pad_inputs(docs, 1)), again,
        atol=1e-6)


def test_tfidf_rows_are_the_svm_anchor_features(reuters):
    sklearn_text = pytest.importorskip("sklearn.feature_extraction.text")
    args = reuters.parser().parse_args(["--stop-words", "0",
                                        "--min-frequency", "1"])
    words = ["oil", "gold", "wheat", "corn", "ship"]
    rng = np.random.default_rng(0)
    train = [{"title": "News", "body": " ".join(rng.choice(words, 6)),
              "labels": ["crude"]} for _ in range(20)]
    test = [{"title": "News", "body": "oil oil zinc", "labels": ["crude"]}]
    corpus = reuters.make_corpus(args, train, test, ["crude"],
                                 np.random.default_rng(0))
    rows = reuters.tfidf_rows(corpus)
    vectorizer = sklearn_text.TfidfVectorizer(analyzer=list,
                                              sublinear_tf=True)
    vectorizer.fit([corpus.docs[i] for i in corpus.fit_idx])
    for i in list(corpus.fit_idx[:5]) + list(corpus.val_idx):
        expected = vectorizer.transform([corpus.docs[i]]).toarray()[0]
        got = dict(zip((corpus.words[k] for k in rows[i][0]), rows[i][1]))
        assert set(got) == {w for w, x in zip(
            vectorizer.get_feature_names_out(), expected) if x > 0}
        for word, x in zip(vectorizer.get_feature_names_out(), expected):
            if x > 0:
                assert got[word] == pytest.approx(x, rel=1e-5)
    # The test document: "zinc" is no word of the fitting documents, so
    # it is <unk> (id 1), a feature of its own; rows have unit length.
    test_words, test_weights = rows[corpus.n_train]
    assert 1 in test_words.tolist()
    assert np.linalg.norm(test_weights) == pytest.approx(1.0, rel=1e-6)


def test_pad_cuts_pads_and_fills_empty_documents(reuters):
    x = reuters.pad([[5, 6, 7], [], [8]], 2)
    assert x.dtype == np.int32
    np.testing.assert_array_equal(x, [[5, 6], [1, 0], [8, 0]])


def test_corpus_vocab_and_ids_come_from_the_fitting_documents(reuters):
    args = reuters.parser().parse_args(["--stop-words", "1",
                                        "--min-frequency", "1"])
    train = [{"title": f"Oil {i}", "body": f"the oil word{i}",
              "labels": ["crude"]} for i in range(10)]
    test = [{"title": "Gold", "body": "the gold 1987", "labels": ["gold"]}]
    corpus = reuters.make_corpus(args, train, test, ["crude", "gold"],
                                 np.random.default_rng(0))
    held_out = int(corpus.val_idx[0])  # 10 documents: one held out
    assert sorted(corpus.fit_idx.tolist() + [held_out]) == list(range(10))
    # "oil" is in every document (title twice): the one stop word. Digits
    # are one <num> token; the held-out and test documents add no word.
    assert "oil" not in corpus.words and reuters.NUM in corpus.words
    assert f"word{held_out}" not in corpus.words and "gold" not in corpus.words
    np.testing.assert_array_equal(corpus.y_test, [[False, True]])
    corpus.ids_train, corpus.ids_test = reuters.token_ids(corpus, max_len=3)
    num, the = corpus.words.index(reuters.NUM), corpus.words.index("the")
    # Test: title "gold" (twice: --title-repeat 1), then body "the gold
    # 1987", unknown words as <unk> (1), cut to 3 ids.
    assert corpus.ids_test == [[1, 1, the]]
    assert corpus.ids_train[held_out] == [num, num, the]


def tfidf_records(rng, n_docs, vocab_size):
    """`document_inputs` records of random distinct words and weights."""
    records = []
    for _ in range(n_docs):
        words = rng.choice(np.arange(1, vocab_size), rng.integers(1, 6),
                           replace=False)
        records.append({"in0": [1], "in0_words": words.tolist(),
                        "in0_words_weights": rng.random(len(words)).tolist()})
    return records


def dense_rows(records, vocab_size):
    x = np.zeros((len(records), vocab_size))
    for i, r in enumerate(records):
        x[i, r["in0_words"]] = r["in0_words_weights"]
    return x


def test_wide_margins_are_the_rows_times_its_weights(reuters):
    rng = np.random.default_rng(0)
    records = tfidf_records(rng, 6, 10)
    model = reuters.Wide(10, 3, l2=0.01)
    x = reuters.pad_inputs(records, 1)
    model(x)
    table = rng.normal(size=(10, 3)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    model.words.embeddings.assign(table)
    model.bias.assign(bias)
    np.testing.assert_allclose(model(x), dense_rows(records, 10) @ table
                               + bias, atol=1e-5)
    # The penalty is on the word weights only.
    assert float(sum(model.losses)) == pytest.approx(
        0.01 * float((table ** 2).sum()), rel=1e-5)
    config = model.get_config()
    assert {k: config[k] for k in ("vocab_size", "n_labels", "l2")} == {
        "vocab_size": 10, "n_labels": 3, "l2": 0.01}
    assert reuters.Wide.from_config(config).get_config() == config


def svm_objective(x, y, weights, bias, c):
    """`LinearSVC`'s objective, summed over the topics, with a free bias:
    `|W|^2 / 2 + C * sum of squared hinges`."""
    margins = x @ weights + bias
    hinge = np.maximum(0.0, 1.0 - (2 * y - 1) * margins)
    return 0.5 * (weights ** 2).sum() + c * (hinge ** 2).sum()


def test_fit_wide_minimises_the_svms_objective(reuters):
    svm = pytest.importorskip("sklearn.svm")
    rng = np.random.default_rng(0)
    # 300 words, each in about 10 of the 1000 documents: the L2 matters.
    records = tfidf_records(rng, 1000, 300)
    x = dense_rows(records, 300)
    y = (x @ rng.normal(size=(300, 2)) + rng.normal(0, 0.3, (1000, 2))) > 0.3
    model = reuters.fit_wide(reuters.pad_inputs(records, 1), y, 300, seed=0,
                             verbose=0)
    weights = model.words.embeddings.numpy()
    c = reuters.WIDE["C"]
    # liblinear, one topic at a time, its bias scaled so that it is hardly
    # regularised: nearly the optimum of this objective.
    theirs = [svm.LinearSVC(C=c, intercept_scaling=100, max_iter=100000)
              .fit(x, y[:, t]) for t in range(2)]
    their_weights = np.stack([s.coef_[0] for s in theirs], 1)
    reference = svm_objective(
        x, y, their_weights, np.array([s.intercept_[0] for s in theirs]), c)
    # Measured: 0.5% over liblinear's objective, weights 8% apart; without
    # the L2, 10% over and 40% apart.
    assert svm_objective(x, y, weights, model.bias.numpy(), c) <= (
        1.02 * reference)
    assert np.linalg.norm(weights - their_weights) < 0.15 * np.linalg.norm(
        their_weights)


def test_platt_recovers_a_known_scaling(reuters):
    rng = np.random.default_rng(0)
    margins = rng.normal(0, 2, size=(2000, 50))
    y = rng.random(margins.shape) < reuters.sigmoid(1.7 * margins - 0.4)
    a, b = reuters.platt(margins, y)
    assert a == pytest.approx(1.7, abs=0.03)
    assert b == pytest.approx(-0.4, abs=0.03)


def test_combine_averages_logits(reuters):
    p = np.array([[0.9, 0.2], [0.5, 0.01]])
    margins = np.array([[1.0, -1.0], [0.3, 2.0]])
    ab = (2.0, 0.5)
    np.testing.assert_allclose(reuters.combine(p, margins, ab, 0.0), p)
    np.testing.assert_allclose(reuters.combine(p, margins, ab, 1.0),
                               1 / (1 + np.exp(-(2.0 * margins + 0.5))))
    logit = np.log(p / (1 - p))
    np.testing.assert_allclose(
        reuters.combine(p, margins, ab, 0.3),
        1 / (1 + np.exp(-(0.7 * logit + 0.3 * (2.0 * margins + 0.5)))))


def test_best_weight_follows_the_part_that_knows(reuters):
    rng = np.random.default_rng(0)
    y = rng.random((200, 4)) < 0.3
    knows = np.where(y, 0.8, 0.2) + rng.normal(0, 0.05, y.shape)
    noise = rng.random(y.shape)
    # Margins that know, probabilities that don't: the wide part wins.
    margins = 2 * knows - 1
    ab = reuters.platt(margins, y)
    w = reuters.best_weight(y, noise, margins, ab, False)
    assert w >= 0.5
    assert reuters.best_threshold(
        y, reuters.combine(noise, margins, ab, w), False)[1] == 1.0
    # The other way round: the ensemble alone (weight 0).
    margins = 2 * noise - 1
    assert reuters.best_weight(y, np.clip(knows, 0.01, 0.99), margins,
                               reuters.platt(margins, y), False) == 0.0


@pytest.mark.parametrize("refit", [True, False])
def test_train_wide_scores_held_out_and_test_documents(reuters, refit):
    flags = ["--stop-words", "0", "--min-frequency", "1", "--verbose", "0",
             "--document", "tokens"]  # the wide model reads tf-idf anyway
    args = reuters.parser().parse_args(flags + ([] if refit
                                                else ["--no-refit"]))
    rng = np.random.default_rng(0)
    words = ["oil", "gold", "wheat", "corn", "ship", "bank"]
    train = [{"title": "x", "body": " ".join(rng.choice(words, 4)),
              "labels": ["crude", "grain"][i % 2:i % 2 + 1]}
             for i in range(30)]
    test = [{"title": "x", "body": "oil ship", "labels": ["crude"]}] * 2
    corpus = reuters.make_corpus(args, train, test, ["crude", "grain"],
                                 np.random.default_rng(0))
    corpus.ids_train, corpus.ids_test = reuters.token_ids(corpus, 400)
    corpus.inputs_train, corpus.inputs_test = reuters.document_inputs(
        corpus, "tokens")
    val, test_fit, test_tested = reuters.train_wide(args, corpus)
    assert val.shape == (3, 2) and test_fit.shape == (2, 2)
    assert test_tested.shape == (2, 2)
    # The refit model has seen 3 more documents: other weights.
    assert (np.abs(test_tested - test_fit).max() > 1e-4) == refit
