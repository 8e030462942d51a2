#!/usr/bin/env python3
"""Downloads by three readers, and what uploads cost the server, against running servers.

bench/run.sh runs it once against nginx and davgate together (both up, their driver
workloads done) and prints the side-by-side table with --table. The servers take turns at
every measurement, so a shared machine's slow minute falls on both rather than on whichever
ran then; only one is busy at a time. Three clients download the same file, each its own
way:

  davgate-bench  the driver (hyper), large reads, one keep-alive connection
  curl           `curl -s -o /dev/null`
  python         http.client reading 1 MiB at a time, as a script written without care for
                 speed would

each timed twice: on an idle server (the file read once before, every server quiet and its
writes synced; median of --runs), and right after a batch of uploads (no wait: whatever the
uploads left running runs during the download; median of --after-runs batches). Every
upload is preceded by a sync, so a server that does not fsync pays for its own writes. The
server's CPU time (utime + stime of it and its child processes, from /proc) is read around
each upload: until its 2xx, and until the server has gone quiet afterwards, so background
work an upload causes counts against it; the median of --cost-runs batches, the servers
taking turns.

usage: readers.py --target LABEL BASE PID [--target ...] --user USER --bench DRIVER
                  --out-dir DIR [--size BYTES] [--batch N] [--runs N] [--after-runs N]
                  [--readers LIST]
                  (writes DIR/LABEL-readers.json for each target)
       readers.py --table REPORT.json...
The password comes from DAVGATE_BENCH_PASSWORD (argv is world-readable).
"""

import argparse
import base64
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse

READ = 1 << 20
READERS = ("davgate-bench", "curl", "python")
FOLDER = "davgate-bench/"
BIG = FOLDER + "big.bin"


def log(*words):
    print("readers.py:", *words, file=sys.stderr, flush=True)


# ---- the server's CPU time ----------------------------------------------------------------


def ticks_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the name: state (field 3) ... utime (14), stime (15).
    return int(fields[11]) + int(fields[12]), int(fields[1])


