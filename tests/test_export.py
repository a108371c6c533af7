import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_o2v
from keras_o2v.cli import main
from keras_o2v.export import serving_functions

# name -> (inputs, dtype): int64 defaults, int32 variants.
SIGNATURE_TABLE = {
    "serving_default": (["in0", "in1"], tf.int64),
    "embed_in0": (["in0"], tf.int64), "embed_in1": (["in1"], tf.int64),
    "serving_default_int32": (["in0", "in1"], tf.int32),
    "embed_in0_int32": (["in0"], tf.int32),
    "embed_in1_int32": (["in1"], tf.int32)}
SIGNATURE_NAMES = set(SIGNATURE_TABLE)
# Ragged rows padded with 0; batch 5 here, while the export traced none.
IN0 = np.array([[3, 9, 4, 0], [5, 0, 0, 0], [1, 2, 3, 4], [7, 7, 0, 0],
                [8, 1, 6, 2]], np.int32)
IN1 = np.array([[2, 0, 0], [4, 5, 6], [9, 1, 0], [3, 3, 3], [6, 0, 0]],
               np.int32)


def tiny_model(network, enc1_network="enc0", **hp):
    """A model of `network` (and `enc1_network`) with large random weights."""
    enc1 = {} if enc1_network == "enc0" else {
        "enc1_vocab_size": 10, "enc1_max_seq_len": 3, "enc1_layers": 1,
        "enc1_token_embedding_dim": 5}
    model = keras_o2v.build_object2vec(
        {"enc0_network": network, "enc0_vocab_size": 10,
         "enc0_max_seq_len": 4, "enc0_layers": 1, "enc_dim": 6,
         "enc0_token_embedding_dim": 5, "enc1_network": enc1_network,
         **enc1, "mlp_layers": 1, "mlp_dim": 4, "num_classes": 3, **hp},
        compile=False)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.7, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    return model


# Every encoder type, each in an embedding signature and in the scores.
# One tower (tied_encoder_weights): embed_in1 is that tower too.
@pytest.mark.parametrize("enc0, enc1, hp", [
    ("pooled_embedding", "hcnn", {}), ("bilstm", "pooled_embedding", {}),
    ("hcnn", "enc0", {"tied_encoder_weights": True})])
def test_round_trip_every_encoder(enc0, enc1, hp, tmp_path):
    model = tiny_model(enc0, enc1, **hp)
    path = keras_o2v.export_saved_model(model, str(tmp_path))
    assert path == str(tmp_path / "object2vec" / "1")
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert os.listdir(tmp_path / "object2vec") == ["1"]  # no temporaries

    served = tf.saved_model.load(path).signatures
    assert set(served) == SIGNATURE_NAMES
    for name, (inputs, dtype) in SIGNATURE_TABLE.items():
        specs = served[name].structured_input_signature[1]
        assert sorted(specs) == inputs
        for spec in specs.values():
            assert spec.shape.as_list() == [None, None]
            assert spec.dtype == dtype

    scores = served["serving_default"](in0=IN0, in1=IN1)["scores"].numpy()
    want = model.predict({"in0": IN0, "in1": IN1}, batch_size=2, verbose=0)
    assert scores.shape == (5, 3) and np.ptp(scores) > 0.05
    np.testing.assert_allclose(scores, want, atol=1e-5)
    np.testing.assert_allclose(served["serving_default_int32"](
        in0=IN0, in1=IN1)["scores"], scores, atol=1e-6)
    for i, (name, ids, encoder) in enumerate([
            ("embed_in0", IN0, model.encoder0),
            ("embed_in1", IN1, model.encoder1)]):
        for variant in (name, name + "_int32"):
            got = served[variant](**{f"in{i}": ids})["embeddings"].numpy()
            np.testing.assert_allclose(got, encoder(ids), atol=1e-5)
    if hp:
        np.testing.assert_allclose(
            served["embed_in1"](in1=IN0)["embeddings"].numpy(),
            served["embed_in0"](in0=IN0)["embeddings"].numpy(), atol=1e-6)
    # Batch-size independence: one row alone equals its row in the batch.
    one = served["serving_default"](in0=IN0[3:4], in1=IN1[3:4])["scores"]
    np.testing.assert_allclose(one[0], scores[3], atol=1e-5)


