import json
import os

import numpy as np
import pytest

from keras_o2v.retrieval import EmbeddingIndex


def clustered(n, dim, seed, clusters=20, noise=0.3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    return (centres[rng.integers(clusters, size=n)]
            + noise * rng.normal(size=(n, dim))).astype(np.float32)


def brute_force(vectors, queries, k, metric, exclude=None):
    if metric == "cosine":
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    scores = queries @ vectors.T
    if exclude is not None:
        for i, rows in enumerate(exclude):
            scores[i, list(rows)] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_exact_top_k_equals_numpy_oracle(metric):
    vectors, queries = clustered(500, 16, 0), clustered(37, 16, 1)
    ids = np.arange(1000, 1500)
    index = EmbeddingIndex(vectors, ids=ids, metric=metric)
    found, scores = index.search(queries, k=7, batch_size=10)
    rows, expected = brute_force(vectors, queries, 7, metric)
    np.testing.assert_array_equal(found, ids[rows])
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


def test_exact_search_excludes_ids_and_pads():
    vectors = clustered(6, 4, 2)
    index = EmbeddingIndex(vectors, ids=list("abcdef"))
    exclude = [["a", "b"], ["a", "b", "c", "d", "e"]]
    found, scores = index.search(vectors[:2], k=3, exclude=exclude)
    rows, _ = brute_force(vectors, vectors[:1], 3, "cosine", [[0, 1]])
    assert found[0].tolist() == [("abcdef")[r] for r in rows[0]]
    assert found[1].tolist() == ["f", "", ""]
    assert np.isneginf(scores[1, 1:]).all()


def test_ann_recall_at_10_against_exact():
    pytest.importorskip("faiss")
    vectors, queries = clustered(5000, 32, 3), clustered(200, 32, 4)
    index = EmbeddingIndex(vectors, backend="faiss")
    assert index.recall_against_exact(queries, k=10) >= 0.95
    # Exclusions hold on the approximate path too.
    found, _ = index.search(queries[:5], k=10, exclude=[[0, 1, 2]] * 5)
    assert not set(found.ravel().tolist()) & {0, 1, 2}


@pytest.mark.parametrize("backend", ["exact", "faiss"])
def test_save_load_round_trip(tmp_path, backend):
    if backend == "faiss":
        pytest.importorskip("faiss")
    vectors, queries = clustered(300, 8, 5), clustered(10, 8, 6)
    index = EmbeddingIndex(vectors, ids=np.arange(300) * 2, metric="dot",
                           backend=backend)
    path = index.save(str(tmp_path / "items.index"))
    with open(os.path.join(path, "index.json")) as f:
        assert json.load(f)["backend"] == backend
    loaded = EmbeddingIndex.load(path)
    assert loaded.get_config() == index.get_config()
    np.testing.assert_array_equal(loaded.ids, index.ids)
    for a, b in zip(loaded.search(queries, 5), index.search(queries, 5)):
        np.testing.assert_array_equal(a, b)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_similar_excludes_the_item_itself():
    vectors = clustered(50, 8, 7)
    index = EmbeddingIndex(vectors, ids=np.arange(50) + 1)
    found, _ = index.similar([1, 2], k=4)
    assert 1 not in found[0] and 2 not in found[1]
    rows, _ = brute_force(vectors, vectors[:1], 5, "cosine")
    assert found[0].tolist() == (rows[0][1:] + 1).tolist()


def test_errors_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="`metric` must be one of"):
        EmbeddingIndex(np.ones((2, 2)), metric="l2")
    with pytest.raises(ValueError, match="`ids` must be unique"):
        EmbeddingIndex(np.ones((2, 2)), ids=[1, 1])
    index = EmbeddingIndex(np.eye(3))
    with pytest.raises(ValueError, match=r"`queries` must be a 2-D array"):
        index.search(np.ones((1, 4)))
    with pytest.raises(ValueError, match="`k` must be a positive integer"):
        index.search(np.ones((1, 3)), k=0)
    with pytest.raises(ValueError, match="`ids` must be ids of the index"):
        index.similar([9])
    with pytest.raises(ValueError, match="No index.json"):
        EmbeddingIndex.load(str(tmp_path))
