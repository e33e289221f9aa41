#!/usr/bin/env python3
"""The benchmark report (issue 21): parses what each bench printed into bench/out/<name>.txt,
sets the peers (bench/out/peers.json, from bench/peers.py) beside our figures, checks every
DESIGN §10 target, draws the PNG plots into docs/benchmarks/ and rewrites the generated section
of docs/benchmarks.md (between `<!-- bench/run: begin -->` and `<!-- bench/run: end -->`).

    bench/.venv/bin/python bench/report.py --out bench/out --docs docs/benchmarks.md
    bench/.venv/bin/python bench/report.py --selftest      # parsers against bench/testdata/

One parse_<bench>() per bench, each written from the bench's println! format strings (quoted
above each function); every parser returns a dict of figures and never raises on text it does
not recognise: a figure it cannot find is simply missing, and the report says "not measured".
"""

import argparse
import datetime
import json
import os
import platform
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BEGIN, END = "<!-- bench/run: begin -->", "<!-- bench/run: end -->"

# A number as Rust prints it ({:.1}, {:.0}, {}), possibly inf/NaN; "µs" in either micro sign.
NUM = r"(-?(?:\d+(?:\.\d*)?|inf|NaN))"
US = r"\s*(?:µs|μs|us)"
MS = r"\s*ms"
S = r"\s*s"


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def find(pattern, text, flags=re.M):
    """The first match's groups as floats (or None), or None when the line is absent."""
    m = re.search(pattern, text, flags)
    return None if m is None else [num(g) for g in m.groups()]


# ---- parsers: one per bench ----------------------------------------------------------------


def parse_writes(text):
    """crates/executive/benches/writes.rs:
    "{:<10} single-row: {:>8.0} requests/s   batches of 100: {:>7.0} requests/s = {:>8.0} rows/s   ({clients} clients, {seconds} s each)"
    with the backend as {:?}: Sqlite | Mysql | Postgres; or "{backend:?}: skipped (no server URL in the environment)".
    """
    out = {}
    pat = (
        r"^\s*(\w+)\s+single-row:\s*" + NUM + r"\s*requests/s\s+batches of (\d+):\s*" + NUM
        + r"\s*requests/s\s*=\s*" + NUM + r"\s*rows/s\s*\((\d+) clients?,\s*(\d+) s each\)"
    )
    for m in re.finditer(pat, text, re.M):
        out[m.group(1).lower()] = {
            "single_rps": num(m.group(2)),
            "batch_size": num(m.group(3)),
            "batch_rps": num(m.group(4)),
            "batch_rows_per_s": num(m.group(5)),
            "clients": num(m.group(6)),
            "seconds": num(m.group(7)),
        }
    for m in re.finditer(r"^\s*(\w+):\s*skipped \((.*)\)", text, re.M):
        out.setdefault(m.group(1).lower(), {"skipped": m.group(2)})
    return out


def parse_idle_feed(text):
    """crates/executive/benches/idle_feed.rs:
    "{waiters} idle long-polls: process RSS {} MiB -> {} MiB ({:.1} KiB per waiter, client and server together); one commit answered all in {:.0} ms"
    """
    f = find(
        r"(\d+) idle long-polls: process RSS " + NUM + r"\s*MiB\s*->\s*" + NUM + r"\s*MiB\s*\(" + NUM
        + r"\s*KiB per waiter.*?answered all in " + NUM + MS,
        text,
    )
    if not f:
        return {}
    return dict(zip(["waiters", "rss_before_mib", "rss_after_mib", "kib_per_waiter", "answer_all_ms"], f))


def parse_reads(text):
    """crates/reader/benches/reads.rs:
    "{label:<34} p50 {:>5.2} µs   p99 {:>5.2} µs   {:>8.0} reads/s (1 thread, {n} reads)"
      labels: raw rusqlite (floor) | get_row_by_key::<struct> | get_row (column map) |
              rows_by_index::<struct> (one row) | cached get_row_by_key::<struct> | cached get_row (column map)
    "{:<34} {:>8.0} reads/s (1 thread, {reads} reads, no per-read clock)" with "cached typed, throughput"
    "{label:<34} {:>6.2} µs per check (sum {sum})" with "change counter: ..." labels
    "built a {rows}-row LDB in {:.1} s"
    """
    keys = {
        "raw rusqlite (floor)": "floor",
        "get_row_by_key::<struct>": "typed",
        "get_row (column map)": "map",
        "rows_by_index::<struct> (one row)": "index",
        "cached get_row_by_key::<struct>": "cached_typed",
        "cached get_row (column map)": "cached_map",
    }
    out = {}
    pat = r"^(.+?)\s+p50\s+" + NUM + US + r"\s+p99\s+" + NUM + US + r"\s+" + NUM + r"\s*reads/s\s*\(1 thread,\s*(\d+) reads\)"
    for m in re.finditer(pat, text, re.M):
        label = m.group(1).strip()
        out[keys.get(label, label)] = {
            "label": label,
            "p50_us": num(m.group(2)),
            "p99_us": num(m.group(3)),
            "reads_per_s": num(m.group(4)),
            "n": num(m.group(5)),
        }
    f = find(r"^cached typed, throughput\s+" + NUM + r"\s*reads/s", text)
    if f:
        out["cached_throughput"] = {"reads_per_s": f[0]}
    counters = {}
    for m in re.finditer(r"^change counter:\s*(.+?)\s+" + NUM + US + r" per check", text, re.M):
        counters[m.group(1).strip()] = num(m.group(2))
    if counters:
        out["change_counters_us"] = counters
    f = find(r"^built a (\d+)-row LDB in " + NUM + S, text)
    if f:
        out["rows"] = f[0]
    return out


def _wrk_latency(value, unit):
    scale = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
    v = num(value)
    return None if v is None else v * scale.get(unit, 1.0)


def parse_sidecar(text):
    """crates/sidecar/benches/sidecar.rs, once per BENCH_TLS mode (default off,on: plain TCP, then TLS):
    "sidecar get-row-by-key over {transport}, 1 keep-alive connection: p50 {:.1} µs, p99 {:.1} µs, {:.0} req/s ({requests} requests, {rows} rows)"
      with {transport}: plain TCP | TLS
    then wrk's own lines, each prefixed "wrk -t2 -c32 -d5s over {transport}: " (only lines containing
    Requests/sec, 50%, 99% or Non-2xx), e.g. "Requests/sec:  32100.50", "50%  930.00us", "99%    2.33ms";
    or "wrk: not installed (apt-get install wrk); skipped the throughput run" (once per mode).
    Before TLS (issue 19) there was one run without " over {transport}": it reads as plain TCP.
    The plain-TCP figures are {"single": {...}, "wrk": {...}}; the TLS run's, the same under "tls".
    """
    single = re.compile(
        r"^sidecar get-row-by-key(?: over (plain TCP|TLS))?, 1 keep-alive connection:\s*p50\s+" + NUM + US
        + r",\s*p99\s+" + NUM + US + r",\s*" + NUM + r"\s*req/s\s*\((\d+) requests,\s*(\d+) rows\)"
    )
    wrk_line = re.compile(r"^wrk\s+-[^:\n]*?(?: over (plain TCP|TLS))?:\s*(.*)$")
    modes = {"plain": {}, "tls": {}}
    mode = "plain"  # the run the lines belong to: the last "sidecar ..." line's
    for line in text.splitlines():
        m = single.search(line)
        if m:
            mode = "tls" if m.group(1) == "TLS" else "plain"
            modes[mode].setdefault("single", dict(zip(["p50_us", "p99_us", "req_per_s", "n", "rows"], (num(g) for g in m.groups()[1:]))))
            continue
        if re.search(r"^wrk: not installed", line):
            modes[mode].setdefault("wrk", {})["skipped"] = "wrk not installed"
            continue
        m = wrk_line.search(line)
        if not m:
            continue
        wrk = modes["tls" if m.group(1) == "TLS" else "plain"].setdefault("wrk", {})
        rest = m.group(2)
        f = find(r"^Requests/sec:\s*" + NUM, rest)
        if f:
            wrk.setdefault("req_per_s", f[0])
        for pct in ("50", "75", "90", "99"):
            p = re.search(r"^" + pct + r"(?:\.0+)?%\s+" + NUM + r"\s*(us|µs|ms|s|m)\b", rest)
            if p:
                wrk.setdefault(f"p{pct}_ms", _wrk_latency(p.group(1), p.group(2)))
        f = find(r"^Non-2xx or 3xx responses:\s*(\d+)", rest)
        if f:
            wrk.setdefault("non_2xx", f[0])
    out = {k: v for k, v in modes["plain"].items() if v}
    tls = {k: v for k, v in modes["tls"].items() if v}
    if tls:
        out["tls"] = tls
    return out


def parse_propagation(text):
    """crates/reflector/benches/propagation.rs:
    "catch-up via {label}: {head} statements in {secs:.2} s = {:.0} statements/s"   (label: feed | poll)
    "propagation via {label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({n} writes)" (label: feed | poll (1 s interval))
    """
    out = {}
    for m in re.finditer(r"^catch-up via (\w+):\s*(\d+) statements in " + NUM + S + r"\s*=\s*" + NUM + r"\s*statements/s", text, re.M):
        out[f"catchup_{m.group(1)}"] = {"statements": num(m.group(2)), "seconds": num(m.group(3)), "per_s": num(m.group(4))}
    pat = r"^propagation via (\w+)[^:\n]*:\s*p50\s+" + NUM + MS + r",\s*p99\s+" + NUM + MS + r",\s*max\s+" + NUM + MS + r"\s*\((\d+) writes\)"
    for m in re.finditer(pat, text, re.M):
        out[f"propagation_{m.group(1)}"] = {
            "p50_ms": num(m.group(2)), "p99_ms": num(m.group(3)), "max_ms": num(m.group(4)), "n": num(m.group(5))
        }
    return out


