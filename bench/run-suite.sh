#!/usr/bin/env bash
# Reproduces the tables of BENCHMARKS.md on this machine.
#
#   bench/run-suite.sh [USERS]          (default 100000)
#
# Env: OUT (results dir, default /tmp/castellan-bench), BIN_DIR (where the
# release castellan and castellan-bench are, default target/release),
# PG=1 to add the PostgreSQL column (scripts/pg-temp.sh, one database per run),
# PEERS=1 to add oidc-provider side by side (bench/peers/oidc-provider, npm).
# Every step records `uptime` next to its output; full-scale runs load a
# shared 2-core machine, so run it when nothing else is building.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
users=${1:-100000}
out=${OUT:-/tmp/castellan-bench}
bin_dir=${BIN_DIR:-$root/target/release}
bench="$bin_dir/castellan-bench"
castellan="$bin_dir/castellan"
json="$out/results.jsonl"
mkdir -p "$out"

if [ ! -x "$bench" ] || [ ! -x "$castellan" ]; then
    (cd "$root" && cargo build --release -p castellan -p castellan-bench)
fi

step() { echo; echo "=== $* ($(uptime))"; }

data="$out/sqlite-$users"
step "load $users users into SQLite"
"$bench" load --bin "$castellan" --data-dir "$data" --users "$users"

step "token with the openssl reference (workload 1)"
"$bench" run --bin "$castellan" --data-dir "$data" --workloads token --reference \
    --quiet-wait 120 --json "$json" --label "sqlite $users"

step "search classes, get-user, patch-user (workloads 2, 3, 5)"
"$bench" run --bin "$castellan" --data-dir "$data" --workloads search:all,get-user,patch-user \
    --quiet-wait 60 --json "$json" --label "sqlite $users"

step "create-user with probes and the bcrypt reference (workload 4)"
"$bench" run --bin "$castellan" --data-dir "$data" --workloads create-user-with-probes --reference \
    --quiet-wait 120 --json "$json" --label "sqlite $users"

step "start-up on the existing store (workload 6)"
"$bench" startup --bin "$castellan" --data-dir "$data" --times 5

if [ "${PG:-0}" = 1 ]; then
    pg_dir="$out/pg-cluster"
    url=$("$root/scripts/pg-temp.sh" start "$pg_dir" | tail -n 1)
    trap '"$root/scripts/pg-temp.sh" stop "$pg_dir" || true' EXIT
    db="bench_$(date +%s)"
    psql "$url" -qc "CREATE DATABASE $db"
    pg_url="${url%/postgres}/$db"
    step "load $users users into PostgreSQL"
    "$bench" load --bin "$castellan" --data-dir "$out/pg-$users" --database-url "$pg_url" --users "$users"
    step "PostgreSQL: token, search classes, get-user, patch-user"
    "$bench" run --bin "$castellan" --data-dir "$out/pg-$users" \
        --workloads token,search:all,get-user,patch-user --quiet-wait 60 --json "$json" --label "postgres $users"
fi

if [ "${PEERS:-0}" = 1 ]; then
    scopes="read:users update:users create:users"
    pids="$out/oidc-provider.pids"
    for round in 1 2; do
        step "oidc-provider, round $round"
        PID_FILE="$pids" "$root/bench/peers/oidc-provider/run.sh" "$data/tls" 9443 "$(nproc)" >"$out/oidc-provider.log" 2>&1 &
        for _ in $(seq 50); do [ -s "$pids" ] && break; sleep 0.2; done
        sleep 2
        "$bench" run --url https://localhost:9443 --ca "$data/tls/ca.pem" --server-pid "$(cat "$pids")" \
            --workloads token --token-path /token --token-form --audience-param resource \
            --audience https://api.bench/ --client-id bench-client \
            --client-secret bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz --scope "$scopes" \
            --reference --quiet-wait 120 --json "$json" --label "oidc-provider"
        kill "$(cut -d, -f1 "$pids")" || true
        rm -f "$pids"
        sleep 1
        step "castellan, same scopes, round $round"
        "$bench" run --bin "$castellan" --data-dir "$data" --workloads token --scope "$scopes" \
            --reference --quiet-wait 120 --json "$json" --label "castellan vs oidc-provider"
    done
fi
echo
echo "rows appended to $json"
