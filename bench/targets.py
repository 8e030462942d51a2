#!/usr/bin/env python3
"""Issue 17's targets, read off bench/run.sh invocations' JSON reports.

usage: bench/targets.py DIR [DIR...]

Each DIR holds the reports one invocation wrote with BENCH_JSON_DIR (nginx.json,
davgate.json, davgate-durable.json, davgate-caldav.json, nginx-readers.json,
davgate-readers.json). Prints a markdown table: each target, what was measured, and
whether it was met; a report that is missing or was not run gives "not measured". With
several DIRs (issue 17 asks for the median of three invocations), each gets a column and
the verdict is on their median.
"""

import json
import os
import statistics
import sys

READERS = ("davgate-bench", "curl", "python")


def load(directory, name):
    try:
        with open(os.path.join(directory, name)) as f:
            report = json.load(f)
    except (OSError, ValueError):
        return None
    return None if "skipped" in report else report


def measure(report, workload, metric=None, prefix=None):
    """The median a driver report gives for WORKLOAD's METRIC (or first metric starting with
    PREFIX)."""
    if report is None:
        return None
    for w in report.get("workloads", []):
        if w["name"] != workload:
            continue
        for m in w["summary"]:
            if m["metric"] == metric or (prefix and m["metric"].startswith(prefix)):
                return m["value"]
    return None


def reader_value(report, *keys):
    if report is None:
        return None
    v = report
    for k in keys:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return statistics.median(v) if isinstance(v, list) else v


def targets(d):
    """Every target of the invocation in DIR: (name, goal, value or None, met, format)."""
    nginx, davgate = load(d, "nginx.json"), load(d, "davgate.json")
    durable, caldav = load(d, "davgate-durable.json"), load(d, "davgate-caldav.json")
    nginx_r, davgate_r = load(d, "nginx-readers.json"), load(d, "davgate-readers.json")
    rows = []

    def target(name, goal, value, met, fmt="{:.2f}"):
        rows.append((name, goal, value, met, fmt))

    def ratio(a, b):
        return None if a is None or b is None or not b else a / b

    for workload, label in (("small_files", "8 clients"), ("small_files_32", "32 clients")):
        rate = "files per second"
        target(f"small files, {label}: davgate ÷ nginx files/s", "≥ 1.0",
               ratio(measure(davgate, workload, rate), measure(nginx, workload, rate)),
               lambda r: r >= 1.0)
    answered = measure(durable, "durability_check", "files answered 201")
    lost = measure(durable, "durability_check", "files lost after kill -9")
    # Nothing answered 201 means the check did not run, not that nothing was lost.
    target("files answered 201 and lost after kill -9", "0 lost",
           lost if answered else None, lambda v: v == 0, fmt="{:.0f}")
    for reader in READERS:
        for key, when in (("idle_mbps", "idle"), ("after_uploads_mbps", "after uploads")):
            target(f"GET {reader}, {when}: davgate ÷ nginx MB/s", "≥ 1.0",
                   ratio(reader_value(davgate_r, "get", reader, key),
                         reader_value(nginx_r, "get", reader, key)),
                   lambda r: r >= 1.0)
    cpu = ("uploads", "cpu_s_per_gib_total")
    target("server CPU per uploaded GiB, background included: davgate ÷ nginx", "≤ 2.0",
           ratio(reader_value(davgate_r, *cpu), reader_value(nginx_r, *cpu)),
           lambda r: r <= 2.0)
    target("seconds until RSS < 64 MiB after one big PROPFIND (50,000 entries by default)", "≤ 60",
           measure(davgate, "rss_after_propfind", prefix="seconds until RSS"),
           lambda s: s <= 60, fmt="{:.0f}")
    target("initial sync: time of the largest ÷ the next (20,000 ÷ 5,000 by default)", "≤ 4.5",
           measure(caldav, "caldav_initial_sync", prefix="time "), lambda r: r <= 4.5)
    target("PROPFIND 10k: davgate's time ÷ nginx's", "≤ 1.0",
           ratio(measure(davgate, "propfind_10k", "latency"),
                 measure(nginx, "propfind_10k", "latency")),
           lambda r: r <= 1.0)

    return rows


def main():
    dirs = sys.argv[1:]
    if not dirs:
        sys.exit(__doc__.strip())
    runs = [targets(d) for d in dirs]
    columns = ["measured"] if len(dirs) == 1 else [os.path.basename(d.rstrip("/")) for d in dirs]
    if len(dirs) > 1:
        columns.append("median")
    print("| target | " + " | ".join(columns) + " | goal | |")
    print("|---|" + "---:|" * len(columns) + "---|---|")
    for i, (name, goal, _, met, fmt) in enumerate(runs[0]):
        values = [run[i][2] for run in runs]
        measured = [v for v in values if v is not None]
        cells = ["not measured" if v is None else fmt.format(v) for v in values]
        judged = statistics.median(measured) if measured else None
        if len(dirs) > 1:
            cells.append("not measured" if judged is None else fmt.format(judged))
        if judged is None:
            verdict = "—"
        elif len(measured) < len(values):
            # A median of the invocations that measured it is shown, but the target asks
            # for all of them: a set still running or a check that did not run gets none.
            verdict = f"no verdict: measured in {len(measured)} of {len(values)}"
        else:
            verdict = "met" if met(judged) else "MISSED"
        print(f"| {name} | " + " | ".join(cells) + f" | {goal} | {verdict} |")


if __name__ == "__main__":
    main()
