import json
import logging
import os
import re
import socket
import sys

import keras
import numpy as np
import pytest

from keras_o2v.cli import main
from keras_o2v.data.synthetic import write_demo_data
from keras_o2v.training import evaluate
from keras_o2v.training import load_model
from keras_o2v.training import train

QUALITY = re.compile(
    r"#quality_metric: host=\S+, epoch=(\S+), validation accuracy "
    r"<score>=(\S+)")
TEST_QUALITY = re.compile(r"#quality_metric: host=\S+, test accuracy "
                          r"<score>=(\S+)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    paths = write_demo_data(str(out), num_train=1200)
    with open(paths["hyperparameters"]) as f:
        paths["hp"] = {**json.load(f), "epochs": "6"}
    return paths


def test_train_writes_model_metrics_and_logs(demo, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="keras_o2v")
    model_dir = str(tmp_path / "model")
    result = train(demo["train"], demo["hp"], validation=demo["validation"],
                   test=demo["test"], model_dir=model_dir, seed=0, verbose=0)
    assert sorted(os.listdir(model_dir)) == ["hyperparameters.json",
                                             "metrics.json", "model.keras"]
    with open(os.path.join(model_dir, "metrics.json")) as f:
        metrics = json.load(f)
    assert metrics == pytest.approx(result.metrics)
    for split in ("train", "validation", "test"):
        for name in ("accuracy", "cross_entropy"):
            assert 0 <= metrics[f"{split}:{name}"]
    assert metrics["test:accuracy"] > 0.7  # chance is 0.5: the model learned
    with open(os.path.join(model_dir, "hyperparameters.json")) as f:
        assert json.load(f) == result.hyperparameters
    # One SageMaker log line per epoch and metric, scraped as SageMaker does.
    lines = [QUALITY.search(r.getMessage()) for r in caplog.records]
    epochs = [int(m.group(1)) for m in lines if m]
    assert epochs == list(range(metrics["epochs_completed"]))
    best = metrics["best_epoch"]
    val_acc = [float(m.group(2)) for m in lines if m]
    assert result.history["val_accuracy"][best] == pytest.approx(val_acc[best])
    test_lines = [TEST_QUALITY.search(r.getMessage()) for r in caplog.records]
    assert [float(m.group(1)) for m in test_lines if m] == [
        pytest.approx(metrics["test:accuracy"])]
    # The saved model reloads without custom objects and gives the metrics.
    model = keras.models.load_model(os.path.join(model_dir, "model.keras"))
    again = evaluate(model, demo["test"])
    assert again["accuracy"] == pytest.approx(metrics["test:accuracy"])


def test_early_stopping_keeps_the_best_epoch(demo):
    result = train(demo["train"], demo["hp"], validation=demo["validation"],
                   seed=1, verbose=0, epochs=30, learning_rate=0.05,
                   early_stopping_patience=1, early_stopping_tolerance=1e-6)
    history = result.history
    best = int(np.argmin(history["val_cross_entropy"]))
    assert result.metrics["best_epoch"] == best
    assert result.metrics["epochs_completed"] < 30  # stopped early
    assert result.metrics["epochs_completed"] == best + 2  # patience 1
    assert result.metrics["validation:cross_entropy"] == pytest.approx(
        history["val_cross_entropy"][best], rel=1e-4)


def test_each_channel_is_scanned_once(demo, monkeypatch):
    # The module, not the `train` function the package exports.
    train_module = sys.modules["keras_o2v.training.train"]
    scanned = []
    real = train_module.channel_stats

    def counting(path, spec):
        scanned.append(path)
        return real(path, spec)

    monkeypatch.setattr(train_module, "channel_stats", counting)
    result = train(demo["train"], demo["hp"], validation=demo["validation"],
                   test=demo["test"], seed=0, verbose=0, epochs=1)
    # The validation pass before training; the final metrics reuse it.
    assert sorted(scanned) == sorted([demo["train"], demo["validation"],
                                      demo["test"]])
    assert result.metrics["test:accuracy"] == pytest.approx(
        evaluate(result.model, demo["test"])["accuracy"])


def test_without_early_stopping_all_epochs_run_and_last_weights_are_kept(
        demo, caplog, capsys):
    settings = {"seed": 1, "epochs": 6, "learning_rate": 0.05,
                "early_stopping_patience": 1, "early_stopping_tolerance": 0.1}
    stopped = train(demo["train"], demo["hp"], validation=demo["validation"],
                    verbose=0, **settings)
    assert stopped.metrics["epochs_completed"] < 6  # these settings stop
    capsys.readouterr()
    # What logging.basicConfig(level=logging.INFO) does: INFO at the root.
    caplog.set_level(logging.INFO)
    result = train(demo["train"], demo["hp"], validation=demo["validation"],
                   early_stopping=False, **settings)  # verbose="auto"
    history, metrics = result.history, result.metrics
    assert metrics["epochs_completed"] == 6
    # Validated every epoch: Keras' logs and SageMaker's lines.
    assert len(history["val_loss"]) == len(history["val_accuracy"]) == 6
    lines = [QUALITY.search(r.getMessage()) for r in caplog.records]
    assert [int(m.group(1)) for m in lines if m] == list(range(6))
    # The last epoch's weights are kept, though an earlier epoch was better.
    assert min(history["val_loss"]) < history["val_loss"][-1]
    assert metrics["best_epoch"] == 5
    assert metrics["train:accuracy"] == history["accuracy"][-1]
    assert metrics["validation:cross_entropy"] == pytest.approx(
        history["val_cross_entropy"][-1], rel=1e-4)
    assert evaluate(result.model, demo["validation"])[
        "cross_entropy"] == pytest.approx(history["val_cross_entropy"][-1],
                                          rel=1e-4)
    # stdout is not a terminal: one plain line per epoch, no progress bar.
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out
    assert len(re.findall(r"^\d+/\d+ - \d+s - ", out, re.MULTILINE)) == 6


def test_train_logs_hyperparameters_and_metrics_through_logging(demo,
                                                                 caplog):
    caplog.set_level(logging.INFO)  # as logging.basicConfig(level=INFO)
    result = train(demo["train"], demo["hp"], test=demo["test"], verbose=0,
                   epochs=2)
    records = [r for r in caplog.records if r.name.startswith("keras_o2v")]
    assert all(r.levelno == logging.INFO for r in records)
    messages = [r.getMessage() for r in records]
    assert messages[0] == "Resolved hyperparameters: " + json.dumps(
        result.hyperparameters, sort_keys=True)
    assert [m for m in messages if m.startswith("#quality_metric")] == [
        *(f"#quality_metric: host={socket.gethostname()}, epoch={epoch}, "
          f"train {name} <{kind}>={result.history[name][epoch]}"
          for epoch in range(2)
          for name, kind in (("accuracy", "score"),
                             ("cross_entropy", "loss"))),
        *(f"#quality_metric: host={socket.gethostname()}, test {name} "
          f"<{kind}>={result.metrics['test:' + name]}"
          for name, kind in (("accuracy", "score"),
                             ("cross_entropy", "loss")))]


def test_regression_metrics(demo, tmp_path, write_jsonl):
    rng = np.random.default_rng(0)
    rows = [{"label": float(a % 5), "in0": [int(a)], "in1": [int(b)]}
            for a, b in rng.integers(1, 50, size=(300, 2))]
    path = write_jsonl(rows)
    result = train(path, {"enc0_network": "pooled_embedding",
                          "enc0_vocab_size": "50", "enc0_max_seq_len": "1",
                          "enc_dim": "8", "mlp_dim": "8",
                          "output_layer": "mean_squared_error",
                          "epochs": "2"}, test=path, verbose=0)
    keys = {k for k in result.metrics if k.startswith("test:")}
    assert keys == {"test:mean_squared_error", "test:root_mean_squared_error",
                    "test:mean_absolute_error"}
    assert result.metrics["test:root_mean_squared_error"] == pytest.approx(
        result.metrics["test:mean_squared_error"] ** 0.5, rel=1e-4)


def test_bad_data_fails_before_training_and_leaves_no_metrics(
        demo, tmp_path, write_jsonl):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "metrics.json").write_text("{}")  # from an earlier run
    bad = write_jsonl([{"label": 1, "in0": [1], "in1": [500]}], "bad.jsonl")
    with pytest.raises(ValueError, match="bad.jsonl, line 1, field `in1`: id "
                                         "500"):
        train(demo["train"], demo["hp"], validation=bad,
              model_dir=str(model_dir), verbose=0)
    assert not (model_dir / "metrics.json").exists()


