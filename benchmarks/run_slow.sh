#!/usr/bin/env bash
# Real-data runs kept out of the default suite (they take minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pytest -m slow -v "$@"
