#!/usr/bin/env bash
# Install estuary with every format's runtime into .venv: the system packages (Java for PMML,
# Node for TF.js / onnxruntime-web, redis-server, chromium), the Python package with all its
# extras, and the npm packages from the committed lockfile.
# Usage: ./scripts/install.sh [extra,extra...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-system.sh

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[${1:-all}]"
# onnxruntime-node's install script would download CUDA libraries: none are wanted here
ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --prefix js --no-audit --no-fund --loglevel=error
