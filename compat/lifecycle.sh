#!/usr/bin/env bash
# Black-box lifecycle tests of the castellan binary (compat/python/test_server_lifecycle.py):
# first start, restart, tenants, configuration, TLS modes, log hygiene. The tests
# start their own servers on free 127.0.0.1 ports in temporary data dirs.
#
#   compat/lifecycle.sh sqlite                  every server on SQLite in its data dir
#   compat/lifecycle.sh postgres://user:pw@...  every server on a fresh database made
#                                               (and dropped) in that cluster with psql
#
# Builds nothing: the binary is $CASTELLAN_BIN (default target/debug/castellan).
# Needs compat/.venv (scripts/setup-compat.sh). PYTEST_ARGS adds pytest arguments.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
compat="$root/compat"
backend=${1:-}
case "$backend" in
    sqlite) pg_url="" ;;
    postgres://* | postgresql://*)
        pg_url=$backend
        command -v psql >/dev/null 2>&1 || { echo "lifecycle: psql is needed for a PostgreSQL run" >&2; exit 2; }
        ;;
    *)
        echo "usage: $0 sqlite|postgres://USER:PASSWORD@HOST:PORT/DB" >&2
        exit 2
        ;;
esac

bin=${CASTELLAN_BIN:-$root/target/debug/castellan}
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
[ -x "$bin" ] || { echo "lifecycle: no castellan binary at $bin (cargo build -p castellan)" >&2; exit 2; }
py="$compat/.venv/bin/python"
[ -x "$py" ] || { echo "lifecycle: $py missing: run scripts/setup-compat.sh" >&2; exit 2; }

export CASTELLAN_BIN=$bin
export CASTELLAN_LIFECYCLE_PG_URL=$pg_url
cd "$compat/python"
# shellcheck disable=SC2086 # PYTEST_ARGS is a list of words on purpose
exec "$py" -m pytest -p no:cacheprovider -q -rfEs test_server_lifecycle.py ${PYTEST_ARGS:-}
