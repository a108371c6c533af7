"""The layer, model, serialisation and inference tests under JAX and PyTorch.

A Keras backend is fixed per process, so each backend gets a subprocess
running the tests marked `backend_independent` with its `KERAS_BACKEND`
(tests/conftest.py only sets a default). Both subprocesses start together:
JAX spends most of its time compiling on one core. Skipped, with the
reason, where the backend is not installed (`pip install -e
".[backends]"`).
"""

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TEST_FILES = [
    "tests/layers",
    "tests/models/test_object2vec.py",
    "tests/test_inference.py",
    "tests/backends/test_backend_features.py",
]
BACKENDS = {"jax": "jax", "torch": "torch"}  # KERAS_BACKEND -> module
EXTRA_ENV = {
    # XLA's CPU compile time dominates these tiny models; a lower
    # optimisation level compiles faster and computes the same. Two CPU
    # devices, so that `distribution="mirrored"` really splits batches.
    "jax": {"XLA_FLAGS": "--xla_backend_optimization_level=0 "
                         "--xla_llvm_disable_expensive_passes=true "
                         "--xla_force_host_platform_device_count=2"},
}
TIMEOUT = 600
TAIL_LINES = 60


@pytest.fixture(scope="module")
def runs():
    """KERAS_BACKEND -> running pytest subprocess, for installed backends."""
    started = {}
    for backend, module in BACKENDS.items():
        if importlib.util.find_spec(module) is None:
            continue
        env = {**os.environ, "KERAS_BACKEND": backend,
               "TF_CPP_MIN_LOG_LEVEL": "2", **EXTRA_ENV.get(backend, {})}
        started[backend] = subprocess.Popen(
            [sys.executable, "-m", "pytest", *TEST_FILES, "-q",
             "-p", "no:cacheprovider", "-m", "backend_independent"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_backend_independent_tests_pass(runs, backend):
    if backend not in runs:
        pytest.skip(f"{BACKENDS[backend]} is not installed: "
                    'pip install -e ".[backends]"')
    output, _ = runs[backend].communicate(timeout=TIMEOUT)
    tail = "\n".join(output.splitlines()[-TAIL_LINES:])
    assert runs[backend].returncode == 0, (
        f"KERAS_BACKEND={backend} pytest failed (exit "
        f"{runs[backend].returncode}):\n{tail}")
    # A run that collected nothing would pass too.
    assert " passed" in tail, tail
