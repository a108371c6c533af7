"""An index of embeddings: exact and approximate top-k search, save/load.

Exact search multiplies query batches by the whole matrix with keras ops and
keeps `ops.top_k`; it needs nothing beyond the package. Approximate search
uses an HNSW graph from faiss-cpu (the `ann` extra): of faiss, usearch and
hnswlib it built the graph and answered queries fastest at the same recall
(the "ANN library" section of the Results page, `benchmarks/ann.py`).

Cosine search L2-normalises the stored vectors once, so it is a dot product
at query time; `metric="dot"` keeps the raw vectors (maximum inner product).
"""

import json
import os

import keras
import numpy as np
from keras import ops

from keras_o2v.atomic import atomic_path
from keras_o2v.retrieval.metrics import check_k

METRICS = ("cosine", "dot")
BACKENDS = ("exact", "faiss")
FORMAT_VERSION = 1
CONFIG_FILE = "index.json"
VECTORS_FILE = "vectors.npy"
IDS_FILE = "ids.npy"
ANN_FILE = "ann.faiss"
# Query rows per matmul: bounds the (rows, n) score block in memory.
DEFAULT_QUERY_BATCH = 256


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}. "
                         f"Received: {name}={value!r}")


def l2_normalize(vectors):
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def import_faiss():
    """The `faiss` module, or a ValueError saying how to install it."""
    try:
        import faiss
    except ImportError as e:
        raise ValueError(
            "Approximate search needs the `ann` extra: pip install "
            f"'keras-o2v[ann]' (faiss-cpu). ({e})") from None
    return faiss


def _exclusion_mask(exclude, rows, id_to_row, n):
    """Boolean `(len(rows), n)`: True where a query must not see an item."""
    mask = np.zeros((len(rows), n), bool)
    for i, q in enumerate(rows):
        cols = [id_to_row[x] for x in exclude[q] if x in id_to_row]
        mask[i, cols] = True
    return mask


