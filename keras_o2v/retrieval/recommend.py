"""Indexes from a trained model; recommendations; retrieval evaluation.

Works with any model whose encoders are the layers `encoder0`/`encoder1`
(`Object2Vec`, `RetrievalModel`). Users (queries) are embedded by encoder 0
and items (candidates) by encoder 1, as SageMaker's `in0`/`in1`.
"""

import numpy as np

from keras_o2v.data.jsonl import column
from keras_o2v.data.jsonl import read_jsonl
from keras_o2v.inference import embed
from keras_o2v.retrieval.index import EmbeddingIndex
from keras_o2v.retrieval.index import l2_normalize
from keras_o2v.retrieval.metrics import check_k
from keras_o2v.retrieval.metrics import hits_at_k
from keras_o2v.retrieval.metrics import hits_per_relevant
from keras_o2v.retrieval.metrics import mean_rank
from keras_o2v.retrieval.metrics import mean_reciprocal_rank
from keras_o2v.retrieval.metrics import ndcg_at_k
from keras_o2v.retrieval.metrics import recall_at_k

ID_FIELD = "id"


def instance_ids(instances):
    """The `"id"` of every instance if all have one, else `0..n-1`."""
    if instances and all(ID_FIELD in x for x in instances):
        return [x[ID_FIELD] for x in instances]
    return list(range(len(instances)))


def build_index(model, instances, ids=None, channel="in1", metric="cosine",
                backend="exact", **index_kwargs):
    """Embeds `instances` with the encoder of `channel` into an index.

    Args:
        model: a trained model with `encoder0`/`encoder1`.
        instances: list of dicts holding `channel` (`{"in1": [42]}`) or of
            id lists.
        ids: optional ids of the instances; defaults to their `"id"` field
            when every instance has one, else their position.
        channel: `"in0"` or `"in1"`. Defaults to `"in1"` (items).
        metric, backend, **index_kwargs: see `EmbeddingIndex`.
    """
    instances = list(instances)
    if ids is None:
        ids = instance_ids([x for x in instances if isinstance(x, dict)]
                           if all(isinstance(x, dict) for x in instances)
                           else [])
        if not len(ids):
            ids = list(range(len(instances)))
    vectors = embed(model, instances, channel=channel)
    return EmbeddingIndex(vectors, ids=ids, metric=metric, backend=backend,
                          **index_kwargs)


def query_instances(model, index, instances, k=10, channel="in0",
                    exclude=None, exact=None):
    """Top-k index ids and scores for raw instances (`{"in0": [...]}`)."""
    vectors = embed(model, instances, channel=channel)
    return index.search(vectors, k=k, exclude=exclude, exact=exact)


def recommend(model, index, users, k=10, seen=None, exact=None):
    """Top-k items for users, without the items they have already seen.

    Args:
        model: trained model; users are embedded by encoder 0.
        index: `EmbeddingIndex` of the items (`build_index(..., "in1")`).
        users: list of `in0` instances (`{"in0": [7]}` or `[7]`).
        k: int. Items per user.
        seen: optional list, per user, of item ids to leave out.
        exact: bool. Force exact search on an ANN index.

    Returns:
        `(ids, scores)` arrays `(len(users), k)`, best first.
    """
    return query_instances(model, index, users, k=k, channel="in0",
                           exclude=seen, exact=exact)


def similar_items(index, item_ids, k=10, exact=None):
    """The k nearest other items of each item id in the index."""
    return index.similar(item_ids, k=k, exact=exact)


