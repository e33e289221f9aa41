#!/usr/bin/env python3
"""Peers for the benchmark report (issue 21): single-key read latency of Redis, PostgreSQL,
MariaDB and etcd on the same data shape as ours, plus etcd's watch propagation.

Every peer gets a table (or key space) of N rows, string keys `key-000000`.., a small value,
and is read one key at a time, at random, from one Python thread in a tight loop; each read is
timed with time.perf_counter_ns() around the client call, so the figures include the client's
cost (hiredis, psycopg 3 with a server-side prepared statement, mysqlclient (libmariadb),
requests keep-alive to etcd's JSON gateway). The shared Redis, PostgreSQL and MariaDB servers
are only read and written under private names that are removed at the end; etcd is started
privately (temp --data-dir, free ports) and stopped.

    bench/.venv/bin/python bench/peers.py --out bench/out    # PEER_ROWS=100000 PEER_READS=20000

Writes OUT/peers.json (figures and quantile curves) and prints one line per figure; a peer that
cannot run prints "skipped: <peer>: <reason>" and the others go on.
"""

import argparse
import base64
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from urllib.parse import urlparse

ROWS = int(os.environ.get("PEER_ROWS", "100000"))
READS = int(os.environ.get("PEER_READS", "20000"))
WATCH_SAMPLES = int(os.environ.get("PEER_WATCH_SAMPLES", "200"))
PREFIX = f"ctlstore-bench-{os.getpid()}"
TABLE = f"ctlstore_bench_{os.getpid()}"

# Quantiles kept for the CDF plots (fractions).
CURVE = [i / 200 for i in range(1, 200)] + [0.995, 0.999, 1.0]


def key(i):
    return f"key-{i:06d}"


def value(i):
    return f"value-{i:06d}-enabled"


def summarize(ns_samples, wall_s=None):
    """Latency figures (µs) and a quantile curve from per-operation nanoseconds."""
    s = sorted(ns_samples)
    n = len(s)

    def q(p):
        return s[min(n - 1, round((n - 1) * p))] / 1e3

    out = {
        "n": n,
        "p50_us": q(0.5),
        "p90_us": q(0.9),
        "p99_us": q(0.99),
        "max_us": s[-1] / 1e3,
        "curve_us": [[p, q(p)] for p in CURVE],
    }
    if wall_s:
        out["ops_per_s"] = n / wall_s
    return out


def timed_reads(get, reads=READS, rows=ROWS, warm=2000):
    """Random single-key reads, each timed; returns the summary."""
    rng = random.Random(21)
    keys = [key(rng.randrange(rows)) for _ in range(reads)]
    for k in keys[:warm]:
        get(k)
    samples = []
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for k in keys:
        t = clock()
        v = get(k)
        samples.append(clock() - t)
        if v is None:
            raise RuntimeError(f"{k} not found")
    return summarize(samples, time.perf_counter() - started)


def peer_redis(url):
    import redis

    u = urlparse(url)
    r = redis.Redis(host=u.hostname or "127.0.0.1", port=u.port or 6379, db=0)
    r.ping()
    parser = "hiredis" if getattr(redis.utils, "HIREDIS_AVAILABLE", False) else "python parser"
    try:
        pipe = r.pipeline(transaction=False)
        for i in range(ROWS):
            pipe.set(f"{PREFIX}:{key(i)}", value(i))
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        res = timed_reads(lambda k: r.get(f"{PREFIX}:{k}"))
    finally:
        pipe = r.pipeline(transaction=False)
        for i in range(ROWS):
            pipe.delete(f"{PREFIX}:{key(i)}")
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
    res["client"] = f"redis-py {redis.__version__} ({parser}), GET"
    res["server"] = "Redis " + r.info("server").get("redis_version", "?")
    return res


def peer_postgres(url):
    import psycopg

    u = urlparse(url)
    dsn = f"host={u.hostname or '127.0.0.1'} port={u.port or 5432} user={u.username or 'postgres'} dbname=test"
    if u.password:
        dsn += f" password={u.password}"
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        conn.execute(f"CREATE TABLE {TABLE} (k text PRIMARY KEY, v text NOT NULL)")
        with conn.cursor() as cur:
            with cur.copy(f"COPY {TABLE} (k, v) FROM STDIN") as copy:
                for i in range(ROWS):
                    copy.write_row((key(i), value(i)))
        conn.execute(f"ANALYZE {TABLE}")
        cur = conn.cursor()
        sql = f"SELECT v FROM {TABLE} WHERE k = %s"

        def get(k):
            cur.execute(sql, (k,), prepare=True)
            row = cur.fetchone()
            return row[0] if row else None

        res = timed_reads(get)
        version = conn.execute("SHOW server_version").fetchone()[0]
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.close()
    res["client"] = f"psycopg {psycopg.__version__} (libpq), prepared primary-key SELECT"
    res["server"] = f"PostgreSQL {version}"
    return res