class EmbeddingIndex:
    """Vectors with ids, searchable by exact or approximate top-k.

    Args:
        vectors: float array `(n, dim)`, e.g. `in1` embeddings of items.
        ids: optional sequence of `n` ints or strings naming the rows (item
            ids); defaults to `0..n-1`.
        metric: `"cosine"` or `"dot"`. Defaults to `"cosine"`.
        backend: `"exact"` (keras ops, always available) or `"faiss"`
            (HNSW graph, the `ann` extra). Defaults to `"exact"`.
        connectivity, expansion_add, expansion_search: ints. HNSW graph
            degree and candidate-list sizes while adding and searching;
            larger is slower and more exact. Defaults to 32, 128 and 128.

    Example:

    ```python
    rng = np.random.default_rng(0)
    item_vectors = rng.normal(size=(100, 8)).astype("float32")
    index = keras_o2v.retrieval.EmbeddingIndex(
        item_vectors, ids=np.arange(1, 101), metric="cosine")
    ids, scores = index.search(item_vectors[:2], k=3)
    ids[:, 0]  # [1, 2]: each item is its own nearest neighbour
    index.save("items.index")
    index = keras_o2v.retrieval.EmbeddingIndex.load("items.index")
    ```
    """

    def __init__(self, vectors, ids=None, metric="cosine", backend="exact",
                 connectivity=32, expansion_add=128, expansion_search=128):
        _check_choice("metric", metric, METRICS)
        _check_choice("backend", backend, BACKENDS)
        vectors = np.asarray(vectors, np.float32)
        if vectors.ndim != 2 or not len(vectors) or not vectors.shape[1]:
            raise ValueError("`vectors` must be a non-empty 2-D array "
                             "(n, dim). Received: vectors.shape="
                             f"{vectors.shape}")
        ids = np.arange(len(vectors)) if ids is None else np.asarray(ids)
        if ids.shape != (len(vectors),):
            raise ValueError(f"`ids` must hold one id per vector ("
                             f"{len(vectors)}). Received: ids.shape="
                             f"{ids.shape}")
        if ids.dtype.kind not in "iuU":
            raise ValueError("`ids` must be integers or strings. Received: "
                             f"ids.dtype={ids.dtype}")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("`ids` must be unique.")
        self.metric = metric
        self.backend = backend
        self.connectivity = int(connectivity)
        self.expansion_add = int(expansion_add)
        self.expansion_search = int(expansion_search)
        self.vectors = l2_normalize(vectors) if metric == "cosine" else vectors
        self.ids = ids
        self._id_to_row = {x: i for i, x in enumerate(ids.tolist())}
        self._ann = None
        if backend != "exact":
            self._ann = self._build_ann()

    @property
    def dim(self):
        return self.vectors.shape[1]

    def __len__(self):
        return len(self.vectors)

    def _build_ann(self):
        faiss = import_faiss()
        # Inner product for both metrics: cosine vectors are normalised.
        ann = faiss.IndexHNSWFlat(self.dim, self.connectivity,
                                  faiss.METRIC_INNER_PRODUCT)
        ann.hnsw.efConstruction = self.expansion_add
        ann.add(np.ascontiguousarray(self.vectors))
        return ann

    def rows(self, ids):
        """Row numbers of `ids`; a ValueError names an unknown id."""
        out = []
        for x in ids:
            key = x.item() if isinstance(x, np.generic) else x
            if key not in self._id_to_row:
                raise ValueError(f"`ids` must be ids of the index. Received: "
                                 f"id={key!r}, not among {len(self)} ids")
            out.append(self._id_to_row[key])
        return np.asarray(out, np.int64)

    def vectors_of(self, ids):
        """Stored (normalised for cosine) vectors of `ids`."""
        return self.vectors[self.rows(ids)]

    def __contains__(self, item_id):
        """Whether `item_id` is one of the indexed ids."""
        return item_id in self._id_to_row

    def prepare_queries(self, queries):
        """Checks query vectors' shape; L2-normalises them for cosine."""
        queries = np.asarray(queries, np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"`queries` must be a 2-D array (m, {self.dim})."
                             f" Received: queries.shape={queries.shape}")
        return l2_normalize(queries) if self.metric == "cosine" else queries

    def search(self, queries, k=10, exclude=None, exact=None,
               batch_size=DEFAULT_QUERY_BATCH):
        """Top-k ids and scores for each query vector.

        Args:
            queries: float array `(m, dim)`.
            k: int. Results per query (fewer when the index, less the
                excluded ids, is smaller).
            exclude: optional list of `m` id collections never returned for
                that query (items a user has already seen; the item itself
                for similar items).
            exact: bool. Force exact search on an ANN index. Defaults to
                exact only for `backend="exact"`.
            batch_size: int. Queries per matmul in exact search.

        Returns:
            `(ids, scores)`: arrays `(m, k')`, best first, `k' = min(k, n)`;
            scores are cosines or dot products. A query with fewer than `k'`
            admissible items is padded with id -1 (or "") and score -inf.
        """
        check_k(k)
        queries = self.prepare_queries(queries)
        if exclude is not None and len(exclude) != len(queries):
            raise ValueError(f"`exclude` must hold one id collection per "
                             f"query ({len(queries)}). Received: "
                             f"len(exclude)={len(exclude)}")
        k = min(int(k), len(self))
        use_exact = self.backend == "exact" if exact is None else exact
        if use_exact:
            rows, scores = self._exact(queries, k, exclude, batch_size)
        else:
            rows, scores = self._approximate(queries, k, exclude)
        pad = -1 if self.ids.dtype.kind in "iu" else ""
        ids = np.where(rows >= 0, self.ids[np.maximum(rows, 0)], pad)
        return ids, scores

    def _exact(self, queries, k, exclude, batch_size):
        matrix = ops.convert_to_tensor(self.vectors)
        all_rows, all_scores = [], []
        for start in range(0, len(queries), batch_size):
            block = ops.matmul(
                ops.convert_to_tensor(queries[start:start + batch_size]),
                ops.transpose(matrix))
            if exclude is not None:
                mask = _exclusion_mask(
                    exclude, range(start, start + len(block)),
                    self._id_to_row, len(self))
                block = ops.where(mask, -np.inf, block)
            scores, rows = ops.top_k(block, k, sorted=True)
            all_rows.append(keras.ops.convert_to_numpy(rows))
            all_scores.append(keras.ops.convert_to_numpy(scores))
        rows = np.concatenate(all_rows).astype(np.int64)
        scores = np.concatenate(all_scores)
        rows[~np.isfinite(scores)] = -1
        return rows, scores

    def _approximate(self, queries, k, exclude):
        # Excluded ids are filtered after the search: ask for enough extra
        # neighbours that k admissible ones remain.
        extra = max((len(e) for e in exclude), default=0) if exclude else 0
        fetch = min(k + extra, len(self))
        # efSearch below the number fetched would cap the results.
        self._ann.hnsw.efSearch = max(self.expansion_search, fetch)
        found_scores, found_rows = self._ann.search(
            np.ascontiguousarray(queries), fetch)
        rows = np.full((len(queries), k), -1, np.int64)
        scores = np.full((len(queries), k), -np.inf, np.float32)
        for q in range(len(queries)):
            skip = (set(self.rows([x for x in exclude[q]
                                   if x in self._id_to_row]).tolist())
                    if exclude else ())
            kept = [(int(r), float(s))
                    for r, s in zip(found_rows[q], found_scores[q])
                    if r >= 0 and int(r) not in skip][:k]
            for j, (r, s) in enumerate(kept):
                rows[q, j], scores[q, j] = r, s
        return rows, scores

    def similar(self, ids, k=10, exact=None):
        """The `k` nearest other items of each id (itself excluded)."""
        return self.search(self.vectors_of(ids), k=k,
                           exclude=[[x] for x in ids], exact=exact)

    def recall_against_exact(self, queries, k=10):
        """Mean fraction of the exact top-k that the ANN search returns."""
        exact_ids, _ = self.search(queries, k, exact=True)
        approx_ids, _ = self.search(queries, k, exact=False)
        hits = [len(set(a.tolist()) & set(e.tolist())) / len(e)
                for a, e in zip(approx_ids, exact_ids)]
        return float(np.mean(hits))

    def get_config(self):
        return {"format_version": FORMAT_VERSION, "metric": self.metric,
                "backend": self.backend, "count": len(self), "dim": self.dim,
                "connectivity": self.connectivity,
                "expansion_add": self.expansion_add,
                "expansion_search": self.expansion_search}

    def save(self, path):
        """Writes a directory: index.json, vectors.npy, ids.npy[, ann.faiss].

        The directory appears complete or not at all (atomic rename).
        """
        with atomic_path(path) as tmp:
            os.makedirs(tmp)
            np.save(os.path.join(tmp, VECTORS_FILE), self.vectors)
            np.save(os.path.join(tmp, IDS_FILE), self.ids)
            if self._ann is not None:
                import_faiss().write_index(self._ann,
                                           os.path.join(tmp, ANN_FILE))
            with open(os.path.join(tmp, CONFIG_FILE), "w") as f:
                json.dump(self.get_config(), f, indent=2)
        return path

    @classmethod
    def load(cls, path):
        """Reads a directory written by `save` (the graph is not rebuilt)."""
        config_path = os.path.join(path, CONFIG_FILE)
        if not os.path.isfile(config_path):
            raise ValueError(f"No {CONFIG_FILE} in {path!r}: pass a "
                             "directory written by `EmbeddingIndex.save` "
                             "(`keras-o2v index build`).")
        with open(config_path) as f:
            config = json.load(f)
        if config.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{config_path!r} has index format "
                             f"{config.get('format_version')!r}; this "
                             f"version reads {FORMAT_VERSION}.")
        index = cls.__new__(cls)
        index.metric = config["metric"]
        index.backend = config["backend"]
        index.connectivity = config["connectivity"]
        index.expansion_add = config["expansion_add"]
        index.expansion_search = config["expansion_search"]
        # Stored vectors are already normalised for cosine.
        index.vectors = np.load(os.path.join(path, VECTORS_FILE))
        index.ids = np.load(os.path.join(path, IDS_FILE))
        index._id_to_row = {x: i for i, x in enumerate(index.ids.tolist())}
        index._ann = None
        if index.backend != "exact":
            index._ann = import_faiss().read_index(
                os.path.join(path, ANN_FILE))
        return index
