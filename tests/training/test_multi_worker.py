"""Two `keras-o2v train` workers on 127.0.0.1 (MultiWorkerMirroredStrategy)."""

import json
import os
import socket
import subprocess
import sys

import keras
import pytest

from keras_o2v.data.synthetic import write_demo_data

TIMEOUT = 420


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.parametrize("layout", ["one_file", "directory"])
def test_two_workers_train_and_only_the_chief_writes(tmp_path, layout):
    data = write_demo_data(str(tmp_path / "data"), num_train=512, seed=0)
    if layout == "directory":
        # Three files: worker 0 reads two, worker 1 one (uneven batches).
        lines = open(data["train"]).readlines()
        os.makedirs(tmp_path / "train")
        for i in range(3):
            with open(tmp_path / "train" / f"part{i}.jsonl", "w") as f:
                f.writelines(lines[i::3])
        data["train"] = str(tmp_path / "train")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    processes = []
    try:
        for index in range(2):
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                   "TF_NUM_INTRAOP_THREADS": "1",
                   "TF_NUM_INTEROP_THREADS": "1",
                   "TF_CONFIG": json.dumps({
                       "cluster": cluster,
                       "task": {"type": "worker", "index": index}})}
            command = [sys.executable, "-m", "keras_o2v.cli", "train",
                       "--train", data["train"],
                       "--validation", data["validation"],
                       "--hyperparameters", data["hyperparameters"],
                       "--set", "epochs=2", "--seed", "0", "--verbose", "0",
                       "--model-dir", str(tmp_path / f"worker{index}")]
            processes.append(subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True))
        outputs = [p.communicate(timeout=TIMEOUT)[0] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, out in zip(processes, outputs):
        assert p.returncode == 0, out[-3000:]
        assert "MultiWorkerMirroredStrategy with 2 replica(s)" in out
        assert ("of the 3 train files" in out) == (layout == "directory")
    chief, worker = tmp_path / "worker0", tmp_path / "worker1"
    assert sorted(os.listdir(chief)) == ["hyperparameters.json",
                                         "metrics.json", "model.keras"]
    assert os.listdir(worker) == []  # its backup was temporary
    metrics = json.load(open(chief / "metrics.json"))
    assert metrics["epochs_completed"] == 2
    model = keras.models.load_model(str(chief / "model.keras"))
    assert model.get_layer("encoder0") is not None
