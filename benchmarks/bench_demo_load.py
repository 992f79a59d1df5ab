"""City-scale demo load: time per stage, rows/s, peak memory, and peers side by side.

    .venv/bin/python benchmarks/bench_demo_load.py --scale city [--seed 7] [--out FILE] [--keep]

Creates the scratch database ``gridmap_bench_load`` on the configured server (the embedded
cluster by default), migrates it, runs :func:`gridmap.demo.load.run_load` and records, per
table, the time to generate the frame and to COPY it (plus rebuilding its indexes), rows/s,
the total and the peak RSS of this process. Then, for the ``cases`` table, the same sample
of generated rows is inserted four ways into empty copies of the table:

- naive: SQLAlchemy Core, one INSERT statement per row (a small sample, extrapolated);
- well-known library: geopandas ``GeoDataFrame.to_postgis``;
- ours: :func:`gridmap.db.copy.copy_frame` (CSV chunks → COPY), same indexes/trigger;
- the limit: COPY of the same rows, already rendered as CSV, into an UNLOGGED table with no
  indexes, constraints or triggers (the server's raw ingest rate).

The peers' tables carry the same indexes, CHECK constraints and grid trigger as ``cases``.
The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg2
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap.db.copy import _chunk_csv, copy_columns, copy_frame  # noqa: E402
from gridmap.db.engine import (  # noqa: E402
    database_url,
    drop_database,
    ensure_database,
    get_engine,
)
from gridmap.db.migrations import upgrade  # noqa: E402
from gridmap.demo.city import default_anchor  # noqa: E402
from gridmap.demo.load import run_load  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402

DB_NAME = "gridmap_bench_load"
PEER_TABLE = "cases"


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _fresh_peer_table(cur: psycopg2.extensions.cursor, name: str, *, bare: bool) -> None:
    """An empty copy of ``cases``: with its indexes, checks and grid trigger, or bare."""
    cur.execute(f"DROP TABLE IF EXISTS {name}")
    if bare:
        cur.execute(f"CREATE UNLOGGED TABLE {name} (LIKE {PEER_TABLE} INCLUDING DEFAULTS)")
        return
    cur.execute(f"CREATE TABLE {name} (LIKE {PEER_TABLE} INCLUDING ALL)")
    cur.execute(
        f"CREATE TRIGGER {name}_assign_grid BEFORE INSERT OR UPDATE OF geom ON {name} "
        "FOR EACH ROW EXECUTE FUNCTION gridmap_assign_grid()"
    )


def _rate(rows: int, seconds: float) -> dict[str, float]:
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1)}


def run_peers(url: str, sample: pd.DataFrame, naive_rows: int) -> dict[str, dict]:
    """Insert the same generated ``cases`` rows four ways; return rows/s of each."""
    engine = get_engine(url)
    conn = psycopg2.connect(_dsn(url))
    conn.autocommit = True
    out: dict[str, dict] = {}
    cols = copy_columns(sample)
    try:
        with conn.cursor() as cur:
            # Naive: one INSERT per row through SQLAlchemy Core, in one transaction.
            _fresh_peer_table(cur, "bench_naive", bare=False)
            part = sample.iloc[:naive_rows]
            rows = _rows_for_sql(part)
            names = [c for c in cols if c != "geom"]
            stmt = text(
                f"INSERT INTO bench_naive ({', '.join(cols)}) VALUES ("
                + ", ".join(f":{c}" for c in names)
                + ", ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
            )
            t0 = time.perf_counter()
            with engine.begin() as c:
                for row in rows:
                    c.execute(stmt, row)
            out["naive_sqlalchemy_row_by_row"] = _rate(len(rows), time.perf_counter() - t0)
            # geopandas to_postgis (pandas to_sql + geoalchemy2, batched INSERTs).
            _fresh_peer_table(cur, "bench_geopandas", bare=False)
            gdf = gpd.GeoDataFrame(
                sample.drop(columns=["lon", "lat"]),
                geometry=gpd.points_from_xy(sample["lon"], sample["lat"]),
                crs=4326,
            ).rename_geometry("geom")
            t0 = time.perf_counter()
            gdf.to_postgis("bench_geopandas", engine, if_exists="append", index=False)
            out["geopandas_to_postgis"] = _rate(len(gdf), time.perf_counter() - t0)
            # Ours: CSV chunks → COPY into the same kind of table.
            _fresh_peer_table(cur, "bench_copy", bare=False)
            t0 = time.perf_counter()
            copy_frame(cur, "bench_copy", sample)
            out["ours_copy"] = _rate(len(sample), time.perf_counter() - t0)
            # The limit: pre-rendered CSV into an unlogged table with nothing to maintain.
            _fresh_peer_table(cur, "bench_limit", bare=True)
            t0 = time.perf_counter()
            data = b"".join(
                _chunk_csv(sample.iloc[s : s + 100_000]) for s in range(0, len(sample), 100_000)
            )
            render_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            cur.copy_expert(
                f"COPY bench_limit ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)",
                io.BytesIO(data),
                size=1 << 20,
            )
            out["limit_copy_unlogged_bare"] = _rate(len(sample), time.perf_counter() - t0)
            out["csv_render_only"] = _rate(len(sample), render_s)
            for t in ("bench_naive", "bench_geopandas", "bench_copy", "bench_limit"):
                cur.execute(f"DROP TABLE {t}")
    finally:
        conn.close()
    return out


def trigger_cost(url: str, buildings: pd.DataFrame) -> dict[str, dict]:
    """COPY the same buildings into a copy of ``buildings`` with and without the grid trigger."""
    conn = psycopg2.connect(_dsn(url))
    conn.autocommit = True
    out: dict[str, dict] = {}
    try:
        with conn.cursor() as cur:
            for label, with_trigger in (("with_grid_trigger", True), ("without_trigger", False)):
                cur.execute("DROP TABLE IF EXISTS bench_buildings")
                cur.execute("CREATE TABLE bench_buildings (LIKE buildings INCLUDING ALL)")
                if with_trigger:
                    cur.execute(
                        "CREATE TRIGGER bench_buildings_assign_grid BEFORE INSERT ON "
                        "bench_buildings FOR EACH ROW EXECUTE FUNCTION gridmap_assign_grid()"
                    )
                t0 = time.perf_counter()
                copy_frame(cur, "bench_buildings", buildings)
                out[label] = _rate(len(buildings), time.perf_counter() - t0)
            cur.execute("DROP TABLE bench_buildings")
    finally:
        conn.close()
    return out


def _rows_for_sql(part: pd.DataFrame) -> list[dict]:
    """Frame rows as plain Python values for DBAPI parameters."""
    rows = part.astype(object).where(part.notna(), None).to_dict("records")
    for r in rows:
        for k, v in r.items():
            if isinstance(v, pd.Timestamp):
                r[k] = v.to_pydatetime()
            elif hasattr(v, "item"):
                r[k] = v.item()
    return rows


def server_versions(url: str) -> dict[str, str]:
    with get_engine(url).connect() as c:
        return {
            "postgresql": c.execute(text("SHOW server_version")).scalar_one(),
            "postgis": c.execute(text("SELECT postgis_lib_version()")).scalar_one(),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="city", choices=["small", "city"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--peer-sample", type=int, default=50_000, help="rows for the peers")
    ap.add_argument("--naive-sample", type=int, default=5_000, help="rows for row-by-row")
    ap.add_argument("--trigger-sample", type=int, default=200_000, help="buildings rows")
    ap.add_argument("--no-defer-indexes", action="store_true")
    args = ap.parse_args()
    out = args.out or ROOT / "benchmarks" / "results" / f"demo_load_{args.scale}.json"

    url = make_url(database_url()).set(database=DB_NAME).render_as_string(hide_password=False)
    drop_database(url)
    ensure_database(url)
    upgrade(url, get_settings().sql_dir / "migrations")
    anchor = default_anchor()
    sample: dict[str, pd.DataFrame] = {}

    def keep_sample(table: str, frame: pd.DataFrame) -> None:
        if table == PEER_TABLE:
            sample["cases"] = frame.iloc[: args.peer_sample].copy()
        elif table == "buildings":
            sample["buildings"] = frame.iloc[: args.trigger_sample].copy()

    try:
        report = run_load(
            url,
            scale=args.scale,
            seed=args.seed,
            anchor=anchor,
            progress=True,
            defer_indexes=not args.no_defer_indexes,
            on_frame=keep_sample,
        )
        load_rss = peak_rss_mib()
        print(f"loaded in {report.total_s:.1f} s, peak RSS {load_rss:.0f} MiB", flush=True)
        with get_engine(url).connect() as c:
            sizes = {
                t: c.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one()
                for t in report.counts
            }
        peers = run_peers(url, sample["cases"], args.naive_sample)
        triggers = trigger_cost(url, sample["buildings"])
        full = next(s for s in report.stages if s.table == PEER_TABLE)
        peers["ours_copy_full_load"] = _rate(full.rows, full.copy_s + full.index_s)
        ours = peers["ours_copy"]["rows_per_s"]
        ratios = {
            f"ours_vs_{k}": round(ours / v["rows_per_s"], 2)
            for k, v in peers.items()
            if k not in ("ours_copy", "csv_render_only")
        }
        result = {
            "benchmark": "demo_load",
            "scale": args.scale,
            "seed": args.seed,
            "anchor": anchor.isoformat(),
            "defer_indexes": not args.no_defer_indexes,
            "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                **server_versions(url),
            },
            "total_s": round(report.total_s, 1),
            "generate_s": round(sum(s.generate_s for s in report.stages), 1),
            "copy_s": round(sum(s.copy_s for s in report.stages), 1),
            "index_s": round(sum(s.index_s for s in report.stages), 1),
            "finish_s": round(report.finish_s, 1),
            "peak_rss_mib": round(load_rss, 0),
            "peak_rss_mib_with_peers": round(peak_rss_mib(), 0),
            "stages": [
                {
                    "table": s.table,
                    "rows": s.rows,
                    "generate_s": round(s.generate_s, 2),
                    "copy_s": round(s.copy_s, 2),
                    "index_s": round(s.index_s, 2),
                    "rows_per_s": round(s.rows / max(s.copy_s + s.index_s, 1e-9), 1),
                    "table_bytes": sizes[s.table],
                }
                for s in report.stages
            ],
            "counts": report.counts,
            "peers": {"table": PEER_TABLE, **peers},
            "ratios": ratios,
            "buildings_grid_trigger": triggers,
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(json.dumps({k: result[k] for k in ("total_s", "peak_rss_mib", "ratios")}, indent=2))
        print(f"wrote {out}")
    finally:
        get_engine(url).dispose()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
