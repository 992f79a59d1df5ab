"""City-scale incremental ping ingest: the last 5 minutes of pings of every device (one
batch) through ``ingest_pings`` into the full ``gps_pings`` table, before and after the
issue-4 speed-up, with wall and CPU seconds (client and server) per repeat.

    .venv/bin/python benchmarks/bench_patrol_ingest.py [--repeats 5] [--before COMMIT]
        [--db gridmap_bench_patrol_ingest] [--keep-db] [--out ...json]

Works on its own copy of the city database (``CREATE DATABASE … TEMPLATE
gridmap_bench_city``), dropped at the end unless ``--keep-db``. The state before each
repeat: every ping of the day stored except those of 11:55–12:00 local (6.37 M rows with
the full-size indexes), the visit tables as of 11:55, nothing rejected; the batch is the
63.6k pings of 11:55–12:00 of 2,120 devices. It lands in the middle of the day (stored
fixes before and after it), the harder case for both the speed check and the indexes.

Peers, side by side:
- before: the ingest of commit ``--before`` (loaded from git) on the schema as it was
  (GiST index on gps_pings.geom, the lon/lat CHECK's STRICT function run per row);
- after: the current ingest on the schema with migration 0013 (no GiST on gps_pings)
  and 0009's inlinable lon/lat check (applied here when the city copy predates them);
- limit: the same rows written by one binary COPY into an unlogged table with no index
  or check — the cost of just writing them.
CPU seconds are summed over this process and the server backends of the copy, so the
ratios hold up on the shared, loaded machine; ``uptime`` load is recorded with each repeat.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.citydb import copy_city, drop_database  # noqa: E402
from gridmap.db.copy import copy_arrays  # noqa: E402
from gridmap.db.engine import database_url  # noqa: E402
from gridmap.derived import rebuild_patrol_visits  # noqa: E402
from gridmap.patrols import ingest as after_ingest  # noqa: E402
from gridmap.patrols.matching import matcher_for  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402

TEMPLATE = "gridmap_bench_city"
ZONE = ZoneInfo("Asia/Shanghai")
#: The batch: 11:55-12:00 local of the day the city's pings cover (set by batch_window).
CUT = END = datetime.min
#: The lon/lat CHECK's function as migration 0009 defines it (inlinable: not STRICT).
INLINABLE_CHECK = """
CREATE OR REPLACE FUNCTION gridmap_in_lonlat(g geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ST_XMin(g) >= -180 AND ST_XMax(g) <= 180 AND ST_YMin(g) >= -90 AND ST_YMax(g) <= 90
$$
"""
STRICT_CHECK = INLINABLE_CHECK.replace("IMMUTABLE PARALLEL", "IMMUTABLE STRICT PARALLEL")
TICK = os.sysconf("SC_CLK_TCK")


def server_url(database: str) -> str:
    url = make_url(database_url()).set(database=database)
    return url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


def make_copy(name: str) -> None:
    copy_city(name, template=TEMPLATE)


def drop_copy(name: str) -> None:
    drop_database(name)


def server_cpu(engine, database: str) -> float:
    """CPU seconds used so far by the client backends of ``database``."""
    with engine.connect() as conn:
        pids = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :d "
                "AND backend_type = 'client backend'"
            ),
            {"d": database},
        ).scalars()
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def batch_window(engine) -> tuple[datetime, datetime]:
    """11:55-12:00 local time of the (one) day of the city's pings."""
    with engine.connect() as conn:
        latest = conn.execute(text("SELECT max(at) FROM gps_pings")).scalar_one()
    day = latest.astimezone(ZONE).date()
    cut = datetime(day.year, day.month, day.day, 11, 55, tzinfo=ZONE)
    return cut, cut + timedelta(minutes=5)


def prepare(engine) -> None:
    """Visit history and the batch table, once per copy."""
    with engine.connect() as conn:
        has_batch = conn.execute(text("SELECT to_regclass('bench_batch') IS NOT NULL")).scalar()
        has_visits = conn.execute(text("SELECT EXISTS (SELECT 1 FROM edge_visits)")).scalar()
    if not has_visits:
        print("visits rebuilt", rebuild_patrol_visits(engine), flush=True)
    if not has_batch:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE bench_batch AS SELECT * FROM gps_pings "
                    "WHERE at >= :c AND at < :e ORDER BY at, device_id"
                ),
                {"c": CUT, "e": END},
            )


