"""Import benchmark at city scale: 500k building points from a GeoPackage into buildings.

    .venv/bin/python benchmarks/bench_import.py [--keep]

Works on its own copy of the city database (``gridmap_bench_h4``, made from
``gridmap_bench_city`` as a template and dropped at the end unless ``--keep``): the city's
buildings are written to a GeoPackage, then for each peer the buildings table is emptied
(TRUNCATE … CASCADE) and the file loaded again, each peer in its own process:

- ``gridmap``: ``gridmap.io.importer.import_file`` (read, validate every row, COPY into a
  staging table, one INSERT … SELECT with the grid-assignment trigger, all in one
  transaction); then the same file again (idempotent re-import: every row unchanged);
- ``geopandas``: ``read_file`` + ``to_postgis(if_exists="append")`` (no validation);
- ``ogr2ogr``: GDAL in C, no validation, streaming COPY (``ogr2ogr -f PGDump`` piped
  into ``psql``), the limit.

Time is wall time of the whole process; peak memory is the peer process tree's largest
resident set (sampled every 20 ms; the database server's own memory is not counted).
Writes benchmarks/results/import_city.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg2
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.citydb import copy_city, drop_database  # noqa: E402
from gridmap.db.engine import database_url  # noqa: E402

SOURCE_DB = "gridmap_bench_city"
COPY_DB = "gridmap_bench_h4"
RESULTS = ROOT / "benchmarks" / "results" / "import_city.json"
WORK = ROOT / ".gridmap" / "bench_import"
COLUMNS = ("code", "address", "kind", "floors", "households", "population", "elderly_alone",
           "disabled", "low_income")  # fmt: skip


def _url(db: str) -> str:
    return make_url(database_url()).set(database=db).render_as_string(hide_password=False)


def _dsn(db: str) -> str:
    return (
        make_url(database_url())
        .set(database=db, drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def make_copy() -> None:
    """The city copied afresh into COPY_DB (and migrated)."""
    copy_city(COPY_DB, replace=True, template=SOURCE_DB)


def drop_copy() -> None:
    drop_database(COPY_DB)


def export_buildings(path: Path) -> int:
    """The copy's buildings as a GeoPackage of points (layer ``buildings``)."""
    import geopandas as gpd
    import pyogrio

    with psycopg2.connect(_dsn(COPY_DB)) as conn:
        frame = gpd.read_postgis(
            f"SELECT {', '.join(COLUMNS)}, geom FROM buildings ORDER BY id", conn, geom_col="geom"
        )
    conn.close()
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, layer="buildings", driver="GPKG")
    return len(frame)


def empty_buildings() -> None:
    with psycopg2.connect(_dsn(COPY_DB)) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE buildings CASCADE")
    conn.close()
    conn = psycopg2.connect(_dsn(COPY_DB))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE buildings")
    conn.close()


def stored() -> tuple[int, int]:
    with psycopg2.connect(_dsn(COPY_DB)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), count(grid_id) FROM buildings")
        n, assigned = cur.fetchone()
    conn.close()
    return int(n), int(assigned)


# -- the peers (each runs in its own process: python bench_import.py _peer NAME GPKG) --------


def peer_gridmap(gpkg: Path) -> dict:
    from gridmap.io.importer import ImportOptions, import_file

    report = import_file(_url(COPY_DB), gpkg, ImportOptions("buildings"))
    return {"inserted": report.inserted, "unchanged": report.unchanged,
            "rejected": report.rejected, "seconds_inside": round(report.seconds, 2),
            "stages": report.stage_seconds}  # fmt: skip


def peer_geopandas(gpkg: Path) -> dict:
    import geopandas as gpd
    from sqlalchemy import create_engine

    frame = gpd.read_file(gpkg, layer="buildings").rename_geometry("geom")
    engine = create_engine(make_url(_url(COPY_DB)).set(drivername="postgresql+psycopg2"))
    frame.to_postgis("buildings", engine, if_exists="append", index=False)
    return {"inserted": len(frame)}