def _p50_p99_max_ms(prefix, text):
    f = find(prefix + r".*?p50\s+" + NUM + MS + r",\s*p99\s+" + NUM + MS + r",\s*max\s+" + NUM + MS, text)
    return {} if not f else dict(zip(["p50_ms", "p99_ms", "max_ms"], f))


def parse_watch_latency(text):
    """crates/reflector/benches/watch_latency.rs:
    "watch: write ack → Reader::changes event, {samples} writes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms"
    """
    out = _p50_p99_max_ms(r"^watch:", text)
    f = find(r"^watch:.*?(\d+) writes:", text)
    if out and f:
        out["n"] = f[0]
    return out


def parse_trigger_latency(text):
    """crates/ctlstore/benches/trigger_latency.rs:
    "trigger: write ack → command started, {samples} writes: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms"
    """
    out = _p50_p99_max_ms(r"^trigger:", text)
    f = find(r"^trigger:.*?(\d+) writes:", text)
    if out and f:
        out["n"] = f[0]
    return out


def parse_prune(text):
    """crates/executive/benches/prune.rs, per backend:
    "{backend:?}: pruned {} of {head} entries in {:.2} s"
    "{backend:?}: writes, no prune: {} writes, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms"
    "{backend:?}: writes while pruning: {} writes, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms"
    """
    out = {}
    for backend in ("Sqlite", "Mysql", "Postgres"):
        d = {}
        f = find(r"^" + backend + r": pruned " + NUM + r" of " + NUM + r" entries in " + NUM + r" s", text)
        if f:
            d["pruned"], d["head"], d["seconds"] = f
        for key, label in (("quiet", "writes, no prune"), ("pruning", "writes while pruning")):
            x = _p50_p99_max_ms(r"^" + backend + ": " + label + ":", text)
            if x:
                d[key] = x
        if d:
            out[backend.lower()] = d
    return out


def parse_bootstrap(text):
    """crates/snapshot/benches/bootstrap.rs:
    "built a {} MiB LDB ({rows} rows) in {:.1} s"
    "snapshot: capture (VACUUM INTO + zstd) {:.1} s, publish {:.1} s; {} MiB -> {} MiB"
    "bootstrap: download + verify + decompress + check + rename {:.1} s; serving reads after {:.1} s (seq {})"
    """
    out = {}
    f = find(r"^built a (\d+) MiB LDB \((\d+) rows\) in " + NUM + S, text)
    if f:
        out.update(ldb_mib=f[0], rows=f[1], build_s=f[2])
    f = find(r"^snapshot:\s*capture.*?\)\s*" + NUM + S + r",\s*publish\s+" + NUM + S + r";\s*(\d+)\s*MiB\s*->\s*(\d+)\s*MiB", text)
    if f:
        out.update(capture_s=f[0], publish_s=f[1], ldb_bytes_mib=f[2], object_mib=f[3])
    f = find(r"^bootstrap:.*?rename\s+" + NUM + S + r";\s*serving reads after\s+" + NUM + S, text)
    if f:
        out.update(restore_s=f[0], serving_s=f[1])
    return out


def parse_postgres_to_ldb(text):
    """crates/loader/benches/postgres_to_ldb.rs:
    "sustained: {rows} rows in 100-row transactions: origin committed in {:.2} s; all in the LDB after {:.2} s = {:.0} rows/s"
    "latency: origin commit → visible in the LDB, {samples} one-row transactions, batch window 50 ms: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms"
    """
    out = {}
    f = find(r"^sustained:\s*(\d+) rows.*?origin committed in " + NUM + S + r";.*?after\s+" + NUM + S + r"\s*=\s*" + NUM + r"\s*rows/s", text)
    if f:
        out["sustained"] = dict(zip(["rows", "origin_s", "ldb_s", "rows_per_s"], f))
    lat = _p50_p99_max_ms(r"^latency:", text)
    if lat:
        f = find(r"^latency:.*?(\d+) one-row transactions", text)
        lat["n"] = f[0] if f else None
        out["latency"] = lat
    return out


def parse_fanout(text):
    """crates/ctlstore/benches/fanout.rs, per follower count and BENCH_TLS mode (bench/run's fanout,
    fanout_relays and fanout_tls):
    "{followers} followers{via}, {} writes at 10/s: ack → follower p50 {:.1} ms, p99 {:.1} ms; ack → every follower notified p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {missed} notifications missing"
      with {via} empty, or " via {relays} relays" under BENCH_RELAYS, then " over mutual TLS"
      for the TLS run (BENCH_TLS=off,on runs each follower count plain, then over mutual TLS)
    "  executive: CPU {:.0} % of one core while writing; idle followers cost {:.1} KiB RssAnon + {:.1} KiB RssFile each (RssAnon {} → {} KiB, RssFile {} → {} KiB)"
    "  relays: CPU {:.0} % of one core in all while writing; idle followers cost {:.1} KiB RssAnon + {:.1} KiB RssFile each on their relay (relays' RssAnon {} → {} KiB in all)"
      only with relays
    "  {n} real reflectors: ack → row in the LDB p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} of {} seen)"
    The executive, relays and reflectors lines belong to the followers line above them.
    Returns {followers: run} for the plain runs and {"tls": {followers: run}} for the TLS ones;
    every run has "tls" (False or True). fanout_runs() picks either.
    """
    out = {}
    current = None  # the run the indented lines belong to
    head = re.compile(
        r"^(\d+) followers(?: via (\d+) relays?)?( over mutual TLS)?,\s*(\d+) writes.*?follower p50\s+" + NUM + MS + r",\s*p99\s+" + NUM + MS
        + r";.*?notified p50\s+" + NUM + MS + r",\s*p99\s+" + NUM + MS + r",\s*max\s+" + NUM + MS
        + r";\s*(\d+) notifications missing"
    )
    ex = re.compile(
        r"^\s*executive:\s*CPU\s+" + NUM + r"\s*% of one core.*?cost\s+" + NUM + r"\s*KiB RssAnon\s*\+\s*" + NUM
        + r"\s*KiB RssFile each\s*\(RssAnon\s+(\d+)\s*\S+\s*(\d+)\s*KiB,\s*RssFile\s+(\d+)\s*\S+\s*(\d+)\s*KiB\)"
    )
    rl = re.compile(
        r"^\s*relays:\s*CPU\s+" + NUM + r"\s*% of one core.*?cost\s+" + NUM + r"\s*KiB RssAnon\s*\+\s*" + NUM
        + r"\s*KiB RssFile each.*?RssAnon\s+(\d+)\s*\S+\s*(\d+)\s*KiB in all"
    )
    rf = re.compile(
        r"^\s*(\d+) real reflectors: ack → row in the LDB p50\s+" + NUM + MS + r",\s*p99\s+" + NUM + MS
        + r",\s*max\s+" + NUM + MS + r"\s*\((\d+) of (\d+) seen\)"
    )
    for line in text.splitlines():
        m = rf.search(line)
        if m and current is not None:
            g = [num(x) for x in m.groups()]
            current.update(reflectors=g[0], reflector_p50_ms=g[1], reflector_p99_ms=g[2],
                           reflector_max_ms=g[3], reflector_seen=g[4], reflector_expected=g[5])
            continue
        m = head.search(line)
        if m:
            tls = m.group(3) is not None
            g = [num(x) for x in m.groups()[:2] + m.groups()[3:]]
            current = {
                "followers": g[0], "tls": tls, "writes": g[2],
                "follower_p50_ms": g[3], "follower_p99_ms": g[4],
                "every_p50_ms": g[5], "every_p99_ms": g[6], "every_max_ms": g[7],
                "missing": g[8],
            }
            if g[1] is not None:
                current["relays"] = g[1]
            (out.setdefault("tls", {}) if tls else out)[int(g[0])] = current
            continue
        m = ex.search(line)
        if m and current is not None:
            g = [num(x) for x in m.groups()]
            current.update(
                cpu_pct=g[0], anon_kib_per_follower=g[1], file_kib_per_follower=g[2],
                anon_before_kib=g[3], anon_idle_kib=g[4], file_before_kib=g[5], file_idle_kib=g[6],
            )
            continue
        m = rl.search(line)
        if m and current is not None:
            g = [num(x) for x in m.groups()]
            current.update(
                relay_cpu_pct=g[0], relay_anon_kib_per_follower=g[1], relay_file_kib_per_follower=g[2],
                relay_anon_before_kib=g[3], relay_anon_idle_kib=g[4],
            )
    return out


def fanout_runs(d, tls=False):
    """A fan-out bench's runs, {followers: run}: the plain ones, or with tls the mutual-TLS ones."""
    d = d or {}
    if tls:
        return dict(d.get("tls") or {})
    return {n: x for n, x in d.items() if isinstance(n, int)}