def process_tree(root):
    """`root` and its descendants (nginx works in child processes)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parents[int(entry)] = ticks_of(entry)[1]
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return tree


def cpu_seconds(root):
    """utime + stime of `root` and its descendants."""
    busy = 0
    for pid in process_tree(root):
        try:
            busy += ticks_of(pid)[0]
        except (OSError, IndexError, ValueError):
            continue  # gone since the tree was read: its time went with it
    return busy / os.sysconf("SC_CLK_TCK")


def wait_until_quiet(pid, limit=60.0):
    """Until the server used under 3% of the cores for half a second; the seconds waited."""
    started = time.monotonic()
    cores = os.cpu_count() or 1
    while time.monotonic() - started < limit:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if (cpu_seconds(pid) - before) / (0.5 * cores) < 0.03:
            break
    return time.monotonic() - started


# ---- HTTP ---------------------------------------------------------------------------------


class Server:
    def __init__(self, label, base, pid, user, password):
        self.label, self.pid = label, pid
        url = urllib.parse.urlsplit(base)
        if url.scheme != "http" or url.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("readers.py: --url must be plain http on loopback")
        self.host, self.port = url.hostname, url.port or 80
        self.path = url.path if url.path.endswith("/") else url.path + "/"
        self.base = base if base.endswith("/") else base + "/"
        self.user, self.password = user, password
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.auth = {"Authorization": "Basic " + token}

    def connect(self):
        return http.client.HTTPConnection(self.host, self.port)

    def request(self, method, name, body=None, headers=None):
        conn = self.connect()
        conn.request(method, self.path + name, body=body, headers={**self.auth, **(headers or {})})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status

    def put(self, name, size):
        """PUTs `size` generated bytes with a Content-Length; raises unless 2xx."""
        block = bytes(range(256)) * (READ // 256)
        conn = self.connect()
        conn.putrequest("PUT", self.path + name)
        for key, value in self.auth.items():
            conn.putheader(key, value)
        conn.putheader("Content-Length", str(size))
        conn.putheader("Content-Type", "application/octet-stream")
        conn.endheaders()
        left = size
        while left:
            n = min(left, len(block))
            conn.send(block[:n] if n < len(block) else block)
            left -= n
        resp = conn.getresponse()
        resp.read()
        conn.close()
        if resp.status // 100 != 2:
            raise SystemExit(f"readers.py: PUT {name} answered {resp.status}")


def read_python(server, name):
    """http.client reading 1 MiB at a time; the bytes received."""
    conn = server.connect()
    conn.request("GET", server.path + name, headers=server.auth)
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"readers.py: GET {name} answered {resp.status}")
    got = 0
    while True:
        chunk = resp.read(READ)
        if not chunk:
            break
        got += len(chunk)
    conn.close()
    return got


def read_curl(server, name):
    # The credentials go in on stdin as a config file, never on the command line.
    config = f'user = "{server.user}:{server.password}"\n'
    out = subprocess.run(
        ["curl", "-s", "-f", "-K", "-", "-o", "/dev/null", "-w", "%{size_download}",
         server.base + name],
        input=config, capture_output=True, text=True, check=True,
    )
    return int(out.stdout.strip())


def read_driver(server, name, bench, size):
    """One get_1g run of the driver, without its warm-up; returns its MB/s."""
    env = {**os.environ, "DAVGATE_BENCH_PASSWORD": server.password}
    out = subprocess.run(
        [bench, "--url", server.base, "--user", server.user, "--workloads", "get_1g",
         "--get-runs", "1", "--no-warm-up", "--size", str(size), "--json"],
        env=env, capture_output=True, text=True, check=True,
    )
    report = json.loads(out.stdout)
    summary = report["workloads"][0]["summary"]
    return next(m["value"] for m in summary if m["metric"] == "throughput")


def timed_read(reader, server, args):
    """MB/s of one download of BIG by `reader`."""
    if reader == "davgate-bench":
        # The driver times the GET itself, without its process start.
        return read_driver(server, BIG, args.bench, args.size)
    started = time.perf_counter()
    got = read_python(server, BIG) if reader == "python" else read_curl(server, BIG)
    elapsed = time.perf_counter() - started
    if got != args.size:
        raise SystemExit(f"readers.py: {reader} got {got} bytes, expected {args.size}")
    return args.size / elapsed / 1e6


# ---- the measurements ---------------------------------------------------------------------


def upload_batch(server, args, tag):
    """--batch uploads of --size, a sync before each; their MB/s and CPU until each 2xx."""
    rates, cpu = [], 0.0
    for i in range(args.batch):
        os.sync()
        before = cpu_seconds(server.pid)
        started = time.perf_counter()
        server.put(f"{FOLDER}batch-{tag}-{i}.bin", args.size)
        elapsed = time.perf_counter() - started
        cpu += cpu_seconds(server.pid) - before
        rates.append(args.size / elapsed / 1e6)
    return rates, cpu


def upload_cost(server, args, run):
    """One batch's MB/s and CPU per GiB, until the 2xx and until the server went quiet."""
    gib = args.size * args.batch / (1 << 30)
    log(f"{server.label}: uploads {run + 1}/{args.cost_runs}, {args.batch} × {args.size} bytes")
    wait_until_quiet(server.pid)
    start = cpu_seconds(server.pid)
    rates, until_2xx = upload_batch(server, args, f"cpu{run}")
    waited = wait_until_quiet(server.pid)
    total = cpu_seconds(server.pid) - start
    for i in range(args.batch):
        server.request("DELETE", f"{FOLDER}batch-cpu{run}-{i}.bin")
    return {
        "put_mbps": rates,
        "cpu_s_per_gib_until_2xx": until_2xx / gib,
        "cpu_s_per_gib_total": total / gib,
        "quiet_after_s": waited,
    }


