#!/usr/bin/env bash
# Set up (first time only), check the engine/gui boundary, then run the whole test suite offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash installer/setup.sh
export QT_QPA_PLATFORM=offscreen
.venv/bin/lint-imports
.venv/bin/ruff check --quiet .
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
  exit 1
fi
exit "$status"