def parse_memory(text):
    """crates/ctlstore/benches/memory.rs:
    "{rows} rows loaded in {:.1} s, then {} sidecar reads in {seconds} s ({:.0}/s); LDB {:.1} MiB"
    "memory per process (KiB): peak RssAnon, peak RssFile, last RssAnon, last RssFile"
    then per process (executive, reflector, sidecar, supervisor, heartbeat, relay, loader):
    "  {name:<10} RssAnon peak {pa} KiB ({:.1} MiB), RssFile peak {pf} KiB ({:.1} MiB); last {la} / {lf} KiB"
    Every sample goes to BENCH_MEMORY_CSV (bench/run: OUT/memory.csv), read by load_memory_csv().
    """
    out = {}
    f = find(r"^(\d+) rows loaded in " + NUM + S + r", then (\d+) sidecar reads in (\d+)" + S + r"\s*\(" + NUM
             + r"/s\);\s*LDB\s+" + NUM + r"\s*MiB", text)
    if f:
        out["load"] = dict(zip(["rows", "load_s", "reads", "seconds", "reads_per_s", "ldb_mib"], f))
    procs = {}
    pat = (r"^\s*([\w-]+)\s+RssAnon peak (\d+) KiB[^,\n]*,\s*RssFile peak (\d+) KiB[^;\n]*;\s*last (\d+)\s*/\s*(\d+) KiB")
    for m in re.finditer(pat, text, re.M):
        procs[m.group(1)] = dict(zip(["anon_peak_kib", "file_peak_kib", "anon_last_kib", "file_last_kib"], (num(x) for x in m.groups()[1:])))
    if procs:
        out["processes"] = procs
    return out


def load_memory_csv(path):
    """{process: [(seconds, RssAnon MiB, RssFile MiB)]} from the memory bench's CSV
    (ms,process,rss_anon_kib,rss_file_kib), or {} when it is missing or unreadable."""
    series = {}
    try:
        with open(path, encoding="utf-8") as fh:
            header = fh.readline().strip().split(",")
            if header != ["ms", "process", "rss_anon_kib", "rss_file_kib"]:
                return {}
            for line in fh:
                parts = line.strip().split(",")
                if len(parts) != 4:
                    continue
                ms, anon, file = num(parts[0]), num(parts[2]), num(parts[3])
                if None in (ms, anon, file):
                    continue
                series.setdefault(parts[1], []).append((ms / 1e3, anon / 1024, file / 1024))
    except OSError:
        return {}
    return series


def parse_galera(text):
    """crates/ctlstore/benches/galera.rs:
    "  {n} executive(s): {:.0} batches/s ({:.0} rows/s), {} refused"
    "ack (via executive 2) → visible on a host following executive 1: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} writes)"
    """
    out = {}
    for m in re.finditer(r"^\s*(\d+) executive\(s\):\s*" + NUM + r"\s*batches/s\s*\(" + NUM + r"\s*rows/s\),\s*(\d+) refused", text, re.M):
        out[f"executives_{m.group(1)}"] = {"batches_per_s": num(m.group(2)), "rows_per_s": num(m.group(3)), "refused": num(m.group(4))}
    lat = _p50_p99_max_ms(r"^ack \(via executive 2\)", text)
    if lat:
        out["cross_node"] = lat
    return out


PARSERS = {
    "writes": parse_writes,
    "writes_1client": parse_writes,
    "idle_feed": parse_idle_feed,
    "reads": parse_reads,
    "sidecar": parse_sidecar,
    "propagation": parse_propagation,
    "watch_latency": parse_watch_latency,
    "bootstrap": parse_bootstrap,
    "postgres_to_ldb": parse_postgres_to_ldb,
    "fanout": parse_fanout,
    "fanout_relays": parse_fanout,
    "fanout_tls": parse_fanout,
    "memory": parse_memory,
    "galera": parse_galera,
    "trigger_latency": parse_trigger_latency,
    "prune": parse_prune,
}


def load(out_dir):
    """{bench: figures} from OUT/<bench>.txt, and {bench: reason} for the skipped ones
    (OUT/<bench>.skipped holds bench/run's reason); the memory bench's samples (OUT/memory.csv)
    go to figures["memory"]["series"]."""
    figures, skipped = {}, {}
    for name, parse in PARSERS.items():
        txt, why = os.path.join(out_dir, name + ".txt"), os.path.join(out_dir, name + ".skipped")
        if os.path.exists(why):
            skipped[name] = open(why, encoding="utf-8", errors="replace").read().strip() or "failed"
        if os.path.exists(txt):
            parsed = parse(open(txt, encoding="utf-8", errors="replace").read())
            if parsed:
                figures[name] = parsed
            elif name not in skipped:
                skipped[name] = f"printed no figure this report recognises (see {name}.txt)"
        elif name not in skipped:
            skipped[name] = "not run"
    if "memory" in figures:
        # Every sample, for the memory-over-time plot and the table's notes (not in figures.json).
        series = load_memory_csv(os.path.join(out_dir, "memory.csv"))
        if series:
            figures["memory"]["series"] = series
    peers = {}
    path = os.path.join(out_dir, "peers.json")
    if os.path.exists(path):
        peers = json.load(open(path))
    return figures, skipped, peers


def get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


# ---- formatting ----------------------------------------------------------------------------


def fmt(v, unit="", digits=None):
    if v is None:
        return "—"
    if digits is None:
        digits = 0 if abs(v) >= 100 else (1 if abs(v) >= 10 else 2)
    s = f"{v:,.{digits}f}"
    return f"{s} {unit}".strip()


def cnt(v):
    """A count: no decimals."""
    return "—" if v is None else f"{v:,.0f}"


def lat3(d, unit="ms"):
    if not d:
        return "—"
    parts = [f"p50 {fmt(d.get('p50_' + unit))}", f"p99 {fmt(d.get('p99_' + unit))}"]
    if d.get("max_" + unit) is not None:
        parts.append(f"max {fmt(d.get('max_' + unit))}")
    return ", ".join(parts) + f" {unit.replace('us', 'µs')}"


# ---- figures, targets, peers ---------------------------------------------------------------


