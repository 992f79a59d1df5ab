"""``/healthz`` and a typical API read under concurrent users and slow clients, for the
former server configuration (gunicorn ``gthread``: 2 workers x 4 threads) and the current
one (gunicorn ``asgi`` + a2wsgi: 2 workers, 4 app threads + 2 probe threads each).

    .venv/bin/python benchmarks/bench_server_load.py [--db gridmap_bench_server]
        [--seconds 8] [--out benchmarks/results/server_load.json] [--keep]

Loads the small demo city (seed 7) into ``--db`` unless it exists, then for each
configuration serves it with 2 workers on a loopback address and runs each scenario for
``--seconds``: N users (threads, one keep-alive session each, an admin's API token) read
``GET /api/v1/cases?limit=20`` back to back while a probe asks ``/healthz`` every 0.1 s on
a fresh connection (a load balancer's view); with K idle slow clients, K connections have
sent half a request line and headers and then nothing. Latency p50/p95 per request kind,
reads per second, errors, and probes that took 5 s or longer (a probe's timeout); the load
average before and after each scenario (the machine has 2 cores shared with other work).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap.db.engine import database_url, drop_database, ensure_database  # noqa: E402
from gridmap.db.migrations import upgrade  # noqa: E402
from gridmap.demo.load import has_data, load_demo  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402
from tests.signin import api_token  # noqa: E402

CONFIGS = ("gthread", "asgi")
#: (users, idle slow clients)
SCENARIOS = ((8, 0), (32, 0), (150, 0), (8, 32))
PROBE_TIMEOUT = 5.0
HOST = "127.0.0.77"


def demo_database(name: str) -> str:
    url = make_url(database_url()).set(database=name).render_as_string(hide_password=False)
    ensure_database(url)
    upgrade(url, get_settings().sql_dir / "migrations")
    if not has_data(url):
        load_demo(url, scale="small", seed=7, progress=False)
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def serve(url: str, worker_class: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    code = f"from gridmap.web.server import run; run({HOST!r}, {port}, 2, {worker_class!r})"
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=5).ok:
                return proc, base
        except requests.ConnectionError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{worker_class} server did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 1)


def idle_clients(base: str, count: int) -> list[socket.socket]:
    host, port = base.removeprefix("http://").split(":")
    socks = []
    for _ in range(count):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(b"GET /api/v1/cases HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        socks.append(s)
    return socks


def scenario(base: str, token: str, users: int, idle: int, seconds: float) -> dict[str, Any]:
    socks = idle_clients(base, idle)
    time.sleep(0.5)
    reads: list[float] = []
    probes: list[float] = []
    counts = {"read_errors": 0, "probe_errors": 0, "probe_timeouts": 0}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    load_before = os.getloadavg()[0]

    def user() -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                ok = http.get(base + "/api/v1/cases?limit=20", timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                if ok:
                    reads.append(time.perf_counter() - started)
                else:
                    counts["read_errors"] += 1

    def probe() -> None:
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                ok = requests.get(base + "/healthz", timeout=PROBE_TIMEOUT).status_code == 200
                key = None if ok else "probe_errors"
            except requests.Timeout:
                key = "probe_timeouts"
            except requests.RequestException:
                key = "probe_errors"
            with lock:
                if key:
                    counts[key] += 1
                else:
                    probes.append(time.perf_counter() - started)
            time.sleep(0.1)

    threads = [threading.Thread(target=user) for _ in range(users)]
    threads.append(threading.Thread(target=probe))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in socks:
        s.close()
    return {
        "users": users,
        "idle_slow_clients": idle,
        "healthz_p50_ms": pct(probes, 0.5),
        "healthz_p95_ms": pct(probes, 0.95),
        "healthz_answered": len(probes),
        "api_p50_ms": pct(reads, 0.5),
        "api_p95_ms": pct(reads, 0.95),
        "api_reads_per_s": round(len(reads) / seconds, 1),
        **counts,
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="gridmap_bench_server")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/server_load.json"))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    url = demo_database(args.db)
    token = api_token(url, "admin", username="bench_admin")
    results = []
    try:
        for worker_class in CONFIGS:
            proc, base = serve(url, worker_class)
            try:
                for _ in range(20):  # warm both workers
                    requests.get(base + "/api/v1/cases?limit=20", timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                for users, idle in SCENARIOS:
                    row = scenario(base, token, users, idle, args.seconds)
                    row = {"server": worker_class} | row
                    print(json.dumps(row, ensure_ascii=False))
                    results.append(row)
            finally:
                stop(proc)
    finally:
        if not args.keep:
            drop_database(url)
    report = {
        "benchmark": "/healthz and GET /api/v1/cases under load and slow clients (2 workers)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": "small demo (seed 7, 20,000 cases)",
        "cpus": os.cpu_count(),
        "seconds_per_scenario": args.seconds,
        "probe_timeout_s": PROBE_TIMEOUT,
        "configs": {
            "gthread": "gunicorn gthread worker, 4 threads (before issue 12)",
            "asgi": "gunicorn asgi worker + a2wsgi, 4 app threads + 2 probe threads",
        },
        "results": results,
        "median_api_p50_ms": {
            c: statistics.median(r["api_p50_ms"] or 0 for r in results if r["server"] == c)
            for c in CONFIGS
        },
    }
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