def upload_costs(servers, args):
    """--cost-runs batches per server, the servers taking turns; for each server, every
    batch's figures and the median of each. One batch gave one draw per invocation, and
    the same upload cost nginx 1.1 to 6.3 CPU-seconds per GiB from one invocation to the
    next."""
    runs = {s.label: [] for s in servers}
    for run in range(args.cost_runs):
        for server in rotated(servers, run):
            runs[server.label].append(upload_cost(server, args, run))
    costs = {}
    for label, each in runs.items():
        costs[label] = {
            "put_mbps": [rate for batch in each for rate in batch["put_mbps"]],
            **{key: statistics.median(batch[key] for batch in each)
               for key in ("cpu_s_per_gib_until_2xx", "cpu_s_per_gib_total", "quiet_after_s")},
            "runs": each,
        }
    return costs


def rotated(servers, k):
    """The servers, the k-th first. Whichever goes second in a round downloads slower (either
    server, by up to a quarter), so the first changes with every round: with one order per
    reader, one server always had the slow place for that reader."""
    k %= len(servers)
    return servers[k:] + servers[:k]


def measure(servers, args):
    """Every measure on every server, the servers taking turns; a report per server."""
    for server in servers:
        server.request("MKCOL", FOLDER)
        if server.request("HEAD", BIG) != 200:
            server.put(BIG, args.size)
        read_python(server, BIG)  # in the page cache, as a file read before would be
    reports = {s.label: {"label": s.label, "size": args.size, "batch": args.batch, "get": {}}
               for s in servers}
    for label, cost in upload_costs(servers, args).items():
        reports[label]["uploads"] = cost

    for turn, reader in enumerate(args.readers):
        after = {s.label: [] for s in servers}
        for run in range(args.after_runs):
            for server in rotated(servers, turn + run):
                # Each server's download right after its own batch: the batch leaves its
                # background work (if any) running. The next batch's sync flushes this
                # one's writes before that server is timed.
                upload_batch(server, args, reader)
                after[server.label].append(timed_read(reader, server, args))
        for server in servers:
            wait_until_quiet(server.pid)
        os.sync()  # idle means no server's writes still going to disk
        idle = {s.label: [] for s in servers}
        for run in range(args.runs):
            for server in rotated(servers, turn + run):
                idle[server.label].append(timed_read(reader, server, args))
        for server in servers:
            got = {"idle_mbps": idle[server.label], "after_uploads_mbps": after[server.label]}
            reports[server.label]["get"][reader] = got
            rates = {k: ", ".join(f"{r:.0f}" for r in v) for k, v in got.items()}
            log(f"{server.label}: {reader} right after uploads: {rates['after_uploads_mbps']}; "
                f"idle: {rates['idle_mbps']} MB/s")
            for i in range(args.batch):
                server.request("DELETE", f"{FOLDER}batch-{reader}-{i}.bin")
    return reports


# ---- the table ----------------------------------------------------------------------------


