"""Recall@10 and speed of faiss-cpu, usearch and hnswlib HNSW indexes.

Synthetic clustered unit vectors (a mixture of Gaussians, like item
embeddings), inner-product search, exact top-10 by numpy as the oracle.
Each library gets the same HNSW settings (M = connectivity 32,
efConstruction 128, efSearch `--ef-search`) and all CPU threads.

    nice -n 10 python benchmarks/ann.py --n 100000 --dim 64 --queries 2000
"""

import argparse
import json
import os
import time

import numpy as np


def clustered(n, dim, clusters, rng, noise):
    centres = rng.normal(size=(clusters, dim))
    x = centres[rng.integers(clusters, size=n)] + noise * rng.normal(
        size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def exact_top_k(data, queries, k):
    out = []
    for start in range(0, len(queries), 512):
        s = queries[start:start + 512] @ data.T
        top = np.argpartition(-s, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(s, top, 1), axis=1)
        out.append(np.take_along_axis(top, order, 1))
    return np.concatenate(out)


def recall(found, truth):
    return float(np.mean([len(set(f) & set(t)) / len(t)
                          for f, t in zip(found.tolist(), truth.tolist())]))


def run_faiss(data, queries, k, m, ef_c, ef_s):
    import faiss
    index = faiss.IndexHNSWFlat(data.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_c
    t = time.perf_counter()
    index.add(data)
    build = time.perf_counter() - t
    index.hnsw.efSearch = ef_s
    t = time.perf_counter()
    _, found = index.search(queries, k)
    return found, build, time.perf_counter() - t


def run_usearch(data, queries, k, m, ef_c, ef_s):
    from usearch.index import Index
    index = Index(ndim=data.shape[1], metric="ip", dtype="f32",
                  connectivity=m, expansion_add=ef_c, expansion_search=ef_s)
    threads = os.cpu_count()
    t = time.perf_counter()
    index.add(np.arange(len(data), dtype=np.uint64), data, threads=threads)
    build = time.perf_counter() - t
    t = time.perf_counter()
    found = index.search(queries, k, threads=threads).keys
    return np.asarray(found), build, time.perf_counter() - t


def run_hnswlib(data, queries, k, m, ef_c, ef_s):
    import hnswlib
    index = hnswlib.Index(space="ip", dim=data.shape[1])
    index.init_index(max_elements=len(data), M=m, ef_construction=ef_c)
    t = time.perf_counter()
    index.add_items(data, np.arange(len(data)))
    build = time.perf_counter() - t
    index.set_ef(ef_s)
    t = time.perf_counter()
    found, _ = index.knn_query(queries, k)
    return found, build, time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--noise", type=float, default=0.5,
                        help="spread around the centres (1 = centre scale)")
    parser.add_argument("--ef-search", type=int, default=128)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    data = clustered(args.n, args.dim, args.clusters, rng, args.noise)
    queries = clustered(args.queries, args.dim, args.clusters, rng,
                        args.noise)
    t = time.perf_counter()
    truth = exact_top_k(data, queries, args.k)
    exact_s = time.perf_counter() - t
    print(f"n={args.n} dim={args.dim} queries={args.queries} "
          f"noise={args.noise} ef_search={args.ef_search} "
          f"cpus={os.cpu_count()}; exact numpy: "
          f"{args.queries / exact_s:.0f} queries/s")
    results = {}
    for name, fn in (("faiss-cpu", run_faiss), ("usearch", run_usearch),
                     ("hnswlib", run_hnswlib)):
        try:
            found, build, search = fn(data, queries, args.k, 32, 128,
                                       args.ef_search)
        except ImportError as e:
            print(f"{name}: not installed ({e})")
            continue
        results[name] = {"recall@10": round(recall(found, truth), 4),
                         "build_s": round(build, 2),
                         "queries_per_s": round(args.queries / search)}
        print(f"{name}: {json.dumps(results[name])}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
