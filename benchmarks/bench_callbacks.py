"""Server time and payload of the dashboard's main callbacks at city scale, over HTTP.

    .venv/bin/python benchmarks/bench_callbacks.py [--db gridmap_bench_callbacks] [--runs 25]
        [--out benchmarks/results/callbacks_city.json] [--keep]

Copies the shared city database (``gridmap_bench_city``, see citydb.py; never changed
here: 10k grids, 500k buildings, 35k cameras, 2 M cases, 6.4 M pings) into ``--db``
(``CREATE DATABASE … TEMPLATE``), migrates the copy, drops its GPS fixes later than the
clock (the demo day runs to 23:59; a live wall never sees the future), computes what the
wall shows (street pieces, patrol visits, service-circle coverage) unless the copy already
has it, adds a
command and a grid-lead account, starts ``gridmap serve`` (gunicorn, one worker) on it,
signs in and POSTs Dash callback requests (``/_dash-update-component``, as the browser
sends them) — timing each request end to end (server time + localhost HTTP) and counting
the response bytes:

- **map filter change** (``/``): the case filter moved (24 h, 7 d, 30 d, one category, the
  open group) — the live callback patches the case traces, KPI tiles and ticker. Peer: the
  full redraw of the map (every default layer's traces re-sent for the same filter).
- **wall refresh** (``/wall``): the live tick when cases changed (case traces patch, tiles,
  ticker, hottest grids), the tick when nothing changed (the 1 s probe), and the slow tick
  patching the patrol shares — beside its peer re-sending the patrol trace with all grid
  outlines.
- **grid select** (``/lead``): a grid lead picks one of their grids (filter callback:
  options, framed map, scope) and the grid's detail panel with its outline.

p50/p95 over ``--runs`` requests after two warm-ups; the load average before and after is
recorded (2 shared cores). Target (issue 6): p95 ≤ 300 ms and ≤ 1 MB per update. The copy
is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

from benchmarks.citydb import DB_NAME as CITY_DB  # noqa: E402
from gridmap.access.passwords import hash_password  # noqa: E402
from gridmap.cases.filters import CaseChoice  # noqa: E402
from gridmap.db.engine import database_url, drop_database, get_engine  # noqa: E402
from gridmap.db.migrations import upgrade  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402
from gridmap.web.services.map import MapView  # noqa: E402
from layers import LAYERS  # noqa: E402

PASSWORD = "bench-password-1"
TARGET_MS, TARGET_BYTES = 300.0, 1_000_000
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def load() -> float:
    return os.getloadavg()[0]


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# -- the database ----------------------------------------------------------------------------


def copy_city(name: str) -> str:
    """``name`` as a copy of the city database (kept when it exists); its URL."""
    source = make_url(database_url()).set(database=CITY_DB)  # never upgraded from here
    url = source.set(database=name).render_as_string(hide_password=False)
    admin = psycopg2.connect(
        libpq(source.set(database="postgres").render_as_string(hide_password=False))
    )
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (CITY_DB,))
            if cur.fetchone() is None:
                raise SystemExit("no city database: run benchmarks/citydb.py first")
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                for attempt in range(20):  # the template must have no other sessions
                    try:
                        cur.execute(f'CREATE DATABASE "{name}" TEMPLATE {CITY_DB}')
                        break
                    except psycopg2.errors.ObjectInUse:
                        print(f"template busy, retrying ({attempt + 1}) …", flush=True)
                        time.sleep(15)
                else:
                    raise SystemExit("gridmap_bench_city stayed busy; try again later")
    finally:
        admin.close()
    upgrade(url, get_settings().sql_dir / "migrations")
    return url


def trim_future_pings(url: str) -> int:
    """Drop the copy's GPS fixes later than the benchmark's clock (the demo day runs to
    23:59, a live wall never sees the future); the visits are then rebuilt from the rest."""
    with get_engine(url).begin() as conn:
        n = conn.execute(text("DELETE FROM gps_pings WHERE at > now()")).rowcount
        if n:
            conn.execute(text("TRUNCATE edge_visits, edge_last_visit"))
    return n


def compute_wall_inputs(url: str) -> None:
    """Street pieces, patrol visits and coverage, unless the copy already has them (in a
    child process, so none of the computation's memory stays in the benchmark's)."""
    code = (
        "import sys; from gridmap.derived import compute_all; compute_all(sys.argv[1], "
        "steps=('patrol_static', 'patrol_visits', 'coverage'), missing_only=True)"
    )
    print("computing missing street pieces, patrol visits, coverage", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code, url], env=env, check=True)


def accounts(url: str) -> tuple[list[int], int]:
    """A command account and a grid lead of the first community's grids; those grid ids
    and the community id."""
    with get_engine(url).begin() as conn:
        community = conn.execute(text("SELECT min(community_id) FROM grids")).scalar_one()
        grids = conn.execute(
            text("SELECT id FROM grids WHERE community_id = :c ORDER BY id"), {"c": community}
        ).scalars().all()  # fmt: skip
        for username, role in (("bench_command", "command"), ("bench_lead", "grid_lead")):
            uid = conn.execute(
                text(
                    "INSERT INTO users (username, display_name, role, password_hash) "
                    "VALUES (:u, :u, :r, :h) ON CONFLICT (username) DO UPDATE "
                    "SET password_hash = EXCLUDED.password_hash, active = true RETURNING id"
                ),
                {"u": username, "r": role, "h": hash_password(PASSWORD)},
            ).scalar_one()
            if role == "grid_lead":
                conn.execute(text("DELETE FROM user_grids WHERE user_id = :u"), {"u": uid})
                for gid in grids:
                    conn.execute(
                        text("INSERT INTO user_grids (user_id, grid_id) VALUES (:u, :g)"),
                        {"u": uid, "g": gid},
                    )
    return list(grids), community


# -- the server and the Dash requests --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(url: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    gridmap = str(Path(sys.executable).parent / "gridmap")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [gridmap, "serve", "--port", str(port), "--workers", "1"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(base + "/healthz", timeout=5).json().get("ok"):
                return proc, base
        except (requests.ConnectionError, ValueError):
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit(f"gridmap serve did not start: {log.read_text()[-2000:]}")


def signed_in(base: str, username: str) -> requests.Session:
    http = requests.Session()
    page = http.get(base + "/login", timeout=30)
    token = _CSRF.search(page.text).group(1)
    r = http.post(base + "/login", data={"username": username, "password": PASSWORD,
                  "csrf_token": token}, timeout=30, allow_redirects=False)  # fmt: skip
    assert r.status_code == 302, f"sign-in of {username}: {r.status_code}"
    http.get(base + "/login", timeout=30)
    http.headers["X-CSRFToken"] = http.cookies["_csrf_token"]
    return http


class Dash:
    """Build and send callback requests like the Dash renderer does."""

    def __init__(self, http: requests.Session, base: str) -> None:
        self.http, self.base = http, base
        self.deps = http.get(base + "/_dash-dependencies", timeout=30).json()

    def find(self, output_part: str) -> dict[str, Any]:
        matches = [d for d in self.deps if output_part in d["output"]]
        assert len(matches) == 1, (output_part, [d["output"] for d in matches])
        return matches[0]

    @staticmethod
    def _items(specs: list[dict], values: dict[str, Any], expand: dict[str, list]) -> list:
        out: list[Any] = []
        for spec in specs:
            cid, prop = spec["id"], spec["property"]
            if cid.startswith("{"):
                pattern = json.loads(cid)
                kind = pattern["type"]
                value = values.get
                out.append([{"id": c, "property": prop, "value": value((kind, c["layer"], prop))}
                            for c in expand[kind]])  # fmt: skip
            else:
                out.append({"id": cid, "property": prop, "value": values.get(f"{cid}.{prop}")})
        return out

    def body(self, dep: dict, values: dict[str, Any], changed: list[str],
             expand: dict[str, list] | None = None) -> dict[str, Any]:  # fmt: skip
        expand = expand or {}
        outputs = []
        for part in dep["output"][2:-2].split("..."):
            cid, prop = part.rsplit(".", 1)
            if cid.startswith("{"):
                pattern = json.loads(cid)
                outputs.append([{"id": c, "property": prop} for c in expand[pattern["type"]]])
            else:
                outputs.append({"id": cid, "property": prop})
        return {
            "output": dep["output"],
            "outputs": outputs,
            "inputs": self._items(dep["inputs"], values, expand),
            "state": self._items(dep["state"], values, expand),
            "changedPropIds": changed,
        }

    def post(self, body: dict[str, Any]) -> tuple[float, int, dict]:
        t0 = time.perf_counter()
        r = self.http.post(self.base + "/_dash-update-component", json=body, timeout=120)
        ms = (time.perf_counter() - t0) * 1000
        # 204: the callback had nothing to do, so the request did not measure it
        assert r.status_code == 200, f"{r.status_code}: {r.text[:500]}"
        return ms, len(r.content), r.json()


def measure(name: str, runs: int, request: Callable[[int], tuple[float, int, dict]],
            note: str = "") -> dict[str, Any]:  # fmt: skip
    """p50/p95 of ``runs`` requests after two warm-ups (``request(i)`` sends the i-th)."""
    before = load()
    for i in range(2):
        request(-1 - i)
    times, sizes = [], []
    for i in range(runs):
        ms, size, _ = request(i)
        times.append(ms)
        sizes.append(size)
    q = statistics.quantiles(times, n=20, method="inclusive")
    out = {
        "name": name,
        "runs": runs,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(q[18], 1),
        "max_ms": round(max(times), 1),
        "payload_bytes_p50": int(statistics.median(sizes)),
        "payload_bytes_max": max(sizes),
        "load_before": round(before, 2),
        "load_after": round(load(), 2),
        "note": note,
    }
    out["meets_target"] = out["p95_ms"] <= TARGET_MS and out["payload_bytes_max"] <= TARGET_BYTES
    print(f"{name:34s} p50 {out['p50_ms']:7.1f} ms  p95 {out['p95_ms']:7.1f} ms  "
          f"{out['payload_bytes_max'] / 1024:8.1f} KiB  load {before:.1f}", flush=True)  # fmt: skip
    return out


# -- the callbacks ---------------------------------------------------------------------------


def city_view(url: str) -> MapView:
    with get_engine(url).connect() as conn:
        extent = tuple(conn.execute(text("SELECT * FROM gridmap_grids_extent()")).one())
    return MapView.fit(extent)  # type: ignore[arg-type]


def map_filter(dash: Dash, view: MapView, runs: int) -> list[dict[str, Any]]:
    live = dash.find("map-kpis.children")
    redraw = dash.find("map-layer-note")
    layers = [{"layer": layer.id, "type": "map-layer-toggle"} for layer in LAYERS]
    notes = [{"layer": layer.id, "type": "map-layer-note"} for layer in LAYERS]
    expand = {"map-layer-toggle": layers, "map-layer-note": notes}
    toggles = {("map-layer-toggle", layer.id, "value"): ["on"] if layer.default_visible else []
               for layer in LAYERS}  # fmt: skip
    toggles |= {("map-layer-toggle", c["layer"], "id"): c for c in layers}
    toggles |= {("map-layer-note", c["layer"], "id"): c for c in notes}
    choices = [
        CaseChoice(window="24h"),
        CaseChoice(window="7d"),
        CaseChoice(window="30d"),
        CaseChoice(window="30d", categories=("municipal",)),
        CaseChoice(window="30d", group="open"),
    ]

    def values(i: int) -> dict[str, Any]:
        return toggles | {
            "map-live-tick.n_intervals": 5,
            "map-case-filter.data": choices[i % len(choices)].to_store(),
            # what the page drew (its data read before: version 0), so the cases are drawn
            "map-live.data": {"version": 0, "refreshed_at": "2026-01-01T00:00:00+00:00"},
            "map-view.data": view.to_store(),
            "map-lang.data": "zh-CN",
            "map-graph.relayoutData": None,
            "map-start-message.data": ["", "map-message hidden"],
        }

    patch = measure("map filter change (Patch)", runs, lambda i: dash.post(
        dash.body(live, values(i), ["map-case-filter.data"], expand)),
        "live callback forced by the filter: case traces patch + KPI tiles + ticker; "
        "filters cycle 24h, 7d, 30d, 30d municipal, 30d open")  # fmt: skip
    # a toggle on a figure whose layers are not known (no map-drawn): every layer redrawn
    toggled = ['{"layer":"grids","type":"map-layer-toggle"}.value']
    full = measure("map filter change (full redraw)", runs, lambda i: dash.post(
        dash.body(redraw, values(i), toggled, expand)),
        "peer: every default layer's traces re-sent for the same filters")  # fmt: skip
    return [patch, full]


def wall(dash: Dash, url: str, runs: int) -> list[dict[str, Any]]:
    from gridmap.web.services.wall import wall_view

    tick = dash.find("wall-hot.children")
    slow = dash.find("wall-extra-tiles.children")
    view = wall_view(get_engine(url), None).view.to_store()
    base = {"wall-tick.n_intervals": 7, "wall-view.data": view, "wall-lang.data": "zh-CN"}
    probe_body = dash.body(tick, base | {"wall-live.data": {}}, ["wall-tick.n_intervals"])
    _, _, answer = dash.post(probe_body)
    state = answer["response"]["wall-live"]["data"]

    forced = measure("wall refresh: cases changed", runs, lambda i: dash.post(dash.body(
        tick, base | {"wall-live.data": {}}, ["wall-view.data"])),
        "live tick when the cases changed: case traces patch (whole city), 4 tiles, "
        "ticker, hottest grids")  # fmt: skip
    probe = measure("wall refresh: nothing changed", runs, lambda i: dash.post(dash.body(
        tick, base | {"wall-live.data": state}, ["wall-tick.n_intervals"])),
        "the 1 s tick: change probe only, clock")  # fmt: skip
    _, _, first = dash.post(dash.body(slow, base | {"wall-slow-tick.n_intervals": 0,
                                                     "wall-patrol-key.data": None},
                                      ["wall-slow-tick.n_intervals"]))  # fmt: skip
    key = first["response"]["wall-patrol-key"]["data"]
    slow_patch = measure("wall slow tick (shares patch)", runs, lambda i: dash.post(dash.body(
        slow, base | {"wall-slow-tick.n_intervals": 1, "wall-patrol-key.data": key},
        ["wall-slow-tick.n_intervals"])),
        "patrol coverage now, cameras online, people in circles; patrol z values only")  # fmt: skip
    slow_full = measure("wall slow tick (full patrol trace)", runs, lambda i: dash.post(
        dash.body(slow, base | {"wall-slow-tick.n_intervals": 1, "wall-patrol-key.data": None},
                  ["wall-slow-tick.n_intervals"])),
        "peer: the patrol trace with every grid outline re-sent (the first tick's)")  # fmt: skip
    return [forced, probe, slow_patch, slow_full]


def grid_select(dash: Dash, grids: list[int], community: int, runs: int) -> list[dict]:
    choose = dash.find("lead-filter.data")
    detail = dash.find("lead-detail.children")

    def values(i: int) -> dict[str, Any]:
        return {
            "lead-grid.value": grids[i % len(grids)],
            "lead-case-status.value": "open",
            "lead-lang.data": "zh-CN",
        }

    picked = measure("grid select: filter + framed map", runs, lambda i: dash.post(
        dash.body(choose, values(i), ["lead-grid.value"])),
        f"a grid lead of {len(grids)} grids picks one in the grid dropdown")  # fmt: skip
    panel = measure("grid select: detail panel", runs, lambda i: dash.post(dash.body(
        detail, {"lead-grid.data": grids[i % len(grids)], "lead-lang.data": "zh-CN"},
        ["lead-grid.data"])), "the grid's figures and its outline patch")  # fmt: skip
    return [picked, panel]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="gridmap_bench_callbacks")
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/callbacks_city.json")
    parser.add_argument("--keep", action="store_true", help="keep the copy of the city")
    args = parser.parse_args()

    url = copy_city(args.db)
    future = trim_future_pings(url)
    compute_wall_inputs(url)
    grids, community = accounts(url)
    with get_engine(url).connect() as conn:
        tables = ("grids", "buildings", "cameras", "cases", "gps_pings", "road_edges")
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
    counts["gps_pings_after_the_clock_dropped"] = future
    log = ROOT / "benchmarks/results/callbacks_server.log"
    proc, base = serve(url, log)
    results: list[dict[str, Any]] = []
    try:
        command = Dash(signed_in(base, "bench_command"), base)
        results += map_filter(command, city_view(url), args.runs)
        results += wall(command, url, args.runs)
        lead = Dash(signed_in(base, "bench_lead"), base)
        results += grid_select(lead, grids, community, args.runs)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.unlink(missing_ok=True)
        if not args.keep:
            get_engine(url).dispose()
            drop_database(url)
    report = {
        "benchmark": "dashboard callbacks at city scale, over HTTP (gunicorn, 1 worker)",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "data": counts,
        "target": {"p95_ms": TARGET_MS, "payload_bytes": TARGET_BYTES},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
