#!/usr/bin/env bash
# Measures davgate's calendar reminders (issue 15's benchmarks) with davgate-bench's reminders
# workload on one fresh davgate instance: the cost a PUT pays for scheduling 5 VALARMs
# (against a PUT without alarms to an unrouted calendar), the server's RSS once 100,000
# future alarms are scheduled, and the delay from due time to arrival at a loopback webhook
# receiver inside the driver for 1,000 alarms due in one minute, then in one second, each
# checked to arrive exactly once. Prints a markdown report (command, machine, date, the
# figures, the targets) to stdout, ready for bench/RESULTS.md. Progress and logs go to stderr.
#
# usage: bench/reminders.sh [--quick] [--burst N]
#   --quick       1,000 events (5,000 alarms) and bursts of 100: a smoke run
#   --burst N     N alarms in each burst instead of 1,000 (100 with --quick)
#   DAVGATE_BIN   the davgate binary to measure (default: build this workspace's release binary)
#   BENCH_JSON_DIR  if set, the raw JSON report is copied there
#
# davgate listens on 127.0.0.1 only, runs as the invoking user with every path (config, data,
# logs) in one temp dir, and is stopped, and the temp dir removed, on any exit. Its config
# allows webhooks to loopback (reminders_allow_private) and raises reminders_rate_limit to
# its maximum, so the per-destination rate limit does not decide the delays.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_USER=bench
ROUTED=reminders-routed
HOOK=bench-hook

