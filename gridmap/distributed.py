"""The heavy batch jobs on Dask distributed, cut by area: the patrol visit rebuild, the
service circles' coverage (walks from every building) and their isochrones.

Each job cuts the city into tiles at quantiles of its street network (so the cuts run
through the dense parts, not around them) and runs one Dask task per tile. A tile *owns*
the inputs inside it (pings, buildings, service points; half-open bounds, the outer tiles
unbounded, so each input has exactly one owner) and is given, besides, everything within
the reach of its owned inputs (the *overlap*), so that each owned input's result is
computed from the same data, in the same order, as in one process — the same floats, not
just close ones. Only owned results come back; the parent assembles them and writes them
with the single-process code, in one transaction (all or nothing).

- Patrol visits: a tile owns the pings in its lon/lat box (read by the task from the
  database); a ping matches the nearest street segment within ``match_m``, so the task
  gets the segments whose boxes meet the tile's metric envelope grown by ``match_m``:
  every segment the whole-city index would offer an owned ping. Per edge and 5-minute
  bucket the tiles' first and last times are merged (min and max: exact).
- Coverage and isochrones: a tile owns the buildings (service points) in its box of the
  network's local metres; a walk within reach ``R`` never leaves the nodes within
  ``R * stretch`` of its start (``stretch``: the largest ratio of an edge's straight
  chord to its length, >= 1), and a start is within ``max_snap_m`` of its owner tile, so
  the task gets the sub-network of every edge touching a node within
  ``max_snap_m + R * stretch`` (+1 m) of the tile, in the whole network's order.

Tasks get plain data and the database URL (never an engine or connection: each opens its
own), so they run in worker processes of a local cluster or of a real one
(``GRIDMAP_DASK_SCHEDULER``).
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from scipy import sparse

from gridmap.analytics.coverage import TOLERANCE_M, CoverageModel, walk_distances
from gridmap.analytics.isochrones import (
    Isochrone,
    assemble_isochrones,
    isochrone_sources,
    local_isochrones,
)
from gridmap.analytics.network import WalkGraph
from gridmap.analytics.params import CircleParams
from gridmap.patrols.matching import EdgeMatcher
from gridmap.settings import get_settings

#: Metres added to every overlap (float rounding of the projections).
SLACK_M = 1.0
#: Degrees around the street network beyond which a ping is far from every street: the
#: outer tiles' unbounded sides are clamped there when their overlap is measured.
FAR_DEG = 0.05
#: Points per side when a lon/lat box is projected (its sides are curves in metres).
DENSIFY = 256

INF = math.inf


@dataclass(frozen=True)
class Tile:
    """A half-open box [x0, x1) × [y0, y1) (outer sides infinite)."""

    x0: float
    x1: float
    y0: float
    y1: float

    def holds(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Mask of the points the tile owns."""
        return (x >= self.x0) & (x < self.x1) & (y >= self.y0) & (y < self.y1)

    def distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Euclidean distance of each point to the box (0 inside)."""
        dx = np.maximum(np.maximum(self.x0 - x, x - self.x1), 0.0)
        dy = np.maximum(np.maximum(self.y0 - y, y - self.y1), 0.0)
        return np.hypot(dx, dy)


def cut_tiles(x: np.ndarray, y: np.ndarray, n: int) -> list[Tile]:
    """About ``n`` tiles covering the plane: columns at quantiles of ``x``, each cut into
    rows at quantiles of its points' ``y`` (so each holds about as many points)."""
    nx = max(1, math.ceil(math.sqrt(n)))
    ny = max(1, math.ceil(n / nx))
    x, y = np.asarray(x, float), np.asarray(y, float)

    def cuts(v: np.ndarray, k: int) -> list[float]:
        inner = sorted(set(np.quantile(v, np.arange(1, k) / k).tolist())) if len(v) else []
        return [-INF, *inner, INF]

    tiles = []
    xs = cuts(x, nx)
    for x0, x1 in itertools.pairwise(xs):
        col = (x >= x0) & (x < x1)
        ys = cuts(y[col], ny)
        tiles += [Tile(x0, x1, y0, y1) for y0, y1 in itertools.pairwise(ys)]
    return tiles


