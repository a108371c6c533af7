import json

import numpy as np
import pytest
from keras import ops

import keras_o2v
from keras_o2v.inference import embed
from keras_o2v.inference import embed_file

HP = {"enc0_vocab_size": 20, "enc0_max_seq_len": 3, "enc_dim": 4,
      "enc0_network": "pooled_embedding", "enc1_network": "hcnn",
      "enc1_vocab_size": 9, "enc1_max_seq_len": 5,
      "enc1_token_embedding_dim": 3, "mlp_dim": 4}

# Also run under JAX and PyTorch (tests/backends).
pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def model():
    return keras_o2v.build_object2vec(HP)


def test_embed_matches_the_encoder_and_truncates(model):
    out = embed(model, [{"in0": [1, 2, 3, 4]}, [5]], channel="in0")
    direct = ops.convert_to_numpy(
        model.encoder0(np.array([[1, 2, 3], [5, 0, 0]])))
    np.testing.assert_allclose(out, direct, atol=1e-6)
    assert embed(model, [[8, 1]], channel="in1").shape == (1, 4)


def test_embed_errors_name_the_instance(model):
    with pytest.raises(ValueError, match="^instance 1, field `in1`: id 9 at "
                                         "position 0 is >= vocab_size=9"):
        embed(model, [[1], [9]], channel="in1")
    with pytest.raises(ValueError, match="`channel` must be one of"):
        embed(model, [[1]], channel="in2")


def test_embed_file_is_complete_or_absent(model, write_jsonl, tmp_path):
    path = write_jsonl([{"in1": [1, 2]}, {"in1": [3]}])
    out = str(tmp_path / "vectors.jsonl")
    assert embed_file(model, path, out, channel="in1") == 2
    with open(out) as f:
        vectors = [json.loads(line)["embeddings"] for line in f]
    np.testing.assert_allclose(vectors, embed(model, [[1, 2], [3]], "in1"),
                               atol=1e-6)
    bad = write_jsonl([{"in1": [1]}, {"in1": []}], "bad.jsonl")
    missing = str(tmp_path / "never.jsonl")
    with pytest.raises(ValueError, match="bad.jsonl, line 2, field `in1`: "
                                         "empty list"):
        embed_file(model, bad, missing, channel="in1")
    assert not list(tmp_path.glob("never.jsonl*"))


def test_predict_chooses_the_mode_from_the_instances(model):
    pairs = [{"in0": [1, 2, 3, 4], "in1": [5], "label": 1}, {"in0": [7],
                                                            "in1": [8, 1]}]
    scores = keras_o2v.predict(model, pairs)
    direct = model.predict({"in0": np.array([[1, 2, 3], [7, 0, 0]]),
                            "in1": np.array([[5, 0], [8, 1]])}, verbose=0)
    assert scores.shape == (2, 2)
    np.testing.assert_allclose(scores, direct, atol=1e-6)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        keras_o2v.predict(model, [{"in1": [8, 1]}, {"in1": [3]}]),
        embed(model, [[8, 1], [3]], channel="in1"), atol=1e-6)
    np.testing.assert_allclose(keras_o2v.predict(model, [{"in0": [5]}]),
                               embed(model, [[5]]), atol=1e-6)


def test_predict_regression_scores_have_length_one():
    model = keras_o2v.build_object2vec(
        {**HP, "output_layer": "mean_squared_error"}, compile=False)
    assert keras_o2v.predict(model, [{"in0": [1], "in1": [2]}]).shape == (
        1, 1)


@pytest.mark.parametrize("instances, message", [
    ([{"in0": [1]}, {"in0": [2], "in1": [3]}],
     "^instance 1, field `in1`: mixed modes in one batch: it has `in0` and "
     "`in1` \\(pair scores\\) but instance 0 has only `in0` \\(embeddings\\)"),
    ([{"in1": [1]}, {"in0": [2]}], "^instance 1, field `in0`: mixed modes"),
    ([{"in0": [1]}, {"label": 1}], "^instance 1, field `in0`: missing"),
    ([{"in0": [1]}, [2]], "^instance 1: expected a JSON object"),
    ([], "^`instances` must be a non-empty list"),
    ([{"in0": [1, 2.5], "in1": [1]}],
     "^instance 0, field `in0`: id at position 1 is not an integer: 2.5"),
    ([{"in0": [1], "in1": [1, False]}],
     "^instance 0, field `in1`: id at position 1 is not an integer: False"),
])
def test_predict_errors_name_the_instance_and_field(model, instances,
                                                    message):
    with pytest.raises(ValueError, match=message):
        keras_o2v.predict(model, instances)
