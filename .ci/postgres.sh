#!/usr/bin/env bash
# Starts a private PostgreSQL instance listening on a Unix socket only (no TCP port to
# collide with) and prints DIR=… and DATABASE_URL=… for it.
# Stop it with: .ci/postgres.sh stop DIR
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
# PostgreSQL refuses to run as root; root runs it as the postgres user instead.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "${1:-}" = stop ]; then
  as_pg "$bin/pg_ctl" -D "$2/data" -m fast stop >/dev/null
  exit 0
fi
dir=$(mktemp -d /tmp/davgate-pg.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
as_pg "$bin/initdb" -D "$dir/data" -A trust -U davgate >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-k $dir -c listen_addresses='' -c fsync=off -c max_connections=200" start >/dev/null
echo "DIR=$dir"
echo "DATABASE_URL=postgres://davgate@localhost/postgres?host=$dir"
