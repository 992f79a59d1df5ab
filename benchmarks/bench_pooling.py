"""Connections and transactions per second with N clients, straight to PostgreSQL and
through pgbouncer in transaction mode (issue 16: pooled connections), side by side.

    .venv/bin/python benchmarks/bench_pooling.py [--seconds 4] [--clients 4 16 64]
        [--pool-size 20] [--out benchmarks/results/pooling.json]

Each scenario runs N client threads for ``--seconds`` against the embedded cluster's
database (started on demand), straight and through a pgbouncer of ``--pool-size`` server
connections started for the run in a temporary folder:

- ``connect``: each client connects, runs one short read, disconnects, again and again
  (a short-lived process or a pool-less client; what a pooler saves most);
- ``transaction``: each client keeps its connection and runs one short read per
  transaction (what gridmap's SQLAlchemy pools do).

Reported per scenario: operations per second, latency p50/p95, errors, the most server
backends of the database seen at once (pg_stat_activity, sampled every 50 ms), and the
load average before and after (the machine has 2 cores shared with other work).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap.db.engine import database_url  # noqa: E402
from gridmap.db.pgbouncer import Bouncer  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402

READ = "SELECT count(*) FROM pg_class WHERE relkind = 'r'"


def backends(admin, dbname: str) -> int:
    with admin.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )
        return cur.fetchone()[0]


def scenario(url: str, admin_url: str, kind: str, clients: int, seconds: float) -> dict:
    dbname = make_url(url).database
    stop = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def client(k: int) -> None:
        conn = None if kind == "connect" else psycopg2.connect(url)
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                if kind == "connect":
                    c = psycopg2.connect(url)
                    with c.cursor() as cur:
                        cur.execute(READ)
                        cur.fetchone()
                    c.close()
                else:
                    with conn.cursor() as cur:
                        cur.execute(READ)
                        cur.fetchone()
                    conn.commit()
            except psycopg2.Error:
                errors[k] += 1
                continue
            latencies[k].append((time.perf_counter() - t0) * 1000)
        if conn is not None:
            conn.close()

    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    load_before = os.getloadavg()[0]
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    most = 0
    while any(t.is_alive() for t in threads):
        most = max(most, backends(admin, dbname))
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    admin.close()
    every = sorted(x for lat in latencies for x in lat)
    return {
        "ops_per_s": round(len(every) / elapsed, 1),
        "p50_ms": round(statistics.median(every), 2) if every else None,
        "p95_ms": round(every[int(0.95 * (len(every) - 1))], 2) if every else None,
        "errors": sum(errors),
        "most_server_backends": most,
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--pool-size", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/pooling.json"))
    args = parser.parse_args()
    direct = database_url()
    folder = Path(tempfile.mkdtemp(prefix="gridmap-bench-pgbouncer-"))
    bouncer = Bouncer(folder, os_user=get_settings().db_os_user)
    bouncer.configure(direct, pool_size=args.pool_size, max_clients=1000)
    bouncer.start()
    results = []
    try:
        pooled = bouncer.url(direct)
        for kind in ("connect", "transaction"):
            for clients in args.clients:
                for path, url in (("direct", direct), ("pgbouncer", pooled)):
                    row = {"kind": kind, "clients": clients, "path": path}
                    row |= scenario(url, direct, kind, clients, args.seconds)
                    print(json.dumps(row))
                    results.append(row)
    finally:
        bouncer.stop()
        shutil.rmtree(folder, ignore_errors=True)
    report = {
        "benchmark": "pooling",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": args.seconds,
        "pool_size": args.pool_size,
        "read": READ,
        "cpus": os.cpu_count(),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
