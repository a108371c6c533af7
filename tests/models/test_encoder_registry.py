"""A new encoder is a layer plus one `register_encoder` call.

A toy encoder, registered by this test only, goes through the hyperparameter
checks, `build_object2vec` (a training step, save and load) and the tuning
space; the fixture removes it again.
"""

import os

import keras
import numpy as np
import pytest

import keras_o2v
from keras_o2v.hyperparameters import ENCODERS
from keras_o2v.hyperparameters import SPECS
from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.layers import Encoder
from keras_o2v.layers import MaskedGlobalAveragePooling1D
from keras_o2v.layers import register_encoder
from keras_o2v.layers import unregister_encoder

FACTS = {"enc0_vocab_size": 30, "enc0_max_seq_len": 4, "enc_dim": 6,
         "enc0_token_embedding_dim": 5, "mlp_dim": 4}
BATCH = {"in0": np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32"),
         "in1": np.array([[9, 8, 0, 0], [3, 0, 0, 0]], "int32")}
BUILT_IN = ["hcnn", "bilstm", "pooled_embedding"]


class ToyEncoder(Encoder):
    """Masked mean of the token vectors, then `num_layers` Dense layers."""

    def __init__(self, vocab_size, token_embedding_dim, enc_dim, num_layers=1,
                 **kwargs):
        super().__init__(vocab_size, token_embedding_dim, enc_dim, **kwargs)
        self.num_layers = num_layers
        self.pool = MaskedGlobalAveragePooling1D(dtype=self.dtype_policy)
        self.dense = [keras.layers.Dense(enc_dim, dtype=self.dtype_policy)
                      for _ in range(num_layers)]

    def build(self, input_shape):
        super().build(input_shape)
        width = self.token_embedding_dim
        for dense in self.dense:
            dense.build((None, width))
            width = self.enc_dim

    def call(self, token_ids):
        vectors, mask = self.embed(token_ids)
        x = self.pool(vectors, mask=mask)
        for dense in self.dense:
            x = dense(x)
        return x

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers}


@pytest.fixture
def toy():
    register_encoder("toy", ToyEncoder, knobs={"layers": "num_layers"},
                     auto_layers=2)
    try:
        yield
    finally:
        unregister_encoder("toy")
    # Removing it restores the built-in choices.
    assert list(ENCODERS) == BUILT_IN
    assert SPECS["enc1_network"].choices == ("enc0", *BUILT_IN)


def test_hyperparameters_accept_the_registered_network(toy):
    hp = resolve_hyperparameters(FACTS, enc0_network="toy")
    assert hp["enc0_network"] == hp["enc1_network"] == "toy"
    assert hp["enc0_layers"] == 2  # "auto", as the entry says
    hp = resolve_hyperparameters(FACTS, enc0_network="hcnn",
                                 enc1_network="toy", enc1_vocab_size=9,
                                 enc1_max_seq_len=2, enc1_layers=3)
    assert hp["enc1_layers"] == 3
    with pytest.raises(ValueError, match=r"`enc0_network` must be one of "
                       r"\['hcnn', 'bilstm', 'pooled_embedding', 'toy'\]. "
                       r"Received: enc0_network='nope'"):
        resolve_hyperparameters(FACTS, enc0_network="nope")


def test_unregistered_network_is_rejected():
    with pytest.raises(ValueError, match=r"`enc0_network` must be one of "
                       r"\['hcnn', 'bilstm', 'pooled_embedding'\]. "
                       r"Received: enc0_network='toy'"):
        resolve_hyperparameters(FACTS, enc0_network="toy")


def test_build_object2vec_trains_saves_and_loads_it(toy, tmp_path):
    model = keras_o2v.build_object2vec(FACTS, enc0_network="toy",
                                       enc1_network="pooled_embedding",
                                       enc1_vocab_size=10, enc1_max_seq_len=4)
    assert isinstance(model.encoder0, ToyEncoder)
    assert model.encoder0.num_layers == 2  # the knob reached the layer
    before = [w.copy() for w in model.encoder0.get_weights()]
    model.fit(BATCH, np.array([0, 1]), epochs=1, verbose=0)
    assert any(not np.allclose(a, b) for a, b in
               zip(before, model.encoder0.get_weights()))
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    # The model is rebuilt from its hyperparameters through the registry.
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.encoder0, ToyEncoder)
    np.testing.assert_allclose(loaded.predict(BATCH, verbose=0),
                               model.predict(BATCH, verbose=0), atol=1e-6)


def test_tuning_space_tunes_the_knobs_it_reads(toy):
    from keras_o2v.tuning.space import encoder_knobs
    from keras_o2v.tuning.space import plan_search

    assert encoder_knobs("enc0", "toy") == ["enc0_layers",
                                            "enc0_token_embedding_dim"]
    facts = {"enc0_vocab_size": "30", "enc0_max_seq_len": "4"}
    plan = plan_search(facts, ranges={"enc0_network": ["pooled_embedding",
                                                       "toy"]})
    assert plan.networks["enc0"] == ("pooled_embedding", "toy")
    assert "enc0_layers" in plan.dimensions  # toy reads it
    assert "enc0_cnn_filter_width" not in plan.dimensions  # no one reads it
    with pytest.raises(ValueError, match="`enc0_cnn_filter_width` cannot be "
                                         "tuned here"):
        plan_search(facts, tune=["enc0_cnn_filter_width"],
                    fixed={"enc0_network": "toy"})


def test_hypermodel_builds_it_with_the_auto_default(toy):
    keras_tuner = pytest.importorskip("keras_tuner")
    from keras_o2v.tuning import Object2VecHyperModel

    hypermodel = Object2VecHyperModel(
        {"enc0_vocab_size": "30", "enc0_max_seq_len": "4"},
        ranges={"enc_dim": (4, 8), "enc0_network": ["hcnn", "toy"]},
        fixed={"mlp_dim": 4}, seed=0)
    hp = keras_tuner.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    layer_scopes = {h.conditions[0].values[0]: h.default for h in hp.space
                    if h.name == "enc0_layers"}
    assert layer_scopes == {"hcnn": 4, "toy": 2}  # each network's "auto"
    # A trial that picked toy, with defaults elsewhere.
    hp = keras_tuner.HyperParameters()
    hp.values["enc0_network"] = "toy"
    model = hypermodel.build(hp)
    assert isinstance(model.encoder0, ToyEncoder)
    assert model.encoder0.num_layers == 2


@pytest.mark.parametrize("kwargs,message", [
    ({"name": "hcnn"}, "`name` must not be a registered network"),
    ({"name": "enc0"}, "`name` must be lowercase letters"),
    ({"name": "Toy"}, "`name` must be lowercase letters"),
    ({"knobs": {"heads": "num_heads"}}, "`knobs` must name settings in "
                                        r"\['layers', 'cnn_filter_width'\]"),
    ({"auto_layers": 5}, r"`auto_layers` must be an integer in \[1, 4\]. "
                         "Received: auto_layers=5"),
])
def test_register_encoder_rejects_bad_entries(kwargs, message):
    with pytest.raises(ValueError, match=message):
        register_encoder(**{"name": "toy", "layer": ToyEncoder, **kwargs})
    assert list(ENCODERS) == BUILT_IN


def test_built_in_entries_name_the_exported_layers():
    assert {name: entry.layer_class() for name, entry in ENCODERS.items()} == {
        "hcnn": keras_o2v.layers.HCNNEncoder,
        "bilstm": keras_o2v.layers.BiLSTMEncoder,
        "pooled_embedding": keras_o2v.layers.PooledEmbeddingEncoder,
    }
