"""What differs between the Keras backends, run on the current one.

Marked `backend_independent`: tests/backends/test_other_backends.py runs
this file again under JAX and PyTorch.
"""

import json
import os

import keras
import numpy as np
import pytest
from keras import ops

import keras_o2v
from keras_o2v.batch_predict import predict_file
from keras_o2v.data.synthetic import write_demo_data
from keras_o2v.optimizers import LazyAdam
from keras_o2v.training import load_model
from keras_o2v.training import train
from keras_o2v.training.distribution import KerasDistribution
from keras_o2v.training.distribution import select_strategy
from keras_o2v.training.multi_worker import multi_worker_fit_fixes

pytestmark = pytest.mark.backend_independent

BACKEND = keras.backend.backend()
SMALL = {"enc0_network": "pooled_embedding", "enc0_vocab_size": 30,
         "enc0_max_seq_len": 4, "enc_dim": 8, "mlp_dim": 8}
BATCH = {"in0": np.array([[1, 2, 3, 0], [4, 5, 0, 0], [7, 0, 0, 0],
                          [8, 9, 0, 0]], "int32"),
         "in1": np.array([[9, 8], [3, 0], [29, 1], [2, 2]], "int32")}
LABELS = np.array([0, 1, 1, 0])
only_other_backends = pytest.mark.skipif(
    BACKEND == "tensorflow",
    reason="TensorFlow strategies: tests/training/test_distribution.py")


def test_the_users_backend_is_kept():
    # conftest only sets a default: the subprocesses' KERAS_BACKEND wins.
    assert BACKEND == os.environ["KERAS_BACKEND"]


def test_train_on_channels_then_reload_predict_and_embed(tmp_path):
    paths = write_demo_data(str(tmp_path / "data"), num_train=1200)
    with open(paths["hyperparameters"]) as f:
        hp = {**json.load(f), "epochs": "3"}
    model_dir = str(tmp_path / "model")
    result = train(paths["train"], hp, validation=paths["validation"],
                   model_dir=model_dir, seed=0, verbose=0)
    losses = result.history["loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert result.metrics["validation:accuracy"] > 0.7  # chance is 0.5
    loaded = load_model(model_dir)
    with open(paths["test"]) as f:
        instances = [json.loads(line) for line in f][:5]
    scores = keras_o2v.predict(loaded, instances)
    assert scores.shape == (5, 2) and scores.dtype == np.float32
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    pairs = {f: keras.utils.pad_sequences([x[f] for x in instances],
                                          padding="post")
             for f in ("in0", "in1")}
    np.testing.assert_allclose(scores, loaded.predict(pairs, verbose=0),
                               atol=1e-5)
    embeddings = keras_o2v.embed(loaded, [x["in0"] for x in instances])
    np.testing.assert_allclose(
        embeddings, ops.convert_to_numpy(loaded.encoder0(pairs["in0"])),
        atol=1e-5)


def test_batch_prediction_matches_predict(write_jsonl, tmp_path):
    # Serving functions on TensorFlow and JAX, the model itself on PyTorch.
    model = keras_o2v.build_object2vec(SMALL)
    pairs = [{"in0": [1, 2], "in1": [3]}, {"in0": [7], "in1": [9, 8, 2]}]
    singles = [{"in1": [4, 5]}, {"in1": [29]}]
    for instances in (pairs, singles):
        output = str(tmp_path / "out.jsonl")
        assert predict_file(model, write_jsonl(instances), output) == 2
        with open(output) as f:
            rows = [json.loads(line) for line in f]
        key = "scores" if len(instances[0]) == 2 else "embeddings"
        np.testing.assert_allclose([row[key] for row in rows],
                                   keras_o2v.predict(model, instances),
                                   atol=1e-5)


def test_row_sparse_needs_tensorflow():
    if BACKEND == "tensorflow":
        model = keras_o2v.build_object2vec(
            SMALL, token_embedding_storage_type="row_sparse")
        assert isinstance(model.optimizer, LazyAdam)
        return
    with pytest.raises(ValueError, match=(
            r"`token_embedding_storage_type='row_sparse'` .* needs the "
            r"TensorFlow backend.* Use token_embedding_storage_type='dense'"
            rf".* KERAS_BACKEND='{BACKEND}'")):
        keras_o2v.build_object2vec(
            SMALL, token_embedding_storage_type="row_sparse", compile=False)


def test_lazy_optimizer_gives_the_keras_update_for_dense_gradients():
    # What a TensorFlow-trained row_sparse model does when trained on here.
    rng = np.random.default_rng(0)
    start = rng.normal(size=(6, 3)).astype("float32")
    grads = [rng.normal(size=(6, 3)).astype("float32") for _ in range(3)]
    lazy_var, stock_var = keras.Variable(start), keras.Variable(start)
    lazy = LazyAdam(learning_rate=0.1, weight_decay=0.2)
    stock = keras.optimizers.Adam(learning_rate=0.1, weight_decay=0.2)
    for grad in grads:
        lazy.apply([ops.convert_to_tensor(grad)], [lazy_var])
        stock.apply([ops.convert_to_tensor(grad)], [stock_var])
    assert not np.allclose(ops.convert_to_numpy(lazy_var), start)
    np.testing.assert_allclose(ops.convert_to_numpy(lazy_var),
                               ops.convert_to_numpy(stock_var), atol=1e-6)


@only_other_backends
def test_distribution_none_and_unsupported_strategies(monkeypatch):
    strategy = select_strategy("none")
    assert isinstance(strategy, KerasDistribution)
    assert strategy.num_replicas_in_sync == 1
    with strategy.scope():
        pass
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["localhost:1", "localhost:2"]},
         "task": {"type": "worker", "index": 0}}))
    for distribution in ("multi_worker", "auto"):
        with pytest.raises(ValueError, match=(
                r"`distribution='multi_worker'` needs KERAS_BACKEND="
                r"tensorflow \(tf.distribute.MultiWorkerMirroredStrategy")):
            select_strategy(distribution)


@pytest.mark.skipif(BACKEND != "torch", reason="torch only")
def test_mirrored_on_torch_names_the_backends_that_have_it():
    with pytest.raises(ValueError, match=(
            r"`distribution='mirrored'` needs KERAS_BACKEND=tensorflow "
            r"\(tf.distribute.MirroredStrategy\) or jax .* use "
            r"distribution='none' .* KERAS_BACKEND='torch'")):
        select_strategy("mirrored")


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution is JAX's")
def test_mirrored_on_jax_is_data_parallel_and_fits():
    # test_other_backends.py gives this run two CPU devices.
    devices = keras.distribution.list_devices()
    strategy = select_strategy("mirrored")
    assert isinstance(strategy.distribution, keras.distribution.DataParallel)
    assert strategy.num_replicas_in_sync == len(devices)
    if len(devices) > 1:
        assert select_strategy("auto").num_replicas_in_sync == len(devices)
    with strategy.scope():
        model = keras_o2v.build_object2vec(SMALL)
    before = ops.convert_to_numpy(model.encoder0.token_embedding.embeddings)
    with multi_worker_fit_fixes(model, strategy, sample_batch=None):
        assert keras.distribution.distribution() is strategy.distribution
        model.fit(BATCH, LABELS, batch_size=4, epochs=2, verbose=0)
    assert keras.distribution.distribution() is None
    after = ops.convert_to_numpy(model.encoder0.token_embedding.embeddings)
    assert np.abs(after - before).max() > 0
