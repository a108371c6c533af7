import importlib.util
import os
import sys

import numpy as np
import pytest

from keras_o2v.visualization import check_method
from keras_o2v.visualization import export_projector
from keras_o2v.visualization import pca_2d
from keras_o2v.visualization import project_2d
from keras_o2v.visualization import spread_order
from keras_o2v.visualization import plot_embeddings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def vectors(n=60, dim=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim))


def test_pca_finds_the_main_direction():
    rng = np.random.default_rng(0)
    x = np.outer(rng.normal(size=100), [3.0, 4.0, 0.0]) + 0.01 * rng.normal(
        size=(100, 3))
    xy = pca_2d(x)
    assert np.var(xy[:, 0]) > 100 * np.var(xy[:, 1])


def test_png_is_written_and_well_formed(tmp_path):
    pytest.importorskip("matplotlib")
    path = str(tmp_path / "map.png")
    colors = ["drama", "comedy", "action"] * 20
    xy = plot_embeddings(vectors(), path, labels=[f"item {i}"
                                                  for i in range(60)],
                         colors=colors, title="test map")
    assert xy.shape == (60, 2)
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == PNG_SIGNATURE and header[12:16] == b"IHDR"
    width, height = (int.from_bytes(header[16:20], "big"),
                     int.from_bytes(header[20:24], "big"))
    assert (width, height) == (1080, 840)
    with pytest.raises(ValueError, match="`labels` must hold one entry"):
        plot_embeddings(vectors(), path, labels=["a"])
    with pytest.raises(ValueError, match="`method` must be one of"):
        plot_embeddings(vectors(), path, method="mds")


def test_projector_files(tmp_path):
    x = vectors(4, 3).astype(np.float32)
    paths = export_projector(x, str(tmp_path / "proj"),
                             metadata={"title": ["a\tb", "c", "d", "e"],
                                       "genre": [1, 2, 3, 4]})
    loaded = np.loadtxt(paths["vectors"], delimiter="\t")
    np.testing.assert_allclose(loaded, x, rtol=1e-5)
    with open(paths["metadata"]) as f:
        lines = f.read().splitlines()
    assert lines == ["title\tgenre", "a b\t1", "c\t2", "d\t3", "e\t4"]
    with open(paths["config"]) as f:
        config = f.read()
    assert 'tensor_path: "vectors.tsv"' in config
    assert 'metadata_path: "metadata.tsv"' in config
    assert config.count("tensor_shape:") == 2
    # One column: no header row, as the projector expects.
    paths = export_projector(x, str(tmp_path / "one"), metadata=list("wxyz"))
    with open(paths["metadata"]) as f:
        assert f.read().splitlines() == list("wxyz")
    assert sorted(os.listdir(tmp_path / "one")) == [
        "metadata.tsv", "projector_config.pbtxt", "vectors.tsv"]


def decode_png(path):
    """`(height, width, channels)` float pixels in [0, 1]."""
    import matplotlib.image

    return matplotlib.image.imread(path, format="png")


def test_tsne_map_is_drawn_and_deterministic(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    x = vectors(30, 6)
    path = str(tmp_path / "tsne.png")
    xy = plot_embeddings(x, path, labels=[f"item {i}" for i in range(30)],
                         colors=list(range(30)), method="tsne", seed=3)
    assert xy.shape == (30, 2) and np.all(np.isfinite(xy))
    pixels = decode_png(path)
    assert pixels.shape[:2] == (840, 1080)
    rgb = pixels[..., :3]
    # Not blank: white background plus points, text and a colour bar.
    assert (rgb < 0.5).any() and rgb.std() > 0.05
    assert sorted(os.listdir(tmp_path)) == ["tsne.png"]
    np.testing.assert_array_equal(project_2d(x, "tsne", seed=3), xy)


def test_umap_map(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("umap")
    x = vectors(30, 6)
    xy = plot_embeddings(x, str(tmp_path / "umap.png"), method="umap",
                         seed=0)
    assert xy.shape == (30, 2) and np.all(np.isfinite(xy))
    np.testing.assert_allclose(project_2d(x, "umap", seed=0), xy, atol=1e-5)


@pytest.mark.parametrize("method, module, package", [
    ("tsne", "sklearn.manifold", "pip install scikit-learn"),
    ("umap", "umap", "pip install umap-learn")])
def test_missing_library_says_what_to_install(tmp_path, monkeypatch, method,
                                              module, package):
    # None in sys.modules makes `import module` raise ImportError.
    monkeypatch.setitem(sys.modules, module, None)
    match = f"`method='{method}'` needs .*: {package}"
    with pytest.raises(ValueError, match=match):
        check_method(method, plot=False)
    with pytest.raises(ValueError, match=match):
        project_2d(vectors(), method)
    if importlib.util.find_spec("matplotlib") is not None:
        path = tmp_path / "map.png"
        with pytest.raises(ValueError, match=match):
            plot_embeddings(vectors(), str(path), method=method)
        assert not os.listdir(tmp_path)
    check_method("pca", plot=False)  # PCA needs nothing
    with pytest.raises(ValueError, match="`method` must be one of"):
        check_method("mds")


def test_labelled_points_are_spread():
    rng = np.random.default_rng(0)
    corners = np.array([[-10, -10], [-10, 10], [10, -10], [10, 10]], float)
    xy = np.concatenate([rng.normal(scale=0.1, size=(96, 2)), corners])
    # Random picks would land in the dense cluster; spread ones reach every
    # corner within the first five.
    for seed in range(3):
        order = spread_order(xy, 5, seed)
        assert len(set(order)) == 5
        assert {96, 97, 98, 99} <= set(order)
    assert len(spread_order(xy[:3], 10)) == 3