usage() { sed -n '10,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
log() { echo "reminders.sh: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

COMMAND_LINE="bench/reminders.sh${*:+ $*}"
BURST_ARG=
OTHER_ARGS=()
while (($#)); do
    case $1 in
        --burst) BURST_ARG=${2:?--burst needs a number}; shift 2 ;;
        --burst=*) BURST_ARG=${1#*=}; shift ;;
        *) OTHER_ARGS+=("$1"); shift ;;
    esac
done
parse_args "${OTHER_ARGS[@]}"
if ((QUICK)); then
    EVENTS=1000 BURST=100
else
    EVENTS=20000 BURST=1000
fi
BURST=${BURST_ARG:-$BURST}
BENCH_ARGS=(--reminder-events "$EVENTS" --burst-alarms "$BURST" --put-clients 8)

# A fresh password per run, hex only so it needs no quoting anywhere. The driver reads it from
# the environment, curl from stdin, never argv, which other users can see.
BENCH_PASS="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export DAVGATE_BENCH_PASSWORD=$BENCH_PASS

start_work_dir reminders

# The davgate CLI on the running instance's data dir and config.
cli() {
    "$DAVGATE_BIN" --config "$WORK/reminders.toml" "$@" --data-dir "$DAVGATE_DATA"
}

# URL: MKCALENDAR with the bench account's credentials, read by curl from stdin.
mkcalendar() {
    local status
    status=$(printf 'user = "%s:%s"\n' "$BENCH_USER" "$BENCH_PASS" |
        curl -sS -K - -o /dev/null -w '%{http_code}' -X MKCALENDAR "$1")
    [[ $status == 201 || $status == 405 ]] || { log "MKCALENDAR $1 answered $status"; return 1; }
}

# Rows of the scheduler's table by state (0 pending, others done), when sqlite3 is there:
# the check on the driver's CPU-quiet heuristic that every alarm got its row.
scheduled_rows() {
    command -v sqlite3 >/dev/null || { echo "not counted (no sqlite3)"; return; }
    sqlite3 -readonly "$DAVGATE_DATA/davgate.db" \
        "SELECT (SELECT count(*) FROM reminder_due WHERE state = 0) || ' pending, ' ||
                (SELECT count(*) FROM reminder_due WHERE state <> 0) || ' done, ' ||
                (SELECT count(*) FROM reminder_stale) || ' objects not yet scheduled'" \
        2>/dev/null || echo "not counted (the database was busy)"
}

# Each target read from the report: PUT p99 with alarms at most 1.1x the one without, and
# delivery p99 under 1 s with every alarm of the burst delivered exactly once.
targets() {
    python3 - "$WORK/reminders.json" "$BURST" <<'EOF'
import json, math, sys

report = json.load(open(sys.argv[1]))
burst = int(sys.argv[2])
if report.get("skipped"):
    print(f"Not measured: {report['skipped']}")
    sys.exit(0)
(work,) = [w for w in report["workloads"] if w["name"] == "reminders"]
m = {x["metric"]: x for x in work["summary"]}

def fmt(metric):
    x = m.get(metric)
    if x is None:
        return "not measured"
    v = x["value"]
    if isinstance(v, float) and math.isnan(v):
        return "n/a"
    unit = x["unit"]
    if unit == "alarms":
        return f"{v:.0f}"
    return f"{v:.2f} {unit}" if unit != "x" else f"{v:.2f}x"

print("| Measure | Value |\n|---|---|")
for x in work["summary"]:
    print(f"| {x['metric']} | {fmt(x['metric'])} |")

print("\nTargets:\n")
for kind in ["p50", "p99"]:
    x = m.get(f"PUT {kind} ratio, alarms / none")
    if x:
        verdict = "met" if x["value"] <= 1.10 else "MISSED"
        print(f"- PUT {kind} with 5 alarms is {x['value']:.2f}x the PUT without "
              f"(target at most 1.10x): {verdict}")
for label in ["in one minute", "in one second"]:
    p99 = m.get(f"delay p99, {label}")
    once = m.get(f"delivered once, {label}")
    twice = m.get(f"delivered twice or more, {label}")
    missing = m.get(f"not arrived by the end, {label}")
    if not (p99 and once and twice and missing):
        print(f"- burst {label}: not measured")
        continue
    exactly = once["value"] == burst and twice["value"] == 0 and missing["value"] == 0
    verdict = "met" if p99["value"] < 1000 and exactly else "MISSED"
    print(f"- {burst} alarms due {label}: delivery p99 {p99['value'] / 1000:.2f} s "
          f"(target under 1 s), {once['value']:.0f} exactly once, {twice['value']:.0f} "
          f"repeated, {missing['value']:.0f} not arrived by the end: {verdict}")

print("\nDriver notes:\n")
for note in work.get("notes", []):
    print(f"- {note}")
EOF
}

# ---- main ------------------------------------------------------------------------------------

build_driver
CONFIG='reminders_allow_private = true
reminders_rate_limit = 60000'
rc=0
start_davgate reminders "$CONFIG" || rc=$?
if ((rc != 0)); then
    log "$DAVGATE_SKIP"
    exit 1
fi
routed_url=$(calendar_url "$ROUTED")
mkcalendar "$routed_url"
RECEIVER_PORT=$(pick_port)
cli reminders webhook add "$BENCH_USER" "$HOOK" "http://127.0.0.1:$RECEIVER_PORT/hook" \
    --format json >&2
cli reminders route "$BENCH_USER" "$ROUTED" "$HOOK" >&2
log "davgate $routed_url (pid $DAVGATE_PID), webhooks to 127.0.0.1:$RECEIVER_PORT"
run_driver reminders "$DAVGATE_PID" --calendar-url "$routed_url" --workloads reminders \
    --receiver-port "$RECEIVER_PORT"
rows=$(scheduled_rows)
stop_server "$DAVGATE_PID"
DAVGATE_PID=

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
cat <<EOF
## davgate-bench reminders: scheduling cost, scheduler memory, delivery delay

- Command: \`$COMMAND_LINE\` (driver flags: \`${BENCH_ARGS[*]}\`)
- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end
- davgate: $("$DAVGATE_BIN" --version 2>/dev/null || echo "version unknown"), SQLite in its data
  dir, default config but \`reminders_allow_private = true\` (the receiver is on loopback) and
  \`reminders_rate_limit = 60000\` (the per-destination limit's maximum)
- $EVENTS events with 5 VALARMs each on a calendar routed to a \`json\` webhook, and $EVENTS
  without alarms on an unrouted calendar of the same account, PUT interleaved by 8
  connections; then two bursts of $BURST one-alarm events
- Scheduler rows at the end (sqlite3): $rows

EOF
targets
if [[ -n ${BENCH_JSON_DIR:-} ]]; then
    mkdir -p "$BENCH_JSON_DIR"
    cp "$WORK/reminders.json" "$BENCH_JSON_DIR/"
fi

exit "$FAILED"
