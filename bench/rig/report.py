#!/usr/bin/env python3
"""bench/run.sh's parser and report: load-generator outputs in, the results table out.

    report.py parse OUTPUT [LOG]   wrk (with rig/wrk-report.lua), oha's JSON or h2load's
                                   summary (+ its --log-file): prints
                                   "rps p50_ms p99_ms p999_ms errors", or "- - - - fail"
    report.py table RESULTS.tsv    the table, then each meshctl pair against HAProxy's
"""
import json
import sys

COLUMNS = ("phase round topo test target rps p50 p99 p999 errs cores lg bg "
           "rss_parts rss_sum anon_parts").split()


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    i = max(0, min(len(sorted_values) - 1, int(q * len(sorted_values) + 0.999999) - 1))
    return sorted_values[i]


def ms(us):
    return "-" if us is None else "%.3f" % (us / 1000)


def parse(path, log=None):
    text = open(path, errors="replace").read()
    for line in text.splitlines():
        if line.startswith("RIG "):  # wrk
            f = dict(kv.split("=", 1) for kv in line.split()[1:])
            rps = float(f["requests"]) / float(f["seconds"])
            non2xx = 0
            for other in text.splitlines():
                if other.strip().startswith("Non-2xx"):
                    non2xx = int(other.split()[-1])
            errors = int(f["errors"]) + non2xx
            return "%.0f %s %s %s %d" % (rps, ms(float(f["p50"])), ms(float(f["p99"])),
                                         ms(float(f["p999"])), errors)
    if text.lstrip().startswith("{"):  # oha --output-format json
        d = json.loads(text)
        p = d.get("latencyPercentiles", {})
        codes = d.get("statusCodeDistribution") or {}
        errors = sum((d.get("errorDistribution") or {}).values())
        errors += sum(v for k, v in codes.items() if str(k) != "200")
        sec = lambda v: None if v is None else v * 1e6
        return "%.0f %s %s %s %d" % (d["summary"]["requestsPerSec"] or 0, ms(sec(p.get("p50"))),
                                     ms(sec(p.get("p99"))), ms(sec(p.get("p99.9"))), errors)
    for line in text.splitlines():  # h2load
        if line.startswith("finished in") and log:
            rps = float(line.split(",")[1].split()[0])
            lat, bad = [], 0
            for row in open(log):
                cols = row.split("\t")
                if len(cols) >= 3:
                    lat.append(int(cols[2]))
                    bad += cols[1] != "200"
            lat.sort()
            failed = 0
            for l2 in text.splitlines():
                if l2.startswith("requests:"):
                    w = l2.replace(",", "").split()
                    failed = int(w[w.index("failed") - 1]) + int(w[w.index("errored") - 1])
            return "%.0f %s %s %s %d" % (rps, ms(percentile(lat, .5)), ms(percentile(lat, .99)),
                                         ms(percentile(lat, .999)), bad + failed)
    return "- - - - fail"


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


def table(path):
    rows = [dict(zip(COLUMNS, line.rstrip("\n").split("\t"))) for line in open(path) if line.strip()]
    direct = {(r["phase"], r["round"], r["test"]): r for r in rows if r["topo"] == "direct"}
    head = ("phase", "rnd", "topology", "test", "target", "rps", "p50ms", "p99ms", "p999ms",
            "+p50us", "+p99us", "errs", "cores", "vCPU/k", "lg", "bg", "rssMiB", "per-proxy", "anon")
    fmt = "%-5s %-3s %-16s %-9s %-10s %7s %7s %7s %7s %6s %6s %5s %5s %6s %4s %4s %6s  %-10s %s"
    print(fmt % head)
    for r in rows:
        d = direct.get((r["phase"], r["round"], r["test"]))
        add50 = add99 = "-"
        if d and r["topo"] != "direct" and num(r["p50"]) is not None and num(d["p50"]) is not None:
            add50 = "%.0f" % ((num(r["p50"]) - num(d["p50"])) * 1000)
            add99 = "%.0f" % ((num(r["p99"]) - num(d["p99"])) * 1000)
        vk = "-"
        if num(r["cores"]) is not None and (num(r["rps"]) or 0) > 0:
            vk = "%.3f" % (num(r["cores"]) / (num(r["rps"]) / 1000))
        print(fmt % (r["phase"], r["round"], r["topo"], r["test"], r["target"], r["rps"], r["p50"],
                     r["p99"], r["p999"], add50, add99, r["errs"], r["cores"], vk, r["lg"], r["bg"],
                     r["rss_sum"], r["rss_parts"], r["anon_parts"]))
    print("""
+p50us/+p99us: latency added over `direct` in the same phase, round and test. cores: the
topology's proxies' CPU during the run (1.00 = one core); vCPU/k: cores per 1000 req/s.
lg: the load generator's cores (near its thread count in a max row: the generator was the
limit); bg: cores used by everything outside the rig, steal included (over ~0.10: a noisy
row). rssMiB / per-proxy: VmRSS after the test (peak rows: VmHWM over the topology's run);
anon: RssAnon per proxy (the rest is file-backed: the binary's pages).""")
    summary(rows, direct)


def summary(rows, direct):
    """Each meshctl pair against the HAProxy pair, medians over rounds, base phase."""
    by = {}
    for r in rows:
        if r["test"] != "peak" and num(r["rps"]) is not None:
            by.setdefault((r["phase"], r["topo"], r["test"]), []).append(r)
    def med(xs):
        xs = sorted(xs)
        return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2 if xs else None

    refs = ("direct", "haproxy-hop", "haproxy-pair", "envoy-pair")
    pairs = sorted({t for (_, t, _) in by if t not in refs})
    if not pairs or not any(t == "haproxy-pair" for (_, t, _) in by):
        return
    print("\nagainst the HAProxy pair (median over rounds; rss = largest VmRSS of one proxy after any test):")
    for phase in sorted({p for (p, _, _) in by}):
        tests = sorted({t for (p, _, t) in by if p == phase})
        for topo in pairs:
            cells = []
            for test in tests:
                mine, ref = by.get((phase, topo, test)), by.get((phase, "haproxy-pair", test))
                if not mine or not ref:
                    continue
                if test.endswith("-rate"):
                    adds = []
                    for r in mine:
                        d = direct.get((r["phase"], r["round"], r["test"]))
                        if d and num(d["p50"]) is not None and num(r["p50"]) is not None:
                            adds.append((num(r["p50"]) - num(d["p50"])) * 1000)
                    cells.append("%s +p50 %sus" % (test, "%.0f" % med(adds) if adds else "-"))
                else:
                    ratio = med([num(r["rps"]) for r in mine]) / med([num(r["rps"]) for r in ref])
                    cells.append("%s %.2fx" % (test, ratio))
            rss = [num(x) for r in rows if r["phase"] == phase and r["topo"] == topo and r["test"] != "peak"
                   for x in r["rss_parts"].split("+") if num(x) is not None]
            if rss:
                cells.append("rss <= %.1f MiB" % max(rss))
            print("  %-5s %-16s %s" % (phase, topo, ", ".join(cells)))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "parse":
        try:
            print(parse(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
        except (OSError, ValueError, KeyError, IndexError):
            print("- - - - fail")
    elif len(sys.argv) == 3 and sys.argv[1] == "table":
        table(sys.argv[2])
    else:
        sys.exit("usage: report.py parse OUTPUT [LOG] | report.py table RESULTS.tsv")