def test_versions_and_regression_scores(tmp_path):
    model = tiny_model("pooled_embedding", output_layer="mean_squared_error")
    assert keras_o2v.export_saved_model(model, str(tmp_path), name="m",
                                        version=3).endswith("m/3")
    path = keras_o2v.export_saved_model(model, str(tmp_path), name="m")
    assert path.endswith("m/4")
    served = tf.saved_model.load(path).signatures
    scores = served["serving_default"](in0=IN0, in1=IN1)["scores"]
    assert scores.shape == (5, 1)  # a length-1 score per pair
    np.testing.assert_allclose(scores, model.predict(
        {"in0": IN0, "in1": IN1}, verbose=0), atol=1e-5)
    with pytest.raises(ValueError, match="Version 3 of 'm' already exists"):
        keras_o2v.export_saved_model(model, str(tmp_path), name="m",
                                     version=3)
    with pytest.raises(ValueError, match=r"`version` must be a positive "
                                         r"integer.*Received: version=0"):
        keras_o2v.export_saved_model(model, str(tmp_path), version=0)
    with pytest.raises(ValueError, match=r"Received: name='\.\./x'"):
        keras_o2v.export_saved_model(model, str(tmp_path), name="../x")


class BrokenArchive:
    """Writes part of a SavedModel, then fails."""

    def track(self, resource):
        pass

    def add_endpoint(self, name, fn, input_signature=None):
        return tf.function(fn, input_signature=input_signature)

    def write_out(self, path, verbose=True):
        os.makedirs(os.path.join(path, "variables"))
        raise OSError("disk full")


def test_a_failed_export_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(keras.export, "ExportArchive", BrokenArchive)
    with pytest.raises(OSError, match="disk full"):
        keras_o2v.export_saved_model(tiny_model("pooled_embedding"),
                                     str(tmp_path))
    assert os.listdir(tmp_path / "object2vec") == []


def test_cli_export_and_saved_model_cli(tmp_path, capsys):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    tiny_model("pooled_embedding").save(str(model_dir / "model.keras"))
    export_dir = tmp_path / "serving"
    assert main(["export", "--model-dir", str(model_dir), "--export-dir",
                 str(export_dir), "--version", "7"]) == 0
    path = str(export_dir / "object2vec" / "7")
    assert path in capsys.readouterr().out
    assert main(["export", "--model-dir", str(model_dir), "--export-dir",
                 str(export_dir), "--version", "7"]) == 2

    cli = shutil.which("saved_model_cli")
    if cli is None:
        pytest.skip("saved_model_cli is not on PATH")
    out = subprocess.run([cli, "show", "--dir", path, "--all"],
                         capture_output=True, text=True, timeout=120,
                         check=True).stdout
    # One block per signature: each lists its inputs' dtype.
    blocks = dict(re.findall(r"signature_def\['(\w+)'\]:(.*?)(?=signature_def|"
                             r"Concrete Functions|\Z)", out, re.S))
    assert set(blocks) - {"__saved_model_init_op"} == SIGNATURE_NAMES
    for name, (inputs, dtype) in SIGNATURE_TABLE.items():
        want = "DT_INT64" if dtype == tf.int64 else "DT_INT32"
        assert blocks[name].count(f"dtype: {want}") == len(inputs), name
        assert "shape: (-1, -1)" in blocks[name]
        output = "scores" if name.startswith("serving") else "embeddings"
        assert f"outputs['{output}']" in blocks[name]


def predict_request(signature_name=None, **arrays):
    """A TF Serving `PredictRequest` as its gRPC clients build it."""
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "object2vec"
    if signature_name:
        request.model_spec.signature_name = signature_name
    for field, value in arrays.items():
        request.inputs[field].CopyFrom(tf.make_tensor_proto(value))
    return request


