import os

import keras
import numpy as np
import pytest
from keras import ops

import keras_o2v
from keras_o2v.layers import BiLSTMEncoder
from keras_o2v.layers import HCNNEncoder
from keras_o2v.layers import PooledEmbeddingEncoder
from keras_o2v.models import Object2Vec

SMALL = {"enc0_vocab_size": 30, "enc0_max_seq_len": 6, "enc_dim": 8,
         "enc0_token_embedding_dim": 5, "mlp_dim": 6}
BATCH = {"in0": np.array([[1, 2, 3, 0], [4, 5, 0, 0], [7, 0, 0, 0]], "int32"),
         "in1": np.array([[9, 8], [3, 0], [29, 1]], "int32")}
# Also run under JAX and PyTorch (tests/backends).
OTHER_BACKENDS = pytest.mark.backend_independent

@OTHER_BACKENDS

def test_inputs_outputs_and_encoders():
    model = keras_o2v.build_object2vec(SMALL, num_classes=3)
    assert [t.name for t in model.inputs] == ["in0", "in1"]
    assert all(tuple(t.shape) == (None, None) for t in model.inputs)
    probs = model.predict(BATCH, verbose=0)
    assert probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert isinstance(model.get_layer("encoder0"), HCNNEncoder)
    assert model.encoder1 is model.get_layer("encoder1")
    # hcnn auto = 4 conv layers; enc1 copies enc0 (its network and sizes)
    assert len(model.encoder1.convs) == 4
    embedding = ops.convert_to_numpy(model.encoder0(BATCH["in0"]))
    assert embedding.shape == (3, 8)

@OTHER_BACKENDS

def test_regression_head():
    model = keras_o2v.build_object2vec(SMALL,
                                       output_layer="mean_squared_error")
    assert model.predict(BATCH, verbose=0).shape == (3, 1)
    assert model.loss.__class__ is keras.losses.MeanSquaredError


@OTHER_BACKENDS
@pytest.mark.parametrize("network,cls", [
    ("pooled_embedding", PooledEmbeddingEncoder), ("hcnn", HCNNEncoder),
    ("bilstm", BiLSTMEncoder)])
def test_networks(network, cls):
    model = keras_o2v.build_object2vec(
        SMALL, enc0_network=network, enc1_network="pooled_embedding",
        enc1_vocab_size=30, enc1_max_seq_len=2)
    assert isinstance(model.encoder0, cls)
    assert isinstance(model.encoder1, PooledEmbeddingEncoder)
    assert model.predict(BATCH, verbose=0).shape == (3, 2)

@OTHER_BACKENDS

def test_save_load_equality(tmp_path):
    model = keras_o2v.build_object2vec(
        SMALL, enc0_network="bilstm", comparator_list="abs_diff, hadamard",
        mlp_layers=0, dropout=0.3)
    model.fit(BATCH, np.array([0, 1, 1]), epochs=1, verbose=0)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects needed
    assert isinstance(loaded, Object2Vec)
    assert loaded.hyperparameters == model.hyperparameters
    np.testing.assert_allclose(loaded.predict(BATCH, verbose=0),
                               model.predict(BATCH, verbose=0), atol=1e-6)
    # The optimizer state came back too: training can continue.
    loaded.fit(BATCH, np.array([0, 1, 1]), epochs=1, verbose=0)

@OTHER_BACKENDS

def test_tied_embedding_is_shared_and_survives_reload(tmp_path):
    model = keras_o2v.build_object2vec(
        SMALL, tied_token_embedding_weight="True")
    table0 = model.encoder0.token_embedding.embeddings
    assert model.encoder1.token_embedding.embeddings is table0
    untied = keras_o2v.build_object2vec(SMALL)
    assert len(model.weights) == len(untied.weights) - 1
    model.fit(BATCH, np.array([0, 1, 1]), epochs=1, verbose=0)
    path = os.path.join(tmp_path, "tied.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert (loaded.encoder1.token_embedding.embeddings
            is loaded.encoder0.token_embedding.embeddings)
    np.testing.assert_allclose(loaded.predict(BATCH, verbose=0),
                               model.predict(BATCH, verbose=0), atol=1e-6)

@OTHER_BACKENDS