def figure_rows(f):
    """(bench, measure, figure) for every figure parsed."""
    rows = []
    for name in ("writes", "writes_1client"):
        for backend, d in (f.get(name) or {}).items():
            if "skipped" in d:
                rows.append((name, backend, "skipped: " + d["skipped"]))
                continue
            rows.append((name, f"{backend}, {cnt(d['clients'])} client(s), single-row", f"{fmt(d['single_rps'])} requests/s"))
            rows.append((name, f"{backend}, {cnt(d['clients'])} client(s), batches of {cnt(d['batch_size'])}", f"{fmt(d['batch_rps'])} requests/s = {fmt(d['batch_rows_per_s'])} rows/s"))
    d = f.get("idle_feed")
    if d:
        rows.append(("idle_feed", f"{cnt(d['waiters'])} idle long-polls", f"RSS {fmt(d['rss_before_mib'])} → {fmt(d['rss_after_mib'])} MiB, {fmt(d['kib_per_waiter'])} KiB per waiter; one commit answered all in {fmt(d['answer_all_ms'])} ms"))
    d = f.get("reads") or {}
    for k in ("floor", "typed", "map", "index", "cached_typed", "cached_map"):
        if k in d:
            x = d[k]
            rows.append(("reads", x["label"], f"p50 {fmt(x['p50_us'])} µs, p99 {fmt(x['p99_us'])} µs, {fmt(x['reads_per_s'])} reads/s"))
    if "cached_throughput" in d:
        rows.append(("reads", "cached typed, no per-read clock", f"{fmt(d['cached_throughput']['reads_per_s'])} reads/s"))
    for k, v in (d.get("change_counters_us") or {}).items():
        rows.append(("reads", f"change counter: {k}", f"{fmt(v)} µs per check"))
    d = f.get("sidecar") or {}
    for run, over in ((d, " over plain TCP" if "tls" in d else ""), (d.get("tls") or {}, " over TLS")):
        if "single" in run:
            x = run["single"]
            rows.append(("sidecar", f"1 keep-alive connection{over}", f"p50 {fmt(x['p50_us'])} µs, p99 {fmt(x['p99_us'])} µs, {fmt(x['req_per_s'])} req/s"))
        if "wrk" in run:
            x = run["wrk"]
            rows.append(("sidecar", f"wrk -t2 -c32 -d5s{over}", x.get("skipped") or f"{fmt(x.get('req_per_s'))} req/s; p50 {fmt(x.get('p50_ms'))} ms, p99 {fmt(x.get('p99_ms'))} ms" + (f"; {cnt(x['non_2xx'])} non-2xx" if x.get("non_2xx") else "")))
    d = f.get("propagation") or {}
    for k, x in d.items():
        if k.startswith("catchup_"):
            rows.append(("propagation", f"catch-up via {k[8:]}", f"{fmt(x['per_s'])} statements/s ({cnt(x['statements'])} in {fmt(x['seconds'])} s)"))
        else:
            rows.append(("propagation", f"ack → row in the LDB via {k[12:]}", lat3(x) + f" ({cnt(x['n'])} writes)"))
    if f.get("watch_latency"):
        rows.append(("watch_latency", "ack → Reader::changes event", lat3(f["watch_latency"])))
    if f.get("trigger_latency"):
        rows.append(("trigger_latency", "ack → trigger command started", lat3(f["trigger_latency"])))
    for backend, x in (f.get("prune") or {}).items():
        rows.append(("prune", f"{backend}: prune {cnt(x.get('pruned'))} of {cnt(x.get('head'))} entries",
                     f"{fmt(x.get('seconds'))} s under load; writes p99 {fmt(get(x, 'quiet', 'p99_ms'))} ms without, {fmt(get(x, 'pruning', 'p99_ms'))} ms while pruning (max {fmt(get(x, 'pruning', 'max_ms'))} ms)"))
    d = f.get("bootstrap") or {}
    if d:
        rows.append(("bootstrap", f"LDB of {fmt(d.get('ldb_mib'))} MiB ({cnt(d.get('rows'))} rows)", f"capture {fmt(d.get('capture_s'))} s, publish {fmt(d.get('publish_s'))} s ({fmt(d.get('ldb_bytes_mib'))} → {fmt(d.get('object_mib'))} MiB); bootstrap → serving reads {fmt(d.get('serving_s'))} s"))
    d = f.get("postgres_to_ldb") or {}
    if "sustained" in d:
        x = d["sustained"]
        rows.append(("postgres_to_ldb", f"sustained, {cnt(x['rows'])} rows", f"{fmt(x['rows_per_s'])} rows/s (origin {fmt(x['origin_s'])} s, LDB {fmt(x['ldb_s'])} s)"))
    if "latency" in d:
        rows.append(("postgres_to_ldb", "origin commit → LDB", lat3(d["latency"])))
    for bench in ("fanout", "fanout_relays", "fanout_tls"):
        runs = [(n, False, x) for n, x in fanout_runs(f.get(bench)).items()] + [(n, True, x) for n, x in fanout_runs(f.get(bench), tls=True).items()]
        for n, tls, x in sorted(runs, key=lambda r: r[:2]):
            who = f"{n:,} followers" + (f" via {cnt(x['relays'])} relays" if x.get("relays") else "") + (" over mutual TLS" if tls else "")
            rows.append((bench, f"{who}: ack → a follower", f"p50 {fmt(x['follower_p50_ms'])}, p99 {fmt(x['follower_p99_ms'])} ms"))
            rows.append((bench, f"{who}: ack → every follower", f"p50 {fmt(x['every_p50_ms'])}, p99 {fmt(x['every_p99_ms'])}, max {fmt(x['every_max_ms'])} ms; {cnt(x['missing'])} missing"))
            if "reflector_p50_ms" in x:
                rows.append((bench, f"{who}: {cnt(x['reflectors'])} real reflectors, ack → row in the LDB", f"p50 {fmt(x['reflector_p50_ms'])}, p99 {fmt(x['reflector_p99_ms'])}, max {fmt(x['reflector_max_ms'])} ms ({cnt(x['reflector_seen'])} of {cnt(x['reflector_expected'])} seen)"))
            if "cpu_pct" in x:
                rows.append((bench, f"{who}: executive", f"CPU {fmt(x['cpu_pct'])} % of a core; {fmt(x['anon_kib_per_follower'])} KiB RssAnon + {fmt(x['file_kib_per_follower'])} KiB RssFile per idle follower"
                             f" (RssAnon {fmt(x['anon_before_kib'] / 1024)} → {fmt(x['anon_idle_kib'] / 1024)} MiB)"))
            if "relay_cpu_pct" in x:
                rows.append((bench, f"{who}: the {cnt(x['relays'])} relays", f"CPU {fmt(x['relay_cpu_pct'])} % of a core in all; {fmt(x['relay_anon_kib_per_follower'])} KiB RssAnon + {fmt(x['relay_file_kib_per_follower'])} KiB RssFile per idle follower on its relay"
                             f" (RssAnon {fmt(x['relay_anon_before_kib'] / 1024)} → {fmt(x['relay_anon_idle_kib'] / 1024)} MiB in all)"))
    d = get(f, "memory", "load")
    if d:
        rows.append(("memory", "the whole system on one machine", f"{cnt(d['rows'])} rows loaded in {fmt(d['load_s'])} s, then {cnt(d['reads'])} sidecar reads in {cnt(d['seconds'])} s ({fmt(d['reads_per_s'])}/s); LDB {fmt(d['ldb_mib'])} MiB; per process: the table above"))
    d = f.get("galera") or {}
    for k, x in d.items():
        if k.startswith("executives_"):
            rows.append(("galera", f"{k[11:]} executive(s)", f"{fmt(x['batches_per_s'])} batches/s ({fmt(x['rows_per_s'])} rows/s), {cnt(x['refused'])} refused"))
    if "cross_node" in d:
        rows.append(("galera", "ack via executive 2 → visible via executive 1", lat3(d["cross_node"])))
    return rows


def mb(kib):
    """KiB → MB (10⁶ bytes), as the targets count."""
    return None if kib is None else kib * 1024 / 1e6


def mem_figure(x):
    """A process's peak RssAnon (and RssFile, for scale) from the memory bench."""
    if not x:
        return "—"
    return (f"peak RssAnon {fmt(mb(x['anon_peak_kib']))} MB ({fmt(x['anon_peak_kib'] / 1024)} MiB); "
            f"peak RssFile {fmt(x['file_peak_kib'] / 1024)} MiB")


def memory_table(f):
    """The memory bench: peak and last RssAnon and RssFile per process, in MiB."""
    m = f.get("memory") or {}
    procs, d, series = m.get("processes") or {}, m.get("load") or {}, m.get("series") or {}
    if not procs:
        return []
    L = []
    if d:
        L.append(f"The memory bench: every process of the system on one machine (an executive on an embedded SQLite ctldb, "
                 f"a loader loading {cnt(d['rows'])} rows from a file, a reflector, a sidecar, a supervisor taking snapshots, "
                 f"a heartbeat, a relay), sampled from /proc every 250 ms. The sidecar served the last row {fmt(d['load_s'])} s after the loader started, "
                 f"then {cnt(d['reads'])} reads in {cnt(d['seconds'])} s ({fmt(d['reads_per_s'])}/s) from 4 clients; "
                 f"the LDB is {fmt(d['ldb_mib'])} MiB. RssAnon is the process's private memory; RssFile is mapped files "
                 "(the binary and the LDB), shared with the page cache and every other reader of the file.")
        L.append("")
    end = max((p[-1][0] for p in series.values() if p), default=None)
    L += ["| process | RssAnon peak | RssAnon last | RssFile peak | RssFile last | note |", "|---|---|---|---|---|---|"]
    for name, x in procs.items():
        note = ""
        pts = series.get(name)
        if pts and end is not None and pts[-1][0] < end - 1:
            note = f"last sample at {fmt(pts[-1][0])} s (it had exited)"
        L.append(f"| {name} | {fmt(x['anon_peak_kib'] / 1024)} MiB | {fmt(x['anon_last_kib'] / 1024)} MiB | "
                 f"{fmt(x['file_peak_kib'] / 1024)} MiB | {fmt(x['file_last_kib'] / 1024)} MiB | {note} |")
    return L


def tls_cost(off, on, unit=None):
    """What TLS costs: on against off as a change in per cent (× from double on), and with unit
    the difference first ("+3.2 KiB (+17 %)"); "—" when either is missing."""
    if off is None or on is None:
        return "—"
    diff = f"{on - off:+,.1f} {unit}" if unit else None
    if not off:
        return diff or "—"
    r = on / off
    rel = f"×{r:,.1f}" if r >= 2 else f"{(r - 1) * 100:+.0f} %"
    return f"{diff} ({rel})" if diff else rel


def tls_table(f):
    """TLS off and on (issue 19), each pair from one bench run: the sidecar bench (plain TCP, then
    TLS) and fanout_tls (plain HTTP, then mutual TLS, at the smallest follower count with both)."""
    side = f.get("sidecar") or {}
    side_tls = side.get("tls") or {}
    off, on = fanout_runs(f.get("fanout_tls")), fanout_runs(f.get("fanout_tls"), tls=True)
    n = min(set(off) & set(on), default=min(off or on or [1000]))
    fo, fn = off.get(n) or {}, on.get(n) or {}
    rows = [
        ("sidecar, 1 keep-alive connection: p50 (µs)", get(side, "single", "p50_us"), get(side_tls, "single", "p50_us"), None),
        ("sidecar, 1 connection: req/s", get(side, "single", "req_per_s"), get(side_tls, "single", "req_per_s"), None),
        ("sidecar, wrk -c32: req/s", get(side, "wrk", "req_per_s"), get(side_tls, "wrk", "req_per_s"), None),
        ("sidecar, wrk -c32: p99 (ms)", get(side, "wrk", "p99_ms"), get(side_tls, "wrk", "p99_ms"), None),
        (f"fan-out, {n:,} followers: ack → every follower notified p99 (ms)", fo.get("every_p99_ms"), fn.get("every_p99_ms"), None),
        (f"fan-out, {n:,} followers: ack → follower p99 (ms)", fo.get("follower_p99_ms"), fn.get("follower_p99_ms"), None),
        (f"executive memory per idle follower, {n:,} followers (KiB RssAnon)", fo.get("anon_kib_per_follower"), fn.get("anon_kib_per_follower"), "KiB"),
    ]
    L = ["Each pair from one run of one bench: `sidecar` reads over plain TCP, then over TLS (a server certificate the client verifies); "
         f"`fanout_tls`, {n:,} followers of one executive over plain HTTP, then over mutual TLS (every follower and reflector with a client certificate). "
         "Cost: TLS on against off, in per cent (× from double on); for req/s a minus is the throughput lost.",
         "", "| what | TLS off | TLS on | cost |", "|---|---|---|---|"]
    for what, a, b, unit in rows:
        L.append(f"| {what} | {fmt(a)} | {fmt(b)} | {tls_cost(a, b, unit)} |")
    skipped = [s for s in (get(side, "wrk", "skipped"), get(side_tls, "wrk", "skipped")) if s]
    if skipped:
        L += ["", f"wrk: {skipped[0]}; its rows are not measured."]
    return L