def table(paths):
    reports = []
    for path in paths:
        with open(path) as f:
            reports.append(json.load(f))
    base = reports[0]
    labels = [r["label"] for r in reports]
    out = ["| measure | " + " | ".join(labels) + " | " +
           " | ".join(f"{r} ÷ {labels[0]}" for r in labels[1:]) + " |",
           "|---|" + "---:|" * (2 * len(labels) - 1)]

    def row(name, values, higher):
        cells = ["—" if v is None else f"{v:.0f}" if v >= 100 else f"{v:.2f}" for v in values]
        ratios = []
        for v in values[1:]:
            b = values[0]
            if v is None or b is None or not v or not b:
                ratios.append("—")
            else:
                ratios.append(f"{(v / b if higher else b / v):.2f}")
        out.append(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")

    def value(report, *keys, reduce=None):
        if "skipped" in report:
            return None
        v = report
        for k in keys:
            if k not in v:
                return None
            v = v[k]
        if reduce:
            return reduce(v) if v else None
        return v

    def paired(reader):
        """Each round's ratio to the first server (both measured in that round), median."""
        rounds = [value(r, "get", reader, "after_uploads_mbps") or [] for r in reports]
        cells = ["—"] * len(reports)
        ratios = []
        for mine in rounds[1:]:
            each = [m / b for m, b in zip(mine, rounds[0]) if m and b]
            ratios.append(f"{statistics.median(each):.2f}" if each else "—")
        out.append(f"| GET {reader}, right after uploads, paired (median of each round's "
                   "ratio) | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")

    for reader in READERS:
        if not any(value(r, "get", reader) for r in reports):
            continue
        idle, after = (max((len(value(r, "get", reader, key) or []) for r in reports), default=0)
                       for key in ("idle_mbps", "after_uploads_mbps"))
        row(f"GET {reader}, idle (MB/s, median of {idle})",
            [value(r, "get", reader, "idle_mbps", reduce=statistics.median) for r in reports], True)
        row(f"GET {reader}, right after uploads (MB/s, median of {after})",
            [value(r, "get", reader, "after_uploads_mbps", reduce=statistics.median)
             for r in reports], True)
        paired(reader)
    row("PUT with Content-Length (MB/s, median)",
        [value(r, "uploads", "put_mbps", reduce=statistics.median) for r in reports], True)
    cost_runs = max((len(value(r, "uploads", "runs") or [1]) for r in reports), default=1)
    row(f"server CPU per uploaded GiB until the 2xx (s, median of {cost_runs})",
        [value(r, "uploads", "cpu_s_per_gib_until_2xx") for r in reports], False)
    row(f"server CPU per uploaded GiB, background included (s, median of {cost_runs})",
        [value(r, "uploads", "cpu_s_per_gib_total") for r in reports], False)
    measured = next((r for r in reports if "skipped" not in r), None)
    if measured:
        batch = measured["batch"]
        print(f"The file: {measured['size']} bytes; each batch: {batch} "
              f"upload{'s' if batch != 1 else ''} of as many.\n")
    print("\n".join(out))
    print("\nRatios: above 1 means the server in that column did better than "
          f"{labels[0]}. " + " ".join(f"{r['label']}: not measured ({r['skipped']})."
                                      for r in reports if "skipped" in r))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", nargs="+", metavar="REPORT")
    parser.add_argument("--target", nargs=3, action="append", metavar=("LABEL", "BASE", "PID"),
                        help="a running server: its label, base URL and pid (repeatable)")
    parser.add_argument("--user")
    parser.add_argument("--bench", help="the davgate-bench binary")
    parser.add_argument("--out-dir", help="where LABEL-readers.json goes, for each target")
    parser.add_argument("--size", type=int, default=1 << 30)
    parser.add_argument("--batch", type=int, default=2, help="uploads per batch")
    # Even, so that each server goes first in as many rounds as it goes second. Eight: one
    # download of 1 GiB on this kind of machine ranges over 2x from one to the next, either
    # server alike, so the median of four let one outlier decide a row's verdict.
    parser.add_argument("--runs", type=int, default=8, help="idle downloads per reader")
    parser.add_argument("--after-runs", type=int, default=8,
                        help="batches of uploads, each followed by a download, per reader")
    parser.add_argument("--cost-runs", type=int, default=3,
                        help="batches of uploads whose CPU is measured, per server")
    parser.add_argument("--readers", default=",".join(READERS),
                        help=f"comma-separated, of {', '.join(READERS)} (default: all)")
    args = parser.parse_args()
    args.readers = args.readers.split(",")
    unknown = [r for r in args.readers if r not in READERS]
    if unknown:
        parser.error(f"--readers: unknown {', '.join(unknown)}; choose from {', '.join(READERS)}")
    if args.table:
        table(args.table)
        return
    if not (args.target and args.user and args.bench and args.out_dir):
        parser.error("--target, --user, --bench and --out-dir are needed (or --table)")
    password = os.environ.get("DAVGATE_BENCH_PASSWORD")
    if not password:
        raise SystemExit("readers.py: set DAVGATE_BENCH_PASSWORD")
    servers = []
    for label, base, pid in args.target:
        if not pid.isdigit():
            parser.error(f"--target {label}: the pid must be a number, not {pid!r}")
        servers.append(Server(label, base, int(pid), args.user, password))
    for label, report in measure(servers, args).items():
        with open(os.path.join(args.out_dir, f"{label}-readers.json"), "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
