"""Read throughput with 0 vs 1 read replica (issue 16): N signed-in clients fetch basemap
vector tiles back to back from ``gridmap serve`` (2 workers, the tile cache off so every
tile is made by the database), served once with every read on the primary and once with a
streaming standby listed in GRIDMAP_REPLICA_URLS.

    .venv/bin/python benchmarks/bench_replicas.py [--seconds 10] [--clients 8 32]
        [--out benchmarks/results/replicas.json]

A private primary (embedded cluster in a temporary folder, the small demo city, seed 7)
and its standby (``pg_basebackup -R``) are made for the run and removed after it. Per
configuration and client count: tiles per second, latency p50/p95, errors, and which server
answered the reads (transactions counted in ``pg_stat_database`` on each), with the load
average before and after. This machine has 2 cores: the primary, the standby, the app
server and the clients all share them, so a replica here adds no CPU, only a second
server; the figures show the routing's overhead and the split, not a gain a second machine
would give.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap.db.cluster import Cluster, Standby  # noqa: E402
from gridmap.db.engine import ensure_database, get_engine  # noqa: E402
from gridmap.db.migrations import upgrade  # noqa: E402
from gridmap.demo.load import load_demo  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402
from tests.gridmap.web.conftest import start_server, stop_server  # noqa: E402
from tests.signin import ensure_account, signed_in_session  # noqa: E402

DB = "gridmap_bench_replicas"
ZOOM = 15
TILESET = "basemap"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tiles_of(url: str) -> list[str]:
    """Every z15 tile over the grids' extent (paths)."""
    with get_engine(url).connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom) AS e FROM grids) s"
            )
        ).one()
    (ax, ay), (bx, by) = tile_of(x0, y1, ZOOM), tile_of(x1, y0, ZOOM)
    return [
        f"/tiles/{TILESET}/{ZOOM}/{x}/{y}.pbf" for x in range(ax, bx + 1) for y in range(ay, by + 1)
    ]


def commits(url: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(
            text(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
        ).scalar_one()


def run(base: str, account: tuple[str, str], paths: list[str], clients: int, seconds: float):
    sessions = [signed_in_session(base, *account) for _ in range(clients)]
    lock = threading.Lock()
    ms: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        http, i = sessions[n], n * 7
        while time.monotonic() < stop:
            path = paths[i % len(paths)]
            i += 1
            started = time.perf_counter()
            try:
                r = http.get(base + path, timeout=30)
                ok = r.status_code in (200, 204)
            except requests.RequestException:
                ok = False
            took = (time.perf_counter() - started) * 1000
            with lock:
                if ok:
                    ms.append(took)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ordered = sorted(ms)
    return {
        "tiles_per_s": round(len(ms) / seconds, 1),
        "p50_ms": round(statistics.median(ordered), 1) if ordered else None,
        "p95_ms": round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 1)
        if ordered
        else None,
        "errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/replicas.json")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="gridmap-bench-replicas-")) / ".gridmap"
    primary = Cluster(home)
    results: list[dict[str, Any]] = []
    try:
        primary.start()
        url = primary.url(DB)
        ensure_database(url)
        upgrade(url, get_settings().sql_dir / "migrations")
        started = time.monotonic()
        load_demo(url, scale="small", seed=7, progress=False)
        print(f"demo loaded in {time.monotonic() - started:.0f} s", flush=True)
        standby = Standby(primary, 1)
        standby.start()
        replica = standby.url(DB)
        account = ensure_account(url, "command", username="bench_replicas")
        paths = tiles_of(url)
        print(f"{len(paths)} tiles at z{ZOOM}", flush=True)
        time.sleep(2)  # the standby replays the account
        configs = {"primary only": [], "1 replica": [replica]}
        for name, replicas in configs.items():
            env = {
                "GRIDMAP_REPLICA_URLS": json.dumps(replicas),
                "GRIDMAP_TILE_CACHE_MB": "0",
                "GRIDMAP_PLAN_WARMUP": "false",
            }
            server = start_server(url, f"bench-replicas-{len(replicas)}", workers=2, env=env)
            try:
                run(server.url, account, paths, 4, 3.0)  # warm up both servers' caches
                for clients in args.clients:
                    load_before = os.getloadavg()[0]
                    before = commits(url), commits(replica)
                    result = run(server.url, account, paths, clients, args.seconds)
                    after = commits(url), commits(replica)
                    row = {
                        "config": name,
                        "clients": clients,
                        **result,
                        "primary_transactions": after[0] - before[0],
                        "replica_transactions": after[1] - before[1],
                        "load_before": round(load_before, 2),
                        "load_after": round(os.getloadavg()[0], 2),
                    }
                    print(row, flush=True)
                    results.append(row)
            finally:
                stop_server(server)
    finally:
        for u in (primary.url(DB),):
            get_engine(u).dispose()
        primary.remove()
    out = {
        "benchmark": "basemap z15 tiles read by N signed-in clients, 0 vs 1 read replica",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": "small demo (seed 7)",
        "cpus": os.cpu_count(),
        "seconds_per_run": args.seconds,
        "server": "gridmap serve, 2 workers, GRIDMAP_TILE_CACHE_MB=0",
        "note": "primary, standby, app server and clients share the same 2 cores: a replica "
        "adds a server, not CPU; on separate machines reads would scale with replicas",
        "tiles": len(paths),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