def status(value, limit, at_most=True):
    if value is None:
        return "not measured"
    ok = value <= limit if at_most else value >= limit
    return "**met**" if ok else "**missed**"


def targets(f):
    """Every DESIGN §10 target: (what, target, figure, status, note)."""
    r = f.get("reads") or {}
    wrk = get(f, "sidecar", "wrk") or {}
    my1, my16 = get(f, "writes_1client", "mysql") or {}, get(f, "writes", "mysql") or {}
    feed = get(f, "propagation", "propagation_feed") or {}
    boot = f.get("bootstrap") or {}
    loader = f.get("postgres_to_ldb") or {}
    fan = fanout_runs(f.get("fanout"))
    rows_note = f"{cnt(r.get('rows'))} rows (§10 says 1M)" if r.get("rows") else ""
    t = []
    typed = r.get("typed") or {}
    t.append(("reader point read, uncached", "as now: p50 ≈ 5.6 µs (met if ≤ 6.2 µs, +10 %)",
              f"p50 {fmt(typed.get('p50_us'))} µs, p99 {fmt(typed.get('p99_us'))} µs, {fmt(typed.get('reads_per_s'))}/s",
              status(typed.get("p50_us"), 6.2), rows_note))
    ct = r.get("cached_typed") or {}
    t.append(("reader, cached hot keys: latency", "p50 ≤ 0.5 µs", f"p50 {fmt(ct.get('p50_us'))} µs", status(ct.get("p50_us"), 0.5), ""))
    thr = get(r, "cached_throughput", "reads_per_s")
    t.append(("reader, cached hot keys: throughput", "≥ 2M reads/s", f"{fmt(thr)} reads/s", status(thr, 2e6, False), "loop without per-read clocks"))
    t.append(("sidecar, wrk -c32: throughput", "≥ 40k req/s", f"{fmt(wrk.get('req_per_s'))} req/s", status(wrk.get("req_per_s"), 40e3, False), wrk.get("skipped", "")))
    t.append(("sidecar, wrk -c32: latency", "p99 ≤ 3 ms", f"p99 {fmt(wrk.get('p99_ms'))} ms", status(wrk.get("p99_ms"), 3.0), wrk.get("skipped", "")))
    procs = get(f, "memory", "processes") or {}
    mload = get(f, "memory", "load") or {}
    side = procs.get("sidecar") or {}
    t.append(("sidecar private memory (RssAnon) under load", "≤ 50 MB", mem_figure(side), status(mb(side.get("anon_peak_kib")), 50.0),
              (f"memory bench: peak while serving {fmt(mload.get('reads_per_s'))} reads/s from 4 clients after {cnt(mload.get('rows'))} rows were loaded" if side and mload else "")))
    t.append(("writes on MariaDB, 1 client, single row", "≥ 1,000 req/s", f"{fmt(my1.get('single_rps'))} req/s", status(my1.get("single_rps"), 1000, False), my1.get("skipped", "")))
    t.append(("writes on MariaDB, 16 clients", "≥ 2,000 req/s, 0 fail", f"{fmt(my16.get('single_rps'))} req/s", status(my16.get("single_rps"), 2000, False),
              (my16.get("skipped") or "the bench stops at the first failure, so a figure means 0 failed")))
    t.append(("writes on MariaDB, 100-row batches", "≥ 50k rows/s", f"{fmt(my16.get('batch_rows_per_s'))} rows/s", status(my16.get("batch_rows_per_s"), 50e3, False), "16 clients"))
    cf, cp = get(f, "propagation", "catchup_feed", "per_s"), get(f, "propagation", "catchup_poll", "per_s")
    t.append(("reflector catch-up", "≥ 80k statements/s", f"feed {fmt(cf)}, poll {fmt(cp)} statements/s", status(cf, 80e3, False), "from an embedded SQLite ctldb (§10 says from MySQL); status from the feed"))
    t.append(("write ack → visible on a host", "p99 ≤ 10 ms", lat3(feed), status(feed.get("p99_ms"), 10.0), "via the feed"))
    for n, limit in ((1000, 250.0), (10000, 1000.0)):
        x = fan.get(n) or {}
        t.append((f"write ack → visible, {n:,} followers", f"p99 ≤ {fmt(limit)} ms", f"a follower p99 {fmt(x.get('follower_p99_ms'))} ms; every follower p99 {fmt(x.get('every_p99_ms'))} ms",
                  status(x.get("follower_p99_ms"), limit), "status from a follower's p99"))
    relayed = fanout_runs(f.get("fanout_relays"))
    x = relayed[max(relayed)] if relayed else {}
    n, r = x.get("followers"), x.get("relays")
    who = f"{cnt(r)} × {cnt(n / r)} followers via relays" if n and r else "10 × 1,000 followers via relays"
    t.append((f"write ack → visible, {who}", "every follower p99 ≤ 1,000 ms", f"a follower p99 {fmt(x.get('follower_p99_ms'))} ms; every follower p99 {fmt(x.get('every_p99_ms'))} ms",
              status(x.get("every_p99_ms"), 1000.0), "status from every follower's p99; one executive, each relay following it" if x else ""))
    t.append(("ctldb down: a write is answered", "503 within 2 s", "—", "not measured", "a test, not a bench"))
    t.append(("dead feed connection noticed", "≤ 3 s", "—", "not measured", "a test, not a bench"))
    serving, mib = boot.get("serving_s"), boot.get("ldb_mib")
    scaled = serving * 1024 / mib if serving is not None and mib else None
    t.append(("bootstrap a 1 GB snapshot", "≤ 15 s", f"{fmt(serving)} s for {fmt(mib)} MiB" + (f" (≈ {fmt(scaled)} s per GiB, linear)" if scaled is not None and mib < 1000 else ""),
              status(scaled, 15.0), "extrapolated linearly from the size run" if mib and mib < 1000 else ""))
    lat, sus = loader.get("latency") or {}, loader.get("sustained") or {}
    t.append(("origin (PostgreSQL) commit → host, latency", "p99 ≤ 250 ms", lat3(lat), status(lat.get("p99_ms"), 250.0), ""))
    t.append(("origin (PostgreSQL) → host, sustained", "≥ 20k rows/s", f"{fmt(sus.get('rows_per_s'))} rows/s", status(sus.get("rows_per_s"), 20e3, False), f"{cnt(sus.get('rows'))} rows"))
    # Targets of later issues, recorded in docs/benchmarks.md.
    w = f.get("watch_latency") or {}
    t.append(("watch: ack → Reader::changes (issue 18)", "p99 ≤ 20 ms", lat3(w), status(w.get("p99_ms"), 20.0), ""))
    for n in (1000, 10000):
        x = fan.get(n) or {}
        t.append((f"executive memory per idle follower, {n:,} (issue 21)", "≤ 16 KiB", f"{fmt(x.get('anon_kib_per_follower'))} KiB RssAnon + {fmt(x.get('file_kib_per_follower'))} KiB RssFile",
                  status(None if x.get("anon_kib_per_follower") is None else x["anon_kib_per_follower"] + (x.get("file_kib_per_follower") or 0), 16.0), ""))
    for name in ("sidecar", "reflector", "loader"):
        x = procs.get(name) or {}
        t.append((f"{name} private memory (issue 21)", "RssAnon ≤ 50 MB", mem_figure(x), status(mb(x.get("anon_peak_kib")), 50.0), "memory bench; MB = 10⁶ bytes" if x else ""))
    sq = get(f, "writes", "sqlite") or {}
    t.append(("writes on SQLite, 16 clients (issue 4)", "≥ 2,000 req/s; ≥ 50k rows/s", f"{fmt(sq.get('single_rps'))} req/s; {fmt(sq.get('batch_rows_per_s'))} rows/s",
              "not measured" if not sq.get("single_rps") else ("**met**" if sq["single_rps"] >= 2000 and (sq.get("batch_rows_per_s") or 0) >= 50e3 else "**missed**"), ""))
    return t


PEER_NAMES = {
    "redis": "Redis GET",
    "postgres": "PostgreSQL primary-key SELECT",
    "mariadb": "MariaDB primary-key SELECT",
    "etcd": "etcd range (linearizable)",
    "etcd_serializable": "etcd range (serializable)",
}


def ours_reads(f):
    """Our read figures the peers are set against."""
    r, s = f.get("reads") or {}, get(f, "sidecar", "single") or {}
    out = {}
    if r.get("typed"):
        out["reader"] = ("reader get_row_by_key (in process)", r["typed"]["p50_us"], r["typed"]["p99_us"], r["typed"]["reads_per_s"])
    if r.get("floor"):
        out["floor"] = ("raw SQLite (rusqlite, in process)", r["floor"]["p50_us"], r["floor"]["p99_us"], r["floor"]["reads_per_s"])
    if r.get("cached_typed"):
        out["cached"] = ("reader, cached hot key", r["cached_typed"]["p50_us"], r["cached_typed"]["p99_us"], r["cached_typed"]["reads_per_s"])
    if s:
        out["sidecar"] = ("sidecar over loopback HTTP", s["p50_us"], s["p99_us"], s["req_per_s"])
    return out


def ratio(a, b):
    if a is None or not b:
        return "—"
    r = a / b
    return f"{r:,.2f}×" if r < 1 else f"{r:,.1f}×"


