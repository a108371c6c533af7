#!/usr/bin/env bash
# Training throughput on a GPU machine, in one self-contained run of at most
# 8 minutes: installs what it needs, generates its data, prints a table and
# one JSON line (benchmarks/gpu_throughput.py has the details).
#
#   bash benchmarks/gpu.sh             # on the GPU machine
#   bash benchmarks/gpu.sh --small     # a check on any CPU (about 5 min on 2 cores)
#
# Extra arguments go to gpu_throughput.py. With no package registry in reach,
# put wheels in .whl/ (see the device notes) and they are installed from there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2 KERAS_BACKEND=tensorflow

install() {
    if [ -d .whl ]; then
        "$PYTHON" -m pip install -q --no-index --find-links .whl "$@"
    else
        "$PYTHON" -m pip install -q "$@"
    fi
}

if ! "$PYTHON" -c "import keras_o2v, orjson" 2>/dev/null; then
    install -e .
fi
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    nvidia-smi -L
    # The plain tensorflow wheel finds no CUDA libraries of its own.
    if ! "$PYTHON" -c "import tensorflow as tf, sys; sys.exit(not tf.config.list_physical_devices('GPU'))" 2>/dev/null; then
        install "tensorflow[and-cuda]"
    fi
else
    echo "no GPU found: a CPU run (use --small)" >&2
fi
exec timeout 470 "$PYTHON" benchmarks/gpu_throughput.py "$@"