def evaluate_retrieval(index, queries, relevant, exclude=None, ks=(10,),
                       batch_size=256):
    """Ranking metrics of query vectors against every item of the index.

    Scores are exact (the whole index is ranked, so the mean rank is the
    true one). Relevant ids absent from the index count as never found.

    Args:
        index: `EmbeddingIndex`.
        queries: float array `(m, dim)` (e.g. user embeddings).
        relevant: list of `m` id collections (held-out positives).
        exclude: optional list of `m` id collections never ranked (seen).
        ks: ints. Cut-offs for hits, recall and NDCG.
        batch_size: int. Queries scored at a time.

    Returns:
        dict: `hits@k` (share of queries with a hit: HR@k), `recall@k`
        (macro), `recall@k_micro` (relevant items found in the top-k
        lists / all relevant), `hit@k_per_relevant` (each relevant item
        ranked alone, the query's other relevant items removed: the
        per-positive hit@k), `ndcg@k`, `mrr`, `mean_rank`, `queries`,
        `relevant`, and `relevant_missing` (ids not in the index).
    """
    for k in ks:
        check_k(k)
    queries = index.prepare_queries(queries)
    if len(relevant) != len(queries):
        raise ValueError(f"`relevant` must hold one id collection per query "
                         f"({len(queries)}). Received: len(relevant)="
                         f"{len(relevant)}")
    per_query = {name: [] for name in
                 [f"hits@{k}" for k in ks] + [f"recall@{k}" for k in ks]
                 + [f"ndcg@{k}" for k in ks] + ["mrr", "mean_rank"]}
    found = {k: 0.0 for k in ks}
    alone = {k: 0 for k in ks}
    total_relevant = missing = 0
    for start in range(0, len(queries), batch_size):
        block = queries[start:start + batch_size] @ index.vectors.T
        rel = np.zeros_like(block)
        for i, items in enumerate(relevant[start:start + len(block)]):
            known = [x for x in items if x in index]
            missing += len(items) - len(known)
            rel[i, index.rows(known)] = 1.0
        if exclude is not None:
            for i, items in enumerate(exclude[start:start + len(block)]):
                known = [x for x in items if x in index]
                block[i, index.rows(known)] = -np.inf
            # A relevant item that is also excluded cannot be ranked.
            block[rel > 0] = np.where(np.isinf(block[rel > 0]), -1e30,
                                      block[rel > 0])
        total_relevant += int(rel.sum())
        for k in ks:
            per_query[f"hits@{k}"].append(hits_at_k(rel, block, k, "none"))
            per_query[f"recall@{k}"].append(
                recall_at_k(rel, block, k, reduction="none"))
            per_query[f"ndcg@{k}"].append(ndcg_at_k(rel, block, k, "none"))
            found[k] += np.nansum(per_query[f"recall@{k}"][-1]
                                  * rel.sum(axis=1))
            alone[k] += hits_per_relevant(rel, block, k)[0]
        per_query["mrr"].append(mean_reciprocal_rank(rel, block, "none"))
        per_query["mean_rank"].append(mean_rank(rel, block, "none"))
    results = {name: float(np.nanmean(np.concatenate(values)))
               for name, values in per_query.items()}
    every = total_relevant + missing
    for k in ks:
        results[f"recall@{k}_micro"] = (float(found[k] / every) if every
                                        else float("nan"))
        results[f"hit@{k}_per_relevant"] = (float(alone[k] / every) if every
                                            else float("nan"))
    results["queries"] = int(sum(
        np.sum(~np.isnan(v)) for v in per_query["mrr"]))
    results["relevant"] = total_relevant
    results["relevant_missing"] = missing
    return results




def id_lists(rows, field):
    """`rows[i][field]` for each row (missing -> empty list)."""
    return [list(row.get(field, [])) for row in rows]


def index_from_file(model, path, channel="in1", metric="cosine",
                    backend="exact"):
    """`build_index` over a JSON Lines file of instances (`"id"` optional)."""
    rows, lines = read_jsonl(path, with_line_numbers=True)
    if not rows:
        raise ValueError(f"{path!r} holds no instances.")
    values = column(rows, channel, path, lines,
                    hint=f"{{\"{channel}\": [...]}}")
    return build_index(model, [{channel: v} for v in values],
                       ids=instance_ids(rows), channel=channel,
                       metric=metric, backend=backend)


def result_rows(found, scores, query_ids=None):
    """Search results as JSON rows `{"id"?, "ids": [...], "scores": [...]}`.

    Slots an index could not fill (score -inf) are dropped; `query_ids`,
    when given, become each row's `"id"`.
    """
    rows = []
    for i, (ids, values) in enumerate(zip(found.tolist(), scores.tolist())):
        kept = [(x, s) for x, s in zip(ids, values) if s != float("-inf")]
        row = {"ids": [x for x, _ in kept], "scores": [s for _, s in kept]}
        rows.append(row if query_ids is None else
                    {"id": query_ids[i], **row})
    return rows


def similar_rows(index, ids, k=10, exact=None):
    """`result_rows` of the items nearest to index ids.

    `ids` may be strings (a command line's): they are read as numbers when
    the index holds numeric ids.
    """
    if index.ids.dtype.kind in "iu":
        ids = [int(x) for x in ids]
    found, scores = index.similar(ids, k=k, exact=exact)
    return result_rows(found, scores, query_ids=ids)


def query_file(model, index, path, k=10, channel="in0", exact=None):
    """`result_rows` for the instances of a JSON Lines file.

    Each line holds `{channel: [...]}`, optionally `"exclude": [ids]` never
    returned for it and an `"id"` copied to its row.
    """
    rows, lines = read_jsonl(path, with_line_numbers=True)
    values = column(rows, channel, path, lines, hint="channel")
    exclude = id_lists(rows, "exclude")
    found, scores = query_instances(
        model, index, [{channel: v} for v in values], k=k, channel=channel,
        exclude=exclude if any(exclude) else None, exact=exact)
    return [({"id": q["id"], **row} if "id" in q else row)
            for q, row in zip(rows, result_rows(found, scores))]


def evaluate_retrieval_file(model, index, path, ks=(10,)):
    """`evaluate_retrieval` of the queries of a JSON Lines file.

    Each line holds `{"in0": [...], "relevant": [ids]}`, optionally
    `"exclude": [ids]` (items seen in training, never ranked).
    """
    rows, lines = read_jsonl(path, with_line_numbers=True)
    users = column(rows, "in0", path, lines)
    exclude = id_lists(rows, "exclude")
    return evaluate_retrieval(
        index, embed(model, [{"in0": u} for u in users], "in0"),
        id_lists(rows, "relevant"),
        exclude=exclude if any(exclude) else None, ks=tuple(ks))


__all__ = ["build_index", "evaluate_retrieval", "evaluate_retrieval_file",
           "id_lists", "index_from_file", "query_file", "result_rows",
           "similar_rows",
           "instance_ids", "l2_normalize", "query_instances", "read_jsonl",
           "recommend", "similar_items"]