def tf_serving_predict(served, request):
    """What TF Serving does with a `PredictRequest`: the named signature
    (`serving_default` if none), each input's dtype checked against it (no
    conversion), then called with the decoded tensors."""
    from tensorflow_serving.apis import predict_pb2

    function = served[request.model_spec.signature_name or "serving_default"]
    specs = function.structured_input_signature[1]
    assert set(request.inputs) == set(specs)
    inputs = {}
    for field in sorted(request.inputs):
        proto = request.inputs[field]
        dtype = tf.dtypes.as_dtype(proto.dtype)
        if dtype != specs[field].dtype:  # TF Serving's wording
            raise ValueError(f"{field} expected to be a "
                             f"{specs[field].dtype.name} tensor but is a "
                             f"{dtype.name} tensor")
        inputs[field] = tf.constant(tf.make_ndarray(proto))
    response = predict_pb2.PredictResponse()
    for name, value in function(**inputs).items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
    return response


def output(response, name):
    return tf.make_ndarray(response.outputs[name])


def check_int64_requests_match_int32(served, scores, embeddings):
    """Default numpy arrays (int64 protos) to the default signatures give
    `scores` and `embeddings` (encoder 0, 1), as int32 protos do to the
    `_int32` signatures."""
    in0, in1 = IN0.tolist(), IN1.tolist()
    request = predict_request(in0=np.array(in0), in1=np.array(in1))
    assert request.inputs["in0"].dtype == tf.int64.as_datatype_enum
    got = output(tf_serving_predict(served, request), "scores")
    np.testing.assert_allclose(got, scores, atol=1e-5)
    int32_request = predict_request("serving_default_int32",
                                    in0=np.array(in0, np.int32),
                                    in1=np.array(in1, np.int32))
    np.testing.assert_allclose(output(tf_serving_predict(
        served, int32_request), "scores"), got, atol=1e-6)
    for field, ids, want in [("in0", in0, embeddings[0]),
                             ("in1", in1, embeddings[1])]:
        got = output(tf_serving_predict(served, predict_request(
            f"embed_{field}", **{field: np.array(ids)})), "embeddings")
        np.testing.assert_allclose(got, want, atol=1e-5)
        np.testing.assert_allclose(output(tf_serving_predict(
            served, predict_request(f"embed_{field}_int32", **{
                field: np.array(ids, np.int32)})), "embeddings"), got,
            atol=1e-6)
    # One dtype per signature input: int32 protos name the `_int32` one.
    with pytest.raises(ValueError, match="^in0 expected to be a int64 "
                                         "tensor but is a int32 tensor"):
        tf_serving_predict(served, predict_request(
            in0=np.array(in0, np.int32), in1=np.array(in1, np.int32)))


def test_int64_predict_requests_give_the_int32_scores(tmp_path):
    pytest.importorskip("tensorflow_serving.apis.predict_pb2",
                        reason="needs tensorflow-serving-api (dev extra)")
    model = tiny_model("hcnn", "pooled_embedding")
    served = tf.saved_model.load(
        keras_o2v.export_saved_model(model, str(tmp_path))).signatures
    scores = model.predict({"in0": IN0, "in1": IN1}, verbose=0)
    assert np.ptp(scores) > 0.05
    check_int64_requests_match_int32(
        served, scores, [model.encoder0(IN0), model.encoder1(IN1)])


def test_int64_ids_that_int32_cannot_hold_are_refused(tmp_path):
    served = tf.saved_model.load(keras_o2v.export_saved_model(
        tiny_model("pooled_embedding"), str(tmp_path))).signatures
    in0 = IN0.astype(np.int64)
    # 2**32 + 3 would wrap around to id 3 in a plain cast.
    for in1, low, high in [([[2, 2**32 + 3]], 2, 2**32 + 3),
                           ([[-2**31 - 1, 4]], -2**31 - 1, 4)]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=(
                rf"`in1` ids must fit in int32 \(valid ids are in \[0, "
                rf"enc1_vocab_size=10\)\), but the request holds ids from\] "
                rf"\[{low}\] \[to\] \[{high}\]")):
            served["serving_default"](in0=in0[:1], in1=np.array(in1))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="`in0` ids must fit in int32"):
        served["embed_in0"](in0=np.array([[1, 2**31]]))
    # The int32 range's ends pass the check (and then fail as out of
    # vocabulary, as in the `_int32` signatures).
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        served["embed_in0"](in0=np.array([[2**31 - 1]]))
    assert "must fit in int32" not in str(caught.value)


