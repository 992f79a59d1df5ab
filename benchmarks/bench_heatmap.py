"""City-scale case heatmap: a 30-day window over the whole city, three ways side by side.

    .venv/bin/python benchmarks/bench_heatmap.py [--cases 2000000] [--runs 20] [--zoom 11]
        [--db gridmap_bench_<you>] [--out benchmarks/results/heatmap_city.json] [--keep]

Creates the scratch database ``gridmap_bench_heatmap`` on the configured server (the
embedded cluster by default), migrates it, and generates ``--cases`` cases over one year in
a city-sized extent (118.60–118.95 E, 31.90–32.18 N; 60 % around 40 hot spots, the rest
spread evenly; older cases mostly finished), then VACUUM ANALYZE. With ``--db`` it uses that
existing, migrated database instead (e.g. your copy of the city database of
``benchmarks/citydb.py``: ``CREATE DATABASE … TEMPLATE gridmap_bench_city``), its window
ending now and the view centred on its cases; it is left as it is. For the last 30 days
(~165k cases at 2 M/year) and the whole-city view at ``--zoom`` it measures the server time
(query + building the plotly traces + JSON as Dash sends them: ``to_json_plotly``, with
orjson) and the payload bytes of:

- ours: the ``cases`` layer — hexagons counted in PostGIS (``gridmap_layer_case_hexes``)
  from the rollup of whole days ``case_heat_days`` (refreshed first for stale days) plus
  the window's partial days counted from cases; also its first read after a bulk change
  (every day of the window stale), and the same view filtered by status, by category and
  by source;
- ours without the rollup: the same hexagons counted from cases alone (each case's cell
  computed at query time), to show what the rollup buys;
- raw points: every case of the window sent to the browser (a Densitymap of lon/lat);
- geopandas: ``read_postgis`` of the raw points, hexagon binning in numpy/shapely (the
  same cells), the same traces.

Also the rest of a live refresh at that scale: the change probe, the KPI tiles and the
ticker. p50/p95 over ``--runs`` runs after two warm-ups; JSON out. The database is dropped at the
end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from plotly import graph_objects as go
from plotly.io.json import to_json_plotly
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap.cases.filters import CLOSED_STATUSES, CaseFilter  # noqa: E402
from gridmap.db.engine import database_url, drop_database, ensure_database, get_engine  # noqa: E402
from gridmap.db.migrations import upgrade  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402
from gridmap.web.services import live  # noqa: E402
from gridmap.web.services.dashboard import read_latest, read_tiles  # noqa: E402
from gridmap.web.services.map import MapView  # noqa: E402
from layers import LayerContext, get_layer  # noqa: E402
from layers.base import Detail, mark, read_frame  # noqa: E402
from layers.cases import HEX_SQL, REFRESH_SQL, filter_args, hex_level, hex_size  # noqa: E402

DB_NAME = "gridmap_bench_heatmap"
EXTENT = (118.60, 31.90, 118.95, 32.18)
ANCHOR = datetime(2026, 11, 22, tzinfo=UTC)

GENERATE_SQL = """
SELECT setseed(0.42);
CREATE TEMP TABLE hot AS
SELECT n, :minx + random() * (:maxx - :minx) AS x, :miny + random() * (:maxy - :miny) AS y,
       0.004 + random() * 0.02 AS sd
FROM generate_series(0, 39) n;
INSERT INTO cases (code, title, category, source, status, priority, reported_at, due_at,
                   resolved_at, closed_at, updated_at, geom)
