#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server (LEADTOCASH_PG_DSN exported), then stop it.
# Reuses the server named by LEADTOCASH_PG_DSN when one is already set.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${LEADTOCASH_PG_DSN:-}" ]; then
    # shellcheck source=scripts/postgres.sh
    . scripts/postgres.sh
    trap ltc_pg_stop EXIT
    ltc_pg_start || echo "[postgres] not available; PostgreSQL parts will be skipped" >&2
fi
"$@"
