import os
import zipfile

import keras
import numpy as np
import pytest
from keras import ops

from keras_o2v.layers import BiLSTMEncoder
from keras_o2v.layers import HCNNEncoder
from keras_o2v.layers import PooledEmbeddingEncoder
from keras_o2v.layers import TokenEmbedding
from tests.test_case import run_layer_test

IDS = np.array([[3, 7, 1, 9, 0], [5, 2, 0, 0, 0]], np.int32)
BASE = {"vocab_size": 10, "token_embedding_dim": 4, "enc_dim": 6}

# Also run under JAX and PyTorch (tests/backends); the odd-dim variant
# tests the config only, and a BiLSTM is slow to compile under JAX.
OTHER_BACKENDS = pytest.mark.backend_independent

ENCODERS = [
    # (id, class, extra kwargs, trainable weights, marks)
    # pooled with token dim != enc_dim: embedding + projection kernel/bias
    ("pooled_projected", PooledEmbeddingEncoder, {}, 3, OTHER_BACKENDS),
    ("hcnn", HCNNEncoder, {"num_layers": 2, "cnn_filter_width": 3},
     1 + 2 * 2 + 2, OTHER_BACKENDS),
    # one layer: its pooled vector is the encoding, no projection
    ("hcnn_even_width", HCNNEncoder, {"num_layers": 1, "cnn_filter_width": 2},
     3, OTHER_BACKENDS),
    # per direction: kernel, recurrent kernel, bias; 2 * 3 units = enc_dim
    ("bilstm", BiLSTMEncoder, {"num_layers": 2}, 1 + 2 * 6, OTHER_BACKENDS),
    # odd enc_dim: 2 * 4 units are projected to 7
    ("bilstm_odd_dim", BiLSTMEncoder, {"num_layers": 1, "enc_dim": 7},
     1 + 6 + 2, ()),
]
CASES = [pytest.param(*e[1:4], id=e[0], marks=e[4]) for e in ENCODERS]


@pytest.mark.parametrize("cls,extra,n_weights", CASES)
def test_layer_behaviors(cls, extra, n_weights):
    kwargs = {**BASE, **extra}
    # Encoders read the padding mask from the ids and output none.
    run_layer_test(cls, kwargs, IDS, (2, kwargs["enc_dim"]),
                   expected_num_trainable_weights=n_weights,
                   expected_num_non_trainable_weights=0,
                   expected_num_losses=0, supports_masking=False)


@OTHER_BACKENDS
@pytest.mark.parametrize("cls,extra", [
    (PooledEmbeddingEncoder, {}), (HCNNEncoder, {"num_layers": 1})],
    ids=["pooled", "hcnn"])
def test_frozen_rows_and_l2_penalty(cls, extra):
    # The per-row freeze flag is the one non-trainable weight; embedding_l2
    # adds one loss per call.
    run_layer_test(cls, {**BASE, **extra, "freezable_rows": True,
                         "embedding_l2": 0.1},
                   IDS, (2, BASE["enc_dim"]),
                   expected_num_non_trainable_weights=1,
                   expected_num_losses=1)


@pytest.mark.parametrize("cls,extra,n_weights", CASES)
def test_trailing_padding_does_not_change_output(cls, extra, n_weights):
    keras.utils.set_random_seed(1)
    encoder = cls(**{**BASE, **extra})
    short = ops.convert_to_numpy(encoder(IDS[:, :4]))
    padded = np.pad(IDS, ((0, 0), (0, 6)))  # 6 more trailing zeros
    np.testing.assert_allclose(ops.convert_to_numpy(encoder(padded)), short,
                               atol=1e-5)
    # Each row alone, unpadded, encodes the same as inside the batch.
    alone = ops.convert_to_numpy(encoder(np.array([[5, 2]], np.int32)))
    np.testing.assert_allclose(alone[0], short[1], atol=1e-5)


@pytest.mark.parametrize("cls,extra,n_weights", CASES)
def test_all_padding_row_is_finite(cls, extra, n_weights):
    encoder = cls(**{**BASE, **extra})
    out = ops.convert_to_numpy(
        encoder(np.array([[0, 0, 0], [4, 0, 0]], np.int32)))
    assert np.isfinite(out).all()


