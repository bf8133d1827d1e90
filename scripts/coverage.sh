#!/usr/bin/env bash
# Branch coverage of the domain (the modules of the domain layers of the import-linter layers
# contract; configured in pyproject.toml's [tool.coverage.*]) under the unit and property tests.
#
# Prints coverage.py's report, then the share of branches taken (what "branch coverage" means in
# issues: coverage.py's own total mixes statements and branches and reads higher). Fails when a
# test fails or either figure is under 95%. Extra arguments go to both reports, e.g.
#   scripts/coverage.sh --omit='*/leadtocash/money.py,*/leadtocash/i18n/*'
# Needs the `test` extra installed in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export COVERAGE_FILE=${COVERAGE_FILE:-.coverage}
status=0
"$PY" -m coverage erase
"$PY" -m coverage run -m pytest tests/unit tests/properties -q -p no:cacheprovider || status=$?
"$PY" -m coverage report --fail-under=95 "$@" || status=$((status ? status : 2))
json=$(mktemp)
trap 'rm -f "$json"' EXIT
"$PY" -m coverage json -q -o "$json" "$@"
"$PY" - "$json" <<'PY' || status=$((status ? status : 2))
import json
import sys

totals = json.load(open(sys.argv[1]))["totals"]
taken, branches = totals["covered_branches"], totals["num_branches"]
share = 100.0 * taken / branches if branches else 100.0
print(f"domain branch coverage: {taken}/{branches} branches taken = {share:.1f}%")
sys.exit(0 if share >= 95 else 1)
PY
exit "$status"
