#!/usr/bin/env bash
# Installs what the SDK compatibility suites need, once:
#   compat/.venv              Python venv with compat/python/requirements.txt
#   compat/node/node_modules  `npm ci` from compat/node/package-lock.json
# Idempotent: a stamp holding the hash of the requirement/lock file is kept next to
# each install, and nothing is done while it still matches.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
compat="$root/compat"

hash_of() { sha256sum "$1" | cut -d' ' -f1; }

setup_python() {
    local venv="$compat/.venv" req="$compat/python/requirements.txt"
    local stamp="$venv/.castellan-requirements" want
    want=$(hash_of "$req")
    if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        echo "setup-compat: python venv up to date"
        return
    fi
    if [ ! -x "$venv/bin/python" ]; then
        echo "setup-compat: creating $venv"
        python3 -m venv "$venv"
    fi
    echo "setup-compat: pip install -r compat/python/requirements.txt"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    "$venv/bin/python" -c 'import auth0, pytest' # fail here, not in the suite
    echo "$want" >"$stamp"
}

setup_node() {
    local dir="$compat/node" stamp="$compat/node/node_modules/.castellan-lock" want
    want=$(hash_of "$dir/package-lock.json")
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        echo "setup-compat: node_modules up to date"
        return
    fi
    echo "setup-compat: npm ci in compat/node"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
}

setup_python
setup_node
