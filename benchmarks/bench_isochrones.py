"""Service circles at city scale, with peers side by side on the same graph.

    .venv/bin/python benchmarks/bench_isochrones.py [--peer-sample 100]

Reads the shared city database (benchmarks/citydb.py; ~178k road edges, 1,500 service
points, 501k buildings) read-only, writes results into its own scratch database
``gridmap_bench_circles`` (dropped at the end), and measures:

- load: graph from road_edges, buildings and points read and snapped (once per process);
- coverage only: every kind's multi-source Dijkstra and the per-building walks;
- full recompute: coverage + per-point isochrones (polygons) for 5/10/15 min;
- storing both in PostGIS (COPY);
- what-if: one point moved, its kind recomputed and summarised;
- peers on the same graph: networkx (multi-source and per point) and pgRouting
  pgr_drivingDistance (skipped with a message when the extension is not installed).

Per-point peers run on a sample of points (``--peer-sample``) and are scaled to all
points; the JSON says which figures are scaled. Results: benchmarks/results/isochrones.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import psycopg2
from scipy.sparse import csgraph
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gridmap.analytics.coverage import (
    CoverageModel,
    save_coverage,
    summarize,
)
from gridmap.analytics.isochrones import compute_isochrones, save_isochrones
from gridmap.analytics.network import load_graph
from gridmap.analytics.params import CircleParams
from gridmap.analytics.whatif import Edit, apply_edits
from gridmap.db.engine import database_url, drop_database, ensure_database
from gridmap.db.migrations import upgrade
from gridmap.settings import get_settings

CITY_DB = "gridmap_bench_city"
SCRATCH_DB = "gridmap_bench_circles"
RESULTS = Path(__file__).resolve().parent / "results" / "isochrones.json"


def url_for(name: str) -> str:
    return make_url(database_url()).set(database=name).render_as_string(hide_password=False)


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def city_url() -> str:
    """The shared city database, used read-only (never migrated or loaded from here)."""
    url = url_for(CITY_DB)
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT value FROM gridmap_meta WHERE key = 'demo_scale'")
        row = cur.fetchone()
    conn.close()
    if not row or row[0] != "city":
        sys.exit("the city database is not loaded: run benchmarks/citydb.py first")
    return url


def scratch(city: str) -> str:
    """A migrated scratch database holding copies of the city's service points."""
    url = url_for(SCRATCH_DB)
    drop_database(url)
    ensure_database(url)
    upgrade(url, get_settings().sql_dir / "migrations")
    src, dst = psycopg2.connect(city), psycopg2.connect(url)
    with src, src.cursor() as a, dst, dst.cursor() as b:
        a.execute("SELECT id, code, name, kind, ST_AsEWKT(geom) FROM service_points")
        b.executemany(
            "INSERT INTO service_points (id, code, name, kind, geom) VALUES (%s,%s,%s,%s,%s)",
            a.fetchall(),
        )
    src.close()
    dst.close()
    return url


def networkx_peers(model: CoverageModel, sample: np.ndarray) -> dict[str, float]:
    import networkx as nx

    g = model.graph
    graph = nx.Graph()
    graph.add_weighted_edges_from(
        zip(g.edge_u.tolist(), g.edge_v.tolist(), g.edge_len.tolist(), strict=True)
    )
    limit = model.params.max_reach_m
    t = time.perf_counter()
    for kind in model.params.kinds:
        nodes = set(model.sites.node[model.sites.of_kind(kind, model.params.max_snap_m)].tolist())
        nx.multi_source_dijkstra_path_length(graph, nodes, cutoff=limit)
    multi = time.perf_counter() - t
    t = time.perf_counter()
    counts = []
    for node in model.sites.node[sample].tolist():
        counts.append(len(nx.single_source_dijkstra_path_length(graph, node, cutoff=limit)))
    per = time.perf_counter() - t
    ours = [
        int(np.isfinite(csgraph.dijkstra(g.matrix, indices=n, limit=limit)).sum())
        for n in model.sites.node[sample].tolist()
    ]
    return {
        "coverage_all_kinds_s": multi,
        "per_point_sample_s": per,
        "reached_nodes_match_scipy": counts == ours,
    }