def test_bad_data_found_while_streaming_is_a_value_error(demo, write_jsonl):
    bad = write_jsonl([{"label": 1, "in0": [1], "in1": [2]}] * 3
                      + [{"label": 7, "in0": [1], "in1": [2]}])
    with pytest.raises(ValueError, match="line 4, field `label`"):
        train(bad, demo["hp"], validate_data=False, verbose=0, epochs=1)


def test_sagemaker_movie_recommendation_config_trains_unchanged(
        tmp_path, write_jsonl):
    # The notebook's string map (object2vec_movie_recommendation.ipynb).
    hp = {"_kvstore": "device", "_num_gpus": "auto", "_num_kv_servers": "auto",
          "bucket_width": "0", "early_stopping_patience": "3",
          "early_stopping_tolerance": "0.01", "enc0_network":
          "pooled_embedding", "enc0_layers": "auto",
          "enc0_max_seq_len": "1", "enc0_vocab_size": "944",
          "enc1_network": "pooled_embedding", "enc1_layers": "auto",
          "enc1_max_seq_len": "1", "enc1_vocab_size": "1684",
          "enc_dim": "1024", "epochs": "1", "learning_rate": "0.001",
          "mini_batch_size": "64", "mlp_activation": "tanh",
          "mlp_dim": "256", "mlp_layers": "1", "num_classes": "2",
          "optimizer": "adam", "output_layer": "mean_squared_error"}
    rng = np.random.default_rng(0)
    rows = [{"label": int(r), "in0": [int(u)], "in1": [int(m)]}
            for u, m, r in zip(rng.integers(1, 944, 200),
                               rng.integers(1, 1684, 200),
                               rng.integers(1, 6, 200))]
    path = write_jsonl(rows)
    result = train(path, hp, validation=path, verbose=0)
    assert result.hyperparameters["enc0_token_embedding_dim"] == 1024
    assert np.isfinite(result.metrics["validation:mean_squared_error"])


