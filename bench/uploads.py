#!/usr/bin/env python3
"""Concurrent uploads at a network's pace, against running servers: the memory they cost.

bench/uploads.sh starts nginx and one or more davgate builds and runs this once against
them all. For each case (a number of curl clients sharing a rate, or unlimited), every
server in turn, the first changing every round, receives one upload of --size from each
client at once, each replacing a file an untimed first pass created; a sync comes before,
so no server pays for another's writes. Measured:

  RSS        the server's, just before the uploads and at its peak during them (VmHWM
             reset through /proc/PID/clear_refs), summed over its processes (nginx works
             in children); the first depends on what earlier uploads left behind, so
             both are shown
  CPU        utime + stime of the server and its children per uploaded GiB, until it has
             gone quiet afterwards, so background work an upload causes counts (not the
             kernel's writeback of what went through the page cache, as nginx's does)
  MB/s       all clients' bytes over the time until the last one was answered

usage: uploads.py --target LABEL BASE PID [--target ...] --user USER --file PATH
                  [--cases LIST] [--rounds N]
The password comes from DAVGATE_BENCH_PASSWORD (argv is world-readable). Prints the
markdown table (medians over the rounds, each round's value after) on stdout.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/ from importing readers
from readers import Server, cpu_seconds, process_tree, rotated, wait_until_quiet  # noqa: E402

FOLDER = "davgate-bench-uploads/"


def log(*words):
    print("uploads.py:", *words, file=sys.stderr, flush=True)


def status_kib(pids, field):
    """A /proc/PID/status field (VmRSS, VmHWM) summed over `pids`, in KiB."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
        except (OSError, StopIteration):
            continue
    return total


def reset_peaks(pids):
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")  # VmHWM back to the present RSS (Linux 4.0 and later)
        except OSError as e:
            raise SystemExit(f"uploads.py: cannot reset the peak RSS of pid {pid}: {e}")


def upload_all(server, source, clients, rate, tag):
    """`clients` curls at once, each PUTting `source` to its own file named after `tag`,
    sharing `rate` bytes/s (0: no limit)."""
    config = f'user = "{server.user}:{server.password}"\n'
    limit = ["--limit-rate", str(rate // clients)] if rate else []
    procs = []
    for i in range(clients):
        cmd = ["curl", "-s", "-K", "-", "-o", "/dev/null", "-w", "%{http_code}", *limit,
               "-T", source, f"{server.base}{FOLDER}{tag}-{i}.bin"]
        procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True))
    for proc in procs:
        proc.stdin.write(config)
        proc.stdin.close()
    codes = [proc.stdout.read().strip() for proc in procs]
    for proc in procs:
        proc.wait()
    bad = [c for c in codes if not c.startswith("2")]
    if bad:
        raise SystemExit(f"uploads.py: {server.label}: uploads answered {', '.join(bad)}")


def file_tag(clients, rate):
    return f"{clients}at{rate}"


def one(server, source, size, clients, rate):
    """One case on one server: peak RSS above the start (MiB), CPU-s per GiB, MB/s."""
    wait_until_quiet(server.pid)
    os.sync()
    pids = process_tree(server.pid)
    reset_peaks(pids)
    before = status_kib(pids, "VmRSS")
    cpu = cpu_seconds(server.pid)
    started = time.perf_counter()
    upload_all(server, source, clients, rate, file_tag(clients, rate))
    elapsed = time.perf_counter() - started
    peak = status_kib(process_tree(server.pid), "VmHWM")
    wait_until_quiet(server.pid)
    cpu = cpu_seconds(server.pid) - cpu
    return {
        "before_mib": before / 1024,
        "peak_mib": peak / 1024,
        "cpu_per_gib": cpu / (clients * size / (1 << 30)),
        "mbps": clients * size / elapsed / 1e6,
    }


def parse_case(text):
    """"8@110" is eight clients sharing 110 MB/s; "8" is eight without a limit."""
    clients, _, rate = text.partition("@")
    return int(clients), int(float(rate) * 1e6) if rate else 0


def case_name(clients, rate):
    pace = f"sharing {rate / 1e6:.0f} MB/s" if rate else "unlimited"
    return f"{clients} upload{'s' if clients > 1 else ''} at once, {pace}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", nargs=3, action="append", required=True,
                        metavar=("LABEL", "BASE", "PID"),
                        help="a running server: its label, base URL and pid (repeatable)")
    parser.add_argument("--user", required=True)
    parser.add_argument("--file", required=True, help="what every client uploads")
    parser.add_argument("--cases", default="1@110,4@110,8@110,8",
                        help="CLIENTS@MB/s shared, or CLIENTS for no limit (default: "
                             "1, 4 and 8 clients sharing a gigabit link, then 8 unlimited)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    password = os.environ.get("DAVGATE_BENCH_PASSWORD")
    if not password:
        raise SystemExit("uploads.py: set DAVGATE_BENCH_PASSWORD")
    try:
        cases = [parse_case(c) for c in args.cases.split(",")]
    except ValueError:
        parser.error(f"--cases: CLIENTS@MB/s or CLIENTS, comma-separated, not {args.cases!r}")
    servers = [Server(label, base, int(pid), args.user, password)
               for label, base, pid in args.target]
    size = os.path.getsize(args.file)
    # Every timed upload replaces a file, as a sync client's upload of a changed file
    # does: deleted ones would pile up in davgate's trash, a round's worth each time.
    log("creating the files every timed upload replaces (untimed, no rate limit)")
    for server in servers:
        server.request("MKCOL", FOLDER)
        for clients, rate in cases:
            upload_all(server, args.file, clients, 0, file_tag(clients, rate))
    results = {(c, s.label): [] for c in cases for s in servers}
    for run in range(args.rounds):
        for case in cases:
            for server in rotated(servers, run):
                got = one(server, args.file, size, *case)
                results[(case, server.label)].append(got)
                log(f"{server.label}: {case_name(*case)}: RSS {got['before_mib']:.1f} MiB "
                    f"before, {got['peak_mib']:.1f} at the peak, "
                    f"{got['cpu_per_gib']:.2f} CPU-s/GiB, "
                    f"{got['mbps']:.0f} MB/s (round {run + 1}/{args.rounds})")

    labels = [s.label for s in servers]
    print("| case | measure | " + " | ".join(labels) + " |")
    print("|---|---|" + "---:|" * len(labels))
    measures = (("before_mib", "RSS before (MiB)", "{:.1f}"),
                ("peak_mib", "peak RSS (MiB)", "{:.1f}"),
                ("cpu_per_gib", "server CPU per GiB, background included (s)", "{:.2f}"),
                ("mbps", "MB/s", "{:.0f}"))
    for case in cases:
        for key, name, form in measures:
            cells = []
            for label in labels:
                each = [r[key] for r in results[(case, label)]]
                rounds = ", ".join(form.format(v) for v in each)
                cells.append(f"{form.format(statistics.median(each))} ({rounds})")
            print(f"| {case_name(*case)} | {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
