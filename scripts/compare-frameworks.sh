#!/usr/bin/env bash
# seti-dist against Keras/TensorFlow and PyTorch, training-step samples/s on the same cores
# at 1 and 2 threads (scripts/compare-frameworks.py). Installs tensorflow-cpu and torch
# from PyPI into a throwaway venv (VENV, default /tmp/seti-compare-venv; a few GB), never
# into the system or CI. Extra arguments go to the Python script (--steps, --threads, --json).
#
#   scripts/compare-frameworks.sh                 # seti-dist from PATH
#   SETI_DIST=.build/release/seti-dist scripts/compare-frameworks.sh --json
set -euo pipefail
venv=${VENV:-/tmp/seti-compare-venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import tensorflow, torch" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q tensorflow-cpu torch numpy
fi
exec "$venv/bin/python" "$(dirname "$0")/compare-frameworks.py" "$@"
