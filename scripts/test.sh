#!/usr/bin/env bash
# Install everything the tests need into .venv and run the whole suite.
# Usage: ./scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-system.sh

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[dev]"
# @tensorflow/tfjs and onnxruntime-web for the Node runtimes, from the committed lockfile
npm ci --prefix js --no-audit --no-fund --loglevel=error

ruff check estuary tests benchmarks

set +e
python -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: treating that as a failure" >&2
    exit 1
fi
exit "$status"
