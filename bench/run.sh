#!/usr/bin/env bash
# Benchmarks davgate against nginx's WebDAV module with davgate-bench, one server after the
# other, and prints a markdown report (command, machine, date, side-by-side table) to stdout,
# ready for bench/RESULTS.md. Progress and logs go to stderr. Two more davgate instances, again
# one at a time, measure what nginx has no equivalent for: auth_cold (credential cache off) and
# auth_flood (client address from X-Forwarded-For); their rows join davgate's column. So do
# those of two more: durability_check (small files uploaded, the server killed with SIGKILL and
# restarted, every file answered 201 looked for) and caldav_initial_sync (initial syncs of
# 1,000, 5,000 and 20,000 events), which nginx has no equivalent for.
#
# usage: bench/run.sh [--quick] [--workloads LIST]
#   --quick       small sizes and counts: a smoke run that takes seconds
#   --workloads LIST  only these driver workloads (comma-separated, e.g. small_files) on
#                 nginx and davgate; the auth_cold, auth_flood, durability_check and
#                 caldav_initial_sync instances run only if named, and so does get_readers
#                 (bench/readers.py) when a list is given
#   DAVGATE_BIN   the davgate binary to measure (default: build this workspace's release binary)
#   DAVGATE_BENCH_CONFIG  TOML text for the measured davgate, e.g. 'sqlite_synchronous = "normal"'
#   BENCH_JSON_DIR  if set, the raw JSON reports (every run) are copied there
#
# After the driver, bench/readers.py measures on nginx and davgate (get_readers) the 1 GiB GET
# by three readers (davgate-bench, curl, Python http.client), idle and right after a batch of
# uploads, and the server CPU per uploaded GiB, background work included (median of three
# batches); the two servers take turns at each measure.
#
# Every server listens on 127.0.0.1 only, runs as the invoking user with every path (config,
# pid, logs, data) in one temp dir, and is stopped, and the temp dir removed, on any exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_USER=bench

