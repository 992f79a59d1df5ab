"""City-scale basemap tiles: server time and bytes of ``gridmap_tile_basemap`` at zooms 8–16,
beside the same function reading every road edge instead of the merged streets
(``basemap_edges``, the naive way: what it did before migration 0032) and the roads-only
tile (``gridmap_tile_roads``) for the same tiles.

    .venv/bin/python benchmarks/bench_basemap.py [--samples 20] [--out FILE.json]

Reads ``gridmap_bench_city`` (benchmarks/citydb.py) without changing it: the city's basemap
features (the demo stage, seed 7) go into this session's temporary ``basemap_features``
table (found before any table of that name), the streets merged from its road edges
(as migration 0032 keeps them) go into a temporary ``road_streets``, and the basemap and
roads functions of ``sql/functions/`` are created as ``pg_temp`` functions. Tiles are sampled where
the data is: the tiles holding randomly chosen grids (seeded). p50/p95/max ms and bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_tiles import stats, tile_of  # noqa: E402
from gridmap.db.copy import copy_frame  # noqa: E402
from gridmap.db.engine import database_url, get_engine  # noqa: E402
from gridmap.demo.city import CityGenerator, default_anchor  # noqa: E402

ZOOMS = range(8, 17)
TEMP_TABLE = """
CREATE TEMP TABLE basemap_features (
    id bigint PRIMARY KEY, kind text NOT NULL, class text NOT NULL DEFAULT '', name text,
    source text NOT NULL DEFAULT 'demo', geom geometry(Geometry, 4326) NOT NULL);
"""

#: The city's streets as migration 0032 keeps them (its gridmap_merge_streets, over all).
STREETS = """
CREATE TEMP TABLE road_streets AS
SELECT kind, nullif(coalesce(name, ''), '') AS name,
       (ST_Dump(ST_LineMerge(ST_Collect(geom)))).geom AS geom
FROM road_edges GROUP BY kind, coalesce(name, '');
CREATE INDEX ON road_streets USING gist (geom);
ANALYZE road_streets;
"""


def city_features():
    """The city's basemap features as the demo stage makes them (stops after that stage)."""
    for table, frame in CityGenerator("city", 7, default_anchor()).tables():
        if table == "basemap_features":
            return frame
    raise SystemExit("the demo city has no basemap stage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/basemap_city.json"))
    args = parser.parse_args()
    url = make_url(database_url()).set(database="gridmap_bench_city")
    engine = get_engine(url.render_as_string(hide_password=False))
    started = time.perf_counter()
    features = city_features()
    generate_s = time.perf_counter() - started
    sql = (ROOT / "sql/functions/basemap.sql").read_text()
    sql = sql.replace("FUNCTION gridmap_", "FUNCTION pg_temp.gridmap_")
    for name in ("gridmap_basemap_footprints(b.box)", "gridmap_label_point(a.geom)"):
        sql = sql.replace(name, "pg_temp." + name)
    tile = sql[sql.index("CREATE OR REPLACE FUNCTION pg_temp.gridmap_tile_basemap") :]
    edges = tile.replace("gridmap_tile_basemap", "gridmap_tile_basemap_edges").replace(
        "FROM road_streets", "FROM road_edges"
    )
    roads = (ROOT / "sql/functions/layers.sql").read_text()
    roads = roads[roads.index("CREATE OR REPLACE FUNCTION gridmap_tile_roads") :]
    roads = roads[: roads.index("$$;") + 3].replace(
        "FUNCTION gridmap_", "FUNCTION pg_temp.gridmap_"
    )
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": os.getloadavg()[0],
        "features": {k: int(v) for k, v in features["kind"].value_counts().items()},
        "generate_s": round(generate_s, 1),
        "zooms": {},
    }
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:
            cur.execute(TEMP_TABLE)
            copy_frame(cur, "basemap_features", features)
            cur.execute(
                "CREATE INDEX ON basemap_features USING gist (geom); ANALYZE basemap_features"
            )
            started = time.perf_counter()
            cur.execute(STREETS)
            results["merge_streets_s"] = round(time.perf_counter() - started, 2)
            cur.execute(sql + edges + roads)
        points = conn.execute(
            text("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM grids) g")
        ).all()
        rng = random.Random(7)
        for z in ZOOMS:
            tiles = sorted({tile_of(*rng.choice(points), z) for _ in range(args.samples)})
            row = {}
            for name, function in (("basemap", "pg_temp.gridmap_tile_basemap"),
                                   ("basemap_edges", "pg_temp.gridmap_tile_basemap_edges"),
                                   ("roads_only", "pg_temp.gridmap_tile_roads")):  # fmt: skip
                conn.execute(
                    text(f"SELECT {function}(:z, :x, :y)"),
                    {"z": z, "x": tiles[0][0], "y": tiles[0][1]},
                )
                ms, sizes = [], []
                for x, y in tiles:
                    t0 = time.perf_counter()
                    data = conn.execute(
                        text(f"SELECT {function}(:z, :x, :y)"), {"z": z, "x": x, "y": y}
                    ).scalar_one()
                    ms.append((time.perf_counter() - t0) * 1000)
                    sizes.append(len(bytes(data or b"")))
                row[name] = stats(ms, sizes)
            results["zooms"][str(z)] = row
            print(z, json.dumps(row))
        conn.rollback()
    results["load_after"] = os.getloadavg()[0]
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
