import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402

import pytest  # noqa: E402

# The folder of real data sets, beside the project (see README).
SHARED_DATA = os.environ.get(
    "KERAS_O2V_DATA",
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


@pytest.fixture
def write_jsonl(tmp_path):
    """Writes rows (dicts, or raw strings for broken lines) to a file."""

    def write(rows, name="data.jsonl"):
        path = tmp_path / name
        with open(path, "w") as f:
            for row in rows:
                f.write((row if isinstance(row, str) else json.dumps(row))
                        + "\n")
        return str(path)

    return write