def peer_tables(f, peers):
    lines = []
    ps = peers.get("peers") or {}
    ours = ours_reads(f)
    lines.append(f"Peers: the same run, a table of {peers.get('rows', 100000):,} rows (keys `key-000000`…, a small value), "
                 f"random single-key reads from one Python {peers.get('python', '')} thread, each timed around the client call "
                 "(so the client's own cost is in the figure); ratios are peer ÷ ours (× = times slower than ours).")
    lines.append("")
    lines.append("| reader | p50 | p99 | reads/s | p50 ÷ reader p50 | p99 ÷ reader p99 | p50 ÷ sidecar p50 | client |")
    lines.append("|---|---|---|---|---|---|---|---|")
    rd, sc = ours.get("reader"), ours.get("sidecar")
    for k in ("floor", "reader", "cached", "sidecar"):
        if k in ours:
            label, p50, p99, rps = ours[k]
            lines.append(f"| ours: {label} | {fmt(p50)} µs | {fmt(p99)} µs | {fmt(rps)} | {ratio(p50, rd and rd[1])} | {ratio(p99, rd and rd[2])} | {ratio(p50, sc and sc[1])} | Rust, in the bench |")
    for k, name in PEER_NAMES.items():
        if k in ps:
            x = ps[k]
            lines.append(f"| {name} ({x.get('server', '')}) | {fmt(x['p50_us'])} µs | {fmt(x['p99_us'])} µs | {fmt(x.get('ops_per_s'))} | "
                         f"{ratio(x['p50_us'], rd and rd[1])} | {ratio(x['p99_us'], rd and rd[2])} | {ratio(x['p50_us'], sc and sc[1])} | {x.get('client', '')} |")
    lines.append("")
    w = ps.get("etcd_watch")
    ow, of = f.get("watch_latency") or {}, get(f, "propagation", "propagation_feed") or {}
    lines.append("| propagation | p50 | p99 | max | p50 ÷ our watch p50 | p99 ÷ our watch p99 | p50 ÷ our feed propagation p50 |")
    lines.append("|---|---|---|---|---|---|---|")
    if ow:
        lines.append(f"| ours: write ack → `Reader::changes` event (watch_latency) | {fmt(ow.get('p50_ms'))} ms | {fmt(ow.get('p99_ms'))} ms | {fmt(ow.get('max_ms'))} ms | 1.0× | 1.0× | — |")
    if of:
        lines.append(f"| ours: write ack → row in the LDB (propagation, feed) | {fmt(of.get('p50_ms'))} ms | {fmt(of.get('p99_ms'))} ms | {fmt(of.get('max_ms'))} ms | — | — | 1.0× |")
    if w:
        for label, x in (("put acknowledged", w), ("put sent", w.get("from_send") or {})):
            p50, p99, mx = (x[k] / 1e3 if x.get(k) is not None else None for k in ("p50_us", "p99_us", "max_us"))
            lines.append(f"| etcd watch: {label} → watcher sees it ({w.get('server', '')}) | {fmt(p50)} ms | {fmt(p99)} ms | {fmt(mx)} ms | "
                         f"{ratio(p50, ow.get('p50_ms'))} | {ratio(p99, ow.get('p99_ms'))} | {ratio(p50, of.get('p50_ms'))} |")
    if peers.get("skipped"):
        lines.append("")
    for k, why in (peers.get("skipped") or {}).items():
        lines.append(f"- skipped: peer {k}: {why}")
    return lines


# ---- plots ---------------------------------------------------------------------------------


def pct_points(d, unit):
    """[(latency, percentile)] from the p50/p90/p99/max a bench printed."""
    pts = []
    for key, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100)):
        v = d.get(f"{key}_{unit}")
        if v is not None:
            pts.append((v, p))
    return pts


def plots(f, peers, plot_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(plot_dir, exist_ok=True)
    made = []
    ps = peers.get("peers") or {}

    def curve(ax, pts, label, style="o-"):
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label, markersize=4)

    def save(fig, name, title):
        path = os.path.join(plot_dir, name)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append((name, title))

    # Read latency: our percentile points beside the peers' full curves.
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for k, (label, p50, p99, _) in ours_reads(f).items():
        curve(ax, [(p50, 50), (p99, 99)], "ours: " + label, "s-")
    for k, name in PEER_NAMES.items():
        if k in ps:
            c = ps[k]["curve_us"]
            ax.plot([x[1] for x in c], [100 * x[0] for x in c], "-", label=name)
    if ax.lines:
        ax.set_xscale("log")
        ax.set_xlabel("single-key read latency (µs, log)")
        ax.set_ylabel("percentile")
        ax.set_ylim(0, 101)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        ax.set_title("Read latency: ours (p50, p99 as printed) vs peers (full distribution)")
        save(fig, "read_latency.png", "Read latency, ours vs peers")
    else:
        plt.close(fig)

    # Propagation: ack → visible, every path we measure, and etcd's watch.
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for key, label in (("propagation_feed", "ack → LDB row (feed)"),):
        curve(ax, pct_points(get(f, "propagation", key) or {}, "ms"), "ours: " + label)
    curve(ax, pct_points(f.get("watch_latency") or {}, "ms"), "ours: ack → Reader::changes (watch)")
    curve(ax, pct_points(f.get("trigger_latency") or {}, "ms"), "ours: ack → trigger command")
    curve(ax, pct_points(get(f, "postgres_to_ldb", "latency") or {}, "ms"), "ours: PostgreSQL commit → LDB (loader)")
    curve(ax, pct_points(get(f, "galera", "cross_node") or {}, "ms"), "ours: Galera, cross-node")
    curve(ax, pct_points(get(f, "propagation", "propagation_poll") or {}, "ms"), "ours: ack → LDB row (1 s poll)")
    if "etcd_watch" in ps:
        for key, label in (("curve_us", "etcd watch, from put ack"),):
            c = ps["etcd_watch"][key]
            ax.plot([max(x[1], 1) / 1e3 for x in c], [100 * x[0] for x in c], "-", label=label + " (0 plotted at 1 µs)")
        c = (ps["etcd_watch"].get("from_send") or {}).get("curve_us")
        if c:
            ax.plot([x[1] / 1e3 for x in c], [100 * x[0] for x in c], "--", label="etcd watch, from put sent")
    if ax.lines:
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log)")
        ax.set_ylabel("percentile")
        ax.set_ylim(0, 101)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        ax.set_title("Propagation: write acknowledged → visible (p50, p99, max)")
        save(fig, "propagation.png", "Propagation CDFs")
    else:
        plt.close(fig)

    # Fan-out.
    fan = fanout_runs(f.get("fanout"))
    relayed = fanout_runs(f.get("fanout_relays"))
    if fan or relayed:
        fig, ax = plt.subplots(figsize=(8, 4.8))
        for n, x in sorted(fan.items()):
            curve(ax, [(x["follower_p50_ms"], 50), (x["follower_p99_ms"], 99)], f"{n:,} followers: ack → a follower")
            curve(ax, [(x["every_p50_ms"], 50), (x["every_p99_ms"], 99), (x["every_max_ms"], 100)], f"{n:,} followers: ack → every follower", "s--")
        for n, x in sorted(relayed.items()):
            who = f"{n:,} followers via {x.get('relays', 0):,.0f} relays"
            curve(ax, [(x["follower_p50_ms"], 50), (x["follower_p99_ms"], 99)], f"{who}: ack → a follower", "^-")
            curve(ax, [(x["every_p50_ms"], 50), (x["every_p99_ms"], 99), (x["every_max_ms"], 100)], f"{who}: ack → every follower", "v--")
        for limit, label in ((250, "target p99, 1,000"), (1000, "target p99, 10,000 (and via relays)")):
            ax.axvline(limit, color="grey", linestyle=":", linewidth=1)
            ax.text(limit, 2, " " + label, rotation=90, fontsize=7, color="grey")
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log)")
        ax.set_ylabel("percentile")
        ax.set_ylim(0, 101)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
        ax.set_title("Fan-out from one executive, directly and via relays (p50, p99, max as printed)")
        save(fig, "fanout.png", "Fan-out latency")

    # Memory over time (the memory bench's samples): RssAnon solid, RssFile dashed, per process.
    mem = f.get("memory") or {}
    series = mem.get("series") or {}
    if series:
        fig, ax = plt.subplots(figsize=(8, 4.8))
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        order = list(mem.get("processes") or {}) + [p for p in series if p not in (mem.get("processes") or {})]
        for i, name in enumerate(p for p in order if p in series):
            pts, c = series[name], colors[i % len(colors)]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "-", color=c, label=name)
            ax.plot([p[0] for p in pts], [p[2] for p in pts], "--", color=c, linewidth=1)
        loaded = get(mem, "load", "load_s")
        if loaded is not None:
            ax.axvline(loaded, color="grey", linestyle=":", linewidth=1)
            ax.text(loaded, ax.get_ylim()[1] * 0.98, " rows loaded; sidecar reads begin", fontsize=7, color="grey", va="top")
        ax.plot([], [], "k-", label="RssAnon (private)")
        ax.plot([], [], "k--", linewidth=1, label="RssFile (mapped files)")
        ax.set_xlabel("seconds since the loader started (every other process was up)")
        ax.set_ylabel("MiB")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, ncol=2, loc="upper left")
        ax.set_title("Memory over time, every process (RssAnon solid, RssFile dashed)")
        save(fig, "memory_over_time.png", "Memory over time")

    # Memory with followers parked (fan-out), beside etcd and idle_feed.
    bars = []
    for n, x in sorted(fan.items()):
        if "anon_idle_kib" in x:
            bars.append((f"executive\n{n:,} followers", x["anon_before_kib"] / 1024, x["anon_idle_kib"] / 1024, x["file_before_kib"] / 1024, x["file_idle_kib"] / 1024))
    for n, x in sorted(relayed.items()):
        if "anon_idle_kib" in x:
            bars.append((f"executive\n{n:,} via relays", x["anon_before_kib"] / 1024, x["anon_idle_kib"] / 1024, x["file_before_kib"] / 1024, x["file_idle_kib"] / 1024))
        if "relay_anon_idle_kib" in x:
            bars.append((f"{x['relays']:,.0f} relays, in all\n{n:,} followers\n(RssAnon only)", x["relay_anon_before_kib"] / 1024, x["relay_anon_idle_kib"] / 1024, None, None))
    etcd_rss = get(ps, "etcd", "rss_kib") or {}
    if etcd_rss:
        bars.append(("etcd (peer)\n100k keys", None, etcd_rss.get("RssAnon", 0) / 1024, None, etcd_rss.get("RssFile", 0) / 1024))
    idle = f.get("idle_feed")
    if bars or idle:
        import numpy as np

        fig, ax = plt.subplots(figsize=(8, 4.8))
        labels = [b[0] for b in bars]
        xs = np.arange(len(bars))
        if bars:
            ax.bar(xs - 0.2, [b[2] for b in bars], 0.4, label="RssAnon, followers parked")
            ax.bar(xs + 0.2, [b[4] if b[4] is not None else np.nan for b in bars], 0.4, label="RssFile, followers parked")
            ax.scatter(xs - 0.2, [b[1] if b[1] is not None else np.nan for b in bars], color="k", marker="_", s=300, label="before (RssAnon / RssFile)", zorder=3)
            ax.scatter(xs + 0.2, [b[3] if b[3] is not None else np.nan for b in bars], color="k", marker="_", s=300, zorder=3)
        if idle:
            labels.append(f"idle_feed\n{idle['waiters']:,.0f} waiters\n(VmRSS, both ends)")
            i = len(bars)
            ax.bar(i - 0.2, idle["rss_after_mib"], 0.4, color="tab:purple", label="VmRSS, waiters parked")
            ax.scatter([i - 0.2], [idle["rss_before_mib"]], color="k", marker="_", s=300, zorder=3)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylabel("MiB")
        ax.legend(fontsize=7)
        ax.set_title("Memory with followers parked (RssAnon / RssFile from /proc)")
        save(fig, "memory.png", "Memory with followers parked")

    # Write throughput per backend.
    ws = f.get("writes") or {}
    rows = [(b, d) for b, d in ws.items() if "single_rps" in d]
    if rows:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.6))
        a1.bar([b for b, _ in rows], [d["single_rps"] for _, d in rows], color="tab:blue")
        a1.set_title(f"single-row requests/s ({rows[0][1]['clients']:.0f} clients)", fontsize=9)
        a2.bar([b for b, _ in rows], [d["batch_rows_per_s"] for _, d in rows], color="tab:green")
        a2.set_title("rows/s in batches of 100", fontsize=9)
        save(fig, "writes.png", "Executive write throughput")
    return made


