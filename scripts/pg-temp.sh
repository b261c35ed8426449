#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests.
#
#   scripts/pg-temp.sh start DIR   create and start a cluster under DIR; prints its URL
#                                  and writes it to DIR/url
#   scripts/pg-temp.sh stop DIR    stop the cluster and delete everything under DIR
#
# The cluster listens on 127.0.0.1 on a free port, keeps its socket inside DIR, runs
# with fsync off (it is thrown away anyway) and has a superuser role
# castellan/castellan:  postgres://castellan:castellan@127.0.0.1:PORT/postgres
#
# initdb and postgres refuse to run as root, so as root every PostgreSQL command runs
# as the `postgres` system user (created by Debian's postgresql package) and DIR is
# handed to that user. As any other user, DIR must belong to that user.
# PG_BINDIR overrides where the binaries are found.
set -euo pipefail

die() { echo "pg-temp: $*" >&2; exit 1; }

usage() { die "usage: $0 start|stop DIR"; }

[ $# -eq 2 ] || usage
cmd=$1
dir=$2

find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        echo "$PG_BINDIR"
        return
    fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
        return
    fi
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    die "PostgreSQL binaries (initdb, pg_ctl) not found; install Debian's postgresql package"
}

# Run a command as the cluster owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

start() {
    local bindir port url attempt
    bindir=$(find_bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ ! -e "$dir/data" ] || die "$dir/data already exists; stop the old cluster first"

    if [ "$(id -u)" -eq 0 ]; then
        getent passwd postgres >/dev/null || die "no 'postgres' system user to run PostgreSQL as"
        chown postgres: "$dir"
        chmod 700 "$dir"
        runuser -u postgres -- test -w "$dir" \
            || die "user postgres cannot reach $dir (a parent directory is not traversable)"
    fi

    # Local (socket) connections are trusted, TCP ones need the password: the
    # URL we hand out goes through the same password authentication as production.
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null; then
            break
        fi
        [ "$attempt" -lt 5 ] || { cat "$dir/postgres.log" >&2; die "postgres did not start"; }
        echo "pg-temp: start on port $port failed, retrying" >&2
    done

    as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
        -c "CREATE ROLE castellan WITH SUPERUSER LOGIN PASSWORD 'castellan'" >/dev/null \
        || die "could not create role castellan"

    url="postgres://castellan:castellan@127.0.0.1:$port/postgres"
    echo "$port" >"$dir/port"
    echo "$url" >"$dir/url"
    echo "$url"
}

stop() {
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/data/postmaster.pid" ]; then
        local bindir
        bindir=$(find_bindir)
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || {
            # pg_ctl could not do it: signal the postmaster directly.
            local pid
            pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
            [ -z "$pid" ] || kill -QUIT "$pid" 2>/dev/null || true
            sleep 1
        }
    fi
    rm -rf "$dir/data" "$dir/url" "$dir/port" "$dir/initdb.log" "$dir/postgres.log"
    rmdir "$dir" 2>/dev/null || true
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
