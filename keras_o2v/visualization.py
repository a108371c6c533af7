"""Pictures of embeddings: a 2-D map as PNG, TensorBoard projector files.

`plot_embeddings` projects vectors to 2-D (PCA by numpy SVD by default;
t-SNE with scikit-learn or UMAP with umap-learn when installed) and draws
them with matplotlib (the `viz` extra), optionally coloured by a category
and with a few points labelled. `export_projector` writes what TensorBoard's
Embedding Projector (or projector.tensorflow.org) reads: `vectors.tsv`,
`metadata.tsv` and `projector_config.pbtxt`; it needs nothing installed.

A leaf module: numpy and the atomic writer only.
"""

import os

import numpy as np

from keras_o2v.atomic import atomic_path

METHODS = ("pca", "tsne", "umap")
PROJECTOR_CONFIG = "projector_config.pbtxt"
VECTORS_TSV = "vectors.tsv"
METADATA_TSV = "metadata.tsv"


def _check_vectors(vectors):
    vectors = np.asarray(vectors, np.float64)
    if vectors.ndim != 2 or len(vectors) < 2:
        raise ValueError("`vectors` must be a 2-D array with at least 2 "
                         f"rows. Received: vectors.shape={vectors.shape}")
    return vectors


def pca_2d(vectors):
    """First two principal components (n, 2), by SVD of centred vectors."""
    x = _check_vectors(vectors)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    out = x @ vt[:2].T
    if out.shape[1] < 2:  # one-dimensional vectors
        out = np.concatenate([out, np.zeros((len(out), 1))], axis=1)
    return out


def project_2d(vectors, method="pca", seed=0):
    """2-D coordinates by PCA, t-SNE (scikit-learn) or UMAP (umap-learn)."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {list(METHODS)}. "
                         f"Received: method={method!r}")
    if method == "pca":
        return pca_2d(vectors)
    x = _check_vectors(vectors)
    try:
        if method == "tsne":
            from sklearn.manifold import TSNE
            return TSNE(2, random_state=seed,
                        perplexity=min(30.0, len(x) - 1.0)).fit_transform(x)
        import umap
        return umap.UMAP(random_state=seed).fit_transform(x)
    except ImportError as e:
        package = "scikit-learn" if method == "tsne" else "umap-learn"
        raise ValueError(f"`method={method!r}` needs {package}: pip install "
                         f"{package} ({e}). `method='pca'` needs nothing."
                         ) from None


def plot_embeddings(vectors, path, labels=None, colors=None, method="pca",
                    title=None, max_labels=40, seed=0):
    """Saves a 2-D scatter plot of `vectors` as a PNG.

    Args:
        vectors: float array `(n, dim)`.
        path: output `.png` path (written atomically).
        labels: optional `n` strings; up to `max_labels` of them, spread
            over the data, are written beside their points (all of them when
            `n <= max_labels`).
        colors: optional `n` category names (a legend is drawn, up to 20
            categories) or numbers (a colour bar).
        method: `"pca"`, `"tsne"` or `"umap"`. Defaults to `"pca"`.
        title: optional figure title.
        max_labels: int. Most text labels drawn.
        seed: int. For t-SNE/UMAP and the choice of labelled points.

    Returns:
        `(n, 2)` coordinates that were plotted.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ValueError("Plots need matplotlib: pip install "
                         f"'keras-o2v[viz]' ({e}).") from None
    xy = project_2d(vectors, method, seed)
    n = len(xy)
    for name, values in (("labels", labels), ("colors", colors)):
        if values is not None and len(values) != n:
            raise ValueError(f"`{name}` must hold one entry per vector "
                             f"({n}). Received: len({name})={len(values)}")
    fig, ax = plt.subplots(figsize=(9, 7), dpi=120)
    size = max(8.0, min(40.0, 8000.0 / n))
    if colors is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.7, linewidths=0)
    elif all(isinstance(c, (int, float, np.number)) for c in colors):
        points = ax.scatter(xy[:, 0], xy[:, 1], c=np.asarray(colors, float),
                            s=size, alpha=0.7, cmap="viridis", linewidths=0)
        fig.colorbar(points, ax=ax)
    else:
        names = [str(c) for c in colors]
        categories = sorted(set(names))
        cmap = plt.get_cmap("tab20" if len(categories) > 10 else "tab10")
        for i, category in enumerate(categories):
            keep = np.array([c == category for c in names])
            ax.scatter(xy[keep, 0], xy[keep, 1], s=size, alpha=0.7,
                       color=cmap(i % cmap.N), linewidths=0,
                       label=category if len(categories) <= 20 else None)
        if len(categories) <= 20:
            ax.legend(loc="best", fontsize=8, markerscale=2, frameon=False)
    if labels is not None:
        chosen = np.arange(n)
        if n > max_labels:
            chosen = np.random.default_rng(seed).choice(n, max_labels,
                                                        replace=False)
        for i in chosen:
            ax.annotate(str(labels[i])[:30], xy[i], fontsize=7, alpha=0.9,
                        xytext=(2, 2), textcoords="offset points")
    axis_name = {"pca": "PC", "tsne": "t-SNE ", "umap": "UMAP "}[method]
    ax.set_xlabel(f"{axis_name}1")
    ax.set_ylabel(f"{axis_name}2")
    ax.set_title(title or f"{n} embeddings ({method.upper()})")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return xy


