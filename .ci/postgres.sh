#!/usr/bin/env bash
# Starts a private PostgreSQL instance listening on a Unix socket only (no TCP port to
# collide with) and prints the DATABASE_URL for it. Stop it with: .ci/postgres.sh stop DIR
set -euo pipefail
if [ "${1:-}" = stop ]; then
  runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl" -D "$2/data" -m fast stop >/dev/null
  exit 0
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/davgate-pg.XXXXXX)
chown postgres "$dir"
runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U davgate >/dev/null
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-k $dir -c listen_addresses='' -c fsync=off -c max_connections=200" start >/dev/null
echo "DIR=$dir"
echo "DATABASE_URL=postgres://davgate@localhost/postgres?host=$dir"
