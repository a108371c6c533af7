import os

import numpy as np
import pytest

from keras_o2v.visualization import export_projector
from keras_o2v.visualization import pca_2d
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