def _tsv_cell(value):
    # The projector splits on tabs and lines: keep each cell on one line.
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def export_projector(vectors, log_dir, metadata=None, tensor_name="embedding"):
    """Writes TensorBoard Embedding Projector files into `log_dir`.

    Args:
        vectors: float array `(n, dim)`.
        log_dir: directory (created); point `tensorboard --logdir` at it, or
            load `vectors.tsv`/`metadata.tsv` in projector.tensorflow.org.
        metadata: optional list of `n` labels, or dict column name -> list
            of `n` values (written with a header row, as the projector
            expects for several columns).
        tensor_name: str. Name shown in the projector.

    Returns:
        dict of the written paths.
    """
    vectors = np.asarray(vectors, np.float32)
    if vectors.ndim != 2 or not len(vectors):
        raise ValueError("`vectors` must be a non-empty 2-D array. Received:"
                         f" vectors.shape={vectors.shape}")
    os.makedirs(log_dir, exist_ok=True)
    paths = {"vectors": os.path.join(log_dir, VECTORS_TSV),
             "config": os.path.join(log_dir, PROJECTOR_CONFIG)}
    with atomic_path(paths["vectors"]) as tmp:
        np.savetxt(tmp, vectors, delimiter="\t", fmt="%.6g")
    config = ["embeddings {", f'  tensor_name: "{tensor_name}"',
              f'  tensor_path: "{VECTORS_TSV}"',
              f"  tensor_shape: {vectors.shape[0]}",
              f"  tensor_shape: {vectors.shape[1]}"]
    if metadata is not None:
        if isinstance(metadata, dict):
            columns = list(metadata)
            rows = list(zip(*(metadata[c] for c in columns)))
            lines = ["\t".join(map(_tsv_cell, columns))]
            for c in columns:
                if len(metadata[c]) != len(vectors):
                    raise ValueError(
                        f"`metadata[{c!r}]` must hold one value per vector "
                        f"({len(vectors)}). Received: {len(metadata[c])}")
        else:
            if len(metadata) != len(vectors):
                raise ValueError(
                    f"`metadata` must hold one label per vector "
                    f"({len(vectors)}). Received: len(metadata)="
                    f"{len(metadata)}")
            rows = [(m,) for m in metadata]
            lines = []  # a single column has no header row
        lines += ["\t".join(map(_tsv_cell, row)) for row in rows]
        paths["metadata"] = os.path.join(log_dir, METADATA_TSV)
        with atomic_path(paths["metadata"]) as tmp, open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        config.append(f'  metadata_path: "{METADATA_TSV}"')
    config.append("}")
    with atomic_path(paths["config"]) as tmp, open(tmp, "w") as f:
        f.write("\n".join(config) + "\n")
    return paths