def default_tiles(client) -> int:
    """Tiles per job: the setting, else two per worker (at least 4)."""
    n = get_settings().dask_tiles
    return n or max(4, 2 * len(client.scheduler_info().get("workers", {})))


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator:
    """A Dask client: on ``scheduler`` (default ``GRIDMAP_DASK_SCHEDULER``) or, when none is
    named, on a local cluster of ``workers`` single-threaded worker processes (default
    ``GRIDMAP_DASK_WORKERS``, 0: one per CPU), closed again at the end."""
    from dask.distributed import Client, LocalCluster

    settings = get_settings()
    address = scheduler or settings.dask_scheduler
    if address:
        with Client(address, timeout=10) as client:
            yield client
        return
    n = workers or settings.dask_workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


# -- patrol visits ---------------------------------------------------------------------------


@dataclass
class PingTile:
    """One tile of the visit rebuild: its lon/lat box (None: unbounded) and the street
    segments (metres, with their edge ids) within the matching distance of it."""

    area: tuple[float | None, float | None, float | None, float | None]
    a: np.ndarray
    b: np.ndarray
    segment_edge_id: np.ndarray
    transformer: pyproj.Transformer


def ping_tiles(matcher: EdgeMatcher, n: int, overlap_m: float) -> list[PingTile]:
    """The matcher's street segments cut into about ``n`` lon/lat tiles, each with the
    segments whose boxes come within ``overlap_m`` of its metric envelope."""
    tr = matcher.transformer
    mid = (matcher.a + matcher.b) / 2
    lon, lat = tr.transform(mid[:, 0], mid[:, 1], direction="INVERSE")
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    lo, hi = np.minimum(matcher.a, matcher.b), np.maximum(matcher.a, matcher.b)
    if len(lon):
        far = (lon.min() - FAR_DEG, lon.max() + FAR_DEG, lat.min() - FAR_DEG, lat.max() + FAR_DEG)
    else:
        far = (0.0, 0.0, 0.0, 0.0)
    out = []
    for t in cut_tiles(lon, lat, n):
        box = (
            max(t.x0, far[0]), min(t.x1, far[1]), max(t.y0, far[2]), min(t.y1, far[3])
        )  # fmt: skip
        x0, x1, y0, y1 = _metric_envelope(tr, box)
        keep = (
            (hi[:, 0] >= x0 - overlap_m)
            & (lo[:, 0] <= x1 + overlap_m)
            & (hi[:, 1] >= y0 - overlap_m)
            & (lo[:, 1] <= y1 + overlap_m)
        )
        area = tuple(None if math.isinf(v) else v for v in (t.x0, t.x1, t.y0, t.y1))
        out.append(
            PingTile(
                area,  # type: ignore[arg-type]
                matcher.a[keep],
                matcher.b[keep],
                matcher.edge_ids[matcher.segment_edge[keep]],
                tr,
            )
        )
    return out


def _metric_envelope(
    tr: pyproj.Transformer, box: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    """The metric bounds of a lon/lat box (its densified outline projected), + SLACK_M."""
    x0, x1, y0, y1 = box
    if x0 > x1 or y0 > y1:
        return (INF, -INF, INF, -INF)  # empty: meets nothing
    s = np.linspace(0.0, 1.0, DENSIFY)
    lon = np.concatenate([x0 + (x1 - x0) * s, np.full(DENSIFY, x1), x0 + (x1 - x0) * s,
                          np.full(DENSIFY, x0)])  # fmt: skip
    lat = np.concatenate([np.full(DENSIFY, y0), y0 + (y1 - y0) * s, np.full(DENSIFY, y1),
                          y0 + (y1 - y0) * s])  # fmt: skip
    x, y = tr.transform(lon, lat)
    return (
        float(np.min(x)) - SLACK_M,
        float(np.max(x)) + SLACK_M,
        float(np.min(y)) - SLACK_M,
        float(np.max(y)) + SLACK_M,
    )


def match_tile(tile: PingTile, url: str, max_accuracy_m: float, match_m: float) -> dict:
    """(A Dask task) the tile's pings read from ``url`` and matched to its segments: their
    visit rows (``bucket_rows``), count, matched count and oldest time (µs)."""
    from gridmap.db.engine import connect
    from gridmap.patrols.visits import bucket_rows, read_pings

    conn = connect(url)
    try:
        with conn:
            pings = read_pings(conn, max_accuracy_m, tile.area)
    finally:
        conn.close()
    lo, hi = np.minimum(tile.a, tile.b), np.maximum(tile.a, tile.b)
    matcher = EdgeMatcher(
        edge_ids=tile.segment_edge_id,
        a=tile.a,
        b=tile.b,
        segment_edge=np.arange(len(tile.a)),
        tree=shapely.STRtree(shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])),
        transformer=tile.transformer,
    )
    at = pings["at"].to_numpy()
    edge = matcher.match(pings["lon"].to_numpy(), pings["lat"].to_numpy(), match_m)
    return {
        "rows": bucket_rows(at, edge),
        "pings": len(at),
        "matched": int((edge >= 0).sum()),
        "oldest": int(at.min()) if len(at) else None,
    }