# ---- the generated section -----------------------------------------------------------------


def machine():
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = "?"
    try:
        load = open("/proc/loadavg").read().split()[0]
    except OSError:
        pass
    return f"`nproc` = {os.cpu_count()}, {mem}, {cpu}, Linux {platform.release()}; load average {load} at the report"


def section(f, skipped, peers, made, command, plot_rel):
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    L = [BEGIN, "",
         "## The benchmark report (generated by `bench/run`)", "",
         f"Generated {now} by `{command}` on this machine: {machine()}. "
         "Small parameters (bench/run's table), one run each: expect ±10–30 % against the hand-written sections below.", ""]
    if made:
        L += [f"![{title}]({plot_rel}/{name})" for name, title in made] + [""]
    L += ["### Targets (DESIGN §10, and later issues')", "", "| what | target | measured | status | note |", "|---|---|---|---|---|"]
    for what, target, figure, st, note in targets(f):
        L.append(f"| {what} | {target} | {figure} | {st} | {note} |")
    L += ["", "### Peers", ""]
    if peers:
        L += peer_tables(f, peers)
    else:
        L.append("skipped: peers were not measured in this run (`bench/run --no-peers`, or bench/out/peers.json missing)")
    mt = memory_table(f)
    if mt:
        L += ["", "### Memory per process", ""] + mt
    L += ["", "### TLS off and on (issue 19)", ""] + tls_table(f)
    L += ["", "### Every figure", "", "| bench | measure | figure |", "|---|---|---|"]
    for bench, what, figure in figure_rows(f):
        L.append(f"| {bench} | {what} | {figure} |")
    if skipped:
        L += [""] + [f"- skipped: {name}: {why}" for name, why in sorted(skipped.items())]
    L += ["", END]
    return "\n".join(L)


def rewrite_docs(docs, text):
    doc = open(docs, encoding="utf-8").read()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{docs}: markers {BEGIN} / {END} not found; add them where the section goes")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    open(docs, "w", encoding="utf-8").write(head + text + tail)


# ---- self test -----------------------------------------------------------------------------


EXPECT = {
    "writes": lambda d: d["sqlite"]["single_rps"] and d["mysql"]["batch_rows_per_s"] and d["postgres"]["clients"] == 16,
    "writes_1client": lambda d: d["mysql"]["clients"] == 1,
    "idle_feed": lambda d: d["kib_per_waiter"] == 59.0 and d["answer_all_ms"] == 251,
    "reads": lambda d: d["floor"]["p50_us"] == 4.96 and d["cached_typed"]["reads_per_s"] and d["index"]["p99_us"]
    and d["cached_throughput"]["reads_per_s"] and len(d["change_counters_us"]) == 4 and d["rows"] == 100000,
    "sidecar": lambda d: d["single"]["p50_us"] == 92.3 and d["wrk"]["req_per_s"] == 32100.12 and d["wrk"]["p50_ms"] == 0.93 and d["wrk"]["p99_ms"] == 2.33
    and "non_2xx" not in d["wrk"] and d["tls"]["single"] == {"p50_us": 104.6, "p99_us": 191.2, "req_per_s": 9436, "n": 20000, "rows": 100000}
    and d["tls"]["wrk"] == {"p50_ms": 1.08, "p99_ms": 2.8, "non_2xx": 3, "req_per_s": 27650.4},
    "propagation": lambda d: d["catchup_feed"]["per_s"] and d["catchup_poll"]["per_s"] and d["propagation_feed"]["p99_ms"] == 2.05 and d["propagation_poll"]["n"] == 40,
    "watch_latency": lambda d: d["p50_ms"] == 1.02 and d["max_ms"] == 1.77 and d["n"] == 200,
    "bootstrap": lambda d: d["serving_s"] == 1.9 and d["ldb_mib"] == 342 and d["object_mib"] == 73,
    "postgres_to_ldb": lambda d: d["sustained"]["rows_per_s"] == 32306 and d["latency"]["p99_ms"] == 57.5,
    "fanout": lambda d: d[1000]["every_p99_ms"] == 51.0 and d[1000]["reflector_p99_ms"] == 9.8 and d[10000]["reflector_seen"] == 90 and d[10000]["anon_kib_per_follower"] == 18.1 and d[10000]["file_idle_kib"] == 9000
    and "relays" not in d[10000] and "relay_cpu_pct" not in d[10000] and "tls" not in d and not any(x["tls"] for x in d.values()),
    "fanout_relays": lambda d: list(d) == [10000] and d[10000]["relays"] == 10 and d[10000]["every_p99_ms"] == 374.4 and d[10000]["cpu_pct"] == 2
    and d[10000]["anon_idle_kib"] == 2600 and d[10000]["relay_cpu_pct"] == 63 and d[10000]["relay_anon_kib_per_follower"] == 18.3
    and d[10000]["relay_file_kib_per_follower"] == 0.1 and d[10000]["relay_anon_idle_kib"] == 203288 and d[10000]["tls"] is False,
    "fanout_tls": lambda d: list(d) == [1000, "tls"] and list(d["tls"]) == [1000] and d[1000]["tls"] is False and d["tls"][1000]["tls"] is True
    and d[1000]["every_p99_ms"] == 36.0 and d["tls"][1000]["every_p99_ms"] == 40.2 and d[1000]["follower_p99_ms"] == 8.7 and d["tls"][1000]["follower_p99_ms"] == 9.8
    and d[1000]["anon_kib_per_follower"] == 19.1 and d["tls"][1000]["anon_kib_per_follower"] == 31.4 and d["tls"][1000]["file_idle_kib"] == 9200
    and d[1000]["reflector_p99_ms"] == 9.1 and d["tls"][1000]["reflector_p99_ms"] == 10.6 and "relays" not in d["tls"][1000]
    and fanout_runs(d) == {1000: d[1000]} and fanout_runs(d, tls=True) == {1000: d["tls"][1000]},
    "memory": lambda d: d["load"]["rows"] == 200000 and d["load"]["reads_per_s"] == 53946 and d["load"]["ldb_mib"] == 8.7
    and list(d["processes"]) == ["executive", "reflector", "sidecar", "supervisor", "heartbeat", "relay", "loader"]
    and d["processes"]["sidecar"]["anon_peak_kib"] == 7784 and d["processes"]["sidecar"]["file_last_kib"] == 29548,
    "galera": lambda d: d["executives_3"]["refused"] == 2 and d["cross_node"]["p50_ms"] == 18.8,
    "trigger_latency": lambda d: d["p50_ms"] == 4.35 and d["n"] == 50,
    "prune": lambda d: d["sqlite"]["pruned"] == 300085 and d["mysql"]["pruning"]["p99_ms"] == 7.26 and d["postgres"]["quiet"]["max_ms"] == 3.84,
}

