"""Pictures of embeddings: a 2-D map as PNG, TensorBoard projector files.

`plot_embeddings` projects vectors to 2-D (PCA by numpy SVD by default;
t-SNE with scikit-learn or UMAP with umap-learn when installed) and draws
them with matplotlib (the `viz` extra), optionally coloured by a category
and with a few points labelled. `export_projector` writes what TensorBoard's
Embedding Projector (or projector.tensorflow.org) reads: `vectors.tsv`,
`metadata.tsv` and `projector_config.pbtxt`; it needs nothing installed.
`visualize_files` does both from files: instances embedded by a model, or
what `keras-o2v embed` wrote, with labels and colours from JSON fields.

Importing it loads numpy and the atomic writer only (the CLI reads
`METHODS` for its `--help`); `visualize_files` loads the rest when called.
"""

import os

import numpy as np

from keras_o2v.atomic import atomic_path

METHODS = ("pca", "tsne", "umap")
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
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


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {list(METHODS)}. "
                         f"Received: method={method!r}")


def _reducer(method):
    """The t-SNE or UMAP class; a missing library says what to install."""
    try:
        if method == "tsne":
            from sklearn.manifold import TSNE
            return TSNE
        from umap import UMAP
        return UMAP
    except ImportError as e:
        package = "scikit-learn" if method == "tsne" else "umap-learn"
        extra = ", or pip install 'keras-o2v[viz]'" if method == "tsne" else ""
        raise ValueError(f"`method={method!r}` needs {package}: pip install "
                         f"{package}{extra} (import failed: {e}). "
                         "`method='pca'` needs nothing.") from None


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ValueError("Plots need matplotlib: pip install "
                         f"'keras-o2v[viz]' ({e}).") from None
    return plt


def check_method(method, plot=True):
    """Raises the error `plot_embeddings` would raise for a missing library.

    Lets a caller fail before computing embeddings, not after.

    Args:
        method: `"pca"`, `"tsne"` or `"umap"`.
        plot: bool. Also require matplotlib.
    """
    _check_method(method)
    if method != "pca":
        _reducer(method)
    if plot:
        _pyplot()


def project_2d(vectors, method="pca", seed=0):
    """2-D coordinates by PCA, t-SNE (scikit-learn) or UMAP (umap-learn)."""
    _check_method(method)
    if method == "pca":
        return pca_2d(vectors)
    x = _check_vectors(vectors)
    reducer = _reducer(method)
    if method == "tsne":
        # scikit-learn requires perplexity < n_samples.
        return reducer(2, random_state=seed,
                       perplexity=min(30.0, len(x) - 1.0)).fit_transform(x)
    # UMAP needs n_neighbors < n_samples; a seed makes it single-threaded
    # anyway (it warns unless told).
    return reducer(n_neighbors=int(max(2, min(15, len(x) - 1))),
                   random_state=seed, n_jobs=1).fit_transform(x)


def spread_order(xy, count, seed=0):
    """`count` point indices, each the farthest from those before it.

    Greedy farthest-point order on coordinates scaled to the unit square, so
    that labelled points cover the map instead of crowding its dense parts.
    The first point is drawn at random with `seed`.
    """
    xy = np.asarray(xy, np.float64)
    low, span = xy.min(axis=0), np.ptp(xy, axis=0)
    z = (xy - low) / np.where(span > 0, span, 1.0)
    order = [int(np.random.default_rng(seed).integers(len(z)))]
    distance = np.linalg.norm(z - z[order[0]], axis=1)
    for _ in range(min(count, len(z)) - 1):
        order.append(int(distance.argmax()))
        distance = np.minimum(distance,
                              np.linalg.norm(z - z[order[-1]], axis=1))
    return order


def _shorten(text, width=30):
    text = " ".join(str(text).split())  # one line
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def _annotate(ax, xy, labels, max_labels, seed):
    """Labels up to `max_labels` spread points; none overlap or leave `ax`.

    Axes limits and layout must be final: boxes are measured in pixels.
    """
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed = []
    # Candidates beyond `max_labels`: those that collide are skipped.
    for i in spread_order(xy, 10 * max_labels, seed):
        if len(placed) == max_labels:
            break
        for dx, align in ((4, "left"), (-4, "right")):  # right, else left
            text = ax.annotate(
                _shorten(labels[i]), xy[i], xytext=(dx, 3),
                textcoords="offset points", ha=align, fontsize=7,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white",
                      "edgecolor": "none", "alpha": 0.7})
            box = text.get_window_extent(renderer).expanded(1.05, 1.2)
            inside = (frame.x0 <= box.x0 and box.x1 <= frame.x1
                      and frame.y0 <= box.y0 and box.y1 <= frame.y1)
            if inside and not any(box.overlaps(b) for b in placed):
                placed.append(box)
                ax.scatter(*xy[i], s=30, facecolors="none",
                           edgecolors="black", linewidths=0.8)
                break
            text.remove()
    return len(placed)


