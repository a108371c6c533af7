"""Distribution and fault tolerance, each run in a fresh subprocess (logical
devices must be configured before TensorFlow starts)."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from keras_o2v.data.synthetic import write_demo_data
from keras_o2v.training.distribution import select_strategy

TIMEOUT = 300

PRELUDE = """
import json, logging, os, signal, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from keras_o2v.training import train
logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                    format="%(message)s")
HP = {"enc0_network": "pooled_embedding", "enc0_vocab_size": 200,
      "enc0_max_seq_len": 12, "enc1_vocab_size": 200, "enc1_max_seq_len": 12,
      "enc_dim": 8, "mlp_layers": 1, "mlp_dim": 8, "mini_batch_size": 32,
      "learning_rate": 0.01, "epochs": 4, "early_stopping_patience": 2,
      "early_stopping_tolerance": 0.000001}
"""


def run_script(body, *args):
    script = PRELUDE + textwrap.dedent(body)
    result = subprocess.run([sys.executable, "-c", script, *args],
                            capture_output=True, text=True, timeout=TIMEOUT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return write_demo_data(str(folder), num_train=256, seed=0)


def test_mirrored_on_two_cpus_matches_one_device(data):
    body = """
    result = train(sys.argv[1], HP, seed=0, verbose=0,
                   distribution=sys.argv[2], per_replica_batch=False)
    print("LOSSES", json.dumps(result.history["loss"]))
    """
    losses = {}
    for distribution in ("none", "mirrored"):
        out = run_script(body, data["train"], distribution)
        assert out.returncode == 0, out.stderr[-3000:]
        line = [x for x in out.stdout.splitlines() if x.startswith("LOSSES")]
        losses[distribution] = json.loads(line[0][7:])
        assert ("2 replica(s)" in out.stdout) == (distribution == "mirrored")
    assert len(losses["none"]) == 4
    assert losses["mirrored"] == pytest.approx(losses["none"], rel=1e-4)


@pytest.fixture(scope="module")
def prepared(data, tmp_path_factory):
    from keras_o2v.data.prepared import convert
    from keras_o2v.data.prepared import spec_for_conversion

    path = str(tmp_path_factory.mktemp("prepared") / "train")
    convert(data["train"], path, spec_for_conversion(), records_per_shard=64)
    return path


@pytest.mark.parametrize("source", ["jsonl", "prepared"])
def test_killed_run_resumes_at_next_epoch_with_same_result(
        data, prepared, tmp_path, source):
    body = """
    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after epoch 1's backup: die like a lost node
                os.kill(os.getpid(), signal.SIGKILL)

    callbacks = [Kill()] if sys.argv[3] == "kill" else []
    if sys.argv[3] == "other":
        HP["learning_rate"] = 0.02
    result = train(sys.argv[1], HP, validation=sys.argv[1], seed=0,
                   verbose=0, model_dir=sys.argv[2], distribution="none",
                   callbacks=callbacks)
    """
    train = data["train"] if source == "jsonl" else prepared
    full, resumed = str(tmp_path / "full"), str(tmp_path / "resumed")
    out = run_script(body, train, full, "run")
    assert out.returncode == 0, out.stderr[-3000:]
    killed = run_script(body, train, resumed, "kill")
    assert killed.returncode == -9
    assert not os.path.exists(os.path.join(resumed, "metrics.json"))
    assert os.path.isdir(os.path.join(resumed, "backup"))
    # Other hyperparameters would resume this run as if it were theirs.
    other = run_script(body, train, resumed, "other")
    assert other.returncode == 1
    assert re.search(r"ValueError: `model_dir` must not hold the backup of "
                     r"an unfinished run with other hyperparameters: "
                     r"\S+backup is a run with learning_rate=0.01 \(now "
                     r"0.02\)", other.stderr), other.stderr[-3000:]
    again = run_script(body, train, resumed, "run")
    assert again.returncode == 0, again.stderr[-3000:]
    epochs = [line for line in again.stdout.splitlines()
              if "validation cross_entropy" in line]
    assert "epoch=2" in epochs[0]  # resumed after the 2 completed epochs
    first = json.load(open(os.path.join(full, "metrics.json")))
    second = json.load(open(os.path.join(resumed, "metrics.json")))
    assert second["epochs_completed"] == first["epochs_completed"]
    assert second["best_epoch"] == first["best_epoch"]
    for key, value in first.items():
        assert second[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    assert not os.path.exists(os.path.join(resumed, "backup"))


def test_strategy_names_are_checked():
    with pytest.raises(ValueError, match="`distribution` must be one of"):
        select_strategy("tpu")
    os.environ.pop("TF_CONFIG", None)
    with pytest.raises(ValueError, match="needs a TF_CONFIG"):
        select_strategy("multi_worker")


def test_mixed_precision_keeps_the_output_in_float32(data):
    import keras

    from keras_o2v.training import train

    before = keras.config.dtype_policy().name
    hp = {"enc0_network": "pooled_embedding", "enc0_vocab_size": 200,
          "enc0_max_seq_len": 12, "enc_dim": 8, "epochs": 1,
          "mini_batch_size": 64}
    result = train(data["train"], hp, seed=0, verbose=0,
                   mixed_precision=True)
    model = result.model
    assert model.get_layer("encoder0").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("output").dtype_policy.name == "float32"
    assert model.outputs[0].dtype == "float32"
    assert keras.config.dtype_policy().name == before  # restored
    assert result.metrics["train:cross_entropy"] < 1.0
