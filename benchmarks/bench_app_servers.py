"""Reads per second of a read mix through HAProxy with 1 vs 2 ``gridmap serve`` app servers,
beside one server answering directly (the single-machine path).

    .venv/bin/python benchmarks/bench_app_servers.py [--db gridmap_bench_server]
        [--users 16] [--seconds 8] [--rounds 3] [--out benchmarks/results/app_servers.json]

Loads the small demo city (seed 7) into ``--db`` unless it exists (as
bench_server_load.py), then for each configuration starts the app servers (2 gunicorn
workers each, the default) and HAProxy with deploy/haproxy.cfg (ports substituted), and
``--users`` threads (one keep-alive session each, an admin's API token) read back to back:
``/api/v1/cases?limit=20``, ``/api/v1/cases/<id>``, a z14 grids tile and ``/healthz`` in
turn. Requests per second, p50/p95 latency, errors and the load average per run; the
configurations run in turn ``--rounds`` times and the median requests/s is reported.

On this 2-core machine (shared with other work) two servers cannot be faster than one:
both run on the same two cores as the database, HAProxy and the clients. What the figures
show is the proxy's cost and that a second server costs nothing; the gain of a second
server needs a second machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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

from benchmarks.bench_server_load import demo_database, pct  # noqa: E402
from benchmarks.bench_tiles import tile_of  # noqa: E402
from gridmap.db.engine import get_engine  # noqa: E402
from tests.gridmap.web.conftest import free_port  # noqa: E402
from tests.gridmap.web.test_haproxy import render_config  # noqa: E402
from tests.signin import api_token  # noqa: E402

#: (name, app servers, through HAProxy)
CONFIGS = (("direct", 1, False), ("haproxy_1_server", 1, True), ("haproxy_2_servers", 2, True))
HOST = "127.0.0.1"
NOTE = (
    "2 cores shared by the database, HAProxy, the servers, the clients and other work: "
    "what a second server on the same machine gains comes from more worker processes "
    "taking a larger share of contended cores, not from more capacity. A second server "
    "adds availability here; throughput needs a second machine."
)
MIDDLE_SQL = "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)) c FROM grids) m"


def serve(url: str) -> tuple[subprocess.Popen, str]:
    """One ``gridmap serve`` (2 workers) on a free port, once healthy."""
    port = free_port(HOST)
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env |= {"GRIDMAP_PROXY_HOPS": "1", "GRIDMAP_PLAN_WARMUP": "false"}
    command = [str(Path(sys.executable).parent / "gridmap"), "serve", "--host", HOST]
    command += ["--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"{HOST}:{port}"
    wait_healthy(f"http://{address}")
    return proc, address


def wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=10).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{base} did not become healthy")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_load(
    base: str, token: str, ids: list[int], tile: str, users: int, seconds: float
) -> dict[str, Any]:
    paths = ["/api/v1/cases?limit=20", None, tile, "/healthz"]
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    load_before = os.getloadavg()[0]

    def user(n: int) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        i = n
        while time.monotonic() < stop_at:
            i += 1
            path = paths[i % len(paths)] or f"/api/v1/cases/{ids[i % len(ids)]}"
            started = time.perf_counter()
            try:
                ok = http.get(base + path, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                if ok:
                    times.append(time.perf_counter() - started)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "requests_per_s": round(len(times) / seconds, 1),
        "p50_ms": pct(times, 0.5),
        "p95_ms": pct(times, 0.95),
        "errors": errors[0],
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def measure(url: str, name: str, servers: int, proxied: bool, users: int, seconds: float):
    apps = [serve(url) for _ in range(servers)]
    proxy = None
    try:
        base = f"http://{apps[0][1]}"
        if proxied:
            home = Path(tempfile.mkdtemp(prefix="bench-haproxy-"))
            port = free_port(HOST)
            config = home / "haproxy.cfg"
            addresses = [address for _, address in apps]
            config.write_text(render_config(addresses, f"{HOST}:{port}", home / "admin.sock"))
            proxy = subprocess.Popen(
                ["haproxy", "-db", "-f", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            base = f"http://{HOST}:{port}"
            wait_healthy(base)
            time.sleep(1.5)  # every server up (rise 2) and past its slow start
        token = api_token(url, "admin", username="bench_admin")
        with get_engine(url).connect() as conn:
            ids = list(conn.execute(text("SELECT id FROM cases ORDER BY id LIMIT 200")).scalars())
            middle = conn.execute(text(MIDDLE_SQL)).one()
        x, y = tile_of(*middle, 14)
        tile = f"/tiles/grids/14/{x}/{y}.pbf"
        run_load(base, token, ids, tile, users, 2.0)  # warm the workers' caches and pools
        row = {"config": name, "app_servers": servers, "haproxy": proxied, "users": users}
        return row | run_load(base, token, ids, tile, users, seconds)
    finally:
        if proxy is not None:
            stop(proxy)
        for proc, _ in apps:
            stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="gridmap_bench_server")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3, help="each configuration, in turn")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/app_servers.json"))
    args = parser.parse_args()
    url = demo_database(args.db)
    results = []
    for round_ in range(1, args.rounds + 1):  # interleaved: the machine's load drifts
        for name, servers, proxied in CONFIGS:
            row = {"round": round_} | measure(url, name, servers, proxied, args.users, args.seconds)
            print(json.dumps(row))
            results.append(row)
    medians = {
        name: statistics.median(r["requests_per_s"] for r in results if r["config"] == name)
        for name, _, _ in CONFIGS
    }
    report = {
        "benchmark": "read mix (case list, case, grids tile, /healthz) through HAProxy, "
        "1 vs 2 app servers (2 workers each), beside one server answering directly",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": "small demo (seed 7)",
        "cpus": os.cpu_count(),
        "seconds": args.seconds,
        "note": NOTE,
        "median_requests_per_s": medians,
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