def plot_embeddings(vectors, path, labels=None, colors=None, method="pca",
                    title=None, max_labels=40, seed=0, colors_title=None):
    """Saves a 2-D scatter plot of `vectors` as a PNG.

    Args:
        vectors: float array `(n, dim)`.
        path: output `.png` path (written atomically).
        labels: optional `n` strings. Up to `max_labels` of them, on points
            spread over the map (`spread_order`), are written beside their
            circled points; a label that would overlap another or leave the
            axes is skipped for the next point. Long labels are cut to 30
            characters.
        colors: optional `n` category names (a legend beside the map, up to
            20 categories) or numbers (a colour bar).
        method: `"pca"`, `"tsne"` or `"umap"`. Defaults to `"pca"`.
        title: optional figure title.
        max_labels: int. Most text labels drawn. Defaults to 40.
        seed: int. For t-SNE/UMAP and the choice of labelled points.
        colors_title: optional title of the legend or colour bar (the name
            of what `colors` holds, e.g. `"genre"`).

    Returns:
        `(n, 2)` coordinates that were plotted.
    """
    plt = _pyplot()
    n = len(vectors)
    # Checked before the projection: t-SNE can take minutes.
    for name, values in (("labels", labels), ("colors", colors)):
        if values is not None and len(values) != n:
            raise ValueError(f"`{name}` must hold one entry per vector "
                             f"({n}). Received: len({name})={len(values)}")
    if max_labels < 0:
        raise ValueError(f"`max_labels` must be 0 or more. Received: "
                         f"max_labels={max_labels}")
    xy = project_2d(vectors, method, seed)
    fig, ax = plt.subplots(figsize=(9, 7), dpi=120)
    try:
        size = max(8.0, min(40.0, 8000.0 / n))
        if colors is None:
            ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.7, linewidths=0)
        elif all(isinstance(c, (int, float, np.number)) for c in colors):
            points = ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=0.7,
                                c=np.asarray(colors, float), cmap="viridis",
                                linewidths=0)
            fig.colorbar(points, ax=ax, label=colors_title)
        else:
            names = [str(c) for c in colors]
            categories = sorted(set(names))
            cmap = plt.get_cmap("tab20" if len(categories) > 10 else "tab10")
            for i, category in enumerate(categories):
                keep = np.array([c == category for c in names])
                ax.scatter(xy[keep, 0], xy[keep, 1], s=size, alpha=0.7,
                           color=cmap(i % cmap.N), linewidths=0,
                           label=(_shorten(category, 20)
                                  if len(categories) <= 20 else None))
            if len(categories) <= 20:
                # Beside the axes: inside, it hides points and labels.
                ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0),
                          fontsize=8, markerscale=2, frameon=False,
                          title=colors_title, title_fontsize=8)
        axis_name = {"pca": "PC", "tsne": "t-SNE ", "umap": "UMAP "}[method]
        ax.set_xlabel(f"{axis_name}1")
        ax.set_ylabel(f"{axis_name}2")
        ax.set_title(title or f"{n} embeddings ({METHOD_NAMES[method]})")
        fig.tight_layout()
        # Fixed before labelling: label boxes are measured in pixels.
        ax.set_xlim(ax.get_xlim())
        ax.set_ylim(ax.get_ylim())
        if labels is not None and max_labels:
            _annotate(ax, xy, labels, max_labels, seed)
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    finally:
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


def _cell(value):
    # Lists (several genres) become one category/label; null an empty one.
    if isinstance(value, list):
        return "|".join(map(str, value))
    return "" if value is None else value


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_embeddings(path):
    """`(rows, line numbers, float32 vectors)` of `{"embeddings": [...]}`
    lines, as `keras-o2v embed` writes them."""
    from keras_o2v.data.jsonl import column
    from keras_o2v.data.jsonl import read_jsonl

    rows, lines = read_jsonl(path, with_line_numbers=True)
    values = column(rows, "embeddings", path, lines,
                    hint="as `keras-o2v embed` writes")
    width = len(values[0]) if values and isinstance(values[0], list) else 0
    for vector, line in zip(values, lines):
        if not (isinstance(vector, list) and vector and len(vector) == width
                and all(map(_is_number, vector))):
            raise ValueError(
                f"{path}:{line}: field `embeddings` must be a non-empty list "
                f"of numbers, as long as the first line's ({width}). "
                f"Received: {vector!r:.80}")
    return (rows, lines,
            np.asarray(values, np.float32).reshape(len(values), width))


