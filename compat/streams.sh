#!/usr/bin/env bash
# Log streams end to end (compat/python/test_log_streams.py): the real binary delivering
# to an HTTP receiver inside the test process, through outages, a SIGKILL and restart,
# two instances on one database, every format; and `castellan logs tail`. The tests
# start their own servers on free 127.0.0.1 ports in temporary data dirs.
#
#   compat/streams.sh sqlite                  every server on SQLite in its data dir
#   compat/streams.sh postgres://user:pw@...  every server on a fresh database made (and
#                                             dropped) in that cluster with psql; the
#                                             two-instance test runs only here
#
# Builds nothing: the binary is $CASTELLAN_BIN (default target/debug/castellan).
# Needs compat/.venv (scripts/setup-compat.sh). PYTEST_ARGS adds pytest arguments.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
compat="$root/compat"
backend=${1:-}
case "$backend" in
    sqlite)
        kind=sqlite
        pg_url=""
        ;;
    postgres://* | postgresql://*)
        kind=postgres
        pg_url=$backend
        command -v psql >/dev/null 2>&1 || { echo "streams: psql is needed for a PostgreSQL run" >&2; exit 2; }
        ;;
    *)
        echo "usage: $0 sqlite|postgres://USER:PASSWORD@HOST:PORT/DB" >&2
        exit 2
        ;;
esac

bin=${CASTELLAN_BIN:-$root/target/debug/castellan}
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
[ -x "$bin" ] || { echo "streams: no castellan binary at $bin (cargo build -p castellan)" >&2; exit 2; }
py="$compat/.venv/bin/python"
[ -x "$py" ] || { echo "streams: $py missing: run scripts/setup-compat.sh" >&2; exit 2; }

export CASTELLAN_BIN=$bin
export CASTELLAN_STREAMS_BACKEND=$kind
export CASTELLAN_STREAMS_PG_URL=$pg_url
cd "$compat/python"
# The whole file is meant to finish in about two minutes; the bound only stops a hang.
# shellcheck disable=SC2086 # PYTEST_ARGS is a list of words on purpose
exec timeout -k 10 600 "$py" -m pytest -p no:cacheprovider -q -rfEs test_log_streams.py ${PYTEST_ARGS:-}
