import gzip
import json
import os
import tracemalloc

import numpy as np
import pytest

import keras_o2v
from keras_o2v.batch_predict import predict_file
from keras_o2v.cli import main
from keras_o2v.serving.predictor import Predictor

HP = {"enc0_network": "pooled_embedding", "enc0_vocab_size": 50,
      "enc0_max_seq_len": 4, "enc1_network": "pooled_embedding",
      "enc1_vocab_size": 30, "enc1_max_seq_len": 3, "enc_dim": 5,
      "mlp_layers": 1, "mlp_dim": 4, "num_classes": 3}


@pytest.fixture(scope="module")
def model():
    return keras_o2v.build_object2vec(HP, compile=False)


@pytest.fixture(scope="module")
def predictor(model):
    return Predictor(model)


def pairs(n, seed=0):
    rng = np.random.default_rng(seed)
    return [{"label": int(rng.integers(3)),
             "in0": rng.integers(1, 50, rng.integers(1, 7)).tolist(),
             "in1": rng.integers(1, 30, rng.integers(1, 5)).tolist()}
            for _ in range(n)]


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_one_line_per_input_line_in_order(model, predictor, write_jsonl,
                                          tmp_path):
    rows = pairs(7)
    path = write_jsonl(rows[:3] + [""] + rows[3:])
    out = str(tmp_path / "out.jsonl")
    assert predict_file(predictor, path, out, chunk_lines=2) == 7
    with open(out) as f:  # a blank input line gives a blank output line
        assert [line == "\n" for line in f] == [False] * 3 + [True] + [
            False] * 4
    lines = read_lines(out)
    assert [list(line) for line in lines] == [["scores"]] * 7
    np.testing.assert_allclose([line["scores"] for line in lines],
                               keras_o2v.predict(model, rows), atol=1e-5)

    out_json = str(tmp_path / "out.json")
    assert predict_file(predictor, path, out_json,
                        accept="application/json") == 7
    with open(out_json) as f:
        document = json.load(f)
    assert list(document) == ["predictions"]
    assert [list(p) for p in document["predictions"]] == [["scores"]] * 7
    np.testing.assert_allclose([p["scores"] for p in document["predictions"]],
                               [line["scores"] for line in lines], atol=1e-6)


def test_embeddings_of_a_gzipped_file(model, predictor, tmp_path):
    rows = [{"in1": row["in1"]} for row in pairs(5)]
    path = str(tmp_path / "in1.jsonl.gz")
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    out = str(tmp_path / "out.jsonl")
    assert predict_file(predictor, path, out, chunk_lines=2) == 5
    np.testing.assert_allclose([x["embeddings"] for x in read_lines(out)],
                               keras_o2v.predict(model, rows), atol=1e-5)


@pytest.mark.parametrize("bad_row, message", [
    ({"in0": [1]}, "data.jsonl, line 5, field `in1`: mixed modes in one "
                   "batch: it has only `in0` (embeddings) but "),
    ({"in0": [1], "in1": [30]}, "data.jsonl, line 5, field `in1`: id 30 at "
                                "position 0 is >= vocab_size=30"),
    ('{"in0": [1], "in1": [2]', "data.jsonl, line 5: malformed JSON"),
])
def test_errors_name_the_line_and_leave_the_output_alone(
        predictor, write_jsonl, tmp_path, bad_row, message):
    path = write_jsonl(pairs(4) + [bad_row] + pairs(2))
    out = tmp_path / "out.jsonl"
    out.write_text("previous run\n")
    with pytest.raises(ValueError) as info:
        predict_file(predictor, path, str(out), chunk_lines=3)
    assert message in str(info.value)
    if "mixed" in message:
        assert "data.jsonl, line 1 has `in0` and `in1`" in str(info.value)
    assert out.read_text() == "previous run\n"
    assert sorted(os.listdir(tmp_path)) == ["data.jsonl", "out.jsonl"]


def test_argument_errors(predictor, write_jsonl, tmp_path):
    path = write_jsonl(pairs(1))
    with pytest.raises(ValueError, match="`accept` must be one of"):
        predict_file(predictor, path, str(tmp_path / "o"), accept="text/csv")
    with pytest.raises(ValueError, match="Received: chunk_lines=0"):
        predict_file(predictor, path, str(tmp_path / "o"), chunk_lines=0)


def test_cli_predict(model, write_jsonl, tmp_path, capsys):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    model.save(str(model_dir / "model.keras"))
    path = write_jsonl(pairs(3))
    out = str(tmp_path / "out.jsonl")
    assert main(["predict", "--model-dir", str(model_dir), "--input", path,
                 "--output", out]) == 0
    assert "Wrote 3 predictions" in capsys.readouterr().out
    assert len(read_lines(out)) == 3
    bad = write_jsonl([{"in0": [1], "in1": [99]}], "bad.jsonl")
    assert main(["predict", "--model-dir", str(model_dir), "--input", bad,
                 "--output", out]) == 2
    assert "bad.jsonl, line 1, field `in1`: id 99" in capsys.readouterr().err


def test_memory_does_not_grow_with_the_file(predictor, write_jsonl,
                                            tmp_path):
    """Python heap peak (numpy included) for 10x the lines stays flat."""
    peaks = []
    for n in (1000, 10000):
        path = write_jsonl(pairs(n, seed=n), f"{n}.jsonl")
        out = str(tmp_path / f"{n}.out")
        predict_file(predictor, path, out, chunk_lines=100)  # warm caches
        tracemalloc.start()
        try:
            assert predict_file(predictor, path, out, chunk_lines=100) == n
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] < 1.5 * peaks[0], peaks