def merge_rows(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Visit rows of several tiles as one (per edge and bucket: the first of the first
    times, the last of the last times), sorted by edge and bucket."""
    cols = ("edge_id", "bucket", "first_at", "last_at")
    edge, bucket, first, last = (
        np.concatenate([np.asarray(p[c], np.int64) for p in parts] or [np.zeros(0, np.int64)])
        for c in cols
    )
    order = np.lexsort((bucket, edge))
    edge, bucket, first, last = edge[order], bucket[order], first[order], last[order]
    start = np.ones(len(edge), dtype=bool)
    start[1:] = (edge[1:] != edge[:-1]) | (bucket[1:] != bucket[:-1])
    at = np.flatnonzero(start)
    if not len(at):
        return {c: np.zeros(0, np.int64) for c in cols}
    return {
        "edge_id": edge[at],
        "bucket": bucket[at],
        "first_at": np.minimum.reduceat(first, at),
        "last_at": np.maximum.reduceat(last, at),
    }


def visit_rows(
    client, url: str, matcher: EdgeMatcher, *, max_accuracy_m: float, match_m: float,
    tiles: int | None = None, overlap_m: float | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, int | None]]:  # fmt: skip
    """The visit rows of every stored ping, matched tile by tile on the Dask cluster
    (``overlap_m``: default ``match_m``, what exactness needs); and the counts."""
    overlap = match_m if overlap_m is None else overlap_m
    parts = ping_tiles(matcher, tiles or default_tiles(client), overlap)
    futures = client.map(
        match_tile, client.scatter(parts), url=url, max_accuracy_m=max_accuracy_m,
        match_m=match_m, pure=False,
    )  # fmt: skip
    done = client.gather(futures)
    rows = merge_rows([d["rows"] for d in done])
    oldest = [d["oldest"] for d in done if d["oldest"] is not None]
    return rows, {
        "pings": sum(d["pings"] for d in done),
        "matched": sum(d["matched"] for d in done),
        "oldest": min(oldest) if oldest else None,
        "tiles": len(parts),
    }


def rebuild_visits(
    client, url: str, matcher: EdgeMatcher, *, max_accuracy_m: float, match_m: float,
    tiles: int | None = None, conn=None,
) -> dict[str, int]:  # fmt: skip
    """:func:`gridmap.patrols.visits.rebuild_visits` on the Dask cluster: the rows are
    matched by tile in the workers, written by this process in one transaction (of
    ``conn``, left open for the caller to commit, when given)."""
    from gridmap.db.engine import connect
    from gridmap.patrols.visits import replace_visits

    t0 = time.perf_counter()
    rows, counts = visit_rows(
        client, url, matcher, max_accuracy_m=max_accuracy_m, match_m=match_m, tiles=tiles
    )
    t1 = time.perf_counter()
    if conn is not None:
        with conn.cursor() as cur:
            replace_visits(cur, rows, counts["oldest"])
    else:
        own = connect(url)
        try:
            with own, own.cursor() as cur:
                replace_visits(cur, rows, counts["oldest"])
        finally:
            own.close()
    return {
        "pings": int(counts["pings"] or 0),
        "matched": int(counts["matched"] or 0),
        "visits": len(rows["edge_id"]),
        "edges": len(np.unique(rows["edge_id"])),
        "tiles": int(counts["tiles"] or 0),
        "match_s": round(t1 - t0, 2),
        "write_s": round(time.perf_counter() - t1, 2),
    }


# -- service circles -------------------------------------------------------------------------


def stretch(graph: WalkGraph) -> float:
    """The largest ratio of an edge's straight chord (local metres) to its length (>= 1):
    a walk of L metres ends within L * stretch of its start."""
    if graph.n_edges == 0:
        return 1.0
    chord = np.hypot(*(graph.xy[graph.edge_u] - graph.xy[graph.edge_v]).T)
    length = graph.edge_len
    if np.any((length <= 0) & (chord > 0)):
        return INF
    ratio = np.divide(chord, length, out=np.zeros_like(chord), where=length > 0)
    return max(1.0, float(ratio.max()))


@dataclass
class SubGraph:
    """A tile's part of the network: the graph and its nodes' indices in the whole."""

    graph: WalkGraph
    nodes: np.ndarray


def sub_graph(graph: WalkGraph, tile: Tile, radius: float, shapes: bool = True) -> SubGraph:
    """Every edge touching a node within ``radius`` of the tile, with both its ends
    (nodes and edges in the whole network's order); ``shapes=False``: without the edges'
    geometries (walks need only their lengths)."""
    core = tile.distance(graph.xy[:, 0], graph.xy[:, 1]) <= radius
    edges = np.flatnonzero(core[graph.edge_u] | core[graph.edge_v])
    nodes = np.unique(np.concatenate([np.flatnonzero(core), graph.edge_u[edges],
                                      graph.edge_v[edges]]))  # fmt: skip
    new = np.full(graph.n_nodes, -1, np.int64)
    new[nodes] = np.arange(len(nodes))
    u, v, length = new[graph.edge_u[edges]], new[graph.edge_v[edges]], graph.edge_len[edges]
    m = len(nodes)
    matrix = sparse.coo_matrix(
        (np.concatenate([length, length]), (np.concatenate([u, v]), np.concatenate([v, u]))),
        shape=(m, m),
    ).tocsr()
    part = WalkGraph(
        node_ids=graph.node_ids[nodes],
        xy=graph.xy[nodes],
        lonlat=graph.lonlat[nodes],
        matrix=matrix,
        edge_u=u,
        edge_v=v,
        edge_len=length,
        edge_xy=graph.edge_xy[edges] if shapes else np.zeros(0, dtype=object),
        crs=graph.crs,
    )
    return SubGraph(part, nodes)


def _radius(model: CoverageModel, reach_m: float) -> float:
    return model.params.max_snap_m + reach_m * stretch(model.graph) + SLACK_M


@dataclass
class WalkTile:
    """One tile of the coverage job: its part of the network, the owned buildings'
    positions, nodes (in the part; -1: off it) and snaps, and per kind the sources."""

    part: WalkGraph
    owned: np.ndarray
    node: np.ndarray
    snap: np.ndarray
    on_network: np.ndarray
    sources: dict[str, tuple[np.ndarray, np.ndarray]]
    limit: float


def walk_tiles(model: CoverageModel, n: int, radius: float | None = None) -> list[WalkTile]:
    """The coverage job cut into about ``n`` tiles (``radius``: the overlap, default what
    exactness needs)."""
    graph, b, sites, params = model.graph, model.buildings, model.sites, model.params
    limit = params.max_reach_m + TOLERANCE_M
    radius = _radius(model, limit) if radius is None else radius
    bxy = graph.to_local(b.lonlat[:, 0], b.lonlat[:, 1])
    out = []
    for tile in cut_tiles(graph.xy[:, 0], graph.xy[:, 1], n):
        owned = np.flatnonzero(tile.holds(bxy[:, 0], bxy[:, 1]))
        if not len(owned):
            continue
        sub = sub_graph(graph, tile, radius, shapes=False)
        node = np.full(len(owned), -1, np.int64)
        here = np.isin(b.node[owned], sub.nodes)
        node[here] = np.searchsorted(sub.nodes, b.node[owned][here])
        sources = {}
        for kind in params.kinds:
            chosen = sites.of_kind(kind, params.max_snap_m)
            inside = chosen[np.isin(sites.node[chosen], sub.nodes)]
            sources[kind] = (np.searchsorted(sub.nodes, sites.node[inside]), sites.snap[inside])
        on = model.on_network[owned] & here
        out.append(WalkTile(sub.graph, owned, node, b.snap[owned], on, sources, limit))
    return out


def walk_tile(tile: WalkTile) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(A Dask task) per kind, the walks (m) of the tile's owned buildings, as
    :meth:`CoverageModel.walk` computes them."""
    walks = {}
    for kind, (nodes, snaps) in tile.sources.items():
        dist = walk_distances(tile.part, nodes, snaps, tile.limit)
        walk = np.full(len(tile.owned), np.inf)
        on = tile.on_network
        walk[on] = dist[tile.node[on]] + tile.snap[on]
        walk[walk > tile.limit] = np.inf
        walks[kind] = walk
    return tile.owned, walks


def coverage_walks(
    client, model: CoverageModel, *, tiles: int | None = None, radius: float | None = None
) -> dict[str, np.ndarray]:
    """:meth:`CoverageModel.walks` computed tile by tile on the Dask cluster."""
    parts = walk_tiles(model, tiles or default_tiles(client), radius)
    done = client.gather(client.map(walk_tile, client.scatter(parts), pure=False))
    n = len(model.buildings.ids)
    walks = {kind: np.full(n, np.inf) for kind in model.params.kinds}
    for owned, part in done:
        for kind, walk in part.items():
            walks[kind][owned] = walk
    return walks


@dataclass
class SourceTile:
    """One tile of the isochrone job: its part of the network (the edges' geometries as
    WKB: shapely objects pickle ~10x slower) and the owned sources (positions among the
    job's sources, nodes in the part, local xy, snaps)."""

    part: WalkGraph
    edge_wkb: np.ndarray
    owned: np.ndarray
    node: np.ndarray
    origin: np.ndarray
    snap: np.ndarray
    params: CircleParams


def source_tiles(
    model: CoverageModel, pick: np.ndarray, n: int, radius: float | None = None
) -> list[SourceTile]:
    """The isochrone job of the sources ``pick`` cut into about ``n`` tiles."""
    graph, sites = model.graph, model.sites
    radius = _radius(model, model.params.max_reach_m) if radius is None else radius
    origin = graph.to_local(sites.lonlat[pick, 0], sites.lonlat[pick, 1])
    out = []
    for tile in cut_tiles(graph.xy[:, 0], graph.xy[:, 1], n):
        owned = np.flatnonzero(tile.holds(origin[:, 0], origin[:, 1]))
        if not len(owned):
            continue
        sub = sub_graph(graph, tile, radius)
        node = np.searchsorted(sub.nodes, sites.node[pick[owned]])
        wkb = shapely.to_wkb(sub.graph.edge_xy)
        sub.graph.edge_xy = np.zeros(0, dtype=object)
        out.append(
            SourceTile(sub.graph, wkb, owned, node, origin[owned], sites.snap[pick[owned]],
                       model.params)
        )  # fmt: skip
    return out


def source_tile(tile: SourceTile) -> tuple[np.ndarray, np.ndarray]:
    """(A Dask task) the owned sources' walking areas (local xy, source-major) as WKB."""
    tile.part.edge_xy = shapely.from_wkb(tile.edge_wkb)
    local = local_isochrones(tile.part, tile.node, tile.origin, tile.snap, tile.params)
    return tile.owned, shapely.to_wkb(np.array(local, dtype=object))


def isochrones(
    client, model: CoverageModel, *, tiles: int | None = None, radius: float | None = None
) -> list[Isochrone]:
    """:func:`gridmap.analytics.isochrones.compute_isochrones` tile by tile on the cluster."""
    pick = isochrone_sources(model)
    parts = source_tiles(model, pick, tiles or default_tiles(client), radius)
    done = client.gather(client.map(source_tile, client.scatter(parts), pure=False))
    per = len(model.params.minutes)
    local: list = [None] * (len(pick) * per)
    for owned, wkb in done:
        polys = list(shapely.from_wkb(wkb))
        for k, pos in enumerate(owned):
            local[pos * per : (pos + 1) * per] = polys[k * per : (k + 1) * per]
    return assemble_isochrones(model, pick, local)