def pgrouting_peers(city: str, model: CoverageModel, sample: np.ndarray) -> dict:
    """pgr_drivingDistance on a copy of road_edges in the scratch database."""
    url = url_for(SCRATCH_DB)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    cur = conn.cursor()
    try:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    except psycopg2.Error as exc:
        conn.close()
        return {"skipped": f"pgRouting is not installed ({exc.pgerror or exc})".strip()}
    src = psycopg2.connect(city)
    with src, src.cursor() as a:
        import io

        buf = io.StringIO()
        a.copy_expert("COPY (SELECT id, source, target, length_m FROM road_edges) TO STDOUT", buf)
    src.close()
    buf.seek(0)
    cur.execute("CREATE TABLE pgr_edges (id bigint, source bigint, target bigint, cost float8)")
    cur.copy_expert("COPY pgr_edges FROM STDIN", buf)
    edges_sql = "SELECT id, source, target, cost, cost AS reverse_cost FROM pgr_edges"
    limit = model.params.max_reach_m
    g = model.graph
    t = time.perf_counter()
    for kind in model.params.kinds:
        vids = g.node_ids[model.sites.node[model.sites.of_kind(kind, 200.0)]].tolist()
        cur.execute(
            "SELECT count(*) FROM pgr_drivingDistance(%s, %s::bigint[], %s, "
            "directed => false, equicost => true)",
            (edges_sql, vids, limit),
        )
    multi = time.perf_counter() - t
    vids = g.node_ids[model.sites.node[sample]].tolist()
    t = time.perf_counter()
    cur.execute(
        "SELECT count(*) FROM pgr_drivingDistance(%s, %s::bigint[], %s, directed => false)",
        (edges_sql, vids, limit),
    )
    reached = cur.fetchone()[0]
    per = time.perf_counter() - t
    conn.close()
    return {"coverage_all_kinds_s": multi, "per_point_sample_s": per, "sample_rows": reached}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer-sample", type=int, default=100)
    parser.add_argument("--whatif-runs", type=int, default=20)
    args = parser.parse_args()
    city = city_url()
    params = CircleParams()
    out: dict = {"machine": platform.platform(), "python": platform.python_version()}

    graph, t_graph = timed(load_graph, city)
    model, t_load = timed(CoverageModel.load, city, params, graph=graph, fingerprint=False)
    out["scale"] = {
        "road_edges_kept": graph.n_edges,
        "nodes": graph.n_nodes,
        "components": graph.components,
        "dropped_edges": graph.dropped_edges,
        "buildings": len(model.buildings.ids),
        "service_points": len(model.sites.ids),
        "off_network_buildings": int((~model.on_network).sum()),
    }
    out["load_s"] = {"graph": t_graph, "buildings_points_snap": t_load}
    print("scale", out["scale"], "load", out["load_s"], flush=True)

    walks, t_cov = timed(model.walks)
    out["coverage_only_s"] = t_cov
    out["coverage_15min_pct"] = {k: summarize(model, w, 15)["population_pct"]
                                 for k, w in walks.items()}  # fmt: skip
    print("coverage only", t_cov, flush=True)

    isos, t_iso = timed(compute_isochrones, model)
    out["isochrones"] = {"count": len(isos), "compute_s": t_iso}
    out["full_recompute_s"] = t_cov + t_iso
    print("isochrones", len(isos), t_iso, flush=True)

    # per-point distances alone (scipy), the part peers compute
    nodes = model.sites.node[model.sites.snap <= params.max_snap_m]
    t = time.perf_counter()
    for start in range(0, len(nodes), 64):
        csgraph.dijkstra(graph.matrix, indices=nodes[start : start + 64], limit=1125.0)
    out["scipy_per_point_all_s"] = time.perf_counter() - t

    url = scratch(city)
    model.data_print = "bench"
    _, t_store_cov = timed(save_coverage, url, model, walks, t_cov)
    _, t_store_iso = timed(save_isochrones, url, model, isos, t_iso)
    out["store_s"] = {"coverage_501k_rows": t_store_cov, "isochrones": t_store_iso}
    print("store", out["store_s"], flush=True)

    # what-if: move one point of a kind 300 m east, recompute that kind, summarise
    lat_ms = []
    kinds = list(params.kinds)
    for i in range(args.whatif_runs):
        kind = kinds[i % len(kinds)]
        pick = model.sites.of_kind(kind, params.max_snap_m)[i]
        lon, lat = model.sites.lonlat[pick]
        edit = Edit("move", point_id=int(model.sites.ids[pick]), lon=lon + 0.003, lat=lat)
        t = time.perf_counter()
        summarize(model, model.walk(kind, apply_edits(model, [edit])), 15)
        lat_ms.append(time.perf_counter() - t)
    out["whatif_s"] = {"median": statistics.median(lat_ms), "max": max(lat_ms)}
    print("what-if", out["whatif_s"], flush=True)

    rng = np.random.default_rng(7)
    on = np.flatnonzero(model.sites.snap <= params.max_snap_m)
    sample = np.sort(rng.choice(on, size=min(args.peer_sample, len(on)), replace=False))
    scale = len(on) / len(sample)
    nxp = networkx_peers(model, sample)
    nxp["per_point_all_s_scaled"] = nxp["per_point_sample_s"] * scale
    out["networkx"] = nxp
    print("networkx", nxp, flush=True)
    pgr = pgrouting_peers(city, model, sample)
    if "per_point_sample_s" in pgr:
        pgr["per_point_all_s_scaled"] = pgr["per_point_sample_s"] * scale
    out["pgrouting"] = pgr
    print("pgrouting", pgr, flush=True)

    ours_pp = out["scipy_per_point_all_s"]
    out["ratios"] = {
        "coverage_networkx_over_scipy": nxp["coverage_all_kinds_s"] / t_cov,
        "per_point_networkx_over_scipy": nxp["per_point_all_s_scaled"] / ours_pp,
    }
    if "coverage_all_kinds_s" in pgr:
        out["ratios"]["coverage_pgrouting_over_scipy"] = pgr["coverage_all_kinds_s"] / t_cov
        out["ratios"]["per_point_pgrouting_over_scipy"] = pgr["per_point_all_s_scaled"] / ours_pp
    out["peer_sample"] = {"points": len(sample), "of": len(on), "scaled_by": scale}
    out["targets"] = {
        "full_recompute_incl_polygons_le_10s": out["full_recompute_s"] <= 10,
        "coverage_only_le_1s": t_cov <= 1,
        "whatif_le_1s": out["whatif_s"]["max"] <= 1,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, default=float) + "\n", encoding="utf-8")
    print(json.dumps(out["ratios"], indent=2))
    drop_database(url)


if __name__ == "__main__":
    main()
