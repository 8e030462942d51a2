#!/usr/bin/env bash
# Measures whether load on the account portal slows a sync client: davgate-bench's
# portal_load workload, run three times, each on a fresh davgate instance. A client with an
# app password GETs a small file alone, then while 16 connections load /account/ (wrong
# sign-ins from ever new addresses, and app-password page views in a session). Prints a
# markdown report (command, machine, date, each run's p99 alone and under load side by
# side, their medians, the 3x target) to stdout, ready for bench/RESULTS.md. Progress and
# logs go to stderr.
#
# usage: bench/portal.sh [--quick]
#   --quick       one run of 2 s windows: a smoke run
#   DAVGATE_BIN   the davgate binary to measure (default: build this workspace's release binary)
#   BENCH_JSON_DIR  if set, the raw JSON reports are copied there
#
# Every instance listens on 127.0.0.1 only, runs as the invoking user with every path
# (config, data, logs, the app password) in one temp dir, and is stopped, and the temp dir
# removed, on any exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_USER=bench
TARGET_RATIO=3

usage() { sed -n '10,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
log() { echo "portal.sh: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

parse_args "$@"
COMMAND_LINE="bench/portal.sh${*:+ $*}"
if ((QUICK)); then
    RUNS=1 BENCH_ARGS=(--duration 2s)
else
    RUNS=3 BENCH_ARGS=(--duration 10s)
fi
BENCH_ARGS+=(--flood-connections 16)

# A fresh password per run, hex only so it needs no quoting anywhere. The driver reads it from
# the environment rather than argv, which other users can see.
BENCH_PASS="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export DAVGATE_BENCH_PASSWORD=$BENCH_PASS

start_work_dir portal

build_driver
# The sign-in flood comes from new X-Forwarded-For addresses, as in auth_flood: only the
# account-wide throttle can stop it.
CONFIG='client_address_header = "X-Forwarded-For"'
for run in $(seq 1 "$RUNS"); do
    name=portal-$run
    DAVGATE_SKIP=
    rc=0
    start_davgate "$name" "$CONFIG" || rc=$?
    if ((rc != 0)); then
        log "run $run: $DAVGATE_SKIP"
        exit 1
    fi
    log "run $run of $RUNS: davgate $DAVGATE_URL (pid $DAVGATE_PID)"
    if ! create_app_password; then
        log "run $run: could not create the app password; see $WORK/app-password.log"
        exit 1
    fi
    run_driver "$name" "$DAVGATE_PID" --url "$DAVGATE_URL" --workloads portal_load \
        --app-password-file "$WORK/app-password"
    rm -f "$WORK/app-password"
    stop_server "$DAVGATE_PID"
    DAVGATE_PID=
    rm -rf "${WORK:?}/$name"
done
((FAILED == 0)) || { log "a run failed; see above"; exit 1; }

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
cat <<EOF
## davgate-bench portal_load: a sync client's p99 alone and under portal load

- Command: \`$COMMAND_LINE\` (driver flags: \`${BENCH_ARGS[*]}\`)
- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, $(uname -sr)
- davgate: $("$DAVGATE_BIN" --version 2>/dev/null || echo "version unknown"), with \`$CONFIG\`
- One client GETs a 4 KiB file with an app password on one keep-alive connection, alone and
  then while 16 connections load the portal: 8 post wrong passwords to the sign-in form, each
  from a new address, and 8 view /account/app-passwords in a signed-in session.

EOF
python3 - "$TARGET_RATIO" "$WORK"/portal-*.json <<'PY'
import json, statistics, sys

target = float(sys.argv[1])
rows = []
for path in sys.argv[2:]:
    report = json.load(open(path))
    (workload,) = [w for w in report["workloads"] if w["name"] == "portal_load"]
    summary = {m["metric"]: m["value"] for m in workload["summary"]}
    rows.append((
        summary["baseline p99 latency"],
        summary["p99 latency under portal load"],
        summary["p99 under portal load ÷ baseline p99"],
        summary["portal sign-in failures per second"],
        summary["portal page views per second"],
    ))
print("| run | p99 alone (ms) | p99 under portal load (ms) | ratio | sign-in failures/s | page views/s |")
print("|---|---:|---:|---:|---:|---:|")
for i, (alone, loaded, ratio, fails, views) in enumerate(rows, 1):
    print(f"| {i} | {alone:.3g} | {loaded:.3g} | {ratio:.2f} | {fails:.0f} | {views:.0f} |")
median = [statistics.median(column) for column in zip(*rows)]
print(f"| median | {median[0]:.3g} | {median[1]:.3g} | {median[2]:.2f} | {median[3]:.0f} | {median[4]:.0f} |")
verdict = "met" if median[2] <= target else "NOT met"
print(f"\nTarget: p99 under portal load within {target:g}x of p99 alone (median ratio): {verdict}.")
PY
if [[ -n ${BENCH_JSON_DIR:-} ]]; then
    mkdir -p "$BENCH_JSON_DIR"
    cp "$WORK"/portal-*.json "$BENCH_JSON_DIR/"
fi
