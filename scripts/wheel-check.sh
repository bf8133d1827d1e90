#!/usr/bin/env bash
# The integrator's view (issue #23): build the wheel, install it with [sqlite,postgres,cli] (and
# test, for the conformance suite) into a fresh venv OUTSIDE the repository, then use only what
# the wheel ships: `leadtocash migrate`, a claim through leadtocash.connect() on SQLite and on
# PostgreSQL (LEADTOCASH_PG_DSN, set by scripts/with-postgres.sh), `leadtocash verify-audit`,
# pytest on the adapter test file of docs/adapters/conformance.md, st.from_type(Money), and a bad
# URL failing with exit status 2 and writing nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

echo "-- build"
.venv/bin/python -m build --wheel --outdir "$work/dist" . >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; exit 1; }
wheel=$(ls "$work"/dist/leadtocash-*.whl)
echo "$(basename "$wheel")"

echo "-- install into a fresh venv outside the repository"
"$PY" -m venv "$work/venv"
venv=$work/venv/bin
"$venv/python" -m pip install -q "$wheel[sqlite,postgres,cli,test]" >"$work/pip.log" 2>&1 ||
    { cat "$work/pip.log" >&2; exit 1; }
mkdir "$work/run"
cd "$work/run"  # nothing of the repository is on the path from here on (python -I below)
"$venv/python" -I -c "
import leadtocash, leadtocash_adapters
for module in (leadtocash, leadtocash_adapters):
    assert module.__file__.startswith('$work/venv/'), module.__file__
print('leadtocash', leadtocash.__version__, 'and leadtocash_adapters from the wheel')"

echo "-- leadtocash migrate (twice: idempotent)"
"$venv/leadtocash" migrate sqlite:///x.db
"$venv/leadtocash" migrate sqlite:///x.db

echo "-- a claim through connect() on SQLite"
"$venv/python" -I "$ROOT/examples/connect_claim.py" sqlite:///x.db

if [ -n "${LEADTOCASH_PG_DSN:-}" ]; then
    pg_url=$("$venv/python" -I -c "
import sys
fields = dict(part.split('=', 1) for part in sys.argv[1].split())
print(f\"postgresql://{fields['user']}@{fields['host']}:{fields['port']}/{fields['dbname']}\")
" "$LEADTOCASH_PG_DSN")?schema=wheel_check_$$
    echo "-- a claim through connect() on PostgreSQL"
    "$venv/leadtocash" migrate "$pg_url"
    "$venv/python" -I "$ROOT/examples/connect_claim.py" "$pg_url"
    "$venv/leadtocash" verify-audit "$pg_url"
elif [ "${LEADTOCASH_REQUIRE_POSTGRES:-}" = 1 ]; then
    echo "LEADTOCASH_REQUIRE_POSTGRES=1 but LEADTOCASH_PG_DSN is not set" >&2
    exit 1
else
    echo "-- no PostgreSQL server: the PostgreSQL claim is skipped"
fi

echo "-- leadtocash verify-audit"
"$venv/leadtocash" verify-audit sqlite:///x.db

echo "-- a bad URL: exit status 2, its code, nothing written"
mkdir bad && status=0
(cd bad && "$venv/leadtocash" migrate mysql://root@localhost/crm) 2>bad.err || status=$?
cat bad.err
[ "$status" = 2 ] && grep -q 'store.unknown_scheme' bad.err && [ -z "$(ls -A bad)" ] ||
    { echo "expected exit 2 with store.unknown_scheme and an empty directory" >&2; exit 1; }

echo "-- pytest on the adapter test file of docs/adapters/conformance.md (the plugin's suite)"
mkdir adapter && "$venv/python" -I -c "
import re, sys
doc = open(sys.argv[1], encoding='utf-8').read()
open('adapter/test_my_store.py', 'w', encoding='utf-8').write(
    re.findall(r'\`\`\`python\n(.*?)\`\`\`', doc, flags=re.S)[0])
" "$ROOT/docs/adapters/conformance.md"
(cd adapter && "$venv/python" -m pytest -q -p no:cacheprovider test_my_store.py)

echo "-- hypothesis strategies registered through the entry point"
"$venv/python" -I -c "from hypothesis import strategies as st; from leadtocash import Money; print(st.from_type(Money).example())"

echo "wheel check passed in $((SECONDS - started))s"