# More fixtures, each (file, parser, check): earlier or rarer shapes of a bench's output.
EXPECT_MORE = [
    # Before TLS (issue 19): no " over {transport}"; reads as the plain-TCP run.
    ("sidecar_old.txt", parse_sidecar, lambda d: set(d) == {"single", "wrk"} and d["single"]["p50_us"] == 92.3 and d["single"]["rows"] == 100000
     and d["wrk"] == {"p50_ms": 0.93, "p99_ms": 2.33, "req_per_s": 32100.12}),
    ("sidecar_nowrk.txt", parse_sidecar, lambda d: d["single"]["p50_us"] == 95.0 and d["tls"]["single"]["p99_us"] == 199.9
     and d["wrk"] == {"skipped": "wrk not installed"} and d["tls"]["wrk"] == {"skipped": "wrk not installed"}),
    ("fanout_relays_tls.txt", parse_fanout, lambda d: list(d) == [10000, "tls"] and d[10000]["tls"] is False and d["tls"][10000]["tls"] is True
     and d[10000]["relays"] == 10 and d["tls"][10000]["relays"] == 10 and d[10000]["every_p99_ms"] == 374.4 and d["tls"][10000]["every_p99_ms"] == 451.3
     and d["tls"][10000]["missing"] == 1 and d[10000]["relay_anon_kib_per_follower"] == 18.3 and d["tls"][10000]["relay_anon_kib_per_follower"] == 30.2
     and d["tls"][10000]["cpu_pct"] == 3),
]


def selftest(plot_dir=None, docs=None):
    data = os.path.join(HERE, "testdata")
    bad = 0
    for name, parse in PARSERS.items():
        path = os.path.join(data, name + ".txt")
        d = parse(open(path, encoding="utf-8").read())
        try:
            ok = bool(EXPECT[name](d))
        except (KeyError, TypeError) as e:
            ok = False
            d = {"error": repr(e), "parsed": d}
        print(f"{'ok  ' if ok else 'FAIL'} parse_{PARSERS[name].__name__[6:]:<16} {name}.txt" + ("" if ok else f": {d}"))
        bad += not ok
    for name, parse, check in EXPECT_MORE:
        d = parse(open(os.path.join(data, name), encoding="utf-8").read())
        try:
            ok = bool(check(d))
        except (KeyError, TypeError) as e:
            ok = False
            d = {"error": repr(e), "parsed": d}
        print(f"{'ok  ' if ok else 'FAIL'} {parse.__name__:<22} {name}" + ("" if ok else f": {d}"))
        bad += not ok
    series = load_memory_csv(os.path.join(data, "memory.csv"))
    ok = len(series) == 7 and len(series["loader"]) == 35 and series["sidecar"][-1] == (20.852, 7784 / 1024, 29548 / 1024)
    print(f"{'ok  ' if ok else 'FAIL'} load_memory_csv        memory.csv" + ("" if ok else f": {dict((k, len(v)) for k, v in series.items())}"))
    bad += not ok
    f, skipped, peers = load(data)
    targets(f)
    figure_rows(f)
    memory_table(f)
    # TLS off and on: every figure from the fixtures, and the plain runs still feed the targets.
    tls = tls_table(f)
    want = ["| sidecar, 1 keep-alive connection: p50 (µs) | 92.3 | 105 | +13 % |",
            "| sidecar, 1 connection: req/s | 10,700 | 9,436 | -12 % |",
            "| sidecar, wrk -c32: req/s | 32,100 | 27,650 | -14 % |",
            "| sidecar, wrk -c32: p99 (ms) | 2.33 | 2.80 | +20 % |",
            "| fan-out, 1,000 followers: ack → every follower notified p99 (ms) | 36.0 | 40.2 | +12 % |",
            "| fan-out, 1,000 followers: ack → follower p99 (ms) | 8.70 | 9.80 | +13 % |",
            "| executive memory per idle follower, 1,000 followers (KiB RssAnon) | 19.1 | 31.4 | +12.3 KiB (+64 %) |"]
    rows = figure_rows(f)
    t = {what: figure for what, _, figure, _, _ in targets(f)}
    ok = (all(w in tls for w in want)
          and ("sidecar", "1 keep-alive connection over TLS", "p50 105 µs, p99 191 µs, 9,436 req/s") in rows
          and ("sidecar", "wrk -t2 -c32 -d5s over TLS", "27,650 req/s; p50 1.08 ms, p99 2.80 ms; 3 non-2xx") in rows
          and ("fanout_tls", "1,000 followers over mutual TLS: ack → every follower", "p50 20.1, p99 40.2, max 41.0 ms; 0 missing") in rows
          and ("fanout_tls", "1,000 followers: ack → every follower", "p50 18.4, p99 36.0, max 37.2 ms; 0 missing") in rows
          and t["sidecar, wrk -c32: throughput"] == "32,100 req/s" and t["write ack → visible, 1,000 followers"].startswith("a follower p99 45.2 ms")
          and t["write ack → visible, 10 × 1,000 followers via relays"].startswith("a follower p99 340 ms"))
    print(f"{'ok  ' if ok else 'FAIL'} tls_table, figure_rows, targets: TLS off and on" + ("" if ok else ": " + "\n".join(tls)))
    bad += not ok
    # No figure at all, or only the TLS runs: "—" and "not measured", never an exception.
    try:
        for g in ({}, {"sidecar": {"tls": get(f, "sidecar", "tls")}, "fanout_tls": {"tls": get(f, "fanout_tls", "tls")},
                       "fanout": {"tls": get(f, "fanout_tls", "tls")}, "fanout_relays": {"tls": get(f, "fanout_tls", "tls")}}):
            targets(g)
            figure_rows(g)
            lines = tls_table(g)
            section(g, {}, {}, [], "bench/report.py --selftest", "benchmarks")
        ok = "| sidecar, 1 keep-alive connection: p50 (µs) | — | 105 | — |" in lines and all("| — |" in x for x in tls_table({}) if x.startswith("| s"))
    except Exception as e:  # noqa: BLE001 (the point of the test)
        ok, lines = False, [repr(e)]
    print(f"{'ok  ' if ok else 'FAIL'} report with figures missing" + ("" if ok else ": " + "\n".join(lines)))
    bad += not ok
    if plot_dir:
        made = plots(f, peers, plot_dir)
        text = section(f, skipped, peers, made, "bench/report.py --selftest", os.path.relpath(plot_dir, os.path.dirname(docs or plot_dir + "/x")))
        if docs:
            rewrite_docs(docs, text)
        print(f"plots: {', '.join(n for n, _ in made)}")
    print(f"{len(PARSERS) + len(EXPECT_MORE) + 3 - bad} passed, {bad} failed")
    return bad == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "out"), help="where bench/run left <bench>.txt and peers.json")
    ap.add_argument("--docs", default=os.path.join(REPO, "docs", "benchmarks.md"), help="the file whose generated section is rewritten")
    ap.add_argument("--plots", default=None, help="PNG directory (default: docs/benchmarks beside --docs)")
    ap.add_argument("--command", default="bench/run", help="the command named in the section")
    ap.add_argument("--no-docs", action="store_true", help="only write OUT/report.md, not the section of --docs")
    ap.add_argument("--selftest", action="store_true", help="parse bench/testdata/*.txt and check the figures")
    ap.add_argument("--selftest-plots", default=None, help="with --selftest: also draw plots into this directory (and rewrite --docs if given with it)")
    args = ap.parse_args()
    if args.selftest:
        sys.exit(0 if selftest(args.selftest_plots, None if args.no_docs else (args.docs if args.selftest_plots else None)) else 1)
    plot_dir = args.plots or os.path.join(os.path.dirname(os.path.abspath(args.docs)), "benchmarks")
    f, skipped, peers = load(args.out)
    with open(os.path.join(args.out, "figures.json"), "w") as out:
        json.dump({"figures": {k: {str(a): b for a, b in v.items() if a != "series"} for k, v in f.items()}, "skipped": skipped}, out, indent=1)
    made = plots(f, peers, plot_dir)
    text = section(f, skipped, peers, made, args.command, os.path.relpath(plot_dir, os.path.dirname(os.path.abspath(args.docs))))
    with open(os.path.join(args.out, "report.md"), "w", encoding="utf-8") as out:
        out.write(text + "\n")
    if args.no_docs:
        print(f"report: {os.path.relpath(os.path.join(args.out, 'report.md'))} (docs untouched); plots in {os.path.relpath(plot_dir)}")
    else:
        rewrite_docs(args.docs, text)
        print(f"report: rewrote the generated section of {os.path.relpath(args.docs)}; plots in {os.path.relpath(plot_dir)}: {', '.join(n for n, _ in made) or 'none'}")
    for what, target, figure, st, _ in targets(f):
        print(f"target: {what}: {target}: {figure}: {st.strip('*')}")


if __name__ == "__main__":
    main()