def reset(engine) -> None:
    """gps_pings without the batch, nothing rejected, visits as of 11:55; vacuumed."""
    with engine.begin() as conn:
        params = {"c": CUT, "e": END}
        conn.execute(text("DELETE FROM gps_pings WHERE at >= :c AND at < :e"), params)
        conn.execute(text("TRUNCATE gps_pings_rejected"))
        conn.execute(text("DELETE FROM edge_visits WHERE bucket >= :c"), params)
        conn.execute(text("TRUNCATE edge_last_visit"))
        conn.execute(
            text(
                "INSERT INTO edge_last_visit SELECT edge_id, max(last_at) FROM edge_visits "
                "GROUP BY edge_id"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("gps_pings", "gps_pings_rejected", "edge_visits", "edge_last_visit"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


def set_schema(engine, stage: str) -> None:
    """``before``: GiST on gps_pings.geom and the STRICT check; ``after``: neither."""
    with engine.begin() as conn:
        if stage == "before":
            conn.exec_driver_sql(STRICT_CHECK)
            conn.exec_driver_sql(
                "CREATE INDEX IF NOT EXISTS gps_pings_geom_gist ON gps_pings USING gist (geom)"
            )
        else:
            conn.exec_driver_sql(INLINABLE_CHECK)
            conn.exec_driver_sql((ROOT / "sql/migrations/0013_gps_pings_lean.sql").read_text())


def load_before(commit: str) -> types.ModuleType:
    """The ingest module as it was at ``commit``."""
    src = subprocess.check_output(
        ["git", "show", f"{commit}:gridmap/patrols/ingest.py"], cwd=ROOT, text=True
    )
    module = types.ModuleType("ingest_before")
    sys.modules["ingest_before"] = module
    exec(compile(src, f"{commit[:10]}:gridmap/patrols/ingest.py", "exec"), module.__dict__)
    return module


def one_run(engine, database: str, module, batch, now) -> dict:
    settings = get_settings()
    reset(engine)
    load = os.getloadavg()[0]
    cpu0, srv0 = time.process_time(), server_cpu(engine, database)
    t = time.perf_counter()
    res = module.ingest_pings(engine, batch, settings=settings, now=now)
    wall = time.perf_counter() - t
    cpu1, srv1 = time.process_time(), server_cpu(engine, database)
    t = time.perf_counter()
    again = module.ingest_pings(engine, batch, settings=settings, now=now)
    again_s = time.perf_counter() - t
    return {
        "load": round(load, 2),
        "wall_s": round(wall, 3),
        "cpu_client_s": round(cpu1 - cpu0, 3),
        "cpu_server_s": round(srv1 - srv0, 3),
        "steps_s": res.timings,
        "accepted": res.accepted,
        "rejected": len(res.rejected),
        "edges_touched": res.edges_touched,
        "again_wall_s": round(again_s, 3),
        "again_accepted": again.accepted,
        "again_duplicates": again.duplicates,
    }


def limit_run(engine, database: str, batch) -> dict:
    """The batch written by one binary COPY into a bare unlogged table."""
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_bare")
            cur.execute(
                "CREATE UNLOGGED TABLE bench_bare (at bigint, lon float8, lat float8, acc float8)"
            )
            raw.commit()
            load = os.getloadavg()[0]
            srv0, t = server_cpu(engine, database), time.perf_counter()
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS bench_bare_in (LIKE bench_bare)")
            copy_arrays(
                cur,
                "bench_bare_in",
                {"at": batch.at_us, "lon": batch.lon, "lat": batch.lat, "acc": batch.accuracy},
            )
            cur.execute("INSERT INTO bench_bare SELECT * FROM bench_bare_in")
            raw.commit()
            wall = time.perf_counter() - t
            srv1 = server_cpu(engine, database)
            cur.execute("DROP TABLE bench_bare")
            raw.commit()
    finally:
        raw.close()
    return {"load": round(load, 2), "wall_s": round(wall, 3), "cpu_server_s": round(srv1 - srv0, 3)}


def summary(runs: list[dict]) -> dict:
    keys = ("wall_s", "cpu_client_s", "cpu_server_s", "load")
    out = {f"median_{k}": round(statistics.median(r[k] for r in runs), 3) for k in keys}
    steps = runs[0]["steps_s"].keys()
    out["median_steps_s"] = {
        s: round(statistics.median(r["steps_s"].get(s, 0) for r in runs), 4) for s in steps
    }
    out["median_cpu_s"] = round(out["median_cpu_client_s"] + out["median_cpu_server_s"], 3)
    out["runs"] = runs
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", help="commit whose ingest is the 'before' peer")
    parser.add_argument("--db", default="gridmap_bench_patrol_ingest")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/patrol_ingest_city.json"))
    args = parser.parse_args()
    global CUT, END
    make_copy(args.db)
    engine = create_engine(server_url(args.db), pool_size=3)
    CUT, END = batch_window(engine)
    out_path = Path(args.out)
    previous = json.loads(out_path.read_text()) if out_path.exists() else {}
    result: dict = {
        "benchmark": "patrol_ingest_incremental",
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "scenario": {"window": [CUT.isoformat(), END.isoformat()], "repeats": args.repeats},
    }
    try:
        prepare(engine)
        with engine.connect() as conn:
            frame = pd.read_sql(
                text(
                    "SELECT device_id, (extract(epoch FROM at) * 1000000)::bigint AS at_us, "
                    "ST_X(geom) AS lon, ST_Y(geom) AS lat, accuracy_m FROM bench_batch"
                ),
                conn,
            )
            stored = conn.execute(text("SELECT count(*) FROM gps_pings")).scalar() - len(frame)
        if frame.empty:
            raise SystemExit(f"no pings between {CUT} and {END} in {args.db}")
        batch = after_ingest.PingBatch.from_frame(frame)
        result["scenario"] |= {
            "pings": len(batch),
            "devices": int(frame["device_id"].nunique()),
            "stored_pings": stored,
        }
        matcher_for(engine)  # built once per process, as in the server
        gc.freeze()  # as every gridmap serve worker does once loaded (gridmap/web/server.py)
        stages = [("after", after_ingest)]
        if args.before:
            stages.insert(0, ("before", load_before(args.before)))
            result["scenario"]["before_commit"] = args.before
        for stage, module in stages:
            set_schema(engine, stage)
            runs = []
            for k in range(args.repeats):
                runs.append(one_run(engine, args.db, module, batch, END))
                print(stage, k, json.dumps(runs[-1]), flush=True)
            result[stage] = summary(runs)
        result["limit"] = limit_run(engine, args.db, batch)
        print("limit", result["limit"], flush=True)
        if "before" in result:
            b, a = result["before"], result["after"]
            result["speedup"] = {
                "wall": round(b["median_wall_s"] / a["median_wall_s"], 2),
                "cpu": round(b["median_cpu_s"] / a["median_cpu_s"], 2),
            }
        elif "before" in previous:
            result["before"] = previous["before"]
    finally:
        engine.dispose()
        if not args.keep_db:
            drop_copy(args.db)
    result["previous_session"] = previous.get("previous_session") or {
        "source": "benchmarks/results/patrols_city.json (incremental, load ~2.5; its "
        "gps_pings held only 11:50-11:55, not the whole day)",
        "ingest_s": 2.325,
        "steps_s": {"judge": 0.5701, "store": 1.2071, "match": 0.1922, "visits": 0.327},
    }
    out_path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print("wrote", out_path)


if __name__ == "__main__":
    main()
