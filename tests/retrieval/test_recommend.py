"""File-level retrieval helpers: what `keras-o2v index query` and
`evaluate-retrieval` call."""

import json

import numpy as np
import pytest

from keras_o2v.retrieval import EmbeddingIndex
from keras_o2v.retrieval.recommend import evaluate_retrieval
from keras_o2v.retrieval.recommend import evaluate_retrieval_file
from keras_o2v.retrieval.recommend import query_file
from keras_o2v.retrieval.recommend import query_instances
from keras_o2v.retrieval.recommend import result_rows
from keras_o2v.retrieval.recommend import similar_rows
from keras_o2v.retrieval.model import build_retrieval_model

def item_index(model):
    """The index of the 6 items, embedded by `model`'s encoder 1."""
    items = np.arange(1, 7)[:, None]
    return EmbeddingIndex(np.asarray(model.encoder1(items)),
                          ids=list(range(1, 7)))


HP = {"enc0_network": "pooled_embedding", "enc0_vocab_size": "9",
      "enc0_max_seq_len": "1", "enc1_network": "pooled_embedding",
      "enc1_vocab_size": "7", "enc1_max_seq_len": "1", "enc_dim": "4"}


def write(path, rows, blank_after_first=False):
    lines = [json.dumps(row) for row in rows]
    if blank_after_first:
        lines.insert(1, "")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_result_rows_drop_unfilled_slots_and_keep_query_ids():
    found = np.array([[3, 1, -1], [2, -1, -1]])
    scores = np.array([[0.9, 0.5, -np.inf], [0.7, -np.inf, -np.inf]])
    assert result_rows(found, scores) == [
        {"ids": [3, 1], "scores": [0.9, 0.5]}, {"ids": [2], "scores": [0.7]}]
    assert result_rows(found, scores, query_ids=["a", "b"])[1] == {
        "id": "b", "ids": [2], "scores": [0.7]}


def test_similar_rows_read_command_line_ids_as_the_index_ids():
    vectors = np.eye(4, dtype=np.float32) + 0.1
    numeric = EmbeddingIndex(vectors, ids=[10, 20, 30, 40])
    rows = similar_rows(numeric, ["20"], k=2)
    assert rows[0]["id"] == 20 and len(rows[0]["ids"]) == 2
    assert 20 not in rows[0]["ids"]
    named = EmbeddingIndex(vectors, ids=["a", "b", "c", "d"])
    assert similar_rows(named, ["b"], k=1)[0]["id"] == "b"


def test_query_file_equals_query_instances_and_names_lines(tmp_path):
    model = build_retrieval_model(HP)
    index = item_index(model)
    queries = [{"in0": [3], "exclude": [2], "id": "u3"}, {"in0": [5]}]
    path = write(tmp_path / "q.jsonl", queries, blank_after_first=True)
    rows = query_file(model, index, path, k=3)
    found, scores = query_instances(model, index, [{"in0": [3]}, {"in0": [5]}],
                                    k=3, exclude=[[2], []])
    assert [r["ids"] for r in rows] == found.tolist()
    np.testing.assert_allclose([r["scores"] for r in rows], scores, atol=1e-6)
    assert rows[0]["id"] == "u3" and "id" not in rows[1]
    assert 2 not in rows[0]["ids"]
    bad = write(tmp_path / "bad.jsonl", [{"in0": [1]}, {"in1": [2]}],
                blank_after_first=True)
    with pytest.raises(ValueError, match=r"bad\.jsonl:3: field `in0`"):
        query_file(model, index, bad)


def test_evaluate_retrieval_file_equals_evaluate_retrieval(tmp_path):
    model = build_retrieval_model(HP)
    index = item_index(model)
    queries = [{"in0": [1], "relevant": [2, 3], "exclude": [4]},
               {"in0": [2], "relevant": [5]}]
    path = write(tmp_path / "q.jsonl", queries)
    got = evaluate_retrieval_file(model, index, path, ks=(1, 3))
    users = np.asarray(model.encoder0(np.array([[1], [2]])))
    want = evaluate_retrieval(index, users, [[2, 3], [5]],
                              exclude=[[4], []], ks=(1, 3))
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == pytest.approx(want[name], rel=1e-6), name
