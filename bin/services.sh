#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on 127.0.0.1, Chromium is there for the
# browser test and Node with the TypeScript SDKs for the agents built with them,
# installing them with the OS package manager and starting them when they do not. Used by bin/test (and so CI) with no arguments (all four), and by
# the benchmarks with the services they need (`bin/services.sh postgres redis`).
set -euo pipefail

apt_install() {
    command -v apt-get >/dev/null || { echo "cannot install $*: no apt-get; install it by hand" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

wait_for() {  # wait_for <description> <command...>
    local what="$1"; shift
    for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
    echo "$what did not come up" >&2; exit 1
}

ensure_postgres() {
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
    if ! command -v pg_ctlcluster >/dev/null; then
        apt_install postgresql
        local conf; conf="$(ls -d /etc/postgresql/*/main | head -1)"
        # Local tests connect as postgres over TCP without a password.
        sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$conf/pg_hba.conf"
    fi
    echo "starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
    wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
}

ensure_redis() {
    if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
    command -v redis-server >/dev/null || apt_install redis-server
    echo "starting Redis" >&2
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
}

ensure_browser() {
    # The end-to-end admin test drives Debian's Chromium through its chromedriver.
    if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then return; fi
    apt_install chromium chromium-driver
}

ensure_node() {
    # Agents built with the TypeScript SDKs (tests/node) run under Node, with the
    # versions its package-lock.json pins; installed again only when the lock changes.
    command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
    local stamp="tests/node/node_modules/.lock.sha256" wanted
    wanted="$(sha256sum tests/node/package-lock.json | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
        npm ci --prefix tests/node --silent --no-audit --no-fund
        echo "$wanted" > "$stamp"
    fi
}

services=("$@")
[ $# -gt 0 ] || services=(postgres redis browser node)
for name in "${services[@]}"; do "ensure_$name"; done
