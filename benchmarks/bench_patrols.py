"""City-scale patrol coverage: full per-grid coverage from one day of pings, side by side
with the naive geopandas buffer-and-union approach, and the incremental update for the
last 5 minutes of pings through the ingest path.

    .venv/bin/python benchmarks/bench_patrols.py [--peer-devices 100] [--out ...json]

Reads the shared city database (benchmarks/citydb.py: 6.43 M pings of 2,233 devices,
~178k road edges, 10k grids, 34.6k cameras). Everything it writes goes to the scratch
schema ``bench_patrols`` (its own copies of the patrol tables and functions, found first on
the search_path), dropped at the end; the city tables are only read.

Stages:
- static: street pieces per grid (ST_Intersection of edges and grids), camera sectors,
  camera-seen lengths — run when roads, grids or cameras change, reported apart;
- full (ours): build the STRtree matcher, read every ping (accuracy <= the setting), match
  to the nearest street within the match distance, write the 5-minute visit history and last
  visits, then the per-grid coverage aggregate for the 8 h and 24 h windows;
- full (peer): geopandas — per device a track line, buffered by the match distance, union
  of all buffers, street pieces clipped by it, length per grid. Run on ``--peer-devices``
  devices and scaled linearly to all devices (a lower bound: the union grows superlinearly);
- incremental: the visit tables rolled back to 11:55 local, the pings of 11:50–11:55 as the
  stored neighbours, then the 11:55–12:00 pings of every device (one batch) through
  ``ingest_pings`` (speed check against stored neighbours, insert, match, upsert), and
  the coverage aggregate afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.citydb import DB_NAME, city_url  # noqa: E402
from gridmap.db.engine import database_url  # noqa: E402
from gridmap.db.migrations import MigrationError  # noqa: E402
from gridmap.derived import rebuild_patrol_visits  # noqa: E402
from gridmap.patrols import coverage  # noqa: E402
from gridmap.patrols.ingest import PingBatch, ingest_pings  # noqa: E402
from gridmap.patrols.matching import EdgeMatcher, matcher_for  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402

SCHEMA = "bench_patrols"
ZONE = ZoneInfo("Asia/Shanghai")


def clock() -> float:
    return time.perf_counter()


def scratch_engine(url: str):
    """An engine whose sessions find the scratch schema first."""
    return create_engine(
        make_url(url).set(drivername="postgresql+psycopg2"),
        connect_args={"options": f"-c search_path={SCHEMA},public"},
        pool_size=2,
    )


def make_scratch(engine) -> None:
    sql = ROOT / "sql"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        conn.exec_driver_sql(f"SET LOCAL search_path = {SCHEMA}, public")
        conn.exec_driver_sql((sql / "migrations" / "0007_patrols.sql").read_text())
        conn.exec_driver_sql((sql / "functions" / "patrols.sql").read_text())


def peer(engine, matcher: EdgeMatcher, n_devices: int, match_m: float, max_acc: float) -> dict:
    """The naive geopandas buffer-and-union coverage for ``n_devices`` devices' whole day."""
    t = clock()
    with engine.connect() as conn:
        devices = (
            conn.execute(
                text("SELECT DISTINCT device_id FROM gps_pings ORDER BY 1 LIMIT :n"),
                {"n": n_devices},
            )
            .scalars()
            .all()
        )
        pings = pd.read_sql(
            text(
                "SELECT device_id, at, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM gps_pings "
                "WHERE device_id = ANY(:d) AND coalesce(accuracy_m, 0) <= :acc "
                "ORDER BY device_id, at"
            ),
            conn,
            params={"d": list(devices), "acc": max_acc},
        )
        pieces = gpd.read_postgis(
            text("SELECT edge_id, grid_id, length_m, geom FROM edge_grid"), conn, geom_col="geom"
        )
    x, y = matcher.transformer.transform(pings["lon"].to_numpy(), pings["lat"].to_numpy())
    pings["x"], pings["y"] = x, y
    lines = [
        shapely.linestrings(g[["x", "y"]].to_numpy())
        for _, g in pings.groupby("device_id", sort=False)
        if len(g) >= 2
    ]
    buffered = shapely.buffer(np.array(lines, dtype=object), match_m)
    covered = shapely.union_all(buffered)
    coords = shapely.get_coordinates(pieces.geometry.values)
    px, py = matcher.transformer.transform(coords[:, 0], coords[:, 1])
    metric = shapely.set_coordinates(pieces.geometry.values.copy(), np.c_[px, py])
    frame = gpd.GeoDataFrame(pieces[["edge_id", "grid_id", "length_m"]], geometry=metric)
    clipped = gpd.clip(frame, covered)
    per_grid = clipped.geometry.length.groupby(clipped["grid_id"]).sum()
    total = frame.geometry.length.groupby(frame["grid_id"]).sum()
    share = (per_grid / total).fillna(0)
    elapsed = clock() - t
    return {
        "devices": len(devices),
        "pings": len(pings),
        "seconds": round(elapsed, 2),
        "grids_touched": int((share > 0).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peer-devices", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/patrols_city.json"))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    settings = get_settings()
    try:
        url = city_url(progress=False)
    except MigrationError as exc:  # another subsystem's pending migration; data is loaded
        print("note: city database not upgraded:", exc.message, flush=True)
        url = make_url(database_url()).set(database=DB_NAME).render_as_string(hide_password=False)
    engine = scratch_engine(url)
    result: dict = {
        "benchmark": "patrol_coverage",
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": os.getloadavg()[0],
        },
        "settings": {
            "match_m": settings.patrol_match_m,
            "max_accuracy_m": settings.patrol_max_accuracy_m,
            "max_speed_mps": settings.patrol_max_speed_mps,
        },
    }
    try:
        make_scratch(engine)
        with engine.connect() as conn:
            counts = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM gps_pings), (SELECT count(DISTINCT device_id) "
                    "FROM patrol_shifts), (SELECT count(*) FROM road_edges), "
                    "(SELECT count(*) FROM grids), (SELECT count(*) FROM cameras)"
                )
            ).one()
        result["data"] = dict(
            zip(("pings", "devices", "road_edges", "grids", "cameras"), counts, strict=True)
        )
        print("data", result["data"], flush=True)

        t = clock()
        static = coverage.refresh_static(engine)
        result["static"] = static | {"seconds": round(clock() - t, 2)}
        print("static", result["static"], flush=True)

        t = clock()
        matcher = matcher_for(engine)
        build_s = clock() - t
        t = clock()
        stats = rebuild_patrol_visits(engine)  # the matcher is built (and cached) above
        rebuild_s = clock() - t
        with engine.connect() as conn:
            latest = conn.execute(text("SELECT max(at) FROM public.gps_pings")).scalar()
        t = clock()
        coverage.grid_coverage(engine, coverage.Window.last(timedelta(hours=8), latest))
        agg8_s = clock() - t
        t = clock()
        cov24 = coverage.grid_coverage(engine, coverage.Window.last(timedelta(hours=24), latest))
        agg24_s = clock() - t
        shares = np.array([r["patrolled_share"] for r in cov24])
        result["full"] = {
            "matcher_build_s": round(build_s, 2),
            "match_and_write_s": round(rebuild_s, 2),
            "aggregate_8h_s": round(agg8_s, 3),
            "aggregate_24h_s": round(agg24_s, 3),
            "total_s": round(build_s + rebuild_s + agg24_s, 2),
            **stats,
            "grids": len(cov24),
            "mean_share_24h": round(float(shares.mean()), 4),
            "grids_over_half_24h": int((shares > 0.5).sum()),
        }
        print("full", result["full"], flush=True)

        t = clock()
        result["peer"] = peer(
            engine,
            matcher,
            args.peer_devices,
            settings.patrol_match_m,
            settings.patrol_max_accuracy_m,
        )
        devices = result["data"]["devices"]
        result["peer"]["scaled_to_all_devices_s"] = round(
            result["peer"]["seconds"] * devices / max(result["peer"]["devices"], 1), 1
        )
        result["peer"]["ours_per_peer_device_s"] = round(
            result["full"]["total_s"] * result["peer"]["devices"] / devices, 2
        )
        print("peer", result["peer"], flush=True)

        # incremental: state as of 11:55 local, then the 11:55-12:00 pings in one batch
        day = latest.astimezone(ZONE).date()
        cut = datetime(day.year, day.month, day.day, 11, 55, tzinfo=ZONE)
        end = cut + timedelta(minutes=5)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM edge_visits WHERE bucket >= :c"), {"c": cut})
            conn.execute(text("TRUNCATE edge_last_visit"))
            conn.execute(
                text(
                    "INSERT INTO edge_last_visit SELECT edge_id, max(last_at) FROM edge_visits "
                    "GROUP BY edge_id"
                )
            )
            conn.exec_driver_sql(
                f"CREATE TABLE {SCHEMA}.gps_pings (LIKE public.gps_pings INCLUDING ALL)"
            )
            conn.execute(
                text(
                    f"INSERT INTO {SCHEMA}.gps_pings SELECT * FROM public.gps_pings "
                    "WHERE at >= :a AND at < :c"
                ),
                {"a": cut - timedelta(minutes=5), "c": cut},
            )
            conn.exec_driver_sql(f"ANALYZE {SCHEMA}.gps_pings")
            conn.exec_driver_sql(f"ANALYZE {SCHEMA}.edge_visits")
        with engine.connect() as conn:
            batch_frame = pd.read_sql(
                text(
                    "SELECT device_id, (extract(epoch FROM at) * 1000000)::bigint AS at_us, "
                    "ST_X(geom) AS lon, ST_Y(geom) AS lat, accuracy_m FROM public.gps_pings "
                    "WHERE at >= :c AND at < :e"
                ),
                conn,
                params={"c": cut, "e": end},
            )
        batch = PingBatch.from_frame(batch_frame)
        t = clock()
        res = ingest_pings(engine, batch, settings=settings, now=end)
        inc_s = clock() - t
        t = clock()
        cov_after = coverage.grid_coverage(engine, coverage.Window.last(timedelta(hours=8), end))
        agg_after_s = clock() - t
        t = clock()
        again = ingest_pings(engine, batch, settings=settings, now=end)
        again_s = clock() - t
        reasons = pd.Series([r["reason"] for r in res.rejected]).value_counts().to_dict()
        result["incremental"] = {
            "window": [cut.isoformat(), end.isoformat()],
            "pings": len(batch),
            "devices": int(batch_frame["device_id"].nunique()),
            "ingest_s": round(inc_s, 3),
            "steps_s": res.timings,
            "coverage_update_s": round(
                res.timings.get("match", 0) + res.timings.get("visits", 0), 3
            ),
            "accepted": res.accepted,
            "rejected": reasons,
            "edges_touched": res.edges_touched,
            "coverage_aggregate_after_s": round(agg_after_s, 3),
            "grids": len(cov_after),
            "same_batch_again_s": round(again_s, 3),
            "same_batch_again_accepted": again.accepted,
        }
        print("incremental", result["incremental"], flush=True)
    finally:
        if not args.keep:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        engine.dispose()
    result["machine"]["load_after"] = os.getloadavg()[0]
    Path(args.out).write_text(json.dumps(result, indent=1, default=str) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
