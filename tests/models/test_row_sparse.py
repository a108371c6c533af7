"""Object2Vec with `token_embedding_storage_type="row_sparse"`."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_o2v
from keras_o2v.optimizers import LazyAdam

# Sparse (`tf.IndexedSlices`) gradients exist on TensorFlow only; other
# backends refuse row_sparse (tests/backends/test_backend_features.py).
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="row_sparse lazy updates need the TensorFlow backend")

SMALL = {"enc0_network": "pooled_embedding", "enc0_vocab_size": 40,
         "enc0_max_seq_len": 3, "enc_dim": 8, "mlp_dim": 8, "mlp_layers": 1,
         "mlp_activation": "relu", "learning_rate": 0.01}


def pair_task(n=256, high=20):
    # label = 1 iff both first ids are even; ids < high, so rows >= high of
    # the 40-row tables are never looked up.
    rng = np.random.default_rng(0)
    x = {name: rng.integers(1, high, size=(n, 3)).astype("int32")
         for name in ("in0", "in1")}
    y = ((x["in0"][:, 0] % 2 == 0) & (x["in1"][:, 0] % 2 == 0))
    return x, y.astype("int32")


@pytest.mark.parametrize("tied", [False, True])
def test_token_tables_get_indexed_slices_gradients(tied):
    model = keras_o2v.build_object2vec(
        SMALL, tied_token_embedding_weight=tied, embedding_l2=0.1,
        token_embedding_storage_type="row_sparse")
    x, y = pair_task(n=4)
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x, y, model(x, training=True))
    tables = {id(layer.embeddings): layer.embeddings for layer in (
        model.encoder0.token_embedding, model.encoder1.token_embedding)}
    grads = tape.gradient(loss, list(tables.values()))
    assert len(grads) == (1 if tied else 2)
    assert all(isinstance(g, tf.IndexedSlices) for g in grads)


def test_fits_lazily_and_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras_o2v.build_object2vec(
        SMALL, token_embedding_storage_type="row_sparse", weight_decay=0.01)
    assert type(model.optimizer) is LazyAdam
    x, y = pair_task()
    tables = [model.encoder0.token_embedding.embeddings,
              model.encoder1.token_embedding.embeddings]
    unseen = [t.numpy()[20:] for t in tables]
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0], losses
    # Rows never in a batch were neither updated nor decayed.
    for table, before in zip(tables, unseen):
        np.testing.assert_array_equal(table.numpy()[20:], before)

    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects needed
    assert type(loaded.optimizer) is LazyAdam
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    loaded.fit(x, y, epochs=1, batch_size=32, verbose=0)
