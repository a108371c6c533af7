import json
import os

import numpy as np
import pytest

import keras
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
