"""City-scale vector tiles: server time and bytes per tile at zooms 10–16 for the big layers
(buildings, grids, cameras), with peers side by side for the same tile boxes.

    .venv/bin/python benchmarks/bench_tiles.py [--samples 15] [--peer-samples 4]
        [--out benchmarks/results/tiles_city.json]

Reads ``gridmap_bench_city`` (benchmarks/citydb.py; 10k grids, 500k buildings, 35k cameras)
without changing it: the tile functions of ``sql/functions/tiles.sql`` are created as this
session's temporary functions (``pg_temp``), so the shared database is left as it was and no
long transaction blocks anyone. Tiles
are sampled where the data is: the tiles holding randomly chosen buildings (seeded).

Per layer and zoom, ``ours`` is ``SELECT gridmap_tile_<layer>(z, x, y)`` (ST_AsMVT, with
cells/outlines below the detail zoom). Peers for the same tile boxes:

- ``mvt_every_feature``: ST_AsMVT of every feature in the tile, no aggregation (what the
  tiles would cost without the low-zoom cells — the DESIGN note's 4 MB z11 tile);
- ``geojson``: the layer's ``export(ctx)`` for the tile's lon/lat box, serialised as GeoJSON
  (what a client would fetch without tiles, e.g. the OGC API or a plotly trace);
- ``geopandas_mvt``: ``read_postgis`` of the same features, projected in Python and encoded
  with the ``mapbox_vector_tile`` library (the "well-known library" way).

p50/p95/max milliseconds and bytes; machine load noted before and after.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import shapely
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap.db.engine import database_url, get_engine  # noqa: E402
from layers import get_layer  # noqa: E402
from layers.base import LayerContext  # noqa: E402

ZOOMS = range(10, 17)
LAYERS = ("buildings", "grids", "cameras")
PEER_ZOOMS = (10, 12, 14, 16)
#: Every feature of a layer: (its attribute columns, the table).
EVERY_FEATURE = {
    "buildings": ("id, kind, floors, households, population, grid_id", "buildings"),
    "grids": ("id, code, name, community_id", "grids"),
    "cameras": ("id, code, kind, status, grid_id", "cameras"),
}
#: ST_AsMVT of every feature in the tile, no aggregation.
MVT_EVERY = """
WITH b AS (SELECT * FROM pg_temp.gridmap_tile_bounds(:z, :x, :y)),
f AS (
    SELECT ST_AsMVTGeom(ST_Transform(s.geom, 3857), b.env, 4096, 64, true) AS geom, {columns}
    FROM {table} s, b WHERE s.geom && b.box
)
SELECT coalesce((SELECT ST_AsMVT(f.*, 'layer', 4096, 'geom') FROM f
                 WHERE f.geom IS NOT NULL), ''::bytea)
"""
#: The building tiles' cells made from every building in the tile (before migration 0034's
#: kept per-cell sums): the same tile, the aggregation done per request.
CELLS_FROM_BUILDINGS = """
WITH units AS (
    SELECT (u.merc_x * 2 ^ :z - :x) * 4096 AS ux, (u.merc_y * 2 ^ :z - :y) * 4096 AS uy,
           u.households, u.population
    FROM buildings u, pg_temp.gridmap_tile_bounds(:z, :x, :y) b WHERE u.geom && b.box
),
cells AS (
    SELECT ST_MakePoint(round(avg(ux)), round(avg(uy))) AS geom, count(*)::integer AS buildings,
           sum(households)::integer AS households, sum(population)::integer AS population
    FROM units WHERE ux >= 0 AND ux < 4096 AND uy >= 0 AND uy < 4096
    GROUP BY floor(ux / 64), floor(uy / 64)
)
SELECT coalesce((SELECT ST_AsMVT(cells.*, 'building_cells', 4096, 'geom') FROM cells), ''::bytea)
"""
#: Where that peer applies: the building tiles' cell zooms.
CELL_ZOOMS = (12, 13)
MERCATOR_HALF = 20037508.342789244
#: Prefix of this session's temporary copies of the tile functions.
TEMP = "pg_temp.gridmap_tile_"


def city_url() -> str:
    """The city benchmark database (not upgraded here: it is shared)."""
    url = make_url(database_url()).set(database="gridmap_bench_city")
    return url.render_as_string(hide_password=False)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_lonlat_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    n = 2**z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def stats(ms: list[float], sizes: list[int]) -> dict[str, Any]:
    ordered = sorted(ms)
    return {
        "tiles": len(ms),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
        "median_bytes": int(statistics.median(sizes)),
        "max_bytes": max(sizes),
    }


#: A way to make one tile: (connection, layer, z, x, y) -> bytes.
Maker = Callable[[Connection, str, int, int, int], bytes]


def timed(make: Maker, *args: Any) -> tuple[float, int]:
    started = time.perf_counter()
    data = bytes(make(*args))
    return (time.perf_counter() - started) * 1000, len(data)


def ours(conn: Connection, layer: str, z: int, x: int, y: int) -> bytes:
    """The tile from ``gridmap_tile_<layer>``."""
    sql = text(f"SELECT {TEMP}{layer}(:z, :x, :y)")
    return conn.execute(sql, {"z": z, "x": x, "y": y}).scalar_one()


def mvt_every_feature(conn: Connection, layer: str, z: int, x: int, y: int) -> bytes:
    """ST_AsMVT of every feature in the tile (no cells, no outlines)."""
    columns, table = EVERY_FEATURE[layer]
    sql = text(MVT_EVERY.format(columns=columns, table=table))
    return conn.execute(sql, {"z": z, "x": x, "y": y}).scalar_one()


def geopandas_mvt(conn: Connection, layer: str, z: int, x: int, y: int) -> bytes:
    """Features of the tile box read into geopandas, projected and encoded in Python."""
    box = tile_lonlat_box(z, x, y)
    columns, table = EVERY_FEATURE[layer]
    frame = gpd.read_postgis(
        text(
            f"SELECT {columns}, geom FROM {table} "
            "WHERE geom && ST_MakeEnvelope(:a, :b, :c, :d, 4326)"
        ),
        conn,
        geom_col="geom",
        params=dict(zip("abcd", box, strict=True)),
    ).to_crs(3857)
    n = 2**z
    size = 2 * MERCATOR_HALF / n
    minx = -MERCATOR_HALF + x * size
    maxy = MERCATOR_HALF - y * size
    geoms = shapely.transform(
        frame.geometry.values,
        lambda xy: np.column_stack(
            [(xy[:, 0] - minx) / size * 4096, (maxy - xy[:, 1]) / size * 4096]
        ),
    )
    props = frame.drop(columns="geom").to_dict("records")
    features = [
        {"geometry": g.wkt, "properties": {k: v for k, v in p.items() if v is not None}}
        for g, p in zip(geoms, props, strict=True)
    ]
    return mapbox_vector_tile.encode(
        [{"name": layer, "features": features}], default_options={"y_coord_down": True}
    )


def cells_from_buildings(conn: Connection, layer: str, z: int, x: int, y: int) -> bytes:
    """Building cells aggregated from every building of the tile (buildings, z12-13)."""
    return conn.execute(text(CELLS_FROM_BUILDINGS), {"z": z, "x": x, "y": y}).scalar_one()


def geojson(conn: Connection, layer: str, z: int, x: int, y: int) -> bytes:
    """The layer's export for the tile box as GeoJSON text."""
    engine = conn.engine
    frame = get_layer(layer).export(LayerContext(engine, bbox=tile_lonlat_box(z, x, y)))
    return frame.to_json(na="null", default=str).encode()


