#!/usr/bin/env python3
"""The verdict of a soak (bench/soak.sh) and its chart.

Usage: soak_report.py OUT SECONDS RATE MAX READS ERRORS CANARY_AT

Reads OUT/samples.csv (a row every 10 s: reads, errors, p50/p99 of the
interval, RSS, descriptors and CPU per read summed over the server's
processes, the machine's load average) and
OUT/mix.log (the logins, searches, case changes and canary reads of the
run: SECONDS OPERATION STATUS [DETAIL]); prints the summary and writes
OUT/soak.svg. Exit 1 if a check failed. The first fifth of the samples
is warm-up (caches, the guard's tables, the allocator's arenas filling);
of the rest, the first third is compared with the last:
  memory flat      median RSS of the last third within 10% or 8 MB
                   (whichever is more) of the first third's
  descriptors      the last third's most at most 2 above the first's
                   (a sample can catch a login's connection open), not
                   counting the audit log's tree files: one per level
                   of the log's Merkle tree, at most 64, which keyd opens
                   as the log reaches them, one more each time it
                   doubles (their count is shown)
  p99 stable       median p99 of the last third within 2x the first's
  same processes   no process of the server replaced during the run (a
                   restarted worker would hide its own growth)
  rate held        at least 90% of the reads the schedule asked for
  no read errors   every scheduled read answered 200
  mixed work       every login 201, search and read 200, case change
                   approved; the canary returned, its reader's session
                   ended and the user locked, the reads going on
The server's CPU time per read and the machine's load are shown, not
judged: on a shared machine they tell a stall of the machine (load up,
CPU per read unchanged) from one of the server. Only the standard
library: no plotting package is assumed.
"""
import csv
import math
import statistics
import sys
from xml.sax.saxutils import escape


def load(out):
    rows = []
    with open(f"{out}/samples.csv") as f:
        for r in csv.DictReader(f):
            rows.append({
                "t": float(r["time_s"]), "reads": int(r["reads"]),
                "errors": int(r["errors"]), "p50": float(r["p50_ms"]),
                "p99": float(r["p99_ms"]), "rss": int(r["rss_kb"]) / 1024,
                "fds": int(r["fds"]), "tree": int(r["log_tree_fds"]),
                "cpu": float(r["cpu_us_per_read"]),
                "load": float(r["load1"]), "procs": r["processes"]})
    mix = []
    with open(f"{out}/mix.log") as f:
        for line in f:
            p = line.split()
            if len(p) >= 3:
                mix.append((int(p[0]), p[1], p[2], p[3] if len(p) > 3
                            else ""))
    return rows, mix


def check_mix(mix, canary_at, rows):
    """(ok, lines): the mixed work's outcomes against what it expects."""
    want = {"login": "201", "search": "200", "desk_read": "200",
            "case_change": "200", "canary_login": "201",
            "canary_case_read": "200", "canary_read": "200",
            "canary_after": "401", "canary_relogin": "403",
            "canary_locks": "200"}
    ok, lines, counts = True, [], {}
    for t, op, status, detail in mix:
        c = counts.setdefault(op, [0, 0])
        c[0] += 1
        if status != want.get(op):
            c[1] += 1
            ok = False
            lines.append(f"  FAIL: {op} at {t} s: HTTP {status}, want "
                         f"{want.get(op)} ({detail})")
    relogin = [d for _, op, _, d in mix if op == "canary_relogin"]
    locks = [d for _, op, _, d in mix if op == "canary_locks"]
    if not relogin or "locked" not in relogin[0]:
        ok = False
        lines.append(f"  FAIL: the canary's reader is not locked "
                     f"(login after the canary: {relogin})")
    if not locks or locks[0] != "canr":
        ok = False
        lines.append("  FAIL: GET /v1/locks does not list the canary's "
                     "reader")
    for op in ("login", "search", "desk_read", "case_change",
               "canary_read"):
        if counts.get(op, [0])[0] == 0:
            ok = False
            lines.append(f"  FAIL: no {op} in the run")
    after = [r for r in rows if r["t"] > canary_at]
    if after and (sum(r["errors"] for r in after) or
                  min(r["reads"] for r in after) == 0):
        ok = False
        lines.append("  FAIL: the reader's reads stopped or failed after "
                     "the canary")
    desk_after = [s for t, op, s, _ in mix if op == "login" and t > canary_at]
    summary = ", ".join(f"{op} {c[0] - c[1]}/{c[0]}"
                        for op, c in counts.items())
    lines.insert(0, f"{summary} as expected; after the canary "
                 f"({canary_at} s) the reader read on in "
                 f"{len(after)} samples, desks logged in "
                 f"{desk_after.count('201')}/{len(desk_after)} times")
    return ok, lines