def test_cli_train_evaluate_embed(demo, tmp_path, capsys):
    model_dir = str(tmp_path / "cli")
    code = main(["train", "--train", demo["train"], "--validation",
                 demo["validation"], "--hyperparameters",
                 demo["hyperparameters"], "--set", "epochs=2", "--set",
                 "enc_dim=16", "--model-dir", model_dir, "--verbose", "0",
                 "--seed", "0"])
    assert code == 0
    printed = capsys.readouterr().out
    assert '"validation:accuracy"' in printed
    assert load_model(model_dir).hyperparameters["enc_dim"] == 16
    assert main(["evaluate", "--model-dir", model_dir, "--data",
                 demo["test"]]) == 0
    printed = capsys.readouterr().out
    results = json.loads(printed[printed.index("{"):])
    assert set(results) == {"test:accuracy", "test:cross_entropy"}
    output = str(tmp_path / "embeddings.jsonl")
    assert main(["embed", "--model-dir", model_dir, "--input", demo["embed"],
                 "--output", output]) == 0
    with open(output) as f:
        vectors = [json.loads(line)["embeddings"] for line in f]
    with open(demo["embed"]) as f:
        assert len(vectors) == sum(1 for _ in f)
    assert all(len(v) == 16 for v in vectors)


def test_cli_errors_exit_2_with_one_line(demo, tmp_path, capsys):
    code = main(["train", "--train", demo["train"], "--set", "enc_dim=2",
                 "--set", "enc0_vocab_size=200", "--set",
                 "enc0_max_seq_len=12", "--model-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err == ("error: `enc_dim` must be an integer in [4, 10000]. "
                   "Received: enc_dim='2'\n")
    assert main(["evaluate", "--model-dir", str(tmp_path), "--data",
                 demo["test"]]) == 2
    assert "No model.keras in" in capsys.readouterr().err
    assert main(["train", "--train", demo["train"], "--set", "oops",
                 "--model-dir", str(tmp_path)]) == 2


def test_regression_starts_at_the_mean_train_label(write_jsonl, tmp_path):
    from keras_o2v.data import RecordSpec
    from keras_o2v.data.channels import channel_stats
    from keras_o2v.data.prepared import convert
    from keras_o2v.hyperparameters import resolve_hyperparameters

    rng = np.random.default_rng(0)
    rows = [{"label": float(r), "in0": [int(a)], "in1": [int(b)]}
            for (a, b), r in zip(rng.integers(1, 50, size=(300, 2)),
                                 rng.integers(1, 6, 300) + 10)]
    mean = np.mean([r["label"] for r in rows])
    hp = {"enc0_network": "pooled_embedding", "enc0_vocab_size": "50",
          "enc0_max_seq_len": "1", "enc_dim": "8", "mlp_dim": "8",
          "output_layer": "mean_squared_error", "epochs": "1",
          "learning_rate": "0.000001"}  # the bias barely moves in training
    path = write_jsonl(rows)
    spec = RecordSpec.from_hyperparameters(resolve_hyperparameters(hp))
    prepared = str(tmp_path / "prepared")
    convert(path, prepared, spec)
    for data in (path, prepared):
        assert channel_stats(data, spec).label_mean == pytest.approx(mean)
        model = train(data, hp, verbose=0).model
        bias = model.get_layer("output").bias.numpy()
        np.testing.assert_allclose(bias, [mean], atol=1e-3)
    # Classifiers keep their zero bias.
    labels = [{**r, "label": int(r["label"]) % 2} for r in rows]
    model = train(write_jsonl(labels), {**hp, "output_layer": "softmax"},
                  verbose=0).model
    np.testing.assert_allclose(model.get_layer("output").bias.numpy(), 0,
                               atol=1e-3)


def test_early_stopping_watches_the_metric_not_the_penalty(write_jsonl):
    from keras_o2v.training.train import stopping_monitor

    # A strong lazy L2 makes the penalty part of Keras' val_loss.
    rng = np.random.default_rng(0)
    rows = [{"label": float((a * b) % 5), "in0": [int(a)], "in1": [int(b)]}
            for a, b in rng.integers(1, 30, size=(600, 2))]
    hp = {"enc0_network": "pooled_embedding", "enc0_vocab_size": "30",
          "enc0_max_seq_len": "1", "enc_dim": "16", "mlp_layers": "0",
          "comparator_list": "hadamard", "embedding_l2": "0.3",
          "output_layer": "mean_squared_error", "learning_rate": "0.05",
          "epochs": "12", "early_stopping_patience": "2",
          "early_stopping_tolerance": "0.000001"}
    path = write_jsonl(rows)
    result = train(path, hp, validation=path, seed=0, verbose=0)
    history = result.history
    mse = history["val_mean_squared_error"]
    best = result.metrics["best_epoch"]
    assert best == int(np.argmin(mse))
    assert result.metrics["epochs_completed"] == min(best + 3, 12)
    assert result.metrics["validation:mean_squared_error"] == pytest.approx(
        mse[best], rel=1e-4)
    penalty = np.subtract(history["val_loss"], mse)
    assert penalty.min() > 0.01  # val_loss is not the metric here
    assert stopping_monitor({"output_layer": "softmax"}) == "val_cross_entropy"
    assert stopping_monitor({"output_layer": "softmax"}, "retrieval",
                            validating=False) == "loss"