@OTHER_BACKENDS
def test_pooled_is_masked_mean_without_projection():
    encoder = PooledEmbeddingEncoder(vocab_size=10, token_embedding_dim=4,
                                     enc_dim=4)
    encoder.build((None, None))
    table = np.arange(40, dtype="float32").reshape(10, 4)
    encoder.token_embedding.set_weights([table])
    out = ops.convert_to_numpy(
        encoder(np.array([[3, 5, 0], [0, 0, 0]], np.int32)))
    # mean of rows 3 and 5 = row 4; an all-padding row gives zeros, not NaN
    np.testing.assert_allclose(out, [table[4], [0, 0, 0, 0]])
    assert encoder.projection is None
    assert len(encoder.trainable_weights) == 1


@OTHER_BACKENDS
def test_hcnn_single_token_and_max_pool_ignore_padding_values():
    encoder = HCNNEncoder(vocab_size=10, token_embedding_dim=3, enc_dim=4,
                          num_layers=1)
    out = ops.convert_to_numpy(encoder(np.array([[7, 0, 0]], np.int32)))
    alone = ops.convert_to_numpy(encoder(np.array([[7]], np.int32)))
    np.testing.assert_allclose(out, alone, atol=1e-6)


@OTHER_BACKENDS
def test_one_layer_hcnn_is_max_pooled_relu_without_projection():
    encoder = HCNNEncoder(vocab_size=10, token_embedding_dim=3, enc_dim=4,
                          num_layers=1, cnn_filter_width=1)
    ids = np.array([[2, 5, 0]], np.int32)
    out = ops.convert_to_numpy(encoder(ids))
    assert encoder.projection is None
    table = ops.convert_to_numpy(encoder.token_embedding.embeddings)
    kernel, bias = (ops.convert_to_numpy(w) for w in encoder.convs[0].weights)
    per_token = np.maximum(table[[2, 5]] @ kernel[0] + bias, 0)
    np.testing.assert_allclose(out[0], per_token.max(axis=0), atol=1e-6)


