#!/usr/bin/env python3
"""Issue 16's benchmark targets, read off bench/scaleout.sh's JSON reports.

usage: bench/scaleout.py DIR [DIR ...]

Each DIR holds one scaleout.sh invocation's reports (its temp dir, or a copy made with
BENCH_JSON_DIR): sqlite-local.json, sqlite-s3-put.json, sqlite-s3-get.json,
postgres-local-propfind.json, postgres-local-get.json, lb-two-put.json, node1-direct.json,
lb-one.json, lb-two.json and vmhwm.txt. Prints a markdown table: each comparison's two
sides and ratio, the target and whether it was met. With several DIRs every cell is the
median over the invocations, each invocation's value in brackets, and a target is judged on
the median of the ratios. A report that is missing or was not run gives "not measured".
"""

import json
import math
import os
import statistics
import sys


def load(directory, name):
    try:
        with open(os.path.join(directory, name + ".json")) as f:
            report = json.load(f)
    except (OSError, ValueError):
        return None
    return None if "skipped" in report else report


def measure(report, workload, metric):
    """The median the driver report gives for WORKLOAD's METRIC, or None."""
    if report is None:
        return None
    for w in report.get("workloads", []):
        if w["name"] == workload:
            for m in w["summary"]:
                if m["metric"] == metric:
                    value = m["value"]
                    return None if isinstance(value, float) and math.isnan(value) else value
    return None


def vmhwm_mib(directory):
    """Label -> VmHWM in MiB, from vmhwm.txt (lines `LABEL KIB`)."""
    out = {}
    try:
        with open(os.path.join(directory, "vmhwm.txt")) as f:
            for line in f:
                label, _, kib = line.strip().partition(" ")
                if kib.isdigit():
                    out[label] = int(kib) / 1024
    except OSError:
        pass
    return out


class Row:
    """One comparison: baseline and candidate per invocation, the ratio judged against the
    target (candidate/baseline when `higher`, else baseline-relative cost candidate/baseline
    judged as at most `bound`)."""

    def __init__(self, name, unit, base_label, cand_label, bound, higher):
        self.name, self.unit = name, unit
        self.base_label, self.cand_label = base_label, cand_label
        self.bound, self.higher = bound, higher
        self.base, self.cand = [], []

    def add(self, base, cand):
        self.base.append(base)
        self.cand.append(cand)

    def ratios(self):
        return [
            c / b if b and c is not None else None for b, c in zip(self.base, self.cand)
        ]


def fmt(value):
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cell(values):
    """Median and, for several invocations, each one in brackets."""
    known = [v for v in values if v is not None]
    if not known:
        return "not measured"
    med = fmt(statistics.median(known))
    if len(values) == 1:
        return med
    return f"{med} ({' / '.join(fmt(v) for v in values)})"


