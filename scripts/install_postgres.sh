#!/usr/bin/env bash
# PostgreSQL server binaries for tests/test_postgres.py: Debian's postgresql (initdb, pg_ctl, postgres, psql).
# Idempotent: installs nothing when initdb and pg_ctl are already there. The tests start their own
# throw-away cluster (a temporary data directory, a free loopback port) as the `postgres` user the package
# creates; no system cluster or service is needed, so none is started here. Exits non-zero on failure.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

# Debian keeps the server binaries in /usr/lib/postgresql/<major>/bin, off PATH: look there too.
bindir() {
    if have initdb && have pg_ctl; then dirname "$(command -v initdb)"; return 0; fi
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}

if bindir >/dev/null; then
    echo "install_postgres: server binaries already installed in $(bindir)"
else
    if ! have apt-get; then
        echo "install_postgres: no apt-get here; install the PostgreSQL server by other means" >&2
        exit 1
    fi
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        if have sudo; then
            SUDO=(sudo)
        else
            echo "install_postgres: not root and no sudo: cannot apt-get install postgresql" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y --no-install-recommends postgresql
fi

if ! bindir >/dev/null; then
    echo "install_postgres: initdb or pg_ctl still missing after the install" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "install_postgres: running as root but there is no postgres user to run the server as" >&2
    exit 1
fi
echo "postgres: $("$(bindir)/postgres" --version)"
