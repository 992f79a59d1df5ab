"""City-scale map layer reads: each layer's query (``Layer.query``: SQL and the frame) for the
view a person zooms into, at zooms 14 and 16.5 around randomly chosen buildings, beside the
same reads through ``geopandas.read_postgis`` (the well-known library: three queries per read,
geometries parsed one by one; ``layers_read_postgis``), and the
overdue-visits layer beside its naive peer (its function as one inlined SQL query, as it
was before it became PL/pgSQL: the grids under the view were not known when the
households were read, so every household of the city was scanned).

    .venv/bin/python benchmarks/bench_layers.py [--samples 12] [--out FILE.json]

Reads ``gridmap_bench_city`` (benchmarks/citydb.py) without changing its data, or ``--db``
(e.g. ``bench_browser``, the copy ``bench_browser.py --keep`` leaves, where the wall's
inputs are computed, so the patrol layers have rows); the naive peer is a ``pg_temp``
function of this session. Views are a 1600×1000 px map (the map
page's assumed size) at each zoom; the case window is the default (30 days). p50/p95/max
ms per layer and zoom, rows at p50; the peers' rows are checked equal.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import layers.base  # noqa: E402
from benchmarks.citydb import city_url  # noqa: E402
from gridmap.cases.filters import CaseChoice  # noqa: E402
from gridmap.db.engine import get_engine  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402
from gridmap.web.services.map import MapView  # noqa: E402
from layers import LAYERS, LayerContext  # noqa: E402
from layers.params import CircleFilter, PatrolWindow  # noqa: E402

ZOOMS = (14.0, 16.5)

#: The overdue-visits function as one SQL query (before it was PL/pgSQL): inlined, its
#: gridmap_visit_status filter "grid_ids IS NULL OR grid_id = ANY (grid_ids)" cannot use
#: the households' grid index for the grids found under the view.
INLINED = """
CREATE FUNCTION pg_temp.overdue_inlined(
    minx float8, miny float8, maxx float8, maxy float8, as_of date, tz text,
    max_rows integer, grid_ids integer[] DEFAULT NULL)
RETURNS TABLE (id bigint, level text)
LANGUAGE sql STABLE AS $$
    WITH view_grids AS (
        SELECT ARRAY(SELECT DISTINCT b.grid_id FROM buildings b
                     WHERE b.geom && ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
                       AND b.grid_id IS NOT NULL) AS ids
    ), per_building AS (
        SELECT h.building_id, count(*) FILTER (WHERE s.days_overdue > 0) AS overdue,
               count(*) FILTER (WHERE s.days_overdue > 0 AND s.vulnerable) AS vulnerable_overdue,
               max(s.days_overdue) AS max_days_overdue
        FROM view_grids g
        CROSS JOIN LATERAL gridmap_visit_status(as_of, tz, g.ids) s
        JOIN households h ON h.id = s.household_id
        GROUP BY h.building_id
    )
    SELECT b.id, CASE WHEN p.vulnerable_overdue > 0 THEN 'vulnerable'
                      WHEN p.overdue >= 3 THEN 'many'
                      WHEN p.overdue > 0 THEN 'few' ELSE 'none' END
    FROM per_building p JOIN buildings b ON b.id = p.building_id
    WHERE b.geom && ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
    ORDER BY p.vulnerable_overdue DESC, p.overdue DESC, p.max_days_overdue DESC, b.id
    LIMIT max_rows
