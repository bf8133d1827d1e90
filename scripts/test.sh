#!/usr/bin/env bash
# Set up and run the whole test suite: venv, install, throwaway PostgreSQL, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import leadtocash, pytest, hypothesis, psycopg' # fail fast on a bad install
bash scripts/with-postgres.sh .venv/bin/python -m pytest "$@"
