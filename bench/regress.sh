#!/usr/bin/env bash
# Two or more davgate builds on the workloads a change elsewhere must not slow down: PUT of
# 1 GiB (streamed and sized), cached and cold sign-ins, sign-ins under a password flood, and
# the four CalDAV workloads. The builds take turns, round after round, so a slow minute of a
# shared machine falls on each; the first build is the base the others are compared with.
# Prints a markdown table (each build's median over the rounds, each round's value, the
# ratio to the base, above 1 when better) on stdout; progress on stderr.
#
# usage: bench/regress.sh [--rounds N] [--quick] BASE_LABEL=BINARY LABEL=BINARY...
#   --rounds N   invocations per build (default 3)
#   --quick      bench/run.sh --quick sizes and 500 events: a smoke run
#   BENCH_JSON_DIR  if set, every round's reports are copied there (LABEL-ROUND/)
#
# The files and sign-ins run through bench/run.sh (nginx alongside, its figures kept as
# context), the CalDAV workloads on one davgate of each build with the events
# bench/caldav.sh uses, without Radicale. Every server listens on 127.0.0.1 only, runs as
# the invoking user with every path in one temp dir, and is stopped, and the temp dir
# removed, on any exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_USER=bench
CALENDAR=bench

usage() { sed -n '9,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
log() { echo "regress.sh: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

FILE_WORKLOADS=put_stream_1g,put_length_1g,auth_cached,auth_cold,auth_flood
CALDAV_WORKLOADS=caldav_query,caldav_multiget,caldav_sync,caldav_propfind
ROUNDS=3
QUICK=0
LABELS=()
BINARIES=()
while (($#)); do
    case $1 in
        --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
        --quick) QUICK=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *=*)
            label=${1%%=*}
            [[ $label =~ ^[A-Za-z0-9_.-]+$ ]] || { log "a label is letters, digits, _ . -, not '$label'"; exit 2; }
            LABELS+=("$label")
            BINARIES+=("${1#*=}")
            shift
            ;;
        *) log "unknown argument $1"; usage >&2; exit 2 ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { log "--rounds takes a positive whole number, not $ROUNDS"; exit 2; }
if ((${#LABELS[@]} < 2)); then
    log "name at least two builds: the base first, then each build to compare with it"
    usage >&2
    exit 2
fi
for i in "${!BINARIES[@]}"; do
    [[ -x ${BINARIES[$i]} ]] || { log "${LABELS[$i]}: ${BINARIES[$i]} is not an executable file"; exit 2; }
done
RUN_ARGS=()
CALDAV_ARGS=(--events 5000 --caldav-runs 10)
if ((QUICK)); then
    RUN_ARGS=(--quick)
    CALDAV_ARGS=(--events 500 --caldav-runs 3)
fi

start_work_dir regress

# BINARY DIR: the CalDAV workloads on a fresh davgate of BINARY, into DIR/davgate-caldav4.json.
caldav_round() {
    local url
    BENCH_PASS="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    export DAVGATE_BENCH_PASSWORD=$BENCH_PASS
    BENCH_ARGS=("${CALDAV_ARGS[@]}")
    if ! DAVGATE_BIN=$1 start_davgate caldav; then
        FAILED=1
        stub_report davgate-caldav4 "$DAVGATE_SKIP" >"$2/davgate-caldav4.json"
        return
    fi
    url=$(calendar_url "$CALENDAR")
    run_driver davgate-caldav4 "$DAVGATE_PID" --calendar-url "$url" --workloads "$CALDAV_WORKLOADS"
    mv "$WORK/davgate-caldav4.json" "$2/"
    stop_server "$DAVGATE_PID"
    DAVGATE_PID=
    rm -rf "$WORK/caldav"
}

build_driver
for ((round = 1; round <= ROUNDS; round++)); do
    # Each build goes first in turn, as in bench/readers.py.
    for ((k = 0; k < ${#LABELS[@]}; k++)); do
        i=$(((k + round - 1) % ${#LABELS[@]}))
        label=${LABELS[$i]} dir=$WORK/${LABELS[$i]}-$round
        mkdir -p "$dir"
        log "round $round of $ROUNDS: $label, files and sign-ins (bench/run.sh)"
        if ! DAVGATE_BIN=${BINARIES[$i]} BENCH_JSON_DIR=$dir "$HERE/run.sh" "${RUN_ARGS[@]}" \
            --workloads "$FILE_WORKLOADS" >"$dir/run.md"; then
            log "$label: bench/run.sh failed in round $round (its log is above); its rows show as not measured, so check the binary and run again"
            FAILED=1
        fi
        log "round $round of $ROUNDS: $label, CalDAV"
        caldav_round "${BINARIES[$i]}" "$dir"
    done
done

if [[ -n ${BENCH_JSON_DIR:-} ]]; then
    mkdir -p "$BENCH_JSON_DIR"
    for label in "${LABELS[@]}"; do
        cp -r "$WORK/$label"-* "$BENCH_JSON_DIR/"
    done
fi

cat <<EOF
## davgate builds compared: files, sign-ins and CalDAV

- Command: \`bench/regress.sh${RUN_ARGS[*]:+ ${RUN_ARGS[*]}} --rounds $ROUNDS$(printf ' %s=…' "${LABELS[@]}")\`
- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -sr)
- Workloads: \`bench/run.sh --workloads $FILE_WORKLOADS\` and the driver's $CALDAV_WORKLOADS
  (\`${CALDAV_ARGS[*]}\`), each build in turn; rounds: $ROUNDS

EOF
python3 "$HERE/regress.py" --work "$WORK" --rounds "$ROUNDS" "${LABELS[@]}"
exit "$FAILED"
