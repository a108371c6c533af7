import os
import shutil
import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_o2v
from keras_o2v.cli import main

SIGNATURE_NAMES = {"serving_default", "embed_in0", "embed_in1"}
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
    for name, inputs in [("serving_default", ["in0", "in1"]),
                         ("embed_in0", ["in0"]), ("embed_in1", ["in1"])]:
        specs = served[name].structured_input_signature[1]
        assert sorted(specs) == inputs
        for spec in specs.values():
            assert spec.shape.as_list() == [None, None]
            assert spec.dtype == tf.int32

    scores = served["serving_default"](in0=IN0, in1=IN1)["scores"].numpy()
    want = model.predict({"in0": IN0, "in1": IN1}, batch_size=2, verbose=0)
    assert scores.shape == (5, 3) and np.ptp(scores) > 0.05
    np.testing.assert_allclose(scores, want, atol=1e-5)
    for i, (name, ids, encoder) in enumerate([
            ("embed_in0", IN0, model.encoder0),
            ("embed_in1", IN1, model.encoder1)]):
        got = served[name](**{f"in{i}": ids})["embeddings"].numpy()
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
        pass

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
    for name in SIGNATURE_NAMES:
        assert f"signature_def['{name}']" in out
    assert "dtype: DT_INT32" in out and "shape: (-1, -1)" in out
    assert "outputs['scores']" in out and "outputs['embeddings']" in out