$$;
"""
OVERDUE = "SELECT id, level FROM {fn}(:minx, :miny, :maxx, :maxy, :as_of, :tz, 3000)"


def stats(ms: list[float]) -> dict[str, float]:
    """p50/p95/max of ``ms``, rounded."""
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "n": len(ms),
        "p50": round(statistics.median(ordered), 1),
        "p95": round(p95, 1),
        "max": round(ordered[-1], 1),
    }


def centres(engine, n: int, seed: int = 7) -> list[tuple[float, float]]:
    """``n`` building points chosen at random (seeded)."""
    with engine.connect() as conn:
        count = conn.execute(text("SELECT max(id) FROM buildings")).scalar_one()
        rng = random.Random(seed)
        out = []
        while len(out) < n:
            row = conn.execute(
                text("SELECT ST_X(geom), ST_Y(geom) FROM buildings WHERE id = :i"),
                {"i": rng.randint(1, count)},
            ).first()
            if row:
                out.append((float(row[0]), float(row[1])))
    return out


def read_postgis(conn, sql, params=None, *, geom_col: str = "geom") -> gpd.GeoDataFrame:
    """The peer reader: ``geopandas.read_postgis``, as the layers read before
    ``gridmap.db.frames.read_geoframe`` (pandas asks whether the query names a table,
    geopandas looks the SRID up in ``spatial_ref_sys`` and parses each geometry alone)."""
    frame = gpd.read_postgis(sql, conn, geom_col=geom_col, params=dict(params or {}))
    return frame if frame.crs is not None else frame.set_crs(4326)


#: The readers side by side: each layer's frame through ours and through the peer.
READERS = {"layers": None, "layers_read_postgis": read_postgis}


@contextmanager
def reading_with(reader) -> Iterator[None]:
    """The layers read their frames through ``reader`` (None: their own) in the block."""
    kept = layers.base.read_geoframe
    layers.base.read_geoframe = reader or kept
    try:
        yield
    finally:
        layers.base.read_geoframe = kept


def layer_reads(engine, views: list[MapView]) -> dict[str, dict[str, dict]]:
    """Each layer's query time per view, as the map page asks (default filters), per reader
    (:data:`READERS`, their order alternating per view and layer), and every layer's summed
    per view (``all``: a redraw's reads one after another); the readers' row counts checked
    equal."""
    choice = CaseChoice().resolve(datetime.now(UTC))
    params = (
        choice,
        PatrolWindow(since=choice.since, until=choice.until),
        CircleFilter(kind="elderly_care", minutes=15.0),
    )
    names = list(READERS)
    times = {name: {layer.id: [] for layer in LAYERS} for name in names}
    rows = {name: {layer.id: [] for layer in LAYERS} for name in names}
    per_view = {name: [0.0] * len(views) for name in names}
    for k, view in enumerate(views):
        for n, layer in enumerate(LAYERS):
            for name in names if (k + n) % 2 == 0 else names[::-1]:
                ctx = LayerContext(engine, bbox=view.bbox, zoom=view.zoom, params=params)
                with reading_with(READERS[name]):
                    t0 = time.perf_counter()
                    data = layer.query(ctx)
                    ms = (time.perf_counter() - t0) * 1000
                times[name][layer.id].append(ms)
                per_view[name][k] += ms
                rows[name][layer.id].append(len(data))
    if rows[names[0]] != rows[names[1]]:
        raise SystemExit("the readers disagree on the rows of a layer")
    out: dict[str, dict[str, dict]] = {}
    for name in names:
        out[name] = {
            lid: {**stats(ms), "rows_p50": sorted(rows[name][lid])[len(ms) // 2]}
            for lid, ms in times[name].items()
        }
        out[name]["all"] = stats(per_view[name])
    return out


def overdue_peers(engine, views: list[MapView]) -> dict[str, dict]:
    """The overdue-visits function vs its inlined peer on the same views (rows checked)."""
    tz = get_settings().cases_timezone
    as_of: date = datetime.now(ZoneInfo(tz)).date()
    times: dict[str, list[float]] = {"plpgsql": [], "inlined": []}
    with engine.connect() as conn:
        conn.execute(text(INLINED))
        for view in views:
            minx, miny, maxx, maxy = view.bbox
            args = {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}
            results = {}
            for name, fn in (
                ("plpgsql", "gridmap_layer_overdue_visits"),
                ("inlined", "pg_temp.overdue_inlined"),
            ):
                t0 = time.perf_counter()
                rows = conn.execute(text(OVERDUE.format(fn=fn)), {**args, "as_of": as_of, "tz": tz})
                results[name] = [tuple(r) for r in rows]
                times[name].append((time.perf_counter() - t0) * 1000)
            if results["plpgsql"] != results["inlined"]:
                raise SystemExit(f"the peers disagree at {view}")
        conn.rollback()
    return {name: stats(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument(
        "--db", default=None, help="another copy of the city (default: gridmap_bench_city)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/layers_city.json")
    args = parser.parse_args()
    url = city_url()
    if args.db:
        url = make_url(url).set(database=args.db).render_as_string(hide_password=False)
    engine = get_engine(url)
    points = centres(engine, args.samples)
    load_before = [round(v, 2) for v in os.getloadavg()]
    results: dict[str, dict] = {}
    for zoom in ZOOMS:
        views = [MapView.around(p, zoom) for p in points]
        layer_reads(engine, views[:2])  # warm-up: the server's caches, not measured
        results[f"z{zoom:g}"] = {
            **layer_reads(engine, views),
            "overdue_visits_peers": overdue_peers(engine, views),
        }
        print(f"z{zoom:g}", json.dumps(results[f"z{zoom:g}"]["overdue_visits_peers"]), flush=True)
    out = {
        "benchmark": "map layer reads at city scale (zooms 14 and 16.5)",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": args.db or "gridmap_bench_city",
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": [round(v, 2) for v in os.getloadavg()],
        },
        "settings": {"samples": args.samples, "map_px": [1600, 1000], "case_window": "30d"},
        "results": results,
    }
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    for zoom, r in results.items():
        for layer, s in r["layers"].items():
            peer = r["layers_read_postgis"][layer]
            line = f"p50 {s['p50']:7.1f} p95 {s['p95']:7.1f} rows {s.get('rows_p50', '')}"
            print(f"{zoom:6s} {layer:22s} {line} | read_postgis p50 {peer['p50']:7.1f}")


if __name__ == "__main__":
    main()