def test_tied_encoders_are_one_layer_and_survive_reload(tmp_path):
    symmetric = {**SMALL, "comparator_list": "hadamard, abs_diff"}
    model = keras_o2v.build_object2vec(symmetric, tied_encoder_weights=True)
    assert model.encoder1 is model.encoder0
    names = [layer.name for layer in model.layers]
    assert "encoder0" in names and "encoder1" not in names
    untied = keras_o2v.build_object2vec(symmetric)
    assert (len(model.weights)
            == len(untied.weights) - len(untied.encoder1.weights))
    # One tower and a symmetric comparator: swapping the two inputs of a
    # pair gives the same score, before and after training. Two towers
    # do not.
    swapped = {"in0": BATCH["in1"], "in1": BATCH["in0"]}
    assert not np.allclose(untied.predict(BATCH, verbose=0),
                           untied.predict(swapped, verbose=0), atol=1e-4)
    for _ in range(2):
        np.testing.assert_allclose(model.predict(BATCH, verbose=0),
                                   model.predict(swapped, verbose=0),
                                   atol=1e-6)
        model.fit(BATCH, np.array([0, 1, 1]), epochs=2, verbose=0)
    path = os.path.join(tmp_path, "tied_encoders.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.encoder1 is loaded.encoder0
    np.testing.assert_allclose(loaded.predict(BATCH, verbose=0),
                               model.predict(BATCH, verbose=0), atol=1e-6)
    np.testing.assert_allclose(
        keras_o2v.embed(loaded, [{"in1": [9, 8]}], channel="in1"),
        keras_o2v.embed(loaded, [{"in0": [9, 8]}]), atol=1e-6)


@pytest.mark.parametrize("name,cls", [
    # One optimizer is enough on the other backends: Keras' own code.
    pytest.param("adam", keras.optimizers.Adam, marks=OTHER_BACKENDS),
    ("adagrad", keras.optimizers.Adagrad),
    ("sgd", keras.optimizers.SGD), ("rmsprop", keras.optimizers.RMSprop),
    ("adadelta", keras.optimizers.Adadelta)])
def test_optimizer_learning_rate_and_weight_decay(name, cls):
    model = keras_o2v.build_object2vec(SMALL, optimizer=name,
                                       learning_rate="0.05",
                                       weight_decay="0.25")
    assert isinstance(model.optimizer, cls)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    assert model.optimizer.weight_decay == pytest.approx(0.25)
    model.fit(BATCH, np.array([0, 1, 1]), epochs=1, verbose=0)

@OTHER_BACKENDS

def test_metric_names():
    model = keras_o2v.build_object2vec(SMALL)
    logs = model.evaluate(BATCH, np.array([0, 1, 1]), verbose=0,
                          return_dict=True)
    assert {"accuracy", "cross_entropy", "loss"} <= set(logs)
    model = keras_o2v.build_object2vec(SMALL,
                                       output_layer="mean_squared_error")
    logs = model.evaluate(BATCH, np.array([[1.0], [2.0], [3.0]]), verbose=0,
                          return_dict=True)
    assert {"mean_squared_error", "root_mean_squared_error",
            "mean_absolute_error"} <= set(logs)
    assert logs["root_mean_squared_error"] == pytest.approx(
        logs["mean_squared_error"] ** 0.5, rel=1e-5)

def test_sequence_inputs_compile_without_xla(monkeypatch):
    # As on one GPU, where Keras' "auto" turns XLA on: one XLA program per
    # batch shape would recompile for every new pair of padded widths.
    from keras.src.trainers.trainer import Trainer

    monkeypatch.setattr(Trainer, "_resolve_auto_jit_compile",
                        lambda self: True)
    ids = {"enc0_vocab_size": 30, "enc0_max_seq_len": 1, "enc_dim": 8,
           "mlp_dim": 6}
    assert keras_o2v.build_object2vec(ids).jit_compile is True
    assert keras_o2v.build_object2vec(SMALL).jit_compile is False
    tags = [{"name": "tags", "vocab_size": 9, "max_seq_len": 3}]
    assert keras_o2v.build_object2vec(ids, enc1_fields=tags).jit_compile \
        is False
    model = keras_o2v.build_object2vec(SMALL)
    model.jit_compile = True  # fixed-length data: the user's choice
    assert model.jit_compile is True


@OTHER_BACKENDS

def test_learns_a_simple_pair_task():
    # label = 1 iff both ids are even; a working model fits it quickly.
    rng = np.random.default_rng(0)
    a, b = rng.integers(1, 30, size=(2, 512, 1))
    y = ((a % 2 == 0) & (b % 2 == 0)).astype("int32")[:, 0]
    keras.utils.set_random_seed(0)
    model = keras_o2v.build_object2vec(
        SMALL, enc0_network="pooled_embedding", learning_rate=0.01,
        mlp_activation="relu")
    model.fit({"in0": a, "in1": b}, y, epochs=30, batch_size=64, verbose=0)
    logs = model.evaluate({"in0": a, "in1": b}, y, verbose=0,
                          return_dict=True)
    assert logs["accuracy"] > 0.95


def test_dropout_one_is_rejected_clearly():
    with pytest.raises(ValueError, match="`dropout` must be a float in"):
        keras_o2v.build_object2vec(SMALL, dropout=1.0)
