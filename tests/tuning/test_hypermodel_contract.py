"""KerasTuner's `HyperModel.fit(hp, model, *args, **kwargs)` contract:
`tuner.search` takes what `model.fit` takes."""

import numpy as np
import pytest

keras_tuner = pytest.importorskip("keras_tuner")

from keras_o2v.tuning import Object2VecHyperModel  # noqa: E402

HP = {"enc0_network": "pooled_embedding", "enc0_vocab_size": "30",
      "enc0_max_seq_len": "3", "enc1_network": "enc0",
      "output_layer": "softmax", "num_classes": "2", "epochs": "2"}


def arrays(n, seed):
    rng = np.random.default_rng(seed)
    in0 = rng.integers(1, 30, size=(n, 3)).astype(np.int32)
    in1 = rng.integers(1, 30, size=(n, 3)).astype(np.int32)
    y = (in0[:, 0] % 2 == in1[:, 0] % 2).astype(np.int32)
    return {"in0": in0, "in1": in1}, y


@pytest.mark.parametrize("as_dataset", [False, True])
def test_search_with_numpy_and_validation_data(tmp_path, as_dataset):
    import tensorflow as tf

    hypermodel = Object2VecHyperModel(
        HP, ranges={"enc_dim": (4, 8)}, fixed={"mini_batch_size": 32},
        tune=[], seed=0)
    tuner = keras_tuner.RandomSearch(
        hypermodel, objective="val_loss", max_trials=2, seed=0,
        directory=str(tmp_path), project_name="contract")
    x, y = arrays(256, 0)
    xv, yv = arrays(64, 1)
    if as_dataset:
        tuner.search(tf.data.Dataset.from_tensor_slices((x, y)).batch(32),
                     validation_data=tf.data.Dataset.from_tensor_slices(
                         (xv, yv)).batch(32), verbose=0)
    else:
        tuner.search(x, y, validation_data=(xv, yv), verbose=0)
    trials = tuner.oracle.get_best_trials(2)
    assert len(trials) == 2
    assert all(t.status == "COMPLETED" for t in trials)
    assert all(np.isfinite(t.score) for t in trials)
    best = tuner.get_best_models(1)[0]
    assert best.predict(xv, verbose=0).shape == (64, 2)