def nice_step(hi, n=4):
    """A round step (1, 2 or 5 times a power of ten) for about N ticks."""
    raw = hi / n if hi > 0 else 1
    p = 10 ** math.floor(math.log10(raw))
    return next(m * p for m in (1, 2, 5, 10) if m * p >= raw)


def svg(rows, path, title, canary_at, warm_end, thirds):
    """Panels over time: RSS (MB: the sum, and each process), open
    descriptors, p99 and p50 (ms, a log scale), reads per second, the
    server's CPU per read (us) and the machine's load average."""
    W, L, R, T, PH, GAP = 900, 70, 150, 44, 120, 36
    NP = 6
    H = T + NP * (PH + GAP) + 10
    t_max = max(r["t"] for r in rows)
    x = lambda t: L + (W - L - R) * t / t_max
    names = [p.split(":")[0] for p in rows[-1]["procs"].split()]
    for r in rows:
        r["reads_s"] = r["reads"] / 10
        r["fds_other"] = r["fds"] - r["tree"]
        for p in r["procs"].split():
            name, _, rss, _ = p.split(":")
            r["rss " + name] = int(rss) / 1024
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" '
           f'height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" '
           f'font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{L}" y="20" font-size="14">{escape(title)}</text>']
    colours = ["#8c564b", "#e377c2", "#ff7f0e"]
    panels = [("resident memory, MB", False,
               [("rss", "all processes", "#1f77b4", 2)] +
               [("rss " + n, n, colours[i % 3], 1) for i, n in
                enumerate(names)]),
              ("open descriptors", False,
               [("fds", "all processes", "#2ca02c", 2),
                ("fds_other", "less log tree", "#98df8a", 1.5)]),
              ("latency of the interval's reads, ms (log scale)", True,
               [("p99", "p99", "#d62728", 2), ("p50", "p50", "#ff9896", 1.5)]),
              ("reads per second", False,
               [("reads_s", "reads/s", "#555555", 1.5)]),
              ("the server's CPU time per read, us (all its processes)",
               False, [("cpu", "us/read", "#9467bd", 1.5)]),
              ("the machine's load average, 1 minute (2 cores, shared)",
               False, [("load", "load", "#7f7f7f", 1.5)])]
    assert len(panels) == NP
    for i, (name, logscale, lines) in enumerate(panels):
        top = T + i * (PH + GAP)
        vmax = max(r[k] for r in rows for k, *_ in lines)
        if logscale:
            vmin = max(min(r[k] for r in rows for k, *_ in lines), 1e-3)
            lo = 10 ** math.floor(math.log10(vmin))
            hi = 10 ** math.ceil(math.log10(vmax * 1.01))
            y = lambda v: top + PH - PH * (math.log10(max(v, lo)) -
                                           math.log10(lo)) / \
                (math.log10(hi) - math.log10(lo))
            ticks = [lo * 10 ** k for k in
                     range(round(math.log10(hi / lo)) + 1)]
        else:
            step = nice_step(vmax * 1.1)
            hi = step * math.ceil(vmax * 1.1 / step) or step
            y = lambda v: top + PH - PH * v / hi
            ticks = [step * k for k in range(round(hi / step) + 1)]
        out.append(f'<rect x="{x(0):.1f}" y="{top}" '
                   f'width="{x(warm_end) - x(0):.1f}" height="{PH}" '
                   'fill="#eeeeee"/>')
        for a, b in thirds:
            out.append(f'<rect x="{x(a):.1f}" y="{top}" '
                       f'width="{x(b) - x(a):.1f}" height="{PH}" '
                       'fill="#eef3fb"/>')
        for v in ticks:
            out.append(f'<line x1="{L}" x2="{W - R}" y1="{y(v):.1f}" '
                       f'y2="{y(v):.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{L - 6}" y="{y(v) + 4:.1f}" '
                       f'text-anchor="end">{v:,.{0 if v >= 1 or v == 0 else 3}f}'
                       '</text>'.replace(".000<", "<"))
        out.append(f'<rect x="{L}" y="{top}" width="{W - L - R}" '
                   f'height="{PH}" fill="none" stroke="#888"/>')
        out.append(f'<text x="{L}" y="{top - 6}" font-weight="bold">'
                   f'{escape(name)}</text>')
        for j, (k, label, colour, width) in enumerate(lines):
            pts = " ".join(f"{x(r['t']):.1f},{y(r[k]):.1f}" for r in rows)
            out.append(f'<polyline points="{pts}" fill="none" '
                       f'stroke="{colour}" stroke-width="{width}"/>')
            out.append(f'<text x="{W - R + 8}" y="{top + 12 + 14 * j}" '
                       f'fill="{colour}">{escape(label)} '
                       f'{rows[-1][k]:,.{0 if k.startswith("fds") else 1}f}'
                       '</text>')
        if canary_at <= t_max:
            out.append(f'<line x1="{x(canary_at):.1f}" '
                       f'x2="{x(canary_at):.1f}" y1="{top}" '
                       f'y2="{top + PH}" stroke="#9467bd" '
                       'stroke-dasharray="4 3"/>')
            if i == 0:
                out.append(f'<text x="{x(canary_at) + 4:.1f}" '
                           f'y="{top + 12}" fill="#9467bd">canary read '
                           '(its reader locked)</text>')
    base = T + NP * PH + (NP - 1) * GAP
    tstep = nice_step(t_max, 10)
    t = 0
    while t <= t_max + 1e-9:
        out.append(f'<text x="{x(t):.1f}" y="{base + 16}" '
                   f'text-anchor="middle">{t:.0f}</text>')
        t += tstep
    out.append(f'<text x="{(W - R + L) / 2:.0f}" y="{base + 32}" '
               'text-anchor="middle">seconds into the soak; a point per '
               '10 s (grey: warm-up; tinted: the thirds compared)</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    out = sys.argv[1]
    seconds, rate, mx = int(sys.argv[2]), float(sys.argv[3]), \
        float(sys.argv[4])
    reads, errors, canary_at = int(sys.argv[5]), int(sys.argv[6]), \
        int(sys.argv[7])
    rows, mix = load(out)
    n = len(rows)
    if n < 6:
        print(f"FAIL: {n} samples; a soak needs at least 6")
        return 1
    warm = max(1, round(n / 5))
    rest = rows[warm:]
    third = max(1, len(rest) // 3)
    first, last = rest[:third], rest[-third:]
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    results = []

    def check(name, good, text):
        results.append(good)
        print(f"{name:<16} {'ok  ' if good else 'FAIL'} {text}")

    rss0, rss1 = med(first, "rss"), med(last, "rss")
    rss_slack = max(0.10 * rss0, 8.0)
    fd0 = max(r["fds"] - r["tree"] for r in first)
    fd1 = max(r["fds"] - r["tree"] for r in last)
    p0, p1 = med(first, "p99"), med(last, "p99")
    asked = rate * seconds
    print(f"soak summary: {n} samples of 10 s, {seconds} s at "
          f"{rate:,.0f} reads/s asked ({100 * rate / mx:.0f}% of the "
          f"{mx:,.0f}/s measured first); warm-up {warm} samples, thirds of "
          f"{third} compared")
    print(f"{'':<21} {'first third':>12} {'last third':>12}   all samples")
    print(f"{'RSS MB (median)':<21} {rss0:>12.1f} {rss1:>12.1f}   "
          f"{min(r['rss'] for r in rows):.1f} .. "
          f"{max(r['rss'] for r in rows):.1f} (first sample "
          f"{rows[0]['rss']:.1f}, last {rows[-1]['rss']:.1f})")
    print(f"{'descriptors (max)':<21} {fd0:>12} {fd1:>12}   "
          f"{min(r['fds'] for r in rows)} .. {max(r['fds'] for r in rows)}"
          f" with the log's tree files ({rows[0]['tree']} at the first "
          f"sample, {rows[-1]['tree']} at the last)")
    print(f"{'p99 ms (median)':<21} {p0:>12.2f} {p1:>12.2f}   "
          f"{min(r['p99'] for r in rows):.2f} .. "
          f"{max(r['p99'] for r in rows):.2f}")
    print(f"{'p50 ms (median)':<21} {med(first, 'p50'):>12.2f} "
          f"{med(last, 'p50'):>12.2f}")
    print(f"{'reads/s (median)':<21} {med(first, 'reads') / 10:>12,.0f} "
          f"{med(last, 'reads') / 10:>12,.0f}   {reads:,} reads in all")
    print(f"{'CPU us/read (median)':<21} {med(first, 'cpu'):>12.1f} "
          f"{med(last, 'cpu'):>12.1f}   {min(r['cpu'] for r in rows):.1f} "
          f".. {max(r['cpu'] for r in rows):.1f} (the server's processes; "
          "not judged)")
    print(f"{'load average (median)':<21} {med(first, 'load'):>12.2f} "
          f"{med(last, 'load'):>12.2f}   {min(r['load'] for r in rows):.2f} "
          f".. {max(r['load'] for r in rows):.2f} (the machine's, "
          "not judged)")
    print(f"processes at the end: {rows[-1]['procs']} "
          "(name:pid:RSS kB:fds)")
    check("memory flat", rss1 <= rss0 + rss_slack,
          f"{rss1 - rss0:+.1f} MB (limit +{rss_slack:.1f})")
    check("descriptors", fd1 <= fd0 + 2, f"{fd1 - fd0:+d} (limit +2)")
    check("p99 stable", p1 <= 2 * p0, f"x{p1 / p0:.2f} (limit x2)")
    pids = {tuple(p.split(":")[1] for p in r["procs"].split())
            for r in rows}
    check("same processes", len(pids) == 1,
          f"the same {len(rows[0]['procs'].split())} throughout"
          if len(pids) == 1 else f"{len(pids)} different sets of pids")
    check("rate held", reads >= 0.9 * asked,
          f"{100 * reads / asked:.1f}% of the {asked:,.0f} reads scheduled")
    check("no read errors", errors == 0, f"{errors} errors")
    mix_ok, lines = check_mix(mix, canary_at, rows)
    check("mixed work", mix_ok, lines[0])
    for line in lines[1:]:
        print(line)
    t0 = rest[0]["t"] - 10
    svg(rows, f"{out}/soak.svg",
        f"clearvault soak: {seconds} s at {rate:,.0f} audited reads/s "
        f"({100 * rate / mx:.0f}% of the maximum), sampled every 10 s",
        canary_at, rows[warm - 1]["t"],
        [(t0, first[-1]["t"]), (last[0]["t"] - 10, last[-1]["t"])])
    print(f"chart: {out}/soak.svg")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