def peer_ogr2ogr(gpkg: Path) -> dict:
    """GDAL's fastest way in: ogr2ogr writes a COPY stream (PGDump driver) that psql loads.
    (``ogr2ogr -f PostgreSQL -append`` into this existing table falls back to one INSERT per
    row in GDAL 3.6 even with PG_USE_COPY=YES: ~340 rows/s, about 25 minutes here.)"""
    dump = subprocess.Popen(
        ["ogr2ogr", "--config", "PG_USE_COPY", "YES", "-f", "PGDump", "/vsistdout/", str(gpkg),
         "buildings", "-nln", "buildings", "-unsetFid", "-lco", "CREATE_TABLE=OFF",
         "-lco", "DROP_TABLE=OFF", "-lco", "CREATE_SCHEMA=OFF", "-lco", "GEOMETRY_NAME=geom",
         "-lco", "SRID=4326", "-lco", "SPATIAL_INDEX=NONE"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", _dsn(COPY_DB)], stdin=dump.stdout,
                   check=True)  # fmt: skip
    if dump.wait():
        raise SystemExit("ogr2ogr failed")
    return {}


PEERS = {"gridmap": peer_gridmap, "geopandas": peer_geopandas, "ogr2ogr": peer_ogr2ogr}


def run_peer(name: str, gpkg: Path) -> dict:
    """Run one peer in a child process; wall time and peak RSS of its process tree."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, __file__, "_peer", name, str(gpkg)], stdout=subprocess.PIPE, text=True
    )
    proc = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            rss = proc.memory_info().rss + sum(
                c.memory_info().rss for c in proc.children(recursive=True)
            )
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    out = child.stdout.read() if child.stdout else ""
    if child.returncode:
        raise SystemExit(f"peer {name} failed ({child.returncode})")
    detail = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    n, assigned = stored()
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak / 2**20, 1),
            "rows_stored": n, "rows_with_grid": assigned,
            "load_before": round(os.getloadavg()[0], 2), **detail}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the database copy")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    gpkg = WORK / "buildings.gpkg"
    t = time.perf_counter()
    make_copy()
    print(f"copy made in {time.perf_counter() - t:.0f} s", flush=True)
    try:
        rows = export_buildings(gpkg)
        print(f"{rows:,} buildings → {gpkg} ({gpkg.stat().st_size / 2**20:.0f} MB)", flush=True)
        results: dict[str, dict] = {}
        for name in ("gridmap", "geopandas", "ogr2ogr"):
            empty_buildings()
            results[name] = run_peer(name, gpkg)
            print(name, results[name], flush=True)
        # gridmap again on the table ogr2ogr filled: every row already there and equal
        results["gridmap_reimport"] = run_peer("gridmap", gpkg)
        results["gridmap_reimport"]["note"] = "same file again: every row found equal, none written"
        print("gridmap_reimport", results["gridmap_reimport"], flush=True)
    finally:
        if not args.keep:
            drop_copy()
    limit = results["ogr2ogr"]["seconds"]
    summary = {
        "benchmark": "import 500k building points from GeoPackage into buildings",
        "rows": rows,
        "cpu_count": os.cpu_count(),
        "load_after": list(os.getloadavg()),
        "peers": results,
        "ratios_to_ogr2ogr": {k: round(v["seconds"] / limit, 2) for k, v in results.items()},
        "notes": [
            "each peer loads into an emptied buildings table with its indexes and the "
            "grid-assignment trigger (every row gets its grid in all peers)",
            "only gridmap validates rows (types, values, duplicates, extent) and does it "
            "all-or-nothing; geopandas and ogr2ogr load whatever the file holds",
            "machine shared with other engineers (2 cores): compare ratios, not seconds",
        ],
    }
    RESULTS.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(summary["ratios_to_ogr2ogr"]))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_peer":
        print(json.dumps(PEERS[sys.argv[2]](Path(sys.argv[3]))))
    else:
        main()
