"""Walking isochrones: for each service point, the streets reachable within N minutes,
outlined by the concave hull of the reached street points widened by ``buffer_m`` (so the
area follows the streets, not a circle), and stored in PostGIS with the parameters used.

Per point, one Dijkstra (scipy.sparse.csgraph, batched, limited to the largest circle)
gives the walk to every node; an edge is reached whole when the walks from its two ends
cover its length, else in part from either end (cut at the reached length).

Why a hull and not a buffer of the reached streets: buffering ~500 street segments costs
~90 ms in GEOS, the hull ~1 ms, and the coverage figures never depend on the polygon
(they are computed on the network); the polygon is for the eye.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import csgraph

from gridmap.analytics.coverage import CoverageModel, data_print, record_run
from gridmap.analytics.network import WalkGraph
from gridmap.analytics.params import CircleParams
from gridmap.db.engine import connect

#: Sources per batched Dijkstra call (rows of a dense batch × nodes matrix).
BATCH = 64
#: Concave hull ratio (0: tightest, 1: convex) of the reached street points.
HULL_RATIO = 0.1


def reached_nodes(graph: WalkGraph, node: int, offset: float, reach_m: float) -> np.ndarray:
    """Indices of nodes within ``reach_m`` of a source ``offset`` m from ``node``."""
    dist = csgraph.dijkstra(graph.matrix, directed=True, indices=node, limit=reach_m - offset)
    return np.flatnonzero(np.isfinite(dist))


def batched_distances(
    graph: WalkGraph, nodes: np.ndarray, limit: float
) -> Iterator[tuple[int, np.ndarray]]:
    """(position, distances to every node) per source node, BATCH sources at a time."""
    for start in range(0, len(nodes), BATCH):
        chunk = nodes[start : start + BATCH]
        dist = csgraph.dijkstra(graph.matrix, directed=True, indices=chunk, limit=limit)
        dist = np.atleast_2d(dist)
        for i in range(len(chunk)):
            yield start + i, dist[i]


def reached_points(
    graph: WalkGraph, dist: np.ndarray, budget: float, edges: np.ndarray | None = None
) -> np.ndarray:
    """Local xy of the reached nodes and of the points where partly reached edges stop
    (``dist``: walk from the source's node; ``budget``: metres left there). ``edges``
    limits the edges looked at (those touching a reached node; all when None)."""
    nodes = graph.xy[dist <= budget]
    if edges is None:
        edges = np.arange(graph.n_edges)
    du, dv = dist[graph.edge_u[edges]], dist[graph.edge_v[edges]]
    length = graph.edge_len[edges]
    a = np.clip(budget - du, 0, None)
    b = np.clip(budget - dv, 0, None)
    partial = ((a > 0) | (b > 0)) & (a + b < length)
    if not partial.any():
        return nodes
    geoms, length = graph.edge_xy[edges[partial]], length[partial]
    geom_len = shapely.length(geoms)
    scale = np.divide(geom_len, length, out=np.ones_like(length), where=length > 0)
    a, b = a[partial] * scale, b[partial] * scale
    cuts = []
    if (a > 0).any():
        cuts.append(shapely.line_interpolate_point(geoms[a > 0], a[a > 0]))
    if (b > 0).any():
        cuts.append(shapely.line_interpolate_point(geoms[b > 0], geom_len[b > 0] - b[b > 0]))
    return np.vstack([nodes, shapely.get_coordinates(np.concatenate(cuts))])


def touching_edges(graph: WalkGraph, nodes: np.ndarray) -> np.ndarray:
    """Edges with at least one end among ``nodes``."""
    if not len(nodes):
        return np.zeros(0, np.int64)
    return np.unique(graph.incidence[nodes].indices)


def isochrone_polygon(
    graph: WalkGraph, dist: np.ndarray, origin_xy: np.ndarray, offset: float, reach_m: float,
    buffer_m: float, ratio: float = HULL_RATIO, edges: np.ndarray | None = None,
) -> shapely.Geometry:  # fmt: skip
    """The walking area (local xy) of a source ``offset`` m from its node: the concave
    hull of the reached street points (nodes and where partly walked edges stop) and the
    source, widened by ``buffer_m`` (the street band)."""
    budget = reach_m - offset
    origin = shapely.points(origin_xy)
    if budget <= 0:
        return shapely.buffer(origin, min(reach_m, buffer_m), quad_segs=4)
    pts = np.vstack([reached_points(graph, dist, budget, edges), origin_xy[None, :]])
    hull = shapely.concave_hull(shapely.multipoints(pts), ratio=ratio)
    return shapely.buffer(hull, buffer_m, quad_segs=1)


@dataclass(frozen=True)
class Isochrone:
    """One walking area: service point id, kind, minutes, reach (m) and lon/lat polygon."""

    point_id: int
    kind: str
    minutes: float
    reach_m: float
    geom: shapely.Geometry


def local_isochrones(
    graph: WalkGraph, nodes: np.ndarray, origins: np.ndarray, snaps: np.ndarray,
    params: CircleParams, progress: Callable[[int], None] | None = None,
) -> list[shapely.Geometry]:  # fmt: skip
    """The walking areas (local xy) of sources at ``origins`` (xy), ``snaps`` m from their
    graph ``nodes``: for each source, one per minutes of ``params`` (source-major)."""
    local: list[shapely.Geometry] = []
    for pos, dist in batched_distances(graph, nodes, params.max_reach_m):
        edges = touching_edges(graph, np.flatnonzero(np.isfinite(dist)))
        for minutes in params.minutes:
            local.append(isochrone_polygon(
                graph, dist, origins[pos], float(snaps[pos]), params.reach_m(minutes),
                params.buffer_m, edges=edges,
            ))  # fmt: skip
        if progress:
            progress(1)
    return local


def isochrone_sources(model: CoverageModel, point_ids: np.ndarray | None = None) -> np.ndarray:
    """Positions (in ``model.sites``) of the on-network points of the parameters' kinds
    (only ``point_ids`` when given)."""
    params, sites = model.params, model.sites
    pick = np.flatnonzero(np.isin(sites.kinds, params.kinds) & (sites.snap <= params.max_snap_m))
    if point_ids is not None:
        pick = pick[np.isin(sites.ids[pick], point_ids)]
    return pick


def assemble_isochrones(
    model: CoverageModel, pick: np.ndarray, local: list[shapely.Geometry]
) -> list[Isochrone]:
    """Isochrones (lon/lat) of the sources ``pick`` from their local areas (source-major)."""
    if not local:
        return []
    sites, params = model.sites, model.params
    lonlat = model.graph.to_lonlat(np.array(local, dtype=object))
    keys = [
        (int(sites.ids[i]), str(sites.kinds[i]), minutes, params.reach_m(minutes))
        for i in pick
        for minutes in params.minutes
    ]
    return [Isochrone(*key, g) for key, g in zip(keys, lonlat, strict=True)]


def compute_isochrones(
    model: CoverageModel,
    *,
    point_ids: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Isochrone]:
    """Isochrones of every (or the listed) on-network service point, for every minutes."""
    pick = isochrone_sources(model, point_ids)
    sites = model.sites
    origins = model.graph.to_local(sites.lonlat[pick, 0], sites.lonlat[pick, 1])
    local = local_isochrones(
        model.graph, sites.node[pick], origins, sites.snap[pick], model.params, progress
    )
    return assemble_isochrones(model, pick, local)


def save_isochrones(
    url: str, model: CoverageModel, isochrones: list[Isochrone], duration_s: float
) -> int:
    """Store isochrones as a new run (older isochrone runs are removed); its id."""
    wkb = shapely.to_wkb(np.array([i.geom for i in isochrones], dtype=object), hex=True)
    rows = "".join(
        f"{i.point_id}\t{i.kind}\t{i.minutes}\t{model.params.speed_kmh}\t{i.reach_m}\t{w}\n"
        for i, w in zip(isochrones, wkb, strict=True)
    )
    import io

    summary = {"isochrones": len(isochrones), "points": len({i.point_id for i in isochrones})}
    conn = connect(url)
    try:
        with conn, conn.cursor() as cur:
            run_id = record_run(cur, "isochrones", model.params, model.data_print or
                                data_print(url), duration_s, summary)  # fmt: skip
            cur.execute(
                "DELETE FROM analysis_runs WHERE job = 'isochrones' AND id <> %s", (run_id,)
            )
            cur.execute(
                "CREATE TEMP TABLE _iso (service_point_id integer, kind text, minutes real, "
                "speed_kmh real, reach_m real, geom geometry) ON COMMIT DROP"
            )
            cur.copy_expert("COPY _iso FROM STDIN", io.StringIO(rows))
            cur.execute(
                "INSERT INTO service_isochrones (run_id, service_point_id, kind, minutes, "
                "speed_kmh, reach_m, geom) SELECT %s, service_point_id, kind, minutes, "
                "speed_kmh, reach_m, ST_Multi(ST_SetSRID(geom, 4326)) FROM _iso "
                "WHERE service_point_id IN (SELECT id FROM service_points)",
                (run_id,),
            )
    finally:
        conn.close()
    return run_id


def run_isochrones(
    url: str, params: CircleParams, *, progress: Callable[[int], None] | None = None,
    model: CoverageModel | None = None,
) -> tuple[int, dict[str, float]]:  # fmt: skip
    """Compute and store every point's isochrones; (run id, timings in seconds)."""
    t0 = time.perf_counter()
    model = model or CoverageModel.load(url, params)
    t1 = time.perf_counter()
    isos = compute_isochrones(model, progress=progress)
    t2 = time.perf_counter()
    run_id = save_isochrones(url, model, isos, t2 - t0)
    return run_id, {"load_s": t1 - t0, "compute_s": t2 - t1, "store_s": time.perf_counter() - t2}
