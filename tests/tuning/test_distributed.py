"""Distributed tuning: a chief and one worker as processes on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys

import pytest

from keras_o2v.data.synthetic import write_demo_data

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
WORKER_TIMEOUT = 240  # seconds; two 1-epoch trials take ~20 s on 2 cores
CHIEF_TIMEOUT = 60  # after the worker is done


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chief_and_worker_share_one_search(tmp_path):
    demo = write_demo_data(str(tmp_path / "demo"), num_train=200)
    tuning_dir = tmp_path / "search"
    command = [sys.executable, "-m", "keras_o2v.cli", "tune",
               "--train", demo["train"], "--validation", demo["validation"],
               "--hyperparameters", demo["hyperparameters"],
               "--tuning-dir", str(tuning_dir), "--max-trials", "2",
               "--seed", "0", "--set", "epochs=1", "--range", "enc_dim=4:16"]
    env = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1",
           "KERASTUNER_ORACLE_PORT": str(free_port()),
           "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    processes = {}
    try:
        for tuner_id in ("chief", "tuner0"):
            processes[tuner_id] = subprocess.Popen(
                command, cwd=ROOT, env={**env, "KERASTUNER_TUNER_ID": tuner_id},
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        worker_out, _ = processes["tuner0"].communicate(
            timeout=WORKER_TIMEOUT)
        chief_out, _ = processes["chief"].communicate(timeout=CHIEF_TIMEOUT)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert processes["tuner0"].returncode == 0, worker_out[-3000:]
    assert processes["chief"].returncode == 0, chief_out[-3000:]
    # The worker ran both trials; the chief only served the oracle.
    assert "[1/2] trial 0 done in" in worker_out, worker_out[-3000:]
    assert "[2/2] trial 1 done in" in worker_out
    assert "worker tuner0: ran 2 trials" in worker_out
    assert "chief: serving the oracle on 127.0.0.1" in chief_out
    assert "Leaderboard (validation:accuracy), top 2 of 2" in chief_out
    board = json.loads((tuning_dir / "leaderboard.json").read_text())
    assert [row["status"] for row in board["trials"]] == ["COMPLETED"] * 2
    assert (tuning_dir / "best_hyperparameters.json").exists()
    assert (tuning_dir / "best_model" / "model.keras").exists()


@pytest.mark.parametrize("tuner_id, worker", [("chief", False),
                                               ("tuner0", True)])
def test_roles_follow_the_keras_tuner_variables(monkeypatch, tuner_id,
                                                worker):
    from keras_o2v.tuning.search import is_chief
    from keras_o2v.tuning.search import is_worker

    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", tuner_id)
    assert (is_worker(), is_chief()) == (worker, not worker)
    monkeypatch.delenv("KERASTUNER_ORACLE_IP")
    assert (is_worker(), is_chief()) == (False, False)
