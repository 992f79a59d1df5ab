"""City-scale exports: 500k buildings to a GeoPackage, and a 10k-grid A3 PDF print map.

    .venv/bin/python benchmarks/bench_export.py [--out benchmarks/results/export_city.json]
        [--runs 2] [--keep]

Works on a scratch copy ``gridmap_bench_export`` of ``gridmap_bench_city`` (CREATE DATABASE
… TEMPLATE; the city itself is never changed or migrated), to which only the print map's
SQL function file is added. Every measurement runs in its own child process, so peak RSS
(``ru_maxrss``) is that method's alone; ``uptime`` load is noted with each figure.

GeoPackage of all buildings, side by side:

- ours: :func:`gridmap.io.export.export_data` — the layer's ``export(ctx)`` frame (as any
  user's export reads it), written in 50k-row chunks with progress;
- naive (well-known library): ``geopandas.read_postgis`` of the same SQL + ``to_file``;
- the limit: GDAL's ``ogr2ogr -f GPKG`` straight from PostgreSQL (C, streaming).

Print map: :func:`gridmap.io.printmap.render_print_map` of the grids layer (10k polygons)
over the roads, A3 landscape PDF; also with the 500k buildings on top (rasterised points).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.citydb import copy_city, drop_database  # noqa: E402
from gridmap.db.engine import database_url  # noqa: E402

SOURCE_DB = "gridmap_bench_city"
COPY_DB = "gridmap_bench_export"
BUILDINGS_SQL = "SELECT * FROM gridmap_layer_buildings(NULL, NULL, NULL, NULL, NULL)"


def _url(db: str) -> str:
    return (
        make_url(database_url())
        .set(database=db, drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def make_copy() -> None:
    """The city copied afresh into COPY_DB (and migrated)."""
    copy_city(COPY_DB, replace=True, template=SOURCE_DB)


def drop_copy() -> None:
    drop_database(COPY_DB)


# -- one measurement per child process -------------------------------------------------------


def _child(case: str, out: Path) -> dict:
    """Run one case in this (child) process; time, peak RSS and what was written."""
    from gridmap.db.engine import get_engine

    url = _url(COPY_DB)
    started = time.perf_counter()
    extra: dict = {}
    if case == "ours_gpkg":
        from gridmap.io.export import ExportRequest, export_data

        counts = export_data(get_engine(url), ExportRequest(("buildings",), "gpkg"), out)
        extra["features"] = counts["buildings"]
    elif case == "naive_gpkg":
        import geopandas as gpd
        from sqlalchemy import text

        with get_engine(url).connect() as conn:
            frame = gpd.read_postgis(text(BUILDINGS_SQL), conn, geom_col="geom")
        frame.to_file(out, driver="GPKG", layer="buildings")
        extra["features"] = len(frame)
    elif case == "ogr2ogr_gpkg":
        u = make_url(url)
        pg = (
            f"PG:host={u.host} port={u.port} dbname={u.database} user={u.username} "
            f"password={u.password}"
        )
        subprocess.run(
            ["ogr2ogr", "-f", "GPKG", str(out), pg, "-sql", BUILDINGS_SQL, "-nln", "buildings"],
            check=True,
        )
        extra["child_peak_rss_mb"] = round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        )
    elif case in ("print_grids_a3_pdf", "print_grids_buildings_a3_pdf"):
        from gridmap.io.export import ExportRequest
        from gridmap.io.printmap import render_print_map

        layers = ("grids",) if case == "print_grids_a3_pdf" else ("grids", "buildings")
        request = ExportRequest(layers, "pdf", paper="A3", orientation="landscape")
        result = render_print_map(get_engine(url), request, out)
        extra["features"] = result.counts
    else:
        raise SystemExit(f"unknown case {case}")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(max(peak, extra.pop("child_peak_rss_mb", 0.0)), 1),
        "bytes": out.stat().st_size,
        **extra,
    }


def run_case(case: str, folder: Path) -> dict:
    suffix = "pdf" if case.startswith("print") else "gpkg"
    out = folder / f"{case}.{suffix}"
    out.unlink(missing_ok=True)
    load = _load()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", case, "--child-out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load_before"] = load
    result["load_after"] = _load()
    print(case, result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/export_city.json"))
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--child-out")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, Path(args.child_out))))
        return

    started = time.perf_counter()
    make_copy()
    copy_s = time.perf_counter() - started
    cases = [
        "ours_gpkg",
        "naive_gpkg",
        "ogr2ogr_gpkg",
        "print_grids_a3_pdf",
        "print_grids_buildings_a3_pdf",
    ]
    results: dict[str, list[dict]] = {c: [] for c in cases}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
            for _ in range(args.runs):
                for case in cases:
                    results[case].append(run_case(case, Path(tmp)))
    finally:
        if not args.keep:
            drop_copy()

    def best(case: str) -> dict:
        return min(results[case], key=lambda r: r["seconds"])

    ours, naive, limit = best("ours_gpkg"), best("naive_gpkg"), best("ogr2ogr_gpkg")
    summary = {
        "gpkg_500k_buildings": {
            "ours_s": ours["seconds"],
            "naive_geopandas_s": naive["seconds"],
            "ogr2ogr_limit_s": limit["seconds"],
            "ours_vs_naive": round(naive["seconds"] / ours["seconds"], 2),
            "ours_vs_limit": round(ours["seconds"] / limit["seconds"], 2),
            "ours_peak_rss_mb": ours["peak_rss_mb"],
            "naive_peak_rss_mb": naive["peak_rss_mb"],
            "ogr2ogr_peak_rss_mb": limit["peak_rss_mb"],
            "features": ours["features"],
        },
        "print_a3_pdf_10k_grids_s": best("print_grids_a3_pdf")["seconds"],
        "print_a3_pdf_10k_grids_peak_rss_mb": best("print_grids_a3_pdf")["peak_rss_mb"],
        "print_a3_pdf_grids_and_500k_buildings_s": best("print_grids_buildings_a3_pdf")["seconds"],
    }
    report = {
        "benchmark": "export_city",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "database": f"{COPY_DB} (TEMPLATE {SOURCE_DB}, copied in {copy_s:.0f} s)",
        "runs": args.runs,
        "summary": summary,
        "results": results,
        "note": "best of runs; load = 1/5/15-min load averages before/after each run on a "
        "2-core machine shared with other engineers",
    }
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
