"""Ranking metrics: hits@k, recall@k, MRR, NDCG@k and mean rank.

Every metric reads a dense score matrix `scores (queries, items)` and a
relevance matrix of the same shape (1 = relevant, 0 = not; NDCG also takes
graded gains). Items are ranked by descending score, ties broken by item
position (the lower index first), so results do not depend on the sort
algorithm. Exclude items (already seen, the query item itself) by giving
them score `-inf`: they rank last.

A query without any relevant item has no value and is left out of every
mean. One implementation on keras ops serves both the numpy functions
(`hits_at_k(...)`) and the Keras metrics (`HitsAtK(k)`), so a metric
tracked during `fit` and one computed offline cannot disagree.
"""

import keras
import numpy as np
from keras import ops

from keras_o2v.api_export import register

AVERAGES = ("macro", "micro")


def check_k(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"`k` must be a positive integer. Received: k={k!r}")


def _ranks(scores):
    """1-based rank of every item in its row, ties by position."""
    n = ops.shape(scores)[-1]
    # The backends' argsort is not stable: sort by score, then re-sort by
    # the key (run of equal scores, position) in int64.
    order = ops.argsort(-scores, axis=-1)
    sorted_scores = ops.take_along_axis(scores, order, axis=-1)
    new_run = ops.not_equal(sorted_scores[..., 1:], sorted_scores[..., :-1])
    run = ops.cumsum(ops.concatenate(
        [ops.zeros_like(new_run[..., :1], "int64"),
         ops.cast(new_run, "int64")], axis=-1), axis=-1)
    # `n` is a tensor when the batch size is unknown (filtered batches).
    key = run * (ops.cast(n, "int64") + 1) + ops.cast(order, "int64")
    order = ops.take_along_axis(order, ops.argsort(key, axis=-1), axis=-1)
    return ops.argsort(order, axis=-1) + 1


def ranks(scores):
    """numpy `(queries, items)` 1-based ranks by descending score."""
    scores = ops.convert_to_tensor(scores, "float32")
    scores = ops.where(ops.isfinite(scores), scores, -3.0e38)
    return keras.ops.convert_to_numpy(_ranks(scores))


def hits_per_relevant(relevance, scores, k):
    """(hits, count): relevant items in the top k when ranked alone.

    Each relevant item is ranked against the non-relevant items only (the
    query's other relevant items are removed, the "filtered" leave-one-out
    protocol of per-positive hit@k): its filtered rank is its rank minus
    the number of relevant items above it.
    """
    check_k(k)
    relevant = np.asarray(relevance) > 0
    n = relevant.shape[1]
    # Non-relevant items sort after every relevant one (n + 1 > any rank).
    rank = np.sort(np.where(relevant, ranks(scores).astype(np.int64), n + 1),
                   axis=1)
    filtered = rank - np.arange(rank.shape[1])[None, :]
    n_rel = relevant.sum(axis=1, keepdims=True)
    inside = np.arange(rank.shape[1])[None, :] < n_rel
    return int(np.sum(inside & (filtered <= k))), int(n_rel.sum())


def hit_rate_per_relevant(relevance, scores, k):
    """Share of relevant items in the top k when ranked alone (filtered).

    The per-positive hit@k of implicit recommendation: each held-out
    positive against the items that are neither seen nor other positives.
    """
    hits, count = hits_per_relevant(relevance, scores, k)
    return hits / count if count else float("nan")


def _prepare(relevance, scores):
    scores = ops.convert_to_tensor(scores, "float32")
    relevance = ops.cast(ops.convert_to_tensor(relevance), "float32")
    # -inf scores (excluded items) would make equal runs; a large negative
    # number keeps the order and the tie rule.
    scores = ops.where(ops.isfinite(scores), scores, -3.0e38)
    return relevance, scores, ops.cast(_ranks(scores), "float32")


def _per_query(name, relevance, scores, k=None):
    """(values, has_relevant) per query for metric `name`."""
    relevance, scores, ranks = _prepare(relevance, scores)
    relevant = ops.cast(relevance > 0, "float32")
    n_rel = ops.sum(relevant, axis=-1)
    valid = n_rel > 0
    safe_n = ops.maximum(n_rel, 1.0)
    if k is not None:
        in_top = ops.cast(ranks <= k, "float32") * relevant
    if name == "hits":
        values = ops.cast(ops.sum(in_top, axis=-1) > 0, "float32")
    elif name == "recall":
        values = ops.sum(in_top, axis=-1) / safe_n
    elif name == "hit_count":
        values = ops.sum(in_top, axis=-1)
    elif name == "mrr":
        best = ops.min(ops.where(relevant > 0, ranks, 3.0e38), axis=-1)
        values = ops.where(valid, 1.0 / best, 0.0)
    elif name == "ndcg":
        discount = 1.0 / (ops.log(ranks + 1.0) / np.log(2.0))
        dcg = ops.sum(in_top * relevance * discount, axis=-1)
        # Ideal: the gains sorted descending in the first k places.
        ideal_gain = ops.flip(ops.sort(relevance, axis=-1), axis=-1)
        positions = ops.cast(ops.arange(ops.shape(relevance)[-1]),
                             "float32") + 1.0
        ideal = ops.sum(ideal_gain * ops.cast(positions <= k, "float32")
                        / (ops.log(positions + 1.0) / np.log(2.0)), axis=-1)
        values = dcg / ops.maximum(ideal, 1e-12)
    elif name == "mean_rank":
        values = ops.sum(ranks * relevant, axis=-1) / safe_n
    else:
        raise ValueError(f"Unknown metric {name!r}")
    return values, valid


