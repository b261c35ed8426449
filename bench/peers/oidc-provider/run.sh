#!/usr/bin/env bash
# Starts oidc-provider for the side-by-side token workload (see BENCHMARKS.md).
#   bench/peers/oidc-provider/run.sh TLS_DIR [PORT] [WORKERS]
# TLS_DIR: a castellan data dir's tls/ (server.pem, server-key.pem, ca.pem).
# Writes the server's pids (primary first) to $PID_FILE (default /tmp/oidc-provider-bench.pids).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tls_dir=$(cd "${1:?usage: run.sh TLS_DIR [PORT] [WORKERS]}" && pwd)
cd "$here"
if [ ! -d node_modules/oidc-provider ]; then
    npm install --no-audit --no-fund --loglevel=error >&2
fi
export TLS_DIR=$tls_dir PORT=${2:-9443} WORKERS=${3:-$(nproc)}
export PID_FILE=${PID_FILE:-/tmp/oidc-provider-bench.pids}
exec node server.mjs
