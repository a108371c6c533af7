"""examples/quickstart.py runs top to bottom (small settings, fast)."""

import os
import subprocess
import sys

import keras

QUICKSTART = os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                          "quickstart.py")


def test_quickstart_runs_end_to_end(tmp_path):
    out = subprocess.run(
        [sys.executable, QUICKSTART, "--work-dir", str(tmp_path),
         "--num-train", "400", "--epochs", "2"],
        check=True, capture_output=True, text=True, timeout=300).stdout
    # Each step printed its line, in order.
    steps = ["A training pair:", "test accuracy", "evaluate(test):",
             "P(label 1)", "nearest neighbour shares the topic",
             "same scores"]
    positions = [out.find(step) for step in steps]
    assert -1 not in positions, out
    assert positions == sorted(positions), out
    model_dir = tmp_path / "model"
    for name in ("model.keras", "hyperparameters.json", "metrics.json"):
        assert (model_dir / name).is_file()
    if keras.backend.backend() in ("tensorflow", "jax"):
        assert (tmp_path / "export" / "object2vec" / "1" /
                "saved_model.pb").is_file()
