#!/usr/bin/env bash
# Set up (first time only) and launch Glassbox; with no argument it opens the built-in demo model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash installer/setup.sh
exec .venv/bin/python main.py "$@"
