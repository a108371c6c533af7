import numpy as np
import pytest

import keras
import keras_o2v
from keras_o2v.retrieval import RetrievalModel
from keras_o2v.retrieval import build_index
from keras_o2v.retrieval import build_retrieval_model
from keras_o2v.retrieval import evaluate_retrieval
from keras_o2v.retrieval import in_batch_softmax_loss
from keras_o2v.retrieval import recommend
from keras_o2v.retrieval import retrieval_dataset
from keras_o2v.retrieval import sampling_probabilities
from keras_o2v.retrieval.model import candidate_frequencies
from keras_o2v.retrieval.model import positive_batches

HP = {"enc0_network": "pooled_embedding", "enc0_vocab_size": "21",
      "enc0_max_seq_len": "1", "enc1_network": "pooled_embedding",
      "enc1_vocab_size": "11", "enc1_max_seq_len": "1", "enc_dim": "8",
      "learning_rate": "0.05"}


def toy_pairs(n=800, seed=0):
    """User u likes items u % 5 * 2 + 1 and + 2: a learnable structure."""
    rng = np.random.default_rng(seed)
    users = rng.integers(1, 21, size=n)
    items = (users % 5) * 2 + 1 + rng.integers(0, 2, size=n)
    return users[:, None], items[:, None]


def test_sampling_probabilities_are_frequencies():
    np.testing.assert_allclose(sampling_probabilities([[3], [4], [3], [3]]),
                               [0.75, 0.25, 0.75, 0.75])


def test_compute_loss_is_the_in_batch_loss_with_logq():
    model = build_retrieval_model(HP, temperature=0.5, logq_correction=True)
    users, items = toy_pairs(6)
    q = sampling_probabilities(items)
    x = {"in0": users, "in1": items, "sampling_probability": q}
    scores = model(x)
    expected = np.mean(np.asarray(in_batch_softmax_loss(
        scores, items, np.log(q), temperature=0.5)))
    assert float(model.compute_loss(x, None, scores)) == pytest.approx(
        expected, rel=1e-5)
    with pytest.raises(ValueError, match="needs a `sampling_probability`"):
        model.compute_loss({"in0": users, "in1": items}, None, scores)


def test_fit_learns_and_recommends(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_retrieval_model(HP, temperature=0.1, logq_correction=True)
    users, items = toy_pairs()
    history = model.fit(retrieval_dataset(
        users, items, 32, sampling_probabilities(items), seed=0), epochs=4,
        verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    index = build_index(model, [[i] for i in range(1, 11)],
                        ids=np.arange(1, 11))
    found, _ = recommend(model, index, [[1], [2]], k=2, seen=[[], [5]])
    assert set(found[0]) == {3, 4}          # user 1 -> items 3, 4
    assert 5 not in found[1]
    vectors = keras_o2v.embed(model, [[u] for u in range(1, 21)], "in0")
    results = evaluate_retrieval(
        index, vectors, [[(u % 5) * 2 + 1, (u % 5) * 2 + 2]
                         for u in range(1, 21)], ks=(2,))
    assert results["recall@2"] > 0.9 and results["queries"] == 20

    # .keras round trip: same config, same scores.
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, RetrievalModel)
    assert loaded.get_config() == model.get_config()
    x = {"in0": users[:4], "in1": items[:4]}
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)),
                               atol=1e-6)


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="`similarity` must be one of"):
        RetrievalModel(HP, similarity="euclidean")
    with pytest.raises(ValueError, match="`temperature` must be a positive"):
        RetrievalModel(HP, temperature=-1.0)


@pytest.mark.parametrize("network", ["pooled_embedding", "hcnn", "bilstm"])
def test_tied_encoders_give_one_tower(network, tmp_path):
    hp = {"enc0_network": network, "enc0_vocab_size": "21",
          "enc0_max_seq_len": "4", "enc0_layers": "1", "enc_dim": "8",
          "tied_encoder_weights": "True"}
    model = build_retrieval_model(hp, temperature=0.5)
    assert model.encoder1 is model.encoder0
    ids = np.array([[3, 4, 0], [5, 0, 0], [7, 8, 9]], np.int32)
    model.fit(retrieval_dataset(ids, ids[::-1], 3, seed=0), epochs=1,
              verbose=0)
    # Both sides are scored by one encoder: the matrix of a batch against
    # itself is symmetric.
    scores = np.asarray(model({"in0": ids, "in1": ids}))
    np.testing.assert_allclose(scores, scores.T, atol=1e-6)
    path = str(tmp_path / "tied.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.encoder1 is loaded.encoder0
    np.testing.assert_allclose(np.asarray(loaded({"in0": ids, "in1": ids})),
                               scores, atol=1e-6)


@pytest.mark.parametrize("train_metrics", [False, True])
def test_ranking_metrics_at_epoch_end_unless_asked_per_step(train_metrics):
    keras.utils.set_random_seed(0)
    model = build_retrieval_model(HP, temperature=0.1,
                                  train_metrics=train_metrics)
    users, items = toy_pairs(256)
    data = retrieval_dataset(users, items, 32, seed=0)
    history = model.fit(data, validation_data=retrieval_dataset(
        users, items, 32, shuffle=False), epochs=2, verbose=0).history
    assert ("batch_hits_at_10" in history) == train_metrics
    assert len(history["val_batch_hits_at_10"]) == 2
    assert 0.5 < history["val_batch_hits_at_10"][-1] <= 1.0
    # evaluate ranks the same validation batches with the same weights.
    results = model.evaluate(retrieval_dataset(users, items, 32,
                                               shuffle=False),
                             verbose=0, return_dict=True)
    assert results["batch_hits_at_10"] == pytest.approx(
        history["val_batch_hits_at_10"][-1])


def test_pair_scores_are_the_diagonal_of_the_score_matrix():
    model = build_retrieval_model(HP, temperature=0.5)
    users, items = toy_pairs(6)
    x = {"in0": users, "in1": items}
    np.testing.assert_allclose(
        np.asarray(model.pair_scores(x))[:, 0],
        np.diag(np.asarray(model(x))), atol=1e-6)


def test_positive_batches_keep_positives_with_their_probability():
    import tensorflow as tf

    in0 = np.array([[1], [2], [3], [4], [5], [6]], np.int32)
    in1 = np.array([[7], [8], [7], [9], [7], [8]], np.int32)
    labels = np.array([1, 0, 1, 1, 0, 0], np.int32)
    labelled = tf.data.Dataset.from_tensor_slices(
        ({"in0": in0, "in1": in1}, labels)).batch(2)
    frequencies = candidate_frequencies(labelled, 10)
    # Positives hold in1 7, 7, 9.
    np.testing.assert_allclose(frequencies[[7, 8, 9]], [2 / 3, 0, 1 / 3],
                               rtol=1e-6)
    batches = list(positive_batches(labelled, frequencies))
    # The last batch has no positive and is dropped.
    assert [b["in0"].numpy()[:, 0].tolist() for b in batches] == [[1], [3, 4]]
    np.testing.assert_allclose(batches[1]["sampling_probability"].numpy(),
                               [2 / 3, 1 / 3], rtol=1e-6)
    sequences = tf.data.Dataset.from_tensors(
        ({"in0": in0, "in1": np.ones((6, 3), np.int32)}, labels))
    with pytest.raises(ValueError, match="`in1` must be one token"):
        candidate_frequencies(sequences, 10)