usage() { sed -n '11,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
log() { echo "run.sh: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

COMMAND_LINE="bench/run.sh${*:+ $*}"
WORKLOADS=
OTHER_ARGS=()
while (($#)); do
    case $1 in
        --workloads) WORKLOADS=${2:?--workloads needs a comma-separated list}; shift 2 ;;
        --workloads=*) WORKLOADS=${1#*=}; shift ;;
        *) OTHER_ARGS+=("$1"); shift ;;
    esac
done
parse_args "${OTHER_ARGS[@]}"
if ((QUICK)); then
    BASE_ARGS=(--size 64MiB --repeat 1 --get-runs 1 --files 200 --entries 500 --propfind-runs 3 --duration 2s
        --initial-sync-events 250,1000 --rss-entries 2000)
    READERS_ARGS=(--size $((64 << 20)) --batch 1 --runs 1 --after-runs 1)
else
    BASE_ARGS=()
    READERS_ARGS=()
fi
BENCH_ARGS=("${BASE_ARGS[@]}")
# get_readers is not the driver's: it runs bench/readers.py. The sign-in, durability and
# initial-sync workloads run on davgate instances of their own (auth_flood needs that
# instance's app password and fails on any other).
OWN_INSTANCE='get_readers|auth_cold|auth_flood|durable_upload|durability_check|caldav_initial_sync'
DRIVER_WORKLOADS=$(tr ',' '\n' <<<"$WORKLOADS" | grep -Evx "$OWN_INSTANCE" | paste -sd, - || true)
if [[ -n $DRIVER_WORKLOADS ]]; then
    BENCH_ARGS+=(--workloads "$DRIVER_WORKLOADS")
elif [[ -z $WORKLOADS ]] && ((!QUICK)); then
    # The driver's defaults, and whether memory comes back after a 50,000-entry listing (a
    # minute's watch per server, so not in a --quick smoke run).
    BENCH_ARGS+=(--workloads put_stream_1g,put_length_1g,get_1g,small_files,small_files_32,propfind_10k,auth_cached,rss_after_propfind)
fi
# Whether the extra davgate instance for workload $1 runs: always, unless --workloads leaves
# it out.
wanted() { [[ -z $WORKLOADS || ,$WORKLOADS, == *,$1,* ]]; }

# A fresh password per run, hex only so it needs no quoting anywhere. The driver reads it from
# the environment rather than argv, which other users can see.
BENCH_PASS="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export DAVGATE_BENCH_PASSWORD=$BENCH_PASS

# The temp dir holds an app password file too: nothing in it is for other users.
umask 077
WORK=$(mktemp -d "${TMPDIR:-/tmp}/davgate-bench.XXXXXX")
NGINX_PID=
DAVGATE_PID=
FAILED=0

cleanup() {
    local rc=$?
    stop_server "$DAVGATE_PID"
    stop_server "$NGINX_PID"
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# ---- both ------------------------------------------------------------------------------------

# LABEL PID URL: the driver's workloads, unless --workloads named only get_readers.
drive() {
    if [[ -n $WORKLOADS && -z $DRIVER_WORKLOADS ]]; then
        stub_report "$1" "no driver workload named" >"$WORK/$1.json"
        return
    fi
    run_driver "$1" "$2" --url "$3"
}

# [LABEL PID URL]...: bench/readers.py once on every running server named, the servers
# taking turns, into $WORK/LABEL-readers.json each.
run_readers() {
    local targets=() labels=() label rc=0
    while (($#)); do
        targets+=(--target "$1" "$3" "$2")
        labels+=("$1")
        shift 3
    done
    ((${#labels[@]})) || return 0
    if ! wanted get_readers; then
        for label in "${labels[@]}"; do
            stub_report "$label" "not run: --workloads $WORKLOADS" >"$WORK/$label-readers.json"
        done
        return
    fi
    log "downloads by three readers, and upload CPU, on ${labels[*]} in turn"
    python3 "$HERE/readers.py" "${targets[@]}" --user "$BENCH_USER" --bench "$BENCH" \
        --out-dir "$WORK" "${READERS_ARGS[@]}" || rc=$?
    if ((rc != 0)); then
        FAILED=1
        for label in "${labels[@]}"; do
            stub_report "$label" "readers.py failed (exit $rc); see stderr" >"$WORK/$label-readers.json"
        done
    fi
}

# ---- davgate ---------------------------------------------------------------------------------

# NAME CONFIG SETUP DRIVER_ARGS…: one more davgate instance with its own config, for workloads
# whose rows join davgate's column; SETUP (a command, `:` for none) runs once it is up. Writes
# $WORK/NAME.json, a stub if it could not run.
run_davgate_instance() {
    local name=$1 config=$2 setup=$3 rc=0
    shift 3
    DAVGATE_SKIP=
    start_davgate "$name" "$config" || rc=$?
    if ((rc != 0)); then
        log "skipping $name: $DAVGATE_SKIP"
        ((rc == 1)) || FAILED=1
        stub_report "$name" "$DAVGATE_SKIP" >"$WORK/$name.json"
        return
    fi
    log "$name $DAVGATE_URL (pid $DAVGATE_PID): $config"
    if "$setup"; then
        run_driver "$name" "$DAVGATE_PID" --url "$DAVGATE_URL" "$@"
    else
        FAILED=1
        stub_report "$name" "$setup failed; see stderr" >"$WORK/$name.json"
    fi
    stop_server "$DAVGATE_PID"
    DAVGATE_PID=
}

# Uploads small files to a fresh davgate, kills it with SIGKILL the moment the driver has its
# last answer, restarts it on the same data and looks for every file answered 201: the check's
# report is $WORK/davgate-durable.json. nginx has no equivalent: it promises nothing on 201.
run_durability_check() {
    local list=$WORK/durable-list.json config=${DAVGATE_BENCH_CONFIG:-} rc=0
    DAVGATE_SKIP=
    start_davgate davgate-durable "$config" || rc=$?
    if ((rc == 0)); then
        log "durability: uploads to $DAVGATE_URL (pid $DAVGATE_PID), then kill -9"
        run_driver davgate-durable-upload "$DAVGATE_PID" --url "$DAVGATE_URL" \
            --workloads durable_upload --durability-list "$list"
        # No shutdown and no flush: whatever was not on its way to disk at the 201 is lost.
        kill -KILL "$DAVGATE_PID" 2>/dev/null || true
        wait "$DAVGATE_PID" 2>/dev/null || true
        DAVGATE_PID=
        if [[ ! -s $list ]]; then
            FAILED=1
            stub_report davgate-durable "the upload wrote no list of files answered 201; see stderr" \
                >"$WORK/davgate-durable.json"
            return
        fi
        start_davgate davgate-durable "$config" reuse || rc=$?
    fi
    if ((rc != 0)); then
        log "skipping the durability check: $DAVGATE_SKIP"
        ((rc == 1)) || FAILED=1
        stub_report davgate-durable "$DAVGATE_SKIP" >"$WORK/davgate-durable.json"
        return
    fi
    log "durability: restarted $DAVGATE_URL (pid $DAVGATE_PID), looking for every file"
    run_driver davgate-durable "$DAVGATE_PID" --url "$DAVGATE_URL" \
        --workloads durability_check --durability-list "$list"
    stop_server "$DAVGATE_PID"
    DAVGATE_PID=
    rm -rf "$WORK/davgate-durable"
}

# caldav_initial_sync on a davgate of its own, as bench/caldav.sh runs it: initial syncs from
# scratch of calendars of growing size, into $WORK/davgate-caldav.json.
run_initial_sync() {
    local rc=0 url
    DAVGATE_SKIP=
    start_davgate davgate-caldav "${DAVGATE_BENCH_CONFIG:-}" || rc=$?
    if ((rc != 0)); then
        log "skipping caldav_initial_sync: $DAVGATE_SKIP"
        ((rc == 1)) || FAILED=1
        stub_report davgate-caldav "$DAVGATE_SKIP" >"$WORK/davgate-caldav.json"
        return
    fi
    url=$(calendar_url bench)
    log "caldav_initial_sync on $url (pid $DAVGATE_PID)"
    run_driver davgate-caldav "$DAVGATE_PID" --calendar-url "$url" \
        --workloads caldav_initial_sync
    stop_server "$DAVGATE_PID"
    DAVGATE_PID=
    rm -rf "$WORK/davgate-caldav"
}

# ---- main ------------------------------------------------------------------------------------

build_driver
ensure_nginx
if wanted get_readers && ! command -v curl >/dev/null; then
    log "get_readers needs curl; install it (apt-get install curl)"
    exit 1
fi

# The driver's workloads one server at a time, so neither competes with the other for the two
# cores; nginx stays up but idle meanwhile, so that readers.py can then have the two take turns.
READERS_TARGETS=()
if start_nginx; then
    log "nginx $NGINX_URL (pid $NGINX_PID)"
    drive nginx "$NGINX_PID" "$NGINX_URL"
    READERS_TARGETS+=(nginx "$NGINX_PID" "$NGINX_URL")
else
    FAILED=1
    stub_report nginx "nginx did not start" >"$WORK/nginx.json"
    stub_report nginx "nginx did not start" >"$WORK/nginx-readers.json"
fi

DAVGATE_SKIP=
davgate_rc=0
start_davgate davgate "${DAVGATE_BENCH_CONFIG:-}" || davgate_rc=$?
if ((davgate_rc == 0)); then
    log "davgate $DAVGATE_URL (pid $DAVGATE_PID)"
    drive davgate "$DAVGATE_PID" "$DAVGATE_URL"
    READERS_TARGETS+=(davgate "$DAVGATE_PID" "$DAVGATE_URL")
else
    log "skipping davgate: $DAVGATE_SKIP"
    ((davgate_rc == 1)) || FAILED=1
    stub_report davgate "$DAVGATE_SKIP" >"$WORK/davgate.json"
    stub_report davgate "$DAVGATE_SKIP" >"$WORK/davgate-readers.json"
fi
run_readers "${READERS_TARGETS[@]}"
stop_server "$NGINX_PID"
NGINX_PID=
stop_server "$DAVGATE_PID"
DAVGATE_PID=
rm -rf "$WORK/nginx/root" "$WORK/nginx/body" "$WORK/davgate" # the big files too

# Every request a full argon2id check: the cache off also stops identical concurrent checks
# from sharing one hash.
# Each names its own workload, so the driver flags they get name none.
MAIN_ARGS=("${BENCH_ARGS[@]}")
BENCH_ARGS=("${BASE_ARGS[@]}")
if wanted auth_cold; then
    run_davgate_instance davgate-nocache 'auth_cache_capacity = 0' : --workloads auth_cold
else
    stub_report davgate-nocache "not run: --workloads $WORKLOADS" >"$WORK/davgate-nocache.json"
fi
# The flood's fresh X-Forwarded-For addresses must reach the throttle, as behind a proxy:
# each fails once, so only the account-wide throttle can trip.
if wanted auth_flood; then
    run_davgate_instance davgate-xff 'client_address_header = "X-Forwarded-For"' create_app_password \
        --workloads auth_flood --app-password-file "$WORK/app-password"
else
    stub_report davgate-xff "not run: --workloads $WORKLOADS" >"$WORK/davgate-xff.json"
fi
if wanted durability_check; then
    run_durability_check
else
    stub_report davgate-durable "not run: --workloads $WORKLOADS" >"$WORK/davgate-durable.json"
fi
if wanted caldav_initial_sync; then
    run_initial_sync
else
    stub_report davgate-caldav "not run: --workloads $WORKLOADS" >"$WORK/davgate-caldav.json"
fi
BENCH_ARGS=("${MAIN_ARGS[@]}")
rm -f "$WORK/app-password"

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
davgate_version=
if ((davgate_rc == 0)); then
    davgate_version=$("$DAVGATE_BIN" --version 2>/dev/null || echo "version unknown")
fi
cat <<EOF
## davgate-bench: nginx and davgate side by side

- Command: \`$COMMAND_LINE\`${BENCH_ARGS[*]:+ (driver flags: \`${BENCH_ARGS[*]}\`)}
- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, $(uname -sr); \`free -h\`:

\`\`\`
$(free -h)
\`\`\`

- nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //') with dav and dav_ext, worker_processes auto,
  sendfile on, keepalive_requests 1000000, body temp files on the root's filesystem; Basic auth
  against an htpasswd file in htpasswd's default hash (\`\$$NGINX_HASH\$\`: apr1-MD5 on Debian).
- davgate: ${davgate_version:-not measured: $DAVGATE_SKIP}${DAVGATE_BENCH_CONFIG:+, configured with \`$DAVGATE_BENCH_CONFIG\`}
- Peak server RSS: the largest sum of VmRSS over the server and its child processes, sampled
  every 20 ms during each big-file run (nginx works in child processes).
- auth_cached: authenticated GETs of one small file, the credentials cached after the first.
  auth_cold: the same GETs on a second davgate with \`auth_cache_capacity = 0\`, so each
  request is a full argon2id check. auth_flood: on a third davgate with
  \`client_address_header = "X-Forwarded-For"\`, a client signed in with an app password GETs
  alone and then while the other connections send wrong passwords for the same user, each from
  a new address in 198.18.0.0/15, so no per-address limit trips; after 20 failures davgate's
  account-wide throttle holds each guess up to a second and answers 429, checking (and
  hashing) one guess per wait: the 401/429/503 shares show how the flood was answered. Server
  CPU is utime+stime from /proc over the flood. nginx has no equivalent of the last two.
- small_files and small_files_32: the same uploads from 8 and from 32 clients, each run after
  a sync of every filesystem (untimed), so a server that does not fsync pays for its own writes.
- durability_check: on a fourth davgate, one small_files run into a folder that is kept, then
  the server killed with SIGKILL the moment the last answer arrived and restarted on the same
  data; every file answered 201 is fetched and must answer 200 with its size. nginx has no
  equivalent (it fsyncs nothing before its 201) and is not checked.
- rss_after_propfind: one PROPFIND Depth 1 of 50,000 entries, then a minute idle with the
  server's RSS read every second. caldav_initial_sync: on a fifth davgate, initial
  sync-collection REPORTs of calendars of growing size (nginx has no CalDAV); its
  "time N / time M" rows are the ratio of the two largest syncs' times.

EOF
"$BENCH" --compare "$WORK/nginx.json" "$WORK/davgate.json" "$WORK/davgate-nocache.json" \
    "$WORK/davgate-xff.json" "$WORK/davgate-durable.json" "$WORK/davgate-caldav.json"
if wanted durability_check; then
    echo
    echo "### Durability after kill -9 (davgate only)"
    echo
    durability_rc=0
    python3 - "$WORK/davgate-durable.json" <<'EOF' || durability_rc=$?
import json, sys
report = json.load(open(sys.argv[1]))
if report.get("skipped"):
    print(f"**DURABILITY CHECK NOT RUN: {report['skipped']}**")
    sys.exit(3)
check = next(w for w in report["workloads"] if w["name"] == "durability_check")
value = {m["metric"]: int(m["value"]) for m in check["summary"]}
answered, present = value["files answered 201"], value["files present after kill -9"]
print(f"- files answered 201: {answered}")
print(f"- files present after kill -9: {present}")
if present != answered or answered == 0:
    print(f"\n**DURABILITY CHECK FAILED: {answered - present} of {answered} files answered 201 "
          "are missing or damaged after kill -9**")
    for note in check.get("notes", []):
        print(f"- {note}")
    sys.exit(3)
print("- nothing lost")
EOF
    ((durability_rc == 0)) || FAILED=1
fi
if wanted get_readers; then
    cat <<EOF

### Downloads by three readers, and what an upload costs (\`bench/readers.py\`)

The big file read by davgate-bench, \`curl -s -o /dev/null\` and Python's http.client
reading 1 MiB at a time: idle (the file read before, every server quiet and its writes
synced) and right after a batch of uploads (a sync before each upload; no wait, so what the
uploads left running runs beside the download; median of the batches). The servers take
turns at each measure, the first of each turn alternating. Server CPU is utime+stime of the
server and its children, until each upload's 2xx and until the server went quiet after the
batch; the median of three batches per server, the servers taking turns.

EOF
    python3 "$HERE/readers.py" --table "$WORK/nginx-readers.json" "$WORK/davgate-readers.json"
fi
cat <<EOF

### Issue 17's targets, from this invocation alone

EOF
python3 "$HERE/targets.py" "$WORK" || FAILED=1
if [[ -n ${BENCH_JSON_DIR:-} ]]; then
    mkdir -p "$BENCH_JSON_DIR"
    cp "$WORK/nginx.json" "$WORK/davgate.json" "$WORK/davgate-nocache.json" \
        "$WORK/davgate-xff.json" "$WORK/davgate-durable.json" "$WORK/davgate-durable-upload.json" \
        "$WORK/davgate-caldav.json" "$WORK/nginx-readers.json" "$WORK/davgate-readers.json" \
        "$BENCH_JSON_DIR/" 2>/dev/null || true
fi

exit "$FAILED"