SELECT 'B' || lpad(g::text, 9, '0'), '事件 ' || g,
       (ARRAY['disputes', 'public_security', 'fire_safety', 'sanitation', 'municipal',
              'livelihood', 'traffic', 'petitions'])[1 + floor(random() * 8)::int],
       (ARRAY['hotline_12345', 'hotline_12345', 'grid_worker', 'grid_worker', 'resident_app',
              'video_patrol', 'walk_in'])[1 + floor(random() * 7)::int],
       CASE WHEN age > 7 THEN (ARRAY['closed', 'closed', 'closed', 'resolved', 'resolved',
                                     'closed', 'closed', 'closed', 'rejected', 'in_progress'])
                              [1 + floor(random() * 10)::int]
            ELSE (ARRAY['reported', 'dispatched', 'accepted', 'in_progress', 'resolved',
                        'closed', 'returned'])[1 + floor(random() * 7)::int] END,
       1 + floor(random() * 4)::int,
       at, at + interval '72 hours',
       CASE WHEN random() < 0.9 AND age > 1 THEN at + random() * interval '60 hours' END,
       NULL, at, ST_SetSRID(ST_MakePoint(px, py), 4326)
FROM (
    SELECT g, age, :anchor - age * interval '1 day' AS at,
           CASE WHEN r < 0.6 THEN h.x + h.sd * bm1 ELSE :minx + random() * (:maxx - :minx) END
               AS px,
           CASE WHEN r < 0.6 THEN h.y + h.sd * bm2 ELSE :miny + random() * (:maxy - :miny) END
               AS py
    FROM (
        SELECT g, random() * 365 AS age, random() AS r, floor(random() * 40)::int AS k,
               sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS bm1,
               sqrt(-2 * ln(1 - random())) * sin(2 * pi() * random()) AS bm2
        FROM generate_series(1, :n) g
    ) s JOIN hot h ON h.n = s.k
) p
WHERE px BETWEEN -180 AND 180 AND py BETWEEN -85 AND 85;
"""

RAW_SQL = (
    "SELECT round(ST_X(geom)::numeric, 5)::float8 AS lon, "
    "round(ST_Y(geom)::numeric, 5)::float8 AS lat FROM cases "
    "WHERE geom IS NOT NULL AND reported_at >= :since "
    "AND geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)"
)
GEO_ALL_SQL = "SELECT id, status, geom FROM cases WHERE geom IS NOT NULL AND reported_at >= :since"
GEO_SQL = (
    "SELECT id, status, geom FROM cases WHERE geom IS NOT NULL AND reported_at >= :since "
    "AND geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)"
)


def payload(traces: list[Any]) -> bytes:
    """The traces as the live dashboard sends them to the browser (a figure Patch of
    ``to_plotly_json`` dicts, serialised by Dash through ``to_json_plotly``)."""
    return to_json_plotly([tr.to_plotly_json() for tr in traces]).encode()


#: The hexagons counted from cases alone, as gridmap_layer_case_hexes did before the rollup
#: (each case's cell computed at query time); the peer that shows what the rollup buys.
NO_ROLLUP_SQL = """
WITH cells AS MATERIALIZED (
    SELECT k, count(*)::integer AS n,
           count(*) FILTER (WHERE status NOT IN ('resolved', 'closed', 'rejected'))::integer AS o
    FROM (SELECT gridmap_case_hex_key(geom, :level) AS k, status FROM cases
          WHERE geom IS NOT NULL AND reported_at >= :since) x
    GROUP BY k
)
SELECT (k >> 32)::integer AS cell_i, ((k & 4294967295) - 2147483648)::integer AS cell_j,
       n AS cases, o AS open,
       ST_Transform(ST_SetSRID(ST_Hexagon(gridmap_case_hex_size(:level),
                                          (k >> 32)::integer,
                                          ((k & 4294967295) - 2147483648)::integer), 3857),
                    4326) AS geom
