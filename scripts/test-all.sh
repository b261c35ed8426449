#!/usr/bin/env bash
# The project's one test command: builds, runs the Rust tests on SQLite and on a
# throwaway PostgreSQL, then drives the real binary with the official Auth0 SDKs on
# both backends.
#
#   scripts/test-all.sh
#
# Phases: setup-compat, build, postgres (temp cluster), cargo test, compat sqlite and
# compat postgres (the SDK suites against one shared server), lifecycle sqlite and
# lifecycle postgres (black-box tests that start servers of their own), streams sqlite
# and streams postgres (log streams delivered to a receiver in the test, and
# `castellan logs tail`, with servers of their own as well), enduser sqlite and enduser
# postgres (the Authentication API and the hosted login pages through auth0-python,
# openid-client and a real chromium, and the dashboard in that chromium, with a
# screenshot per step in target/screenshots/dashboard-BACKEND; servers of their own
# too). Every phase
# runs even when an earlier independent one failed, and a summary line per phase
# closes the output. Without PostgreSQL binaries the PostgreSQL phases are skipped
# with a warning, except under CI=true, where that is a failure. The exit status is
# non-zero if any phase failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

ci=false
case "${CI:-}" in true | 1 | yes) ci=true ;; esac

pg_dir=""
cleanup() {
    if [ -n "$pg_dir" ]; then
        "$root/scripts/pg-temp.sh" stop "$pg_dir" || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

summary=()
failed=0
stamp() { date -u +%H:%M:%S; }

# phase NAME CMD... : run CMD as one phase, record PASS/FAIL and its duration.
phase() {
    local name=$1 start=$SECONDS rc
    shift
    echo
    echo "=== [$(stamp)] $name: $*"
    "$@"
    rc=$?
    local took=$((SECONDS - start))
    if [ "$rc" -eq 0 ]; then
        summary+=("PASS  $name (${took}s)")
    else
        summary+=("FAIL  $name (exit $rc, ${took}s)")
        failed=1
    fi
    echo "=== [$(stamp)] $name: exit $rc after ${took}s"
    return "$rc"
}

skip() {
    summary+=("SKIP  $1 ($2)")
    echo "=== [$(stamp)] skipping $1: $2"
}

cargo_flags=()
if [ "$ci" = true ]; then
    cargo_flags+=(--locked)
fi

phase "setup-compat" "$root/scripts/setup-compat.sh"
compat_ready=$?

build_ok=0
phase "cargo build" cargo build "${cargo_flags[@]}" --workspace --all-targets || build_ok=1

# --- PostgreSQL ---------------------------------------------------------------------
pg_url=""
have_pg=false
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
    have_pg=true
fi
if [ "$have_pg" = true ]; then
    pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/castellan-pg.XXXXXX")
    if phase "postgres start" "$root/scripts/pg-temp.sh" start "$pg_dir"; then
        pg_url=$(cat "$pg_dir/url")
        export CASTELLAN_TEST_PG_URL=$pg_url
        # The Rust suites then fail instead of skipping their PostgreSQL half.
        export CASTELLAN_REQUIRE_PG=1
    fi
elif [ "$ci" = true ]; then
    summary+=("FAIL  postgres start (PostgreSQL binaries not found, and CI=true)")
    failed=1
else
    echo "WARNING: PostgreSQL binaries not found: the PostgreSQL phases are skipped" >&2
    echo "WARNING: (apt-get install postgresql to run them)" >&2
    skip "postgres start" "no PostgreSQL binaries"
fi

# --- Rust tests -------------------------------------------------------------------
if [ "$build_ok" -eq 0 ]; then
    phase "clippy" cargo clippy "${cargo_flags[@]}" --workspace --all-targets -- -D warnings
    phase "cargo test" cargo test "${cargo_flags[@]}" --workspace --no-fail-fast
else
    skip "cargo test" "build failed"
fi

# --- SDK compatibility ------------------------------------------------------------
if [ "$build_ok" -ne 0 ]; then
    skip "compat sqlite" "build failed"
    skip "compat postgres" "build failed"
    skip "lifecycle sqlite" "build failed"
    skip "lifecycle postgres" "build failed"
    skip "streams sqlite" "build failed"
    skip "streams postgres" "build failed"
    skip "enduser sqlite" "build failed"
    skip "enduser postgres" "build failed"
elif [ "$compat_ready" -ne 0 ]; then
    skip "compat sqlite" "setup-compat failed"
    skip "compat postgres" "setup-compat failed"
    skip "lifecycle sqlite" "setup-compat failed"
    skip "lifecycle postgres" "setup-compat failed"
    skip "streams sqlite" "setup-compat failed"
    skip "streams postgres" "setup-compat failed"
    skip "enduser sqlite" "setup-compat failed"
    skip "enduser postgres" "setup-compat failed"
else
    phase "compat sqlite" "$root/compat/run.sh" sqlite
    if [ -n "$pg_url" ]; then
        phase "compat postgres" "$root/compat/run.sh" "$pg_url"
    else
        skip "compat postgres" "no PostgreSQL"
    fi
    phase "lifecycle sqlite" "$root/compat/lifecycle.sh" sqlite
    if [ -n "$pg_url" ]; then
        phase "lifecycle postgres" "$root/compat/lifecycle.sh" "$pg_url"
    else
        skip "lifecycle postgres" "no PostgreSQL"
    fi
    phase "streams sqlite" "$root/compat/streams.sh" sqlite
    if [ -n "$pg_url" ]; then
        phase "streams postgres" "$root/compat/streams.sh" "$pg_url"
    else
        skip "streams postgres" "no PostgreSQL"
    fi
    phase "enduser sqlite" "$root/compat/enduser.sh" sqlite
    if [ -n "$pg_url" ]; then
        phase "enduser postgres" "$root/compat/enduser.sh" "$pg_url"
    else
        skip "enduser postgres" "no PostgreSQL"
    fi
fi

if [ "$ci" = true ] && [ -z "$pg_url" ]; then
    summary+=("FAIL  CI=true requires the PostgreSQL phases, which did not run")
    failed=1
fi

echo
echo "=== [$(stamp)] test-all summary"
for line in "${summary[@]}"; do
    echo "  $line"
done
if [ "$failed" -ne 0 ]; then
    echo "test-all: FAILED"
else
    echo "test-all: OK"
fi
exit "$failed"