def visualize_files(output=None, projector_dir=None, *, model=None,
                    instances=None, embeddings=None, channel=None,
                    labels_field=None, color_field=None, method="pca",
                    max_points=None, max_labels=40, title=None, seed=0):
    """A PNG map and/or projector files of embeddings read from files.

    The vectors are `instances` embedded by `model`, or read from
    `embeddings`; labels and colours are fields of `instances` (else of
    `embeddings`' lines). Every argument is checked before any embedding.

    Args:
        output: optional `.png` path of the map (`plot_embeddings`).
        projector_dir: optional directory of projector files
            (`export_projector`). At least one of the two is needed.
        model: a trained model that embeds `instances`, or a function
            that returns one: it is called after every argument and file
            check, so a mistake is reported before a slow load.
        instances: JSON Lines of `{"in0": [...]}` or `{"in1": [...]}` plus
            label fields; with `embeddings`, only the labels (one line per
            vector).
        embeddings: JSON Lines of `{"embeddings": [...]}`, instead of
            `model`.
        channel: `"in0"` or `"in1"`: the encoder and the field it reads
            (default: the field on the first line).
        labels_field, color_field: optional field names; lists become
            `a|b` categories; numbers colour on a scale.
        method, title, max_labels, seed: see `plot_embeddings`; `seed`
            also draws the `max_points` sample.
        max_points: optional int >= 2: a random sample of that many.

    Returns:
        dict: `points` (how many were drawn), `map` (the PNG path or
        None), `projector` (dict of written paths or None).
    """
    from keras_o2v.data.jsonl import column
    from keras_o2v.data.jsonl import read_jsonl

    if not (output or projector_dir):
        raise ValueError("`output` (a PNG map) or `projector_dir` "
                         "(TensorBoard projector files) must be given.")
    if embeddings is None and (instances is None or model is None):
        raise ValueError("`model` and `instances` (to embed) must be given, "
                         "or `embeddings` (what `keras-o2v embed` writes).")
    if embeddings is not None and model is not None:
        raise ValueError("`model` must not be given with `embeddings`: the "
                         "vectors are already computed.")
    if max_points is not None and max_points < 2:
        raise ValueError(f"`max_points` must be at least 2. Received: "
                         f"max_points={max_points}")
    if max_labels < 0:
        raise ValueError(f"`max_labels` must be 0 or more. Received: "
                         f"max_labels={max_labels}")
    if output:
        check_method(method)  # before minutes of embedding

    # `path` holds the rows that give labels: `instances`, else `embeddings`.
    path = instances
    rows, lines = (read_jsonl(path, with_line_numbers=True) if path
                   else (None, None))
    if embeddings is not None:
        embedded_rows, embedded_lines, vectors = read_embeddings(embeddings)
        if rows is not None and len(rows) != len(vectors):
            raise ValueError(
                f"{path} holds {len(rows)} instances but {embeddings} holds "
                f"{len(vectors)} embeddings; `keras-o2v embed` writes one "
                f"per input line, in order.")
        if rows is None:
            rows, lines, path = embedded_rows, embedded_lines, embeddings
    if len(rows) < 2:
        raise ValueError(f"{path} must hold at least 2 instances to draw a "
                         f"map. Received: {len(rows)}")
    labels = colors = None
    if labels_field:
        labels = [str(_cell(v)) for v in column(rows, labels_field, path,
                                                lines, "labels_field")]
    if color_field:
        colors = [_cell(v) for v in column(rows, color_field, path, lines,
                                           "color_field")]
        if not all(map(_is_number, colors)):
            colors = [str(c) for c in colors]  # categories, not a scale
    if embeddings is None:
        if channel is None:
            channel = ("in1" if "in1" in rows[0] and "in0" not in rows[0]
                       else "in0")
        column(rows, channel, path, lines, "channel")

    keep = np.arange(len(rows))
    if max_points is not None and len(rows) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(
            len(rows), max_points, replace=False))
    if embeddings is not None:
        vectors = vectors[keep]
    else:
        from keras_o2v.inference import embed
        from keras_o2v.instances import record_spec
        from keras_o2v.instances import to_arrays

        if callable(model) and not hasattr(model, "hyperparameters"):
            model = model()
        spec = record_spec(model.hyperparameters, (channel,))
        # The side's ids and extra fields; a missing one is named below.
        picked = [{key: rows[i][key] for key in spec.keys() if key in rows[i]}
                  for i in keep]
        # Checked here so that an error names the file line.
        to_arrays(picked, spec,
                  locate=lambda i: f"{path}:{lines[keep[i]]}")
        vectors = embed(model, picked, channel=channel)
    if labels is not None:
        labels = [labels[i] for i in keep]
    if colors is not None:
        colors = [colors[i] for i in keep]

    written = {"points": len(vectors), "map": None, "projector": None}
    if output:
        plot_embeddings(vectors, output, labels=labels, colors=colors,
                        method=method, title=title, max_labels=max_labels,
                        seed=seed, colors_title=color_field)
        written["map"] = output
    if projector_dir:
        metadata = {}
        for field, values in ((labels_field, labels), (color_field, colors)):
            if values is not None:
                metadata.setdefault(field, values)
        if len(metadata) == 1:  # one column: no header row
            metadata = next(iter(metadata.values()))
        written["projector"] = export_projector(vectors, projector_dir,
                                                metadata=metadata or None)
    return written
