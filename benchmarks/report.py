#!/usr/bin/python3
"""benchmarks/report.py — medians, ratios, table and plots from the benchmark CSVs.

  report.py [--plots DIR] [--readme FILE] [--command CMD] CSV...

Every CSV has the header suite,workload,system,medium,threads,records,ops,run,seconds,ops_per_sec.
Rows that differ only in `run` are repetitions: the report takes their median. Within one suite,
workload, medium, thread count and record count, every system other than ours (`snapshot`, and in
ycsb-java also `snapmap`, the sorted map) is a peer, and a ratio is one of ours' median throughput
over the peer's (> 1: we are faster); a `snapmap : system` column is there when some row is snapmap's.

Prints a Markdown table; with --readme, replaces the text between the markers
<!-- bench:begin --> and <!-- bench:end --> in that file by the table (plus the machine and the
command); with --plots, writes one PNG per suite and medium (throughput per workload, one bar per
system). Plots need python3-matplotlib (scripts/bench installs it).
"""
import argparse
import csv
import os
import platform
import statistics
import sys
import time
from collections import defaultdict

US = "snapshot"
OURS = (US, "snapmap")  # our systems: each gets a ratio column when it has rows
FIELDS = ["suite", "workload", "system", "medium", "threads", "records", "ops", "run", "seconds",
          "ops_per_sec"]


def load(paths):
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != FIELDS:
                sys.exit(f"{path}: header is {reader.fieldnames}, expected {FIELDS}")
            for line, row in enumerate(reader, start=2):
                try:
                    row["threads"] = int(row["threads"])
                    row["records"] = int(row["records"])
                    row["ops_per_sec"] = float(row["ops_per_sec"])
                except ValueError as e:
                    sys.exit(f"{path}:{line}: {e}")
                rows.append(row)
    return rows


def medians(rows):
    """(suite, workload, medium, threads, records) -> {system: (median ops/s, runs)}"""
    runs = defaultdict(list)
    for r in rows:
        key = (r["suite"], r["workload"], r["medium"], r["threads"], r["records"])
        runs[key, r["system"]].append(r["ops_per_sec"])
    groups = defaultdict(dict)
    for (key, system), values in runs.items():
        groups[key][system] = (statistics.median(values), len(values))
    return groups


def fmt_ops(v):
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.1f} k" if v >= 1e3 else f"{v:.0f}"


def order(system):
    """Ours first (in OURS' order), then the peers by name."""
    return (OURS.index(system) if system in OURS else len(OURS), system)


def table(groups):
    present = [u for u in OURS if any(u in systems for systems in groups.values())] or [US]
    out = ["| suite | workload | medium | threads | records | system | median ops/s | runs | "
           + " | ".join(f"{u} : system" for u in present) + " |",
           "|---|---|---|---|---|---|---|---|" + "---|" * len(present)]
    for key in sorted(groups, key=lambda k: (k[0], k[2], k[1], k[3], k[4])):
        suite, workload, medium, threads, records = key
        systems = groups[key]
        for system in sorted(systems, key=order):
            med, n = systems[system]
            ratios = ["" if system in OURS or u not in systems else f"{systems[u][0] / med:.2f}x"
                      for u in present]
            out.append(f"| {suite} | {workload} | {medium} | {threads} | {records} | {system} | "
                       f"{fmt_ops(med)} | {n} | " + " | ".join(ratios) + " |")
    return "\n".join(out)


def plots(groups, outdir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_plot = defaultdict(dict)  # (suite, medium) -> {(workload, threads, records): systems}
    for (suite, workload, medium, threads, records), systems in groups.items():
        label = workload if threads == 1 else f"{workload} x{threads}"
        by_plot[suite, medium][label, records] = systems
    os.makedirs(outdir, exist_ok=True)
    written = []
    for (suite, medium), cases in sorted(by_plot.items()):
        labels = sorted(cases)
        systems = sorted({s for c in cases.values() for s in c}, key=order)
        width = 0.8 / len(systems)
        fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(labels)), 4))
        for i, system in enumerate(systems):
            xs = [j + i * width for j in range(len(labels))]
            ys = [cases[c][system][0] if system in cases[c] else 0 for c in labels]
            ax.bar(xs, ys, width, label=system)
        ax.set_xticks([j + width * (len(systems) - 1) / 2 for j in range(len(labels))])
        ax.set_xticklabels([f"{w}\n{r:,} rec" for w, r in labels], fontsize=8)
        ax.set_ylabel("operations per second (median)")
        ax.set_yscale("log")
        ax.set_title(f"{suite} on {medium}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(outdir, f"{suite}-{medium}.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB RAM, Linux {platform.release()}"


def update_readme(path, text):
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    with open(path) as f:
        doc = f.read()
    if begin not in doc or end not in doc:
        sys.exit(f"{path}: no {begin} ... {end} markers")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(f"{head}{begin}\n{text}\n{end}{tail}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", nargs="+")
    ap.add_argument("--plots", metavar="DIR")
    ap.add_argument("--readme", metavar="FILE")
    ap.add_argument("--command", default="scripts/bench")
    args = ap.parse_args()
    groups = medians(load(args.csv))
    if not groups:
        sys.exit("no rows in " + ", ".join(args.csv))
    text = table(groups)
    print(text)
    if args.plots:
        for p in plots(groups, args.plots):
            print(f"plot: {p}", file=sys.stderr)
    if args.readme:
        stamp = lambda p: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(p)))
        when = ", ".join(f"{os.path.basename(p)} {stamp(p)}" for p in args.csv)
        update_readme(args.readme, f"Machine: {machine()}. Command: `{args.command}`. "
                                   f"Measured: {when}.\n\n{text}")


if __name__ == "__main__":
    main()
