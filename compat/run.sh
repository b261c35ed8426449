#!/usr/bin/env bash
# Runs the official-SDK compatibility suites against a fresh castellan server.
#
#   compat/run.sh sqlite                  server on its default SQLite file
#   compat/run.sh postgres://user:pw@...  server on PostgreSQL (a fresh database is
#                                         made in that cluster when psql is available)
#
# Builds nothing: the binary is $CASTELLAN_BIN (default target/debug/castellan).
# Needs compat/.venv and compat/node/node_modules (scripts/setup-compat.sh).
# Starts the server on a free 127.0.0.1 port with a temporary data dir, waits for
# /healthz, runs the seed 003 script, the pytest suite and the node suites, stops the
# server, and exits non-zero if any of them failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
compat="$root/compat"
backend=${1:-}
case "$backend" in
    sqlite) ;;
    postgres://* | postgresql://*) ;;
    *)
        echo "usage: $0 sqlite|postgres://USER:PASSWORD@HOST:PORT/DB" >&2
        exit 2
        ;;
esac

bin=${CASTELLAN_BIN:-$root/target/debug/castellan}
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
[ -x "$bin" ] || { echo "compat: no castellan binary at $bin (cargo build -p castellan)" >&2; exit 2; }
py="$compat/.venv/bin/python"
[ -x "$py" ] || { echo "compat: $py missing: run scripts/setup-compat.sh" >&2; exit 2; }
[ -d "$compat/node/node_modules/auth0-v4" ] && [ -d "$compat/node/node_modules/auth0-v7" ] \
    || { echo "compat: compat/node/node_modules missing: run scripts/setup-compat.sh" >&2; exit 2; }

label=${backend%%://*}
data=$(mktemp -d "${TMPDIR:-/tmp}/castellan-compat-$label.XXXXXX")
server_pid=""
pg_db=""
pg_admin_url=""

log() { echo "compat[$label]: $*"; }

show_server_log() {
    echo "----- castellan server log ($data/server.log, last 200 lines) -----" >&2
    tail -n 200 "$data/server.log" >&2 || true
    echo "----- end of server log -----" >&2
}

cleanup() {
    local rc=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$pg_db" ]; then
        psql -X -q "$pg_admin_url" -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    if [ "${KEEP_COMPAT_DATA:-}" = 1 ]; then
        log "kept $data"
    else
        rm -rf "$data"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# --- database -------------------------------------------------------------------
db_args=()
if [ "$label" != sqlite ]; then
    url=$backend
    if command -v psql >/dev/null 2>&1; then
        # A database of its own for this run, so runs never see each other's data.
        pg_admin_url=$backend
        pg_db="castellan_compat_$(date +%s)_$$"
        psql -X -q -v ON_ERROR_STOP=1 "$pg_admin_url" -c "CREATE DATABASE \"$pg_db\"" >/dev/null
        base=${backend%%\?*} query=""
        case "$backend" in *\?*) query="?${backend#*\?}" ;; esac
        rest=${base#*://}
        case "$rest" in
            */*) url="${base%/*}/$pg_db$query" ;;
            *) url="$base/$pg_db$query" ;;
        esac
    else
        log "psql not found: using the given database as it is"
    fi
    db_args=(--database-url "$url")
fi

# --- server ---------------------------------------------------------------------
port=$(free_port)
domain="localhost:$port"
client_id="compat$("$py" -c 'import secrets; print(secrets.token_hex(12))')"
client_secret=$("$py" -c 'import secrets; print(secrets.token_urlsafe(48))')
export CASTELLAN_BOOTSTRAP_CLIENT_ID=$client_id
export CASTELLAN_BOOTSTRAP_CLIENT_SECRET=$client_secret

log "starting $bin on 127.0.0.1:$port (data dir $data)"
NO_COLOR=1 "$bin" serve --data-dir "$data/data" --listen "127.0.0.1:$port" --domain "$domain" \
    "${db_args[@]}" >"$data/server.log" 2>&1 </dev/null &
server_pid=$!

ca="$data/data/tls/ca.pem"
deadline=$((SECONDS + 30))
until [ -s "$ca" ] && curl -fsS -o /dev/null --max-time 2 --cacert "$ca" "https://$domain/healthz" 2>/dev/null; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        wait "$server_pid" && status=0 || status=$?
        server_pid=""
        echo "compat[$label]: castellan exited (status $status) before /healthz answered" >&2
        show_server_log
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "compat[$label]: /healthz did not answer 200 within 30 s" >&2
        [ -s "$ca" ] || echo "compat[$label]: (no CA certificate at $ca either)" >&2
        curl -sS --max-time 2 --cacert "$ca" "https://$domain/healthz" >&2 || true
        show_server_log
        exit 1
    fi
    sleep 0.2
done
log "server is up at https://$domain"

# --- suites ---------------------------------------------------------------------
export CASTELLAN_DOMAIN=$domain CLIENT_ID=$client_id CLIENT_SECRET=$client_secret
export REQUESTS_CA_BUNDLE=$ca NODE_EXTRA_CA_CERTS=$ca SSL_CERT_FILE=$ca
unset SSL_CERT_DIR CURL_CA_BUNDLE

results=()
failed=0
run_suite() {
    local name=$1 start=$SECONDS rc
    shift
    log "=== $name ==="
    set +e
    "$@"
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
        results+=("PASS  $name ($((SECONDS - start))s)")
    else
        results+=("FAIL  $name (exit $rc, $((SECONDS - start))s)")
        failed=1
    fi
}

run_suite "python seed_003.py" \
    bash -c 'cd "$1/python" && exec "$2" seed_003.py' _ "$compat" "$py"
# test_server_lifecycle.py starts servers of its own: compat/lifecycle.sh runs it.
run_suite "pytest compat/python" \
    bash -c 'cd "$1/python" && exec "$2" -m pytest -p no:cacheprovider -q -rfEs \
        --ignore=test_server_lifecycle.py ${PYTEST_ARGS:-}' _ "$compat" "$py"
run_suite "node --test compat/node (auth0 4.x, 7.x)" \
    bash -c 'cd "$1/node" && exec node --test test/*.test.js' _ "$compat"

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "compat[$label]: the server died during the run" >&2
    failed=1
fi
if [ "$failed" -ne 0 ]; then
    show_server_log
fi

echo "compat[$label]: summary"
for r in "${results[@]}"; do
    echo "  $r"
done
exit "$failed"
