import math

import numpy as np
import pytest

from keras_o2v.retrieval import HitsAtK
from keras_o2v.retrieval import MeanRank
from keras_o2v.retrieval import MeanReciprocalRank
from keras_o2v.retrieval import NDCGAtK
from keras_o2v.retrieval import RecallAtK
from keras_o2v.retrieval import hits_at_k
from keras_o2v.retrieval import mean_rank
from keras_o2v.retrieval import mean_reciprocal_rank
from keras_o2v.retrieval import ndcg_at_k
from keras_o2v.retrieval import recall_at_k
from keras_o2v.retrieval.metrics import hit_rate_per_relevant

# Row 0 ranks items 0, 2, 3, 1: its relevant items 1 and 2 rank 4 and 2.
# Row 1 ties at 0.2: item 2 first, then 0, 1, 3 by position; relevant 3
# ranks 4. Row 2 has no relevant item and is left out of every mean.
SCORES = np.array([[0.9, 0.1, 0.5, 0.3],
                   [0.2, 0.2, 0.8, 0.2],
                   [0.1, 0.2, 0.3, 0.4]], np.float32)
RELEVANCE = np.array([[0, 1, 1, 0],
                      [0, 0, 0, 1],
                      [0, 0, 0, 0]], np.float32)
L3, L5 = 1 / math.log2(3), 1 / math.log2(5)


def test_functions_match_hand_computed_values():
    assert hits_at_k(RELEVANCE, SCORES, 1) == 0.0
    assert hits_at_k(RELEVANCE, SCORES, 2) == 0.5
    assert recall_at_k(RELEVANCE, SCORES, 2) == pytest.approx(0.25)
    assert recall_at_k(RELEVANCE, SCORES, 2, average="micro") == \
        pytest.approx(1 / 3)
    assert recall_at_k(RELEVANCE, SCORES, 4) == 1.0
    assert mean_reciprocal_rank(RELEVANCE, SCORES) == pytest.approx(0.375)
    assert mean_rank(RELEVANCE, SCORES) == pytest.approx(3.5)
    assert ndcg_at_k(RELEVANCE, SCORES, 3) == pytest.approx(
        (L3 / (1 + L3) + 0.0) / 2, rel=1e-5)
    assert ndcg_at_k(RELEVANCE, SCORES, 4) == pytest.approx(
        ((L3 + L5) / (1 + L3) + L5) / 2, rel=1e-5)
    per_query = mean_rank(RELEVANCE, SCORES, reduction="none")
    np.testing.assert_allclose(per_query[:2], [3.0, 4.0])
    assert np.isnan(per_query[2])


def test_hit_rate_per_relevant_ranks_each_item_alone():
    # Row 0: relevant ranks 2 and 4 -> 2 and 3 once the other is removed;
    # row 1: rank 4.
    assert hit_rate_per_relevant(RELEVANCE, SCORES, 2) == pytest.approx(1 / 3)
    assert hit_rate_per_relevant(RELEVANCE, SCORES, 3) == pytest.approx(2 / 3)
    assert hit_rate_per_relevant(RELEVANCE, SCORES, 4) == 1.0


def test_excluded_items_rank_last():
    scores = np.array([[np.inf * -1, 0.1, 0.2]], np.float32)
    assert mean_rank(np.array([[0, 1, 0]]), scores) == 2.0


def test_ties_rank_by_position_on_large_rows():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(4, 300)).astype(np.float32)
    relevance = (rng.random((4, 300)) < 0.05).astype(np.float32)
    order = np.lexsort((np.arange(300)[None].repeat(4, 0), -scores), axis=1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, 301)[None], axis=1)
    expected = [(ranks[i] * relevance[i]).sum() / relevance[i].sum()
                for i in range(4)]
    np.testing.assert_allclose(mean_rank(relevance, scores, "none"),
                               expected, rtol=1e-6)


@pytest.mark.parametrize("cls,fn,kwargs", [
    (HitsAtK, hits_at_k, {"k": 2}),
    (RecallAtK, recall_at_k, {"k": 2}),
    (NDCGAtK, ndcg_at_k, {"k": 3}),
    (MeanReciprocalRank, mean_reciprocal_rank, {}),
    (MeanRank, mean_rank, {}),
])
def test_keras_metrics_accumulate_like_functions(cls, fn, kwargs):
    metric = cls(**kwargs)
    metric.update_state(RELEVANCE[:1], SCORES[:1])
    metric.update_state(RELEVANCE[1:], SCORES[1:])
    assert float(metric.result()) == pytest.approx(
        fn(RELEVANCE, SCORES, **kwargs), rel=1e-5)
    clone = cls.from_config(metric.get_config())
    assert clone.get_config() == metric.get_config()


def test_bad_k_is_named():
    with pytest.raises(ValueError, match="`k` must be a positive integer"):
        hits_at_k(RELEVANCE, SCORES, 0)
    with pytest.raises(ValueError, match="`average` must be one of"):
        recall_at_k(RELEVANCE, SCORES, 2, average="weighted")
