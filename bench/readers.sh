#!/usr/bin/env bash
# Downloads alone, for many rounds: nginx and one or more davgate builds, each up at once,
# take turns under bench/readers.py. A full bench/run.sh times each download right after
# uploads eight times per reader; this runs as many rounds as asked, so a row whose spread
# between invocations is larger than the effect under study gets a steadier median, and
# builds compared in one run share the machine's slow minutes. Prints readers.py's table
# (with each round's ratio to nginx, paired) in markdown on stdout; progress on stderr.
#
# usage: bench/readers.sh [--rounds N] [--idle-runs N] [--readers LIST] [--size BYTES]
#                         [LABEL=BINARY]...
#   --rounds N      batches of uploads, each followed by one download, per reader (default 14)
#   --idle-runs N   downloads per reader on the idle servers (default 2)
#   --readers LIST  of davgate-bench, curl, python (default: davgate-bench)
#   --size BYTES    of the file downloaded and of each upload (default 1073741824, 1 GiB)
#   LABEL=BINARY    a davgate build to measure under LABEL (default: davgate=this
#                   workspace's release binary, built if needed)
#   BENCH_JSON_DIR  if set, each server's LABEL-readers.json is copied there
#
# Every server listens on 127.0.0.1 only, runs as the invoking user with every path in one
# temp dir, and is stopped, and the temp dir removed, on any exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_USER=bench

usage() { sed -n '9,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
log() { echo "readers.sh: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

ROUNDS=14
IDLE_RUNS=2
READERS=davgate-bench
SIZE=$((1 << 30))
BUILDS=()
while (($#)); do
    case $1 in
        --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
        --idle-runs) IDLE_RUNS=${2:?--idle-runs needs a number}; shift 2 ;;
        --readers) READERS=${2:?--readers needs a list}; shift 2 ;;
        --size) SIZE=${2:?--size needs a number of bytes}; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *=*) BUILDS+=("$1"); shift ;;
        *) log "unknown argument $1"; usage >&2; exit 2 ;;
    esac
done
for n in "$ROUNDS" "$IDLE_RUNS" "$SIZE"; do
    [[ $n =~ ^[0-9]+$ ]] || { log "--rounds, --idle-runs and --size take a whole number, not $n"; exit 2; }
done

# A fresh password per run, hex only so it needs no quoting; the driver and readers.py read
# it from the environment rather than argv, which other users can see.
BENCH_PASS="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export DAVGATE_BENCH_PASSWORD=$BENCH_PASS

build_driver
[[ ,$READERS, != *,curl,* ]] || command -v curl >/dev/null ||
    { log "the curl reader needs curl; install it (apt-get install curl)"; exit 1; }
start_nginx_and_builds readers "${BUILDS[@]}"

python3 "$HERE/readers.py" "${TARGETS[@]}" --user "$BENCH_USER" --bench "$BENCH" \
    --out-dir "$WORK" --readers "$READERS" --after-runs "$ROUNDS" --runs "$IDLE_RUNS" \
    --size "$SIZE"
REPORTS=()
for label in "${LABELS[@]}"; do
    REPORTS+=("$WORK/$label-readers.json")
done
if [[ -n ${BENCH_JSON_DIR:-} ]]; then
    mkdir -p "$BENCH_JSON_DIR"
    cp "${REPORTS[@]}" "$BENCH_JSON_DIR/"
fi

cat <<EOF
## bench/readers.sh: ${LABELS[*]}

- Command: \`bench/readers.sh --rounds $ROUNDS --idle-runs $IDLE_RUNS --readers $READERS --size $SIZE${BUILDS[*]:+ ${BUILDS[*]}}\`
- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, $(uname -sr)
- Each round: two uploads of $SIZE bytes (a sync before each), then one download of as
  many, on every server in turn, the first changing every round.

EOF
python3 "$HERE/readers.py" --table "${REPORTS[@]}"