@OTHER_BACKENDS
def test_saved_model_round_trip(tmp_path):
    inputs = keras.Input((None,), dtype="int32")
    encoder = HCNNEncoder(**BASE, num_layers=2)
    model = keras.Model(inputs, encoder(inputs))
    path = os.path.join(tmp_path, "encoder.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[-1], HCNNEncoder)
    np.testing.assert_allclose(loaded.predict(IDS, verbose=0),
                               model.predict(IDS, verbose=0), atol=1e-6)


@OTHER_BACKENDS
def test_shared_token_embedding_is_one_variable():
    shared = TokenEmbedding(10, 4)
    a = PooledEmbeddingEncoder(**BASE, token_embedding=shared)
    b = HCNNEncoder(**BASE, num_layers=1, token_embedding=shared)
    a(IDS)
    b(IDS)
    assert a.token_embedding.embeddings is b.token_embedding.embeddings


@pytest.mark.parametrize("kwargs,message", [
    ({"vocab_size": 1}, "`vocab_size` must be an integer >= 2"),
    ({"enc_dim": 0}, "`enc_dim` must be an integer >= 1"),
    ({"token_embedding_dim": 2.5}, "`token_embedding_dim` must be"),
    ({"token_embedding": TokenEmbedding(11, 4)},
     "shared `token_embedding` must match"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PooledEmbeddingEncoder(**{**BASE, **kwargs})


@pytest.mark.parametrize("cls", [HCNNEncoder, BiLSTMEncoder])
def test_bad_num_layers(cls):
    with pytest.raises(ValueError, match="`num_layers` must be an integer >= "
                                         "1. Received: num_layers=0"):
        cls(**BASE, num_layers=0)


@pytest.mark.parametrize("cls", [HCNNEncoder, BiLSTMEncoder])
def test_config_key_layers_of_older_saves_still_loads(cls):
    # As keras_o2v wrote it before `layers` was renamed `num_layers`.
    old = {"name": "encoder0", "trainable": True, "dtype": "float32",
           **BASE, "embedding_l2": 0.0, "freezable_rows": False, "layers": 2}
    encoder = cls.from_config(old)
    assert encoder.num_layers == 2
    config = encoder.get_config()
    assert config["num_layers"] == 2 and "layers" not in config
    revived = keras.layers.deserialize(
        {"module": cls.__module__, "class_name": cls.__name__,
         "registered_name": f"keras_o2v>{cls.__name__}", "config": old})
    assert revived.num_layers == 2


@OTHER_BACKENDS
def test_model_saved_with_the_old_config_key_loads(tmp_path):
    inputs = keras.Input((None,), dtype="int32")
    model = keras.Model(inputs, HCNNEncoder(**BASE, num_layers=2)(inputs))
    new_path = os.path.join(tmp_path, "new.keras")
    model.save(new_path)
    # Rewrite the archive's config as an older keras_o2v saved it.
    old_path = os.path.join(tmp_path, "old.keras")
    with zipfile.ZipFile(new_path) as src, zipfile.ZipFile(old_path,
                                                           "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                text = data.decode()
                assert text.count('"num_layers": 2') == 1
                data = text.replace('"num_layers": 2', '"layers": 2').encode()
            dst.writestr(item, data)
    loaded = keras.models.load_model(old_path)
    assert loaded.layers[-1].num_layers == 2
    np.testing.assert_allclose(loaded.predict(IDS, verbose=0),
                               model.predict(IDS, verbose=0), atol=1e-6)


@OTHER_BACKENDS
def test_embedding_l2_adds_a_lazy_penalty_on_looked_up_rows():
    encoder = PooledEmbeddingEncoder(vocab_size=10, token_embedding_dim=2,
                                     enc_dim=2, embedding_l2=0.5)
    encoder.build((None, None))
    table = np.arange(20, dtype="float32").reshape(10, 2)
    encoder.token_embedding.set_weights([table])
    encoder(np.array([[1, 3, 0], [2, 0, 0]], np.int32))
    # row sums of squares: 1 -> 4+9=13, 3 -> 36+49=85, 2 -> 16+25=41;
    # per example (13+85, 41), mean 69.5, times l2 0.5 = 34.75.
    (penalty,) = encoder.losses
    np.testing.assert_allclose(float(ops.convert_to_numpy(penalty)), 34.75)


SEEDED = [pytest.param(*e[1:3], id=e[0], marks=e[4])
          for e in ENCODERS if e[1] is not PooledEmbeddingEncoder]


def _initial_weights(encoder):
    """The encoder's own weights (not the token table), as arrays."""
    if not encoder.built:
        encoder.build((None, None))
    return [ops.convert_to_numpy(w) for w in encoder.weights
            if "token_embedding" not in w.path]


@pytest.mark.parametrize("cls,extra", SEEDED)
def test_same_seed_same_initial_weights(cls, extra):
    kwargs = {**BASE, **extra}
    a, b = cls(**kwargs, seed=3), cls(**kwargs, seed=3)
    for x, y in zip(_initial_weights(a), _initial_weights(b), strict=True):
        np.testing.assert_array_equal(x, y)
    other = _initial_weights(cls(**kwargs, seed=4))
    assert not all(np.array_equal(x, y)
                   for x, y in zip(_initial_weights(a), other))
    # The seed is in the config: a clone starts with the same weights.
    assert a.get_config()["seed"] == 3
    clone = _initial_weights(cls.from_config(a.get_config()))
    for x, y in zip(_initial_weights(a), clone, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("cls,extra", SEEDED)
def test_default_seed_is_fresh_and_follows_keras_seeding(cls, extra):
    kwargs = {**BASE, **extra}
    keras.utils.set_random_seed(5)
    a, b = cls(**kwargs), cls(**kwargs)
    assert a.seed != b.seed  # no hidden coupling between encoders
    keras.utils.set_random_seed(5)
    assert cls(**kwargs).seed == a.seed


def test_two_tower_object2vec_starts_with_identical_towers():
    import keras_o2v

    model = keras_o2v.build_object2vec(
        enc0_network="bilstm", enc0_vocab_size=20, enc0_max_seq_len=5,
        enc0_token_embedding_dim=4, enc_dim=6, mlp_dim=8)
    assert model.encoder0 is not model.encoder1  # two towers
    towers = [_initial_weights(e) for e in (model.encoder0, model.encoder1)]
    assert len(towers[0]) == 6
    for x, y in zip(*towers, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="`seed` must be an integer >= 0. "
                                         "Received: seed="):
        BiLSTMEncoder(**BASE, seed=seed)
