#!/usr/bin/env python3
"""The table of bench/regress.sh: davgate builds side by side on the workloads a change
elsewhere must not slow down, each build's median over its rounds and its ratio to the
first build.

usage: regress.py --work DIR --rounds N BASE_LABEL LABEL...
       (reads DIR/LABEL-ROUND/*.json, the driver's reports bench/regress.sh collected)

A ratio is above 1 when the build did better than the base: higher where higher is
better, lower where lower is better (latency, memory). The verdict column calls a
difference noise while the two builds' ranges over their rounds overlap: one round on
this kind of machine moves a figure by more than most changes do.
"""

import argparse
import json
import os
import statistics

# davgate's reports, each from its own instance in bench/run.sh or bench/regress.sh.
REPORTS = ("davgate.json", "davgate-nocache.json", "davgate-xff.json", "davgate-caldav4.json")
# Rows that count, as (workload, metric); the others (answer sizes, shares of answers) are
# the same for any build that answers the same and only lengthen the table.
ROWS = (
    ("put_stream_1g", "throughput"),
    ("put_stream_1g", "peak server RSS"),
    ("put_length_1g", "throughput"),
    ("put_length_1g", "peak server RSS"),
    ("auth_cached", "requests per second"),
    ("auth_cached", "p99 latency"),
    ("auth_cold", "requests per second"),
    ("auth_flood", "p99 latency under flood"),
    ("auth_flood", "server CPU during flood"),
    ("caldav_query", "latency"),
    ("caldav_multiget", "latency"),
    ("caldav_sync", "latency"),
    ("caldav_propfind", "latency"),
)


def figures(work, label, rounds):
    """{(workload, metric): (unit, better, [value per round])} for one build."""
    out = {}
    for r in range(1, rounds + 1):
        for name in REPORTS:
            path = os.path.join(work, f"{label}-{r}", name)
            try:
                with open(path) as f:
                    report = json.load(f)
            except (OSError, ValueError):
                continue
            for workload in report.get("workloads", []):
                for m in workload.get("summary", []):
                    key = (workload["name"], m["metric"])
                    unit, better, values = out.setdefault(key, (m["unit"], m.get("better"), []))
                    values.append(m["value"])
    return out


def ratio(base, value, better):
    """Above 1 when `value` did better than `base`; None for a figure with no direction."""
    if not base or not value or better not in ("higher", "lower"):
        return None
    return value / base if better == "higher" else base / value


def verdict(base, values, better):
    """"better" or "worse" when the two ranges do not overlap, else "noise"; nothing from
    one round, whose single values are no range."""
    if len(base) < 2 or len(values) < 2:
        return ""
    if max(values) < min(base):
        return "better" if better == "lower" else "worse"
    if min(values) > max(base):
        return "better" if better == "higher" else "worse"
    return "noise"


def number(v):
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.3g}"


def cell(values):
    each = ", ".join(number(v) for v in values)
    return f"{number(statistics.median(values))} ({each})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("labels", nargs="+", metavar="LABEL")
    args = parser.parse_args()
    if len(args.labels) < 2:
        parser.error("name the base build and at least one build to compare with it")
    base_label, others = args.labels[0], args.labels[1:]
    builds = {label: figures(args.work, label, args.rounds) for label in args.labels}

    head = f"| workload | metric | {base_label} (base) |"
    rule = "|---|---|---:|"
    for label in others:
        head += f" {label} | ÷ base | |"
        rule += "---:|---:|---|"
    print(head)
    print(rule)
    for key in ROWS:
        base = builds[base_label].get(key)
        if base is None:
            print(f"| {key[0]} | {key[1]} | not measured |" + " |" * (3 * len(others)))
            continue
        unit, better, base_values = base
        direction = f", {better} is better" if better in ("higher", "lower") else ""
        line = f"| {key[0]} | {key[1]} ({unit}{direction}) | {cell(base_values)} |"
        for label in others:
            got = builds[label].get(key)
            if got is None:
                line += " not measured | | |"
                continue
            values = got[2]
            r = ratio(statistics.median(base_values), statistics.median(values), better)
            line += f" {cell(values)} | {r:.2f} | {verdict(base_values, values, better)} |" \
                if r is not None else f" {cell(values)} | — | |"
        print(line)
    print()
    print("Medians over the rounds, each round's value in brackets. ÷ base is above 1 when the")
    print("build did better. The last column calls a difference noise while the ranges overlap")
    print("(given two rounds or more).")


if __name__ == "__main__":
    main()