def _reduce(values, valid, reduction):
    values = keras.ops.convert_to_numpy(values).astype(np.float64)
    valid = keras.ops.convert_to_numpy(valid)
    if reduction == "none":
        return np.where(valid, values, np.nan)
    if reduction != "mean":
        raise ValueError("`reduction` must be one of ['mean', 'none']. "
                         f"Received: reduction={reduction!r}")
    return float(values[valid].mean()) if valid.any() else float("nan")


def hits_at_k(relevance, scores, k, reduction="mean"):
    """1 if any relevant item is in the top k, per query (mean by default).

    With one relevant item per query this is the hit rate HR@k.
    """
    check_k(k)
    return _reduce(*_per_query("hits", relevance, scores, k), reduction)


def recall_at_k(relevance, scores, k, average="macro", reduction="mean"):
    """Share of the relevant items found in the top k.

    Args:
        average: `"macro"`: the mean over queries of each query's recall;
            `"micro"`: found relevant items over all relevant items, i.e.
            hit@k counted once per relevant item (the "per positive" figure
            of implicit recommendation). Defaults to `"macro"`.
        reduction: `"mean"` or `"none"` (per-query values; macro only).
    """
    check_k(k)
    if average not in AVERAGES:
        raise ValueError(f"`average` must be one of {list(AVERAGES)}. "
                         f"Received: average={average!r}")
    if average == "micro":
        found, _ = _per_query("hit_count", relevance, scores, k)
        total = np.sum(np.asarray(relevance) > 0)
        return float(np.sum(keras.ops.convert_to_numpy(found)) / total) \
            if total else float("nan")
    return _reduce(*_per_query("recall", relevance, scores, k), reduction)


def mean_reciprocal_rank(relevance, scores, reduction="mean"):
    """1 / rank of the best-ranked relevant item (MRR when averaged)."""
    return _reduce(*_per_query("mrr", relevance, scores), reduction)


def ndcg_at_k(relevance, scores, k, reduction="mean"):
    """Normalised discounted cumulative gain of the top k.

    `DCG@k = sum over the top k of gain / log2(rank + 1)`, where the gain is
    the relevance value (1 for binary relevance), divided by the DCG@k of
    the ideal order.
    """
    check_k(k)
    return _reduce(*_per_query("ndcg", relevance, scores, k), reduction)


def mean_rank(relevance, scores, reduction="mean"):
    """Mean rank (1 = best) of a query's relevant items, per query."""
    return _reduce(*_per_query("mean_rank", relevance, scores), reduction)


class _RankingMetric(keras.metrics.Metric):
    """Mean of a per-query ranking value over the queries with a relevant item.

    `update_state(y_true, y_pred)`: `y_true` relevance `(batch, items)`,
    `y_pred` scores of the same shape. In a retrieval model's in-batch
    evaluation `y_true` is the identity (each query's own candidate).
    """

    _name = None
    _uses_k = True

    def __init__(self, k=10, name=None, dtype=None):
        if self._uses_k:
            check_k(k)
        super().__init__(name=name or self._default_name(k), dtype=dtype)
        self.k = k
        self.total = self.add_variable(shape=(), initializer="zeros",
                                       name="total")
        self.count = self.add_variable(shape=(), initializer="zeros",
                                       name="count")

    def _default_name(self, k):
        return f"{self._name}_at_{k}" if self._uses_k else self._name

    def update_state(self, y_true, y_pred, sample_weight=None):
        values, valid = _per_query(self._name, y_true, y_pred,
                                   self.k if self._uses_k else None)
        weight = ops.cast(valid, "float32")
        if sample_weight is not None:
            weight = weight * ops.reshape(
                ops.cast(sample_weight, "float32"), ops.shape(weight))
        self.total.assign_add(ops.sum(values * weight))
        self.count.assign_add(ops.sum(weight))

    def result(self):
        return ops.divide_no_nan(self.total, self.count)

    def get_config(self):
        return {"k": self.k, "name": self.name, "dtype": self.dtype}


@register
class HitsAtK(_RankingMetric):
    """Share of queries with a relevant item in the top `k` (HR@k)."""

    _name = "hits"


@register
class RecallAtK(_RankingMetric):
    """Mean over queries of the share of relevant items in the top `k`."""

    _name = "recall"


@register
class NDCGAtK(_RankingMetric):
    """Mean NDCG@k (binary or graded relevance)."""

    _name = "ndcg"


@register
class MeanReciprocalRank(_RankingMetric):
    """Mean of 1 / rank of the best-ranked relevant item."""

    _name = "mrr"
    _uses_k = False


@register
class MeanRank(_RankingMetric):
    """Mean rank of the relevant items (1 = best); lower is better."""

    _name = "mean_rank"
    _uses_k = False