def median(values):
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def main(dirs):
    rows = [
        Row("1 GiB PUT, streamed", "MB/s", "local disk", "S3", 0.7, True),
        Row("1 GiB GET", "MB/s", "local disk", "S3", 0.7, True),
        Row("PROPFIND Depth 1 of 10,000 entries", "ms", "SQLite", "PostgreSQL", 2.0, False),
        Row("cached authenticated small GETs", "req/s", "SQLite", "PostgreSQL", 0.9, True),
        Row("cached small GETs behind nginx", "req/s", "one node", "two nodes", 1.0, True),
    ]
    context = [
        Row("balancer's own cost: cached small GETs", "req/s", "node 1 directly",
            "node 1 behind nginx", None, True),
        Row("cached small GETs on PostgreSQL + S3", "p99 ms", "one node behind nginx",
            "two nodes behind nginx", None, False),
        Row("1 GiB PUT through nginx to two nodes on S3", "MB/s", "SQLite + local disk",
            "PostgreSQL + S3, balanced", None, True),
    ]
    rss = {"sqlite-s3": [], "node1": [], "node2": []}
    sampled = []
    for d in dirs:
        local, s3_put, s3_get = load(d, "sqlite-local"), load(d, "sqlite-s3-put"), load(d, "sqlite-s3-get")
        pg_propfind, pg_get = load(d, "postgres-local-propfind"), load(d, "postgres-local-get")
        if pg_propfind is None and pg_get is None:
            # Before the GETs waited for autovacuum, one report held both.
            pg_propfind = pg_get = load(d, "postgres-local")
        direct, lb_one, lb_two = load(d, "node1-direct"), load(d, "lb-one"), load(d, "lb-two")
        lb_put = load(d, "lb-two-put")
        rows[0].add(measure(local, "put_stream_1g", "throughput"), measure(s3_put, "put_stream_1g", "throughput"))
        rows[1].add(measure(local, "get_1g", "throughput"), measure(s3_get, "get_1g", "throughput"))
        rows[2].add(measure(local, "propfind_10k", "latency"), measure(pg_propfind, "propfind_10k", "latency"))
        rows[3].add(measure(local, "auth_cached", "requests per second"),
                    measure(pg_get, "auth_cached", "requests per second"))
        rows[4].add(measure(lb_one, "auth_cached", "requests per second"),
                    measure(lb_two, "auth_cached", "requests per second"))
        context[0].add(measure(direct, "auth_cached", "requests per second"),
                       measure(lb_one, "auth_cached", "requests per second"))
        context[1].add(measure(lb_one, "auth_cached", "p99 latency"),
                       measure(lb_two, "auth_cached", "p99 latency"))
        context[2].add(measure(local, "put_stream_1g", "throughput"),
                       measure(lb_put, "put_stream_1g", "throughput"))
        hwm = vmhwm_mib(d)
        for label in rss:
            rss[label].append(hwm.get(label))
        sampled.append(measure(s3_put, "put_stream_1g", "peak server RSS"))

    print("| measure | baseline | candidate | candidate ÷ baseline | target | result |")
    print("|---|---:|---:|---:|---|---|")
    for row in rows:
        ratio = median(row.ratios())
        if ratio is None:
            verdict = "not measured"
        elif row.higher:
            verdict = "met" if ratio >= row.bound else f"**missed** by {(1 - ratio / row.bound) * 100:.0f}%"
        else:
            verdict = "met" if ratio <= row.bound else f"**missed** by {(ratio / row.bound - 1) * 100:.0f}%"
        target = f"≥ {row.bound}×" if row.higher else f"≤ {row.bound}×"
        print(f"| {row.name} ({row.unit}): {row.base_label} → {row.cand_label} | {cell(row.base)} "
              f"| {cell(row.cand)} | {cell(row.ratios())} | {target} | {verdict} |")
    for label, name in [("sqlite-s3", "SQLite + S3 node, after its uploads"),
                        ("node1", "cluster node 1, after its upload"),
                        ("node2", "cluster node 2, after its upload")]:
        peak = median(rss[label])
        verdict = "not measured" if peak is None else ("met" if peak < 96 else "**missed**")
        print(f"| VmHWM during 1 GiB S3 uploads (MiB): {name} | — | {cell(rss[label])} | — "
              f"| < 96 MiB | {verdict} |")
    for row in context:
        print(f"| {row.name} ({row.unit}): {row.base_label} → {row.cand_label} | {cell(row.base)} "
              f"| {cell(row.cand)} | {cell(row.ratios())} | context | |")
    print(f"| peak RSS sampled every 20 ms during each S3 upload (MiB) | — | {cell(sampled)} | — "
          "| context | |")
    print()
    if len(dirs) > 1:
        print(f"Cells: median over {len(dirs)} invocations (each invocation in brackets); each "
              "verdict is on the median ratio.")
    else:
        print("One invocation: issue 16's verdicts want the median of several (bench/scaleout.py "
              "DIR DIR DIR).")
    print("Within an invocation each value is the driver's median over its runs (by default 3 "
          "uploads, 9 downloads, 7 PROPFINDs; the small GETs one 10 s loop on 16 connections).")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1:])