def peer_mariadb(url):
    u = urlparse(url)
    host, port = u.hostname or "127.0.0.1", u.port or 3306
    user, password = u.username or "root", u.password or ""
    try:
        import MySQLdb

        conn = MySQLdb.connect(host=host, port=port, user=user, passwd=password, db="test", autocommit=True)
        client = f"mysqlclient {'.'.join(map(str, MySQLdb.version_info[:3]))} (libmariadb)"
    except ImportError:
        import pymysql

        conn = pymysql.connect(host=host, port=port, user=user, password=password, database="test", autocommit=True)
        client = f"PyMySQL {pymysql.__version__} (pure Python)"
    cur = conn.cursor()
    try:
        cur.execute(f"CREATE TABLE {TABLE} (k VARCHAR(32) PRIMARY KEY, v VARCHAR(64) NOT NULL) ENGINE=InnoDB")
        for start in range(0, ROWS, 5000):
            cur.executemany(
                f"INSERT INTO {TABLE} (k, v) VALUES (%s, %s)",
                [(key(i), value(i)) for i in range(start, min(ROWS, start + 5000))],
            )
        sql = f"SELECT v FROM {TABLE} WHERE k = %s"

        def get(k):
            cur.execute(sql, (k,))
            row = cur.fetchone()
            return row[0] if row else None

        res = timed_reads(get)
        cur.execute("SELECT VERSION()")
        version = cur.fetchone()[0]
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.close()
    res["client"] = client + ", primary-key SELECT (text protocol)"
    res["server"] = f"MariaDB {version}"
    return res


