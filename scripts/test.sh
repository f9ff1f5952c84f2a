#!/usr/bin/env bash
# Install everything the tests need into .venv (system packages, Python extras, npm packages)
# and run the whole suite. Usage: ./scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install.sh dev
. .venv/bin/activate

ruff check estuary tests benchmarks examples setup.py

set +e
python -m pytest -q -p no:cacheprovider --durations=25 "$@"  # the slowest: keep CI well under 30 min
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: treating that as a failure" >&2
    exit 1
fi
exit "$status"
