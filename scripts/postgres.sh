# Source this file: starts a throwaway PostgreSQL server for the test suite and exports
# LEADTOCASH_PG_DSN. Installs PostgreSQL with apt when missing and running as root.
# The server runs as an unprivileged user (PostgreSQL refuses root), with its data directory
# and socket under a temp dir, and is stopped by `ltc_pg_stop` (the test script traps it).

ltc_pg_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

ltc_pg_start() {
    local bindir
    if ! bindir=$(ltc_pg_bindir); then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "[postgres] installing PostgreSQL with apt-get" >&2
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null ||
                { echo "[postgres] apt-get install failed" >&2; return 1; }
            bindir=$(ltc_pg_bindir) || return 1
        else
            echo "[postgres] no PostgreSQL found; PostgreSQL tests will be skipped" >&2
            return 1
        fi
    fi
    LTC_PG_DIR=$(mktemp -d /tmp/ltc-pg.XXXXXX)
    local port=${LTC_PG_PORT:-}
    [ -n "$port" ] || port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    local run=()
    if [ "$(id -u)" = 0 ]; then
        id ltcpg >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh ltcpg
        chown ltcpg "$LTC_PG_DIR"
        chmod 755 "$LTC_PG_DIR"
        # ltcpg cannot enter root's private working directories (mktemp -d): run from /.
        run=(env -C / runuser -u ltcpg --)
    fi
    "${run[@]}" "$bindir/initdb" -D "$LTC_PG_DIR/data" -U ltc --auth=trust -E UTF8 \
        --locale=C.UTF-8 >"$LTC_PG_DIR/initdb.log" 2>&1 ||
        { cat "$LTC_PG_DIR/initdb.log" >&2; return 1; }
    "${run[@]}" "$bindir/pg_ctl" -D "$LTC_PG_DIR/data" -l "$LTC_PG_DIR/server.log" -w -t 60 \
        -o "-k $LTC_PG_DIR -p $port -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" \
        start >/dev/null || { cat "$LTC_PG_DIR/server.log" >&2; return 1; }
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U ltc leadtocash ||
        { echo "[postgres] createdb failed" >&2; return 1; }
    LTC_PG_BINDIR=$bindir
    LTC_PG_RUN="${run[*]}"
    export LEADTOCASH_PG_DSN="host=127.0.0.1 port=$port dbname=leadtocash user=ltc"
    export LEADTOCASH_PG_BINDIR="$bindir"
    echo "[postgres] running: $LEADTOCASH_PG_DSN" >&2
}

ltc_pg_stop() {
    [ -n "${LTC_PG_DIR:-}" ] || return 0
    # shellcheck disable=SC2086
    $LTC_PG_RUN "$LTC_PG_BINDIR/pg_ctl" -D "$LTC_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$LTC_PG_DIR"
    LTC_PG_DIR=
}
