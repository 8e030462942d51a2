#!/usr/bin/env bash
# Concurrent uploads at a network's pace: nginx and one or more davgate builds, all up at
# once, take turns under bench/uploads.py. curl clients share a rate (a gigabit link by
# default) or run unlimited, each uploading one file at once; each server's RSS before and
# at its peak, its CPU per uploaded GiB (background included) and the MB/s. Prints the
# markdown table (medians of the rounds) on stdout; progress on stderr.
#
# usage: bench/uploads.sh [--quick] [--rounds N] [--size BYTES] [--cases LIST]
#                         [LABEL=BINARY]...
#   --quick         one round of 16 MiB files: a smoke run that takes seconds
#   --rounds N      rounds of every case on every server (default 3)
#   --size BYTES    of each client's file (default 268435456, 256 MiB)
#   --cases LIST    CLIENTS@MB/s (sharing that rate) or CLIENTS (no limit), comma-separated
#                   (default 1@110,4@110,8@110,8)
#   LABEL=BINARY    a davgate build to measure under LABEL (default: davgate=this
#                   workspace's release binary, built if needed)
#
# Every server listens on 127.0.0.1 only, runs as the invoking user with every path in one
# temp dir, and is stopped, and the temp dir removed, on any exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_USER=bench

usage() { sed -n '8,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
log() { echo "uploads.sh: $*" >&2; }
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

ROUNDS=3
SIZE=$((256 << 20))
CASES=1@110,4@110,8@110,8
BUILDS=()
while (($#)); do
    case $1 in
        --quick) ROUNDS=1; SIZE=$((16 << 20)); shift ;;
        --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
        --size) SIZE=${2:?--size needs a number of bytes}; shift 2 ;;
        --cases) CASES=${2:?--cases needs a list}; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *=*) BUILDS+=("$1"); shift ;;
        *) log "unknown argument $1"; usage >&2; exit 2 ;;
    esac
done
for n in "$ROUNDS" "$SIZE"; do
    [[ $n =~ ^[0-9]+$ ]] || { log "--rounds and --size take a whole number, not $n"; exit 2; }
done
command -v curl >/dev/null || { log "the clients are curl; install it (apt-get install curl)"; exit 1; }

# A fresh password per run, hex only so it needs no quoting; uploads.py reads it from the
# environment and hands it to curl on stdin, never on a command line.
BENCH_PASS="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export DAVGATE_BENCH_PASSWORD=$BENCH_PASS

start_nginx_and_builds uploads "${BUILDS[@]}"
head -c "$SIZE" /dev/urandom >"$WORK/upload.bin"

cat <<EOF
## bench/uploads.sh: ${LABELS[*]}

- Command: \`bench/uploads.sh --rounds $ROUNDS --size $SIZE --cases $CASES${BUILDS[*]:+ ${BUILDS[*]}}\`
- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, $(uname -sr)
- Each case: as many curl clients as it says upload $SIZE bytes each at once, sharing the
  rate (curl --limit-rate) or not, each replacing a file of its own; a sync and a quiet
  server before, the servers in turn.
  The median of $ROUNDS round(s), each round's value in brackets.

EOF
python3 "$HERE/uploads.py" "${TARGETS[@]}" --user "$BENCH_USER" --file "$WORK/upload.bin" \
    --cases "$CASES" --rounds "$ROUNDS"
