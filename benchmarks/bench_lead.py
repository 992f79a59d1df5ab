"""Server time and payload of the grid-lead page's callbacks at city scale, over HTTP.

    .venv/bin/python benchmarks/bench_lead.py [--db gridmap_bench_lead] [--runs 20]
        [--out benchmarks/results/lead_city.json] [--keep]

Copies the shared city database (10k grids, 500k buildings, 35k cameras, 2 M cases, 6.4 M
pings; see citydb.py) into ``--db`` unless it exists, applies the grid SQL functions,
computes patrol visits and service coverage when missing, adds a grid lead (three grids of
one community) and a command account, serves the app with ``gridmap serve`` (one gunicorn
worker), signs in like a browser and POSTs the callbacks as the page does
(``/_dash-update-component``), timing each request end to end and counting response bytes:

- **open** — the page's first filter callback (options, framed map, table scope);
- **hierarchy** — a street chosen (command: one of 110 streets);
- **attributes** — open cases ≥ 3 (command: over the chosen street; and, the worst case,
  over the whole city);
- **box select** — an area drawn on the map (a Patch of the grid and case traces);
- **grid select** — the detail panel and outline of one grid;
- **table page** — the next server-side page of cases.

Peers side by side: *naive* grid select (the figures of every visible grid computed, one
kept) and *naive* map (every grid of the city as the grid layer's GeoJSON, re-sent on each
filter change), and the *limit*: the bare SQL of one grid's figures. p50/p95 over
``--runs`` after two warm-ups; load average recorded (2 shared cores). Target (issue 6):
p95 ≤ 300 ms and ≤ 1 MB per update.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.citydb import DB_NAME  # noqa: E402
from gridmap.access.passwords import hash_password  # noqa: E402
from gridmap.db.engine import database_url, drop_database, get_engine  # noqa: E402
from gridmap.derived import compute_all  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402

PASSWORD = "bench-password-1"
TARGET_MS, TARGET_BYTES = 300.0, 1_000_000
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# -- the database ----------------------------------------------------------------------------


def prepare(name: str) -> str:
    """``name``: a copy of the city database with grid functions, patrol visits and
    service coverage (kept when it exists); its URL."""
    base = make_url(database_url())
    url = base.set(database=name).render_as_string(hide_password=False)
    admin = psycopg2.connect(
        base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    )
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            for _ in range(120):  # the template must have no other session
                try:
                    cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{DB_NAME}"')
                    break
                except psycopg2.errors.ObjectInUse:
                    time.sleep(5)
    admin.close()
    with get_engine(url).begin() as conn:
        conn.exec_driver_sql((ROOT / "sql/functions/grids.sql").read_text())
    compute_all(url, steps=("patrol_static", "patrol_visits", "coverage"), missing_only=True)
    return url


def accounts(url: str) -> list[int]:
    """A grid lead of three grids of the busiest community and a command account; the lead's
    grid ids."""
    with get_engine(url).begin() as conn:
        grids = list(
            conn.execute(
                text(
                    "SELECT id FROM grids WHERE community_id = (SELECT g.community_id FROM "
                    "cases c JOIN grids g ON g.id = c.grid_id GROUP BY 1 ORDER BY count(*) "
                    "DESC LIMIT 1) ORDER BY id LIMIT 3"
                )
            ).scalars()
        )
        for username, role in (("bench_lead_h3", "grid_lead"), ("bench_command_h3", "command")):
            uid = conn.execute(
                text(
                    "INSERT INTO users (username, display_name, role, password_hash) "
                    "VALUES (:u, :u, :r, :h) ON CONFLICT (username) DO UPDATE SET "
                    "password_hash = EXCLUDED.password_hash, active = true RETURNING id"
                ),
                {"u": username, "r": role, "h": hash_password(PASSWORD)},
            ).scalar_one()
            conn.execute(text("DELETE FROM user_grids WHERE user_id = :u"), {"u": uid})
            if role == "grid_lead":
                conn.execute(
                    text("INSERT INTO user_grids SELECT :u, unnest(CAST(:g AS integer[]))"),
                    {"u": uid, "g": grids},
                )
    return grids


# -- the server and the callbacks ------------------------------------------------------------


def serve(url: str, log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    command = [
        str(Path(sys.executable).parent / "gridmap"),
        "serve",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if requests.get(base + "/healthz", timeout=5).ok:
                return process, base
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError(log.read_text()[-2000:])


def signed_in(base: str, username: str) -> requests.Session:
    http = requests.Session()
    page = http.get(base + "/login", timeout=30).text
    token = _CSRF.search(page).group(1)
    http.post(
        base + "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        timeout=30,
    )
    http.get(base + "/lead", timeout=60)
    http.headers["X-CSRFToken"] = http.cookies["_csrf_token"]
    return http


class Callbacks:
    """Builds ``/_dash-update-component`` bodies from the app's dependency list."""

    def __init__(self, http: requests.Session, base: str) -> None:
        self.http, self.base = http, base
        self.deps = http.get(base + "/_dash-dependencies", timeout=30).json()

    def find(self, output_part: str) -> dict[str, Any]:
        return next(d for d in self.deps if output_part in d["output"])

    def post(self, output_part: str, values: dict[str, Any], changed: list[str]):
        dep = self.find(output_part)
        outputs = [
            {"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]}
            for o in dep["output"].strip(".").split("...")
        ]
        body = {
            "output": dep["output"],
            "outputs": outputs if dep["output"].startswith("..") else outputs[0],
            "inputs": [
                {**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in dep["inputs"]
            ],
            "state": [
                {**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in dep["state"]
            ],
            "changedPropIds": changed,
        }
        started = time.perf_counter()
        response = self.http.post(self.base + "/_dash-update-component", json=body, timeout=120)
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        return elapsed, len(response.content), response.json()


def measure(name: str, runs: int, call: Callable[[int], tuple[float, int, Any]]) -> dict:
    for i in range(2):
        call(i)
    times, sizes = [], []
    before = os.getloadavg()[0]
    for i in range(runs):
        ms, size, _ = call(i)
        times.append(ms)
        sizes.append(size)
    times.sort()
    row = {
        "name": name,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, round(0.95 * len(times)) - 1)], 1),
        "bytes": max(sizes),
        "load_before": round(before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    row["meets_target"] = row["p95_ms"] <= TARGET_MS and row["bytes"] <= TARGET_BYTES
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return row


FILTER_KEYS = (
    "district",
    "street",
    "community",
    "grid",
    "min_open_cases",
    "min_population",
    "min_vulnerable",
    "max_patrol_pct",
)


def filter_values(**chosen: Any) -> dict[str, Any]:
    values = {f"lead-{k}.value": chosen.get(k) for k in FILTER_KEYS}
    values.update(
        {
            "lead-case-status.value": chosen.get("status", "all"),
            "lead-graph.selectedData": chosen.get("selected"),
            "lead-clear-area.n_clicks": 0,
            "lead-filter.data": chosen.get("stored"),
            "lead-lang.data": "zh-CN",
        }
    )
    return values


def user_rows(cb: Callbacks, who: str, runs: int, url: str, lead_grids: list[int]) -> list[dict]:
    rows = []
    choose = "lead-filter.data"
    _, _, first = cb.post(choose, filter_values(), [])
    out = first["response"]
    streets = out["lead-street"]["options"]
    scope = out["lead-scope"]["data"]
    # a whole-city scope is None (no 10k-id list): the command account opens the lead's grids
    grid_ids = scope["grid_ids"] or lead_grids
    rows.append(measure(f"{who}: open", runs, lambda i: cb.post(choose, filter_values(), [])))
    rows.append(
        measure(
            f"{who}: hierarchy (street)",
            runs,
            lambda i: cb.post(
                choose,
                filter_values(street=streets[i % len(streets)]["value"]),
                ["lead-street.value"],
            ),
        )
    )
    street = streets[0]["value"]
    rows.append(
        measure(
            f"{who}: attributes (open cases >= 3, one street)",
            runs,
            lambda i: cb.post(
                choose,
                filter_values(street=street, min_open_cases=3),
                ["lead-min_open_cases.value"],
            ),
        )
    )
    if who == "command":
        rows.append(
            measure(
                f"{who}: attributes (open cases >= 3, whole city)",
                max(3, runs // 4),
                lambda i: cb.post(
                    choose, filter_values(min_open_cases=3 + i % 2), ["lead-min_open_cases.value"]
                ),
            )
        )
    with get_engine(url).connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                "ST_Extent(geom)::geometry e FROM grids WHERE id = ANY (:g)) x"
            ),
            {"g": lead_grids},
        ).one()
    box = {"range": {"map": [[x0, y1], [(x0 + x1) / 2, (y0 + y1) / 2]]}}
    rows.append(
        measure(
            f"{who}: box select",
            runs,
            lambda i: cb.post(
                choose,
                filter_values(street=street if who == "command" else None, selected=box),
                ["lead-graph.selectedData"],
            ),
        )
    )
    rows.append(
        measure(
            f"{who}: grid select (detail panel)",
            runs,
            lambda i: cb.post(
                "lead-detail.children",
                {"lead-grid.data": grid_ids[i % len(grid_ids)], "lead-lang.data": "zh-CN"},
                ["lead-grid.data"],
            ),
        )
    )
    rows.append(
        measure(
            f"{who}: table page",
            runs,
            lambda i: cb.post(
                "lead-table.rowData",
                {
                    "lead-scope.data": scope,
                    "lead-next.n_clicks": i + 1,
                    "lead-offset.data": 0,
                    "lead-lang.data": "zh-CN",
                },
                ["lead-next.n_clicks"],
            ),
        )
    )
    return rows


def sql_peers(url: str, grid: int, runs: int) -> list[dict]:
    """The limit (one grid's figures, bare SQL) and the naive peers."""
    engine = get_engine(url)
    settings = get_settings()
    at = datetime.now(UTC)
    params = {
        "at": at,
        "from": at.replace(year=at.year - 1),
        "k": settings.lead_service_kind,
        "m": settings.lead_service_minutes,
    }

    def timed(sql: str, **extra: Any) -> Callable[[int], tuple[float, int, Any]]:
        def call(_i: int) -> tuple[float, int, Any]:
            started = time.perf_counter()
            with engine.connect() as conn:
                rows = conn.execute(text(sql), {**params, **extra}).all()
            return (
                (time.perf_counter() - started) * 1000,
                len(json.dumps([list(map(str, r)) for r in rows])),
                None,
            )

        return call

    figures = "SELECT * FROM gridmap_grid_figures(CAST(:g AS integer[]), :at, :from, :k, :m)"
    return [
        measure("limit: one grid's figures (bare SQL)", runs, timed(figures, g=[grid])),
        measure(
            "naive: figures of every grid, one kept", max(3, runs // 4), timed(figures, g=None)
        ),
        measure(
            "naive map: every grid as GeoJSON (grid layer)",
            max(3, runs // 4),
            timed(
                "SELECT id, ST_AsGeoJSON(geom, 6) "
                "FROM gridmap_layer_grids(NULL, NULL, NULL, NULL, 0)"
            ),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="gridmap_bench_lead")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/lead_city.json"))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    url = prepare(args.db)
    lead_grids = accounts(url)
    log = ROOT / "benchmarks/results/lead_server.log"
    process, base = serve(url, log)
    try:
        results = []
        for who, username in (("lead", "bench_lead_h3"), ("command", "bench_command_h3")):
            cb = Callbacks(signed_in(base, username), base)
            results += user_rows(cb, who, args.runs, url, lead_grids)
        results += sql_peers(url, lead_grids[0], args.runs)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.unlink(missing_ok=True)
    with get_engine(url).connect() as conn:
        scale = dict(
            conn.execute(
                text(
                    "SELECT 'grids', count(*) FROM grids UNION ALL "
                    "SELECT 'buildings', count(*) FROM buildings UNION ALL "
                    "SELECT 'cases', count(*) FROM cases"
                )
            ).all()
        )
    report = {
        "benchmark": "grid-lead page callbacks over HTTP (gunicorn, 1 worker)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": scale,
        "cpus": os.cpu_count(),
        "target": {"p95_ms": TARGET_MS, "bytes": TARGET_BYTES},
        "runs": args.runs,
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {args.out}")
    if not args.keep:
        get_engine(url).dispose()
        drop_database(url)


if __name__ == "__main__":
    main()