FROM cells ORDER BY 1, 2
"""


def timed(fn: Callable[[], bytes], runs: int) -> dict[str, Any]:
    for _ in range(2):
        fn()
    times, size = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        size = len(fn())
        times.append((time.perf_counter() - t0) * 1000)
    q = statistics.quantiles(times, n=20) if len(times) > 1 else times * 19
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(q[18], 1),
        "min_ms": round(min(times), 1),
        "payload_bytes": size,
        "runs": runs,
    }


def hexbin_python(frame: gpd.GeoDataFrame, size: float) -> gpd.GeoDataFrame:
    """The database's hexagon binning redone in numpy (same cells) with shapely polygons."""
    xy = shapely.get_coordinates(frame.geometry.values)
    r = 6378137.0
    x = r * np.radians(xy[:, 0])
    y = r * np.log(np.tan(np.pi / 4 + np.radians(xy[:, 1]) / 2))
    h = size * np.sqrt(3.0)
    ia = np.floor(x / (1.5 * size)).astype(np.int64)
    ib = ia + 1
    ja = np.round(y / h - 0.5 * (ia & 1)).astype(np.int64)
    jb = np.round(y / h - 0.5 * (ib & 1)).astype(np.int64)
    da = (x - 1.5 * size * ia) ** 2 + (y - h * (ja + 0.5 * (ia & 1))) ** 2
    db = (x - 1.5 * size * ib) ** 2 + (y - h * (jb + 0.5 * (ib & 1))) ** 2
    take_a = da <= db
    ci, cj = np.where(take_a, ia, ib), np.where(take_a, ja, jb)
    is_open = ~frame["status"].isin(CLOSED_STATUSES).to_numpy()
    cells, inverse, counts = np.unique(
        np.stack([ci, cj], axis=1), axis=0, return_inverse=True, return_counts=True
    )
    opens = np.bincount(inverse.ravel(), weights=is_open).astype(int)
    ui, uj = cells[:, 0], cells[:, 1]
    cx = 1.5 * size * ui
    cy = h * (uj + 0.5 * (ui & 1))
    angles = np.radians(np.arange(0, 360, 60) + 180)
    ring_x = cx[:, None] + size * np.cos(angles)[None, :]
    ring_y = cy[:, None] + size * np.sin(angles)[None, :]
    lon = np.degrees(ring_x / r)
    lat = np.degrees(2 * np.arctan(np.exp(ring_y / r)) - np.pi / 2)
    rings = np.stack([lon, lat], axis=-1)
    polygons = shapely.polygons(np.concatenate([rings, rings[:, :1]], axis=1))
    return gpd.GeoDataFrame(
        {"cell_i": ui, "cell_j": uj, "cases": counts, "open": opens},
        geometry=polygons,
        crs=4326,
    ).rename_geometry("geom")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--zoom", type=float, default=11.0)
    parser.add_argument("--db", help="an existing migrated database to read (left as it is)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/heatmap_city.json"))
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept scratch database")
    args = parser.parse_args()

    url = (
        make_url(database_url())
        .set(database=args.db or DB_NAME)
        .render_as_string(hide_password=False)
    )
    engine = get_engine(url)
    setup: dict[str, float] = {}
    anchor = datetime.now(UTC) if args.db else ANCHOR
    if not args.reuse and not args.db:
        drop_database(url)
        ensure_database(url)
        upgrade(url, get_settings().sql_dir / "migrations")
        t0 = time.perf_counter()
        with engine.begin() as conn:
            for statement in GENERATE_SQL.split(";"):
                if statement.strip():
                    conn.execute(
                        text(statement),
                        dict(zip(("minx", "miny", "maxx", "maxy"), EXTENT, strict=True))
                        | {"n": args.cases, "anchor": anchor},
                    )
        setup["generate_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        raw = engine.raw_connection()
        raw.set_isolation_level(0)
        with raw.cursor() as cur:
            cur.execute("VACUUM ANALYZE cases")
        raw.close()
        setup["vacuum_analyze_s"] = round(time.perf_counter() - t0, 1)

    since = anchor - timedelta(days=30)
    with engine.connect() as conn:
        extent = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom)::geometry AS e FROM cases "
                "WHERE reported_at >= :since) s"
            ),
            {"since": since},
        ).one()
    center = ((extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2)
    view = MapView.around(center, args.zoom)
    layer = get_layer("cases")
    ctx = LayerContext(engine, bbox=view.bbox, zoom=view.zoom, params=(CaseFilter(since=since),))
    level = hex_level(args.zoom)
    size = hex_size(level)
    params = {**ctx.bounds, **filter_args(ctx), "level": level}
    refresh = {"level": level, "since": since, "until": None}

    def stale_window() -> int:
        """Mark every day of the window stale at this level, as a bulk change would."""
        with engine.begin() as conn:
            return conn.execute(
                text(
                    "INSERT INTO case_heat_stale (level, day) "
                    "SELECT :level, d::date FROM generate_series("
                    "gridmap_case_heat_day(:since), gridmap_case_heat_day(now()), "
                    "interval '1 day') d"
                ),
                {"level": level, "since": since},
            ).rowcount

    # First read after a bulk change: every day of the window is recounted (once).
    stale_days = stale_window()
    t0 = time.perf_counter()
    layer.query(ctx)
    first_read_ms = round((time.perf_counter() - t0) * 1000, 1)
    # The hexagon read alone while the days are still stale (counted live, not stored).
    stale_window()
    t0 = time.perf_counter()
    read_frame(ctx, HEX_SQL, **params)
    stale_read_ms = round((time.perf_counter() - t0) * 1000, 1)
    with engine.begin() as conn:
        conn.execute(text(REFRESH_SQL), refresh)

    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        window = conn.execute(
            text("SELECT count(*) FROM cases WHERE reported_at >= :s"), {"s": since}
        ).scalar_one()
        rollup_rows = conn.execute(
            text(
                "SELECT count(*) FROM case_heat_days WHERE level = :level AND NOT detail "
                "AND day >= gridmap_case_heat_day(:since)"
            ),
            {"level": level, "since": since},
        ).scalar_one()
        plan = (
            conn.execute(
                text(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) "
                    + HEX_SQL.replace("SELECT *", "SELECT count(*)")
                ),
                params,
            )
            .scalars()
            .all()
        )

    gc.freeze()  # as every gridmap serve worker does once the app is loaded (web/server.py)

    def ours() -> bytes:
        return payload(layer.traces(layer.query(ctx), "zh-CN"))

    def ours_filtered(**filters: list[str]) -> Callable[[], bytes]:
        fctx = dataclasses.replace(ctx, params=(CaseFilter(since=since, **filters),))

        def run() -> bytes:
            return payload(layer.traces(layer.query(fctx), "zh-CN"))

        return run

    def ours_sql_only() -> bytes:
        with engine.connect() as conn:
            rows = conn.execute(text(HEX_SQL), params).all()
        return b"x" * len(rows)

    in_box = {tuple(r) for r in layer.query(ctx)[["cell_i", "cell_j"]].to_numpy().tolist()}

    def no_rollup() -> bytes:
        frame = read_frame(ctx, NO_ROLLUP_SQL, since=since, level=level)
        keep = [(i, j) in in_box for i, j in zip(frame.cell_i, frame.cell_j, strict=True)]
        return payload(layer.traces(mark(frame[keep], Detail.AGGREGATED), "zh-CN"))

    def raw_points() -> bytes:
        with engine.connect() as conn:
            rows = conn.execute(text(RAW_SQL), {"since": since, **ctx.bounds}).all()
        lon = [r[0] for r in rows]
        lat = [r[1] for r in rows]
        return payload([go.Densitymap(lon=lon, lat=lat, radius=8, meta={"layer": "cases"})])

    def geopandas_python() -> bytes:
        with engine.connect() as conn:
            frame = gpd.read_postgis(
                text(GEO_SQL), conn, geom_col="geom", params={"since": since, **ctx.bounds}
            )
        hexes = mark(hexbin_python(frame, size), Detail.AGGREGATED)
        return payload(layer.traces(hexes, "zh-CN"))

    # The Python binning gives the database's cells and counts (everywhere: no box).
    with engine.connect() as conn:
        frame = gpd.read_postgis(text(GEO_ALL_SQL), conn, geom_col="geom", params={"since": since})
    db_cells = layer.query(dataclasses.replace(ctx, bbox=None))
    py_cells = hexbin_python(frame, size)
    db_set = {tuple(r) for r in db_cells[["cell_i", "cell_j", "cases"]].to_numpy().tolist()}
    py_set = {tuple(r) for r in py_cells[["cell_i", "cell_j", "cases"]].to_numpy().tolist()}

    results = {
        "ours_db_hexagons": timed(ours, args.runs),
        "ours_sql_only": timed(ours_sql_only, args.runs),
        "ours_filtered_open_statuses": timed(
            ours_filtered(statuses=["reported", "dispatched", "accepted", "in_progress"]),
            args.runs,
        ),
        "ours_filtered_one_category": timed(ours_filtered(categories=["disputes"]), args.runs),
        "ours_filtered_one_source": timed(ours_filtered(sources=["grid_worker"]), args.runs),
        "without_the_rollup": timed(no_rollup, max(5, args.runs // 4)),
        "raw_points_to_browser": timed(raw_points, max(5, args.runs // 4)),
        "geopandas_python_hexagons": timed(geopandas_python, max(5, args.runs // 4)),
    }
    # The rest of a live refresh at that scale: change probe, KPI tiles, ticker.
    tiles_filter = CaseFilter(since=since)
    results["live_probe"] = timed(lambda: str(live.probe(engine)).encode(), args.runs)
    results["kpi_tiles"] = timed(
        lambda: str(read_tiles(engine, tiles_filter, anchor, anchor - timedelta(hours=8))).encode(),
        args.runs,
    )
    results["ticker_latest_10"] = timed(
        lambda: str(read_latest(engine, tiles_filter)).encode(), args.runs
    )
    ours_r = results["ours_db_hexagons"]
    out = {
        "benchmark": "case heatmap, 30-day window, whole city",
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        },
        "database": args.db or DB_NAME,
        "cases_total": int(total),
        "cases_in_window": int(window),
        "view": {"zoom": args.zoom, "bbox": [round(v, 4) for v in view.bbox]},
        "hex_level": level,
        "hex_edge_m": round(size, 1),
        "hexagons": len(db_cells),
        "rollup_rows_read": int(rollup_rows),
        "python_cells_equal_db_cells": db_set == py_set,
        "setup": setup,
        "first_read_after_bulk_change": {"stale_days": stale_days, "ms": first_read_ms},
        "hexagon_sql_with_every_day_stale_ms": stale_read_ms,
        "results": results,
        "ratios_vs_ours_p50": {
            k: round(results[k]["p50_ms"] / ours_r["p50_ms"], 1)
            for k in ("without_the_rollup", "raw_points_to_browser", "geopandas_python_hexagons")
        },
        "payload_ratio_raw_vs_ours": round(
            results["raw_points_to_browser"]["payload_bytes"] / ours_r["payload_bytes"], 1
        ),
        "budget": {"server_ms": 150, "payload_bytes": 500_000},
        "within_budget_p50": ours_r["p50_ms"] <= 150 and ours_r["payload_bytes"] <= 500_000,
        "within_budget_p95": ours_r["p95_ms"] <= 150 and ours_r["payload_bytes"] <= 500_000,
        "plan": plan,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file():  # keep the earlier runs, newest first
        previous = json.loads(path.read_text(encoding="utf-8"))
        out["history"] = [previous, *previous.pop("history", [])]
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(
        json.dumps(
            {k: v for k, v in out.items() if k not in ("plan", "history")},
            indent=2,
            ensure_ascii=False,
        )
    )
    if not args.keep and not args.db:
        engine.dispose()
        drop_database(url)


if __name__ == "__main__":
    main()