def test_serving_functions_are_the_saved_signatures(tmp_path):
    model = tiny_model("pooled_embedding", "hcnn")
    functions = serving_functions(model)
    assert set(functions) == SIGNATURE_NAMES
    served = tf.saved_model.load(keras_o2v.export_saved_model(
        model, str(tmp_path))).signatures
    for name, (inputs, _) in SIGNATURE_TABLE.items():
        arrays = {f: {"in0": IN0, "in1": IN1}[f] for f in inputs}
        got, want = functions[name](**arrays), served[name](**arrays)
        assert list(got) == list(want)
        for key in got:
            np.testing.assert_allclose(got[key], want[key], atol=1e-6)


# Runs in a fresh process under KERAS_BACKEND; prints the reference outputs
# (and the export's path) or the error, as JSON.
BACKEND_SCRIPT = """
import json, sys
from keras.ops import convert_to_numpy as numpy
import keras_o2v
from keras_o2v.serving.predictor import Predictor
from tests.test_export import IN0, IN1, tiny_model
model = tiny_model("bilstm", "hcnn")
out = {"scores": numpy(model({"in0": IN0, "in1": IN1})).tolist(),
       "embeddings": [numpy(model.encoder0(IN0)).tolist(),
                      numpy(model.encoder1(IN1)).tolist()]}
try:
    out["path"] = keras_o2v.export_saved_model(model, sys.argv[1])
    predictor = Predictor(model)
    batch = predictor.prepare([{"in0": r[r > 0].tolist(), "in1": s[s > 0]
                                .tolist()} for r, s in zip(IN0, IN1)])
    out["predictor"] = predictor.run(batch).tolist()
except ValueError as e:
    out["errors"] = [str(e)]
    try:
        Predictor(model)
    except ValueError as e:
        out["errors"].append(str(e))
print(json.dumps(out))
"""


def run_under(backend, tmp_path):
    pytest.importorskip(backend)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", BACKEND_SCRIPT, str(tmp_path)], cwd=root,
        env={**os.environ, "KERAS_BACKEND": backend,
             "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_jax_backend_exports_through_jax2tf(tmp_path):
    out = run_under("jax", tmp_path)
    assert "errors" not in out, out["errors"]
    assert np.ptp(out["scores"]) > 0.05
    # The predictor (keras-o2v serve) runs the same functions.
    np.testing.assert_allclose(out["predictor"], out["scores"], atol=1e-5)
    served = tf.saved_model.load(out["path"]).signatures
    assert set(served) == SIGNATURE_NAMES
    if importlib.util.find_spec("tensorflow_serving") is None:
        pytest.skip("needs tensorflow-serving-api (dev extra)")
    check_int64_requests_match_int32(served, out["scores"],
                                     out["embeddings"])


def test_torch_backend_is_told_what_to_do(tmp_path):
    out = run_under("torch", tmp_path)
    export_error, serve_error = out["errors"]
    assert re.match(
        r"SavedModel export needs the TensorFlow or JAX Keras backend: .* "
        r"Received: KERAS_BACKEND='torch'\. A `\.keras` file does not "
        r"depend on the backend: export it with KERAS_BACKEND=tensorflow "
        r"\(`KERAS_BACKEND=tensorflow keras-o2v export --model-dir",
        export_error), export_error
    assert re.match(
        r"Serving \(`keras-o2v serve`\) needs the "
        r"TensorFlow or JAX Keras backend: .*KERAS_BACKEND='torch'.*"
        r"`KERAS_BACKEND=tensorflow keras-o2v serve --model-dir \.\.\.`\); "
        r"`keras-o2v predict` and, in Python, `keras_o2v\.predict` run on "
        r"any backend\.",
        serve_error), serve_error
    assert os.listdir(tmp_path) == []  # nothing written