# ---- etcd -------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Etcd:
    """A private etcd: its own data dir and free ports; stopped by stop()."""

    def __init__(self):
        binary = shutil.which("etcd")
        if not binary:
            raise RuntimeError("etcd not installed (apt-get install etcd-server)")
        self.dir = tempfile.mkdtemp(prefix="ctlstore-bench-etcd-")
        client, peer = free_port(), free_port()
        self.base = f"http://127.0.0.1:{client}"
        self.log = open(os.path.join(self.dir, "etcd.log"), "w")
        self.proc = subprocess.Popen(
            [
                binary,
                "--name", "bench",
                "--data-dir", os.path.join(self.dir, "data"),
                "--listen-client-urls", self.base,
                "--advertise-client-urls", self.base,
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", f"bench=http://127.0.0.1:{peer}",
                "--max-txn-ops", "1000",
                "--quota-backend-bytes", str(1 << 30),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        import requests

        self.http = requests.Session()
        deadline = time.time() + 20
        while True:
            try:
                if self.http.get(self.base + "/health", timeout=1).ok:
                    break
            except Exception:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("etcd did not start (see its log: " + self.tail() + ")")
            time.sleep(0.1)
        self.version = self.http.get(self.base + "/version").json().get("etcdserver", "?")

    def tail(self):
        try:
            with open(os.path.join(self.dir, "etcd.log")) as f:
                return f.read()[-300:].replace("\n", " ")
        except OSError:
            return "?"

    def post(self, path, body, session=None):
        r = (session or self.http).post(self.base + path, data=json.dumps(body))
        r.raise_for_status()
        return r.json()

    def rss(self):
        return read_rss(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def read_rss(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:")):
                    name, kib = line.split()[:2]
                    out[name.rstrip(":")] = int(kib)
    except OSError:
        pass
    return out


def peer_etcd(etcd):
    for start in range(0, ROWS, 1000):
        ops = [
            {"requestPut": {"key": b64(f"{PREFIX}/{key(i)}"), "value": b64(value(i))}}
            for i in range(start, min(ROWS, start + 1000))
        ]
        etcd.post("/v3/kv/txn", {"success": ops})
    import http.client

    u = urlparse(etcd.base)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    headers = {"Content-Type": "application/json"}

    def reader(serializable):
        def get(k):
            body = {"key": b64(f"{PREFIX}/{k}")}
            if serializable:
                body["serializable"] = True
            conn.request("POST", "/v3/kv/range", json.dumps(body), headers)
            r = conn.getresponse()
            kvs = json.loads(r.read()).get("kvs")
            return kvs[0]["value"] if kvs else None

        return get

    res = timed_reads(reader(False), reads=min(READS, 10000))
    res["client"] = "http.client keep-alive (TCP_NODELAY), JSON gateway POST /v3/kv/range, linearizable"
    res["server"] = f"etcd {etcd.version}"
    res["rss_kib"] = etcd.rss()
    ser = timed_reads(reader(True), reads=min(READS, 10000))
    ser["client"] = res["client"].replace("linearizable", "serializable")
    ser["server"] = res["server"]
    conn.close()
    return res, ser


def etcd_watch(etcd):
    """Put → a watcher on the key sees the event. Two clocks: from the put's acknowledgement
    (the definition our propagation benches use; clamped at 0 when the event beat the
    answer) and from the put being sent."""
    import requests

    watch_key = f"{PREFIX}/watched"
    seen = {}
    cond = threading.Condition()
    ready = threading.Event()
    stream = requests.Session().post(
        etcd.base + "/v3/watch",
        data=json.dumps({"create_request": {"key": b64(watch_key)}}),
        stream=True,
        timeout=60,
    )

    def watcher():
        buf = b""
        try:
            for chunk in stream.raw.read_chunked(decode_content=True):
                now = time.perf_counter_ns()
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    msg = json.loads(line).get("result", {})
                    if msg.get("created"):
                        ready.set()
                    for ev in msg.get("events", []):
                        v = base64.b64decode(ev["kv"]["value"]).decode()
                        with cond:
                            seen[v] = now
                            cond.notify_all()
        except Exception:
            pass

    threading.Thread(target=watcher, daemon=True).start()
    if not ready.wait(10):
        raise RuntimeError("the watch was not created")
    put = requests.Session()
    from_ack, from_send = [], []
    for i in range(WATCH_SAMPLES):
        v = f"w{i}"
        sent = time.perf_counter_ns()
        etcd.post("/v3/kv/put", {"key": b64(watch_key), "value": b64(v)}, put)
        acked = time.perf_counter_ns()
        with cond:
            if not cond.wait_for(lambda: v in seen, timeout=10):
                raise RuntimeError(f"the watcher never saw {v}")
            at = seen[v]
        from_ack.append(max(0, at - acked))
        from_send.append(at - sent)
        time.sleep(0.01)
    # The stream is left open: closing it from here waits for the reader thread's timeout;
    # stopping etcd ends it.
    res = summarize(from_ack)
    res["from_send"] = summarize(from_send)
    res["client"] = "requests, JSON gateway: POST /v3/kv/put; a streaming POST /v3/watch in another thread"
    res["server"] = f"etcd {etcd.version}"
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="bench/out")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    redis_url = os.environ.get("CTLSTORE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    pg_url = os.environ.get("CTLSTORE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    my_url = os.environ.get("CTLSTORE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
    result = {"rows": ROWS, "reads": READS, "python": sys.version.split()[0], "peers": {}, "skipped": {}}

    def attempt(name, fn, *a):
        try:
            t = time.time()
            r = fn(*a)
            extras = {}
            if isinstance(r, tuple):
                r, extras = r[0], {name + "_serializable": r[1]}
            for n, x in {name: r, **extras}.items():
                result["peers"][n] = x
                extra = f", {x['ops_per_s']:,.0f} reads/s" if "ops_per_s" in x else ""
                print(
                    f"peer {n}: p50 {x['p50_us']:.1f} µs, p99 {x['p99_us']:.1f} µs, max {x['max_us']:.1f} µs"
                    f"{extra} ({x['n']} samples; {x['server']}; client {x['client']}; {time.time() - t:.1f} s)",
                    flush=True,
                )
        except Exception as e:  # a peer that cannot run is reported and skipped
            result["skipped"][name] = f"{type(e).__name__}: {e}".strip()
            print(f"skipped: peer {name}: {result['skipped'][name]}", flush=True)
            if os.environ.get("PEER_DEBUG"):
                traceback.print_exc()

    attempt("redis", peer_redis, redis_url)
    attempt("postgres", peer_postgres, pg_url)
    attempt("mariadb", peer_mariadb, my_url)
    etcd = None
    try:
        etcd = Etcd()
    except Exception as e:
        for name in ("etcd", "etcd_watch"):
            result["skipped"][name] = str(e)
            print(f"skipped: peer {name}: {e}", flush=True)
    if etcd:
        try:
            attempt("etcd", peer_etcd, etcd)
            attempt("etcd_watch", etcd_watch, etcd)
        finally:
            etcd.stop()
    with open(os.path.join(args.out, "peers.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