def connect(engine: Engine, wait_s: float = 600) -> Connection:
    """An autocommit connection; waits while others copy the city database (CREATE DATABASE
    … TEMPLATE gridmap_bench_city keeps new connections out until it is done)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(10)


MAKERS: dict[str, Maker] = {
    "ours": ours,
    "mvt_every_feature": mvt_every_feature,
    "geojson": geojson,
    "geopandas_mvt": geopandas_mvt,
    "cells_from_buildings": cells_from_buildings,
}


def applies(name: str, layer: str, z: int) -> bool:
    """Whether peer ``name`` is measured for ``layer`` at zoom ``z``."""
    if name == "cells_from_buildings":
        return layer == "buildings" and z in CELL_ZOOMS
    return name == "ours" or z in PEER_ZOOMS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=15, help="tiles per layer and zoom")
    parser.add_argument("--peer-samples", type=int, default=4, help="tiles per peer and zoom")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/tiles_city.json")
    args = parser.parse_args()

    url = city_url()
    engine = get_engine(url)
    load_before = [round(v, 2) for v in os.getloadavg()]
    rng = random.Random(args.seed)
    results: dict[str, Any] = {name: {} for name in MAKERS}
    with connect(engine) as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in LAYERS}
        points = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM buildings TABLESAMPLE SYSTEM (1) LIMIT 2000")
        ).all()
        conn.commit()
        # This session's own copy of the tile functions (pg_temp: nobody else sees them and
        # nothing is committed to the shared database); reads then run in autocommit.
        conn.exec_driver_sql(
            (ROOT / "sql/functions/tiles.sql").read_text().replace("gridmap_tile_", TEMP)
        )
        conn.commit()
        try:
            for layer in LAYERS:
                for key in results:
                    results[key][layer] = {}
                for z in ZOOMS:
                    tiles = sorted({tile_of(*rng.choice(points), z) for _ in range(args.samples)})
                    ours(conn, layer, z, *tiles[0])  # warm up
                    for name, make in MAKERS.items():
                        if not applies(name, layer, z):
                            continue
                        whole = name in ("ours", "cells_from_buildings")
                        sample = tiles if whole else tiles[: args.peer_samples]
                        runs = [timed(make, conn, layer, z, x, y) for x, y in sample]
                        figures = stats([r[0] for r in runs], [r[1] for r in runs])
                        results[name][layer][str(z)] = figures
                        print(layer, z, name, figures, flush=True)
        finally:
            conn.rollback()
    out = {
        "benchmark": "vector tiles at city scale",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "gridmap_bench_city",
        "rows": counts,
        "samples": {"ours": args.samples, "peers": args.peer_samples, "seed": args.seed},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": [round(v, 2) for v in os.getloadavg()],
        },
        "notes": (
            "ours = gridmap_tile_<layer>(z,x,y): buildings as points from z14 (cells of 64 "
            "tile units below), grids from z11 (community outlines to z12), cameras from z13 "
            "(cells below). Peers read the same tiles: every feature as MVT, the layer's "
            "export as GeoJSON, geopandas + mapbox_vector_tile. Peers' samples are the first "
            "tiles of ours'. The geojson peer reads through a second pooled connection. "
            "cells_from_buildings (buildings, z12-13): the cells aggregated from every "
            "building of the tile per request, as before the kept per-cell sums (migration "
            "0034); same tiles as ours at those zooms."
        ),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
