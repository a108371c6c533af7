import json
import os
import sys

import numpy as np
import pytest

import keras
from keras_o2v.cli import build_parser
from keras_o2v.cli import main
from keras_o2v.retrieval import build_retrieval_model
from keras_o2v.retrieval import retrieval_dataset

HP = {"enc0_network": "pooled_embedding", "enc0_vocab_size": "21",
      "enc0_max_seq_len": "1", "enc1_network": "pooled_embedding",
      "enc1_vocab_size": "11", "enc1_max_seq_len": "1", "enc_dim": "8",
      "learning_rate": "0.05"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    users = rng.integers(1, 21, size=400)
    items = (users % 5) * 2 + 1 + rng.integers(0, 2, size=400)
    model = build_retrieval_model(HP)
    model.fit(retrieval_dataset(users[:, None], items[:, None], 32, seed=0),
              epochs=3, verbose=0)
    path = tmp_path_factory.mktemp("model")
    model.save(str(path / "model.keras"))
    return str(path)


def write(path, rows):
    with open(path, "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_index_build_query_and_evaluate(model_dir, tmp_path, capsys):
    items = write(tmp_path / "items.jsonl",
                  [{"id": i, "in1": [i]} for i in range(1, 11)])
    index = str(tmp_path / "items.index")
    assert main(["index", "build", "--model-dir", model_dir, "--input",
                 items, "--output", index]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 10

    queries = write(tmp_path / "users.jsonl",
                    [{"in0": [1], "exclude": [3]}, {"in0": [2]}])
    out = str(tmp_path / "top.jsonl")
    assert main(["index", "query", "--index", index, "--model-dir",
                 model_dir, "--input", queries, "--k", "3", "--output",
                 out]) == 0
    with open(out) as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == 2 and len(rows[0]["ids"]) == 3
    assert 3 not in rows[0]["ids"]
    assert rows[0]["scores"] == sorted(rows[0]["scores"], reverse=True)

    capsys.readouterr()
    assert main(["index", "query", "--index", index, "--ids", "4,5",
                 "--k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["id"] for x in lines] == [4, 5]
    assert 4 not in json.loads(lines[0])["ids"]

    truth = write(tmp_path / "truth.jsonl",
                  [{"in0": [u], "relevant": [(u % 5) * 2 + 1]}
                   for u in range(1, 21)])
    assert main(["evaluate-retrieval", "--model-dir", model_dir,
                 "--queries", truth, "--index", index, "--k", "1",
                 "--k", "5"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"test:hits@1", "test:ndcg@5", "test:mrr",
            "test:mean_rank"} <= set(metrics)
    assert metrics["test:queries"] == 20


def test_index_build_ann_reports_recall(model_dir, tmp_path, capsys):
    pytest.importorskip("faiss")
    items = write(tmp_path / "items.jsonl",
                  [{"in1": [i]} for i in range(1, 11)])
    index = str(tmp_path / "ann.index")
    assert main(["index", "build", "--model-dir", model_dir, "--input",
                 items, "--output", index, "--ann"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["backend"] == "faiss"
    assert summary["recall@10_vs_exact"] == 1.0
    assert os.path.isfile(os.path.join(index, "ann.faiss"))


def test_query_errors_exit_2(tmp_path, capsys):
    assert main(["index", "query", "--index", str(tmp_path)]) == 2
    assert "No index.json" in capsys.readouterr().err


GENRES = ("drama", "comedy")


def items(n=10):
    return [{"id": i, "in1": [i], "title": f"Movie {i}",
             "genre": GENRES[i % 2], "year": 1990 + i}
            for i in range(1, n + 1)]


def visualize(argv):
    """Runs `keras-o2v visualize` so that its ValueError propagates."""
    args = build_parser().parse_args(["visualize", *argv])
    args.func(args)


def read_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def test_visualize_map_and_projector(model_dir, tmp_path, capsys):
    import matplotlib.image

    data = write(tmp_path / "items.jsonl", items())
    png, proj = str(tmp_path / "map.png"), str(tmp_path / "proj")
    assert main(["visualize", "--model-dir", model_dir, "--input", data,
                 "--labels-field", "title", "--color-field", "genre",
                 "--output", png, "--projector-dir", proj]) == 0
    out = capsys.readouterr().out
    assert f"Wrote a PCA map of 10 embeddings to {png}" in out
    pixels = matplotlib.image.imread(png, format="png")
    assert pixels.shape[:2] == (840, 1080)
    assert (pixels[..., :3] < 0.5).any() and pixels[..., :3].std() > 0.05

    # The projector gets the full vectors: one row of enc_dim per point.
    vectors = np.loadtxt(os.path.join(proj, "vectors.tsv"), delimiter="\t")
    assert vectors.shape == (10, 8)
    model = keras.saving.load_model(os.path.join(model_dir, "model.keras"))
    expected = model.get_layer("encoder1")(np.arange(1, 11)[:, None])
    np.testing.assert_allclose(vectors, expected, rtol=1e-4, atol=1e-5)
    # Two columns: a header row, then one row per point.
    assert read_lines(os.path.join(proj, "metadata.tsv")) == (
        ["title\tgenre"] + [f"Movie {i}\t{GENRES[i % 2]}"
                            for i in range(1, 11)])
    config = "\n".join(read_lines(os.path.join(proj,
                                               "projector_config.pbtxt")))
    assert "tensor_shape: 10\n  tensor_shape: 8" in config
    assert 'metadata_path: "metadata.tsv"' in config
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]


def test_visualize_tsne_from_embed_output(model_dir, tmp_path, capsys):
    pytest.importorskip("sklearn")
    data = write(tmp_path / "items.jsonl", items(10))
    embedded = str(tmp_path / "items.emb.jsonl")
    assert main(["embed", "--model-dir", model_dir, "--input", data,
                 "--channel", "in1", "--output", embedded]) == 0
    maps = []
    for name in ("a.png", "b.png"):
        proj = str(tmp_path / f"proj_{name}")
        # Labels from --input, vectors from --embeddings, line by line.
        assert main(["visualize", "--embeddings", embedded, "--input", data,
                     "--labels-field", "title", "--color-field", "year",
                     "--method", "tsne", "--max-points", "7", "--seed", "4",
                     "--output", str(tmp_path / name),
                     "--projector-dir", proj]) == 0
        assert "Wrote a t-SNE map of 7 embeddings" in capsys.readouterr().out
        with open(tmp_path / name, "rb") as f:
            maps.append(f.read())
        metadata = read_lines(os.path.join(proj, "metadata.tsv"))
        assert metadata[0] == "title\tyear" and len(metadata) == 1 + 7
        assert all(f"Movie {y - 1990}\t{y}" == row for row in metadata[1:]
                   for y in [int(row.split("\t")[1])])
        assert np.loadtxt(os.path.join(proj, "vectors.tsv"),
                          delimiter="\t").shape == (7, 8)
    assert maps[0] == maps[1]  # same seed: same sample, same picture

    # One column: no header row, as the projector expects.
    assert main(["visualize", "--embeddings", embedded, "--input", data,
                 "--labels-field", "title", "--projector-dir",
                 str(tmp_path / "single")]) == 0
    assert read_lines(tmp_path / "single" / "metadata.tsv") == [
        f"Movie {i}" for i in range(1, 11)]

    # Without --input, labels come from the embeddings file itself.
    assert main(["visualize", "--embeddings", embedded, "--projector-dir",
                 str(tmp_path / "bare")]) == 0
    assert sorted(os.listdir(tmp_path / "bare")) == [
        "projector_config.pbtxt", "vectors.tsv"]


def test_visualize_umap(model_dir, tmp_path):
    pytest.importorskip("umap")
    data = write(tmp_path / "items.jsonl", items())
    visualize(["--model-dir", model_dir, "--input", data, "--method", "umap",
               "--output", str(tmp_path / "umap.png")])
    assert os.path.getsize(tmp_path / "umap.png") > 0


def test_visualize_errors(model_dir, tmp_path, monkeypatch, capsys):
    rows = items(4)
    del rows[2]["title"]
    data = str(tmp_path / "items.jsonl")
    # Line 2 blank: errors name file lines (row 3 is on line 4).
    with open(data, "w") as f:
        f.write("\n".join([json.dumps(rows[0]), "",
                           *map(json.dumps, rows[1:])]) + "\n")
    png = str(tmp_path / "map.png")
    base = ["--model-dir", model_dir, "--input", data, "--output", png]
    with pytest.raises(ValueError, match=r"items\.jsonl:4: field `title` "
                                         r"\(labels_field\) missing"):
        visualize(base + ["--labels-field", "title"])
    with pytest.raises(ValueError, match=r"items\.jsonl:1: field `kind` "
                                         r"\(color_field\) missing"):
        visualize(base + ["--color-field", "kind"])
    with pytest.raises(ValueError, match=r"items\.jsonl:1: field `in0` "
                                         r"\(channel\) missing"):
        visualize(base + ["--channel", "in0"])
    bad = write(tmp_path / "bad.jsonl", [{"in1": [1]}, {"in1": [99]}])
    with pytest.raises(ValueError, match=r"bad\.jsonl:2, field `in1`: id 99 "):
        visualize(["--model-dir", model_dir, "--input", bad, "--output", png])
    # The missing library is reported before the model is even loaded.
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    with pytest.raises(ValueError, match="`method='tsne'` needs scikit-learn"
                                         ": pip install scikit-learn"):
        visualize(["--model-dir", str(tmp_path / "no-model"), "--input",
                   data, "--method", "tsne", "--output", png])
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(ValueError, match="pip install umap-learn"):
        visualize(base + ["--method", "umap"])

    emb = write(tmp_path / "emb.jsonl", [{"embeddings": [1.0, 2.0]},
                                         {"embeddings": [1.0]}])
    with pytest.raises(ValueError, match=r"emb\.jsonl:2: field `embeddings` "
                                         r"must be a non-empty list"):
        visualize(["--embeddings", emb, "--output", png])
    emb2 = write(tmp_path / "emb2.jsonl", [{"embeddings": [1.0, 2.0]},
                                           {"embeddings": [3.0, 1.0]}])
    with pytest.raises(ValueError, match=r"items\.jsonl holds 4 instances "
                                         r"but .*emb2\.jsonl holds 2 "
                                         r"embeddings"):
        visualize(["--embeddings", emb2, "--input", data, "--output", png])
    with pytest.raises(ValueError, match="`model` must not be given with "
                                         "`embeddings`"):
        visualize(["--embeddings", emb2, "--model-dir", model_dir,
                   "--output", png])
    with pytest.raises(ValueError, match="`output` .* or `projector_dir` "
                                         ".* must be given"):
        visualize(["--model-dir", model_dir, "--input", data])
    with pytest.raises(ValueError, match="`model` and `instances` .* must "
                                         "be given"):
        visualize(["--input", data, "--output", png])
    with pytest.raises(ValueError, match="`max_points` must be at least "
                                         "2. Received: max_points=1"):
        visualize(base + ["--max-points", "1"])
    assert not os.path.exists(png)

    # Through main: one `error:` line and exit status 2.
    assert main(["visualize", *base, "--labels-field", "title"]) == 2
    assert "error: " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["visualize", *base, "--method", "mds"])
    assert "invalid choice: 'mds'" in capsys.readouterr().err
