"""The heavy batch jobs single-process vs on Dask distributed (a local cluster of 1 and of
2 worker processes): the patrol visit rebuild from every stored ping, the service circles'
coverage walks and their isochrones.

    .venv/bin/python benchmarks/bench_dask.py [--url URL] [--tiles N] [--out ...json]

Reads the shared city database (benchmarks/citydb.py) unless ``--url`` names another one.
The rebuilds write the visit tables inside a transaction that is rolled back, so the
database is left as it was; each Dask result is checked equal to the single-process one
(visit rows by a checksum of the written tables, walks and polygons exactly).

Each cluster is started, and its workers import gridmap (a trivial task), before the
clock starts: ``cluster_start_s`` reports that apart. The street matcher and the coverage
model are loaded once in this process, as both paths need them; their load is reported
apart too. On this machine (2 cores, shared) two workers can at best halve the parallel
part; the parent's merge and the one-transaction write stay serial.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridmap import distributed  # noqa: E402
from gridmap.analytics.coverage import CoverageModel  # noqa: E402
from gridmap.analytics.isochrones import compute_isochrones  # noqa: E402
from gridmap.analytics.params import CircleParams  # noqa: E402
from gridmap.db.engine import get_engine  # noqa: E402
from gridmap.patrols.matching import matcher_for  # noqa: E402
from gridmap.patrols.visits import rebuild_visits  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402

CHECKSUM = (
    "SELECT count(*), sum(hashtext(edge_id || ' ' || bucket || ' ' || first_at || ' ' "
    "|| last_at)::bigint) FROM edge_visits"
)


def rebuild(url: str, matcher, client=None, tiles: int | None = None) -> dict:
    """One visit rebuild (rolled back): its stats, seconds and the tables' checksum."""
    s = get_settings()
    raw = get_engine(url).raw_connection()
    try:
        started = time.perf_counter()
        if client is None:
            stats = rebuild_visits(
                raw, matcher, max_accuracy_m=s.patrol_max_accuracy_m, match_m=s.patrol_match_m
            )
        else:
            stats = distributed.rebuild_visits(
                client, url, matcher, max_accuracy_m=s.patrol_max_accuracy_m,
                match_m=s.patrol_match_m, tiles=tiles, conn=raw,
            )  # fmt: skip
        seconds = time.perf_counter() - started
        with raw.cursor() as cur:
            cur.execute(CHECKSUM)
            check = [int(v or 0) for v in cur.fetchone()]
    finally:
        raw.rollback()
        raw.close()
    return {"seconds": round(seconds, 2), "checksum": check, **stats}


def circles(model: CoverageModel, client=None, tiles: int | None = None) -> tuple[dict, tuple]:
    """Coverage walks and isochrones: seconds, and the results (to compare)."""
    t0 = time.perf_counter()
    walks = (
        model.walks() if client is None else distributed.coverage_walks(client, model, tiles=tiles)
    )
    t1 = time.perf_counter()
    isos = (
        compute_isochrones(model)
        if client is None
        else distributed.isochrones(client, model, tiles=tiles)
    )
    t2 = time.perf_counter()
    timing = {"coverage_s": round(t1 - t0, 2), "isochrones_s": round(t2 - t1, 2),
              "isochrones": len(isos)}  # fmt: skip
    return timing, (walks, isos)


def same_circles(a: tuple, b: tuple) -> bool:
    walks_a, isos_a = a
    walks_b, isos_b = b
    return all(np.array_equal(walks_a[k], walks_b[k]) for k in walks_a) and all(
        (x.point_id, x.minutes) == (y.point_id, y.minutes)
        and shapely.equals_exact(x.geom, y.geom, 0)
        for x, y in zip(isos_a, isos_b, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None, help="Database (default: the city one).")
    parser.add_argument("--tiles", type=int, default=None, help="Tiles (default: 2/worker, ≥4).")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/dask.json"))
    args = parser.parse_args()
    if args.url:
        url = args.url
    else:
        from benchmarks.citydb import city_url

        url = city_url()
    result: dict = {
        "benchmark": "dask",
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": os.getloadavg()[0],
        },
        "database": url.rsplit("/", 1)[-1],
    }
    t0 = time.perf_counter()
    matcher = matcher_for(get_engine(url))
    t1 = time.perf_counter()
    model = CoverageModel.load(url, CircleParams.from_settings())
    result["load_s"] = {
        "matcher": round(t1 - t0, 2),
        "coverage_model": round(time.perf_counter() - t1, 2),
    }
    print("single process …", flush=True)
    single = rebuild(url, matcher)
    single_circles, single_out = circles(model)
    result["single"] = {"rebuild": single, "circles": single_circles}
    for workers in (1, 2):
        print(f"dask, {workers} worker(s) …", flush=True)
        started = time.perf_counter()
        with distributed.dask_client(workers=workers) as client:
            client.run(lambda: __import__("gridmap.distributed"))
            start_s = time.perf_counter() - started
            tiles = args.tiles or max(4, 2 * workers)
            run = rebuild(url, matcher, client, tiles)
            timing, out = circles(model, client, tiles)
        run["equal_to_single"] = run["checksum"] == single["checksum"] and all(
            run[k] == single[k] for k in ("pings", "matched", "visits", "edges")
        )
        timing["equal_to_single"] = same_circles(out, single_out)
        result[f"dask_{workers}"] = {
            "cluster_start_s": round(start_s, 2),
            "tiles": tiles,
            "rebuild": run,
            "circles": timing,
        }
        print(json.dumps(result[f"dask_{workers}"]), flush=True)
    base = single["seconds"]
    result["rebuild_speedup"] = {
        f"dask_{w}": round(base / result[f"dask_{w}"]["rebuild"]["seconds"], 2) for w in (1, 2)
    }
    result["machine"]["load_after"] = os.getloadavg()[0]
    Path(args.out).write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
