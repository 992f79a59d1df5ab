"""Population coverage: who lives within N minutes' walk of the nearest service point.

Every building and service point is snapped to its nearest street node (cKDTree); one
farther than ``max_snap_m`` is *off the network*: reported, never silently covered. The
walk from a building to the nearest point of a kind is one multi-source Dijkstra
(scipy.sparse.csgraph, limited to the largest circle) from a virtual node joined to every
point's street node by its snap distance, plus the building's own snap distance.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from cachetools import LRUCache
from scipy import sparse
from scipy.sparse import csgraph

from gridmap.analytics.errors import AnalyticsError
from gridmap.analytics.network import WalkGraph, load_graph
from gridmap.analytics.params import VULNERABLE, CircleParams
from gridmap.db.engine import connect

#: Added to every virtual hop (csgraph may read an explicit zero as "no edge") and taken
#: off the result again.
EPSILON_M = 1e-6
#: Slack (m) when comparing a walk with a circle's reach (float sums of edge lengths).
TOLERANCE_M = 1e-3


def walk_distances(
    graph: WalkGraph, nodes: np.ndarray, offsets: np.ndarray, limit: float
) -> np.ndarray:
    """Metres from the nearest source to every node (inf beyond ``limit``).

    Source ``i`` sits ``offsets[i]`` metres from graph node ``nodes[i]``; all sources start
    together (a virtual node joined to each by its offset).
    """
    n = graph.n_nodes
    if len(nodes) == 0:
        return np.full(n, np.inf)
    m = graph.matrix
    order = np.argsort(nodes, kind="stable")
    data = np.concatenate([m.data, np.asarray(offsets, float)[order] + EPSILON_M])
    indices = np.concatenate([m.indices, np.asarray(nodes, np.int64)[order]]).astype(np.int32)
    indptr = np.concatenate([m.indptr, [m.indptr[-1] + len(nodes)]]).astype(np.int32)
    aug = sparse.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))
    dist = csgraph.dijkstra(aug, directed=True, indices=n, limit=limit + EPSILON_M)
    return np.maximum(dist[:n] - EPSILON_M, 0.0)


@dataclass
class Sites:
    """Service points: ids, kinds, lon/lat, projected xy, street node and snap (m)."""

    ids: np.ndarray
    kinds: np.ndarray
    lonlat: np.ndarray
    node: np.ndarray
    snap: np.ndarray
    names: np.ndarray = field(default_factory=lambda: np.zeros(0, object))

    def of_kind(self, kind: str, max_snap_m: float) -> np.ndarray:
        """Positions of the on-network points of ``kind``."""
        return np.flatnonzero((self.kinds == kind) & (self.snap <= max_snap_m))


@dataclass
class Buildings:
    """Buildings: ids, people, vulnerable counts, grid/community, street node and snap."""

    frame: pd.DataFrame  # id, population, elderly_alone, disabled, low_income, grid_id, ...
    node: np.ndarray
    snap: np.ndarray
    lonlat: np.ndarray

    @property
    def ids(self) -> np.ndarray:
        return self.frame["id"].to_numpy()


@dataclass
class CoverageModel:
    """The graph, buildings and service points of one database, ready for fast queries."""

    graph: WalkGraph
    buildings: Buildings
    sites: Sites
    params: CircleParams
    data_print: str = ""
    load_s: float = 0.0

    @classmethod
    def load(
        cls, url: str, params: CircleParams, *, graph: WalkGraph | None = None,
        fingerprint: bool = True,
    ) -> CoverageModel:  # fmt: skip
        """Read the network (unless ``graph`` is given), buildings and service points of the
        database at ``url``; ``fingerprint=False`` skips the data fingerprint (a database
        without the service-circle functions, read-only)."""
        started = time.perf_counter()
        graph = graph or load_graph(url)
        conn = connect(url)
        try:
            with conn, conn.cursor() as cur:
                data_print = ""
                if fingerprint:
                    data_print = current_print(cur)
                cur.execute(
                    "SELECT b.id, b.population, b.elderly_alone, b.disabled, b.low_income, "
                    "b.grid_id, g.community_id, ST_X(b.geom), ST_Y(b.geom) FROM buildings b "
                    "LEFT JOIN grids g ON g.id = b.grid_id ORDER BY b.id"
                )
                cols = ["id", "population", *VULNERABLE, "grid_id", "community_id", "lon", "lat"]
                bframe = pd.DataFrame(cur.fetchall(), columns=cols)
                cur.execute(
                    "SELECT id, kind, name, ST_X(geom), ST_Y(geom) FROM service_points ORDER BY id"
                )
                prow = cur.fetchall()
        finally:
            conn.close()
        bll = bframe[["lon", "lat"]].to_numpy(float).reshape(-1, 2)
        bnode, bsnap = graph.snap(graph.to_local(bll[:, 0], bll[:, 1]))
        for col in ("grid_id", "community_id"):
            bframe[col] = bframe[col].astype("Int64")
        pll = np.array([[r[3], r[4]] for r in prow], float).reshape(-1, 2)
        pnode, psnap = graph.snap(graph.to_local(pll[:, 0], pll[:, 1]))
        sites = Sites(
            ids=np.array([r[0] for r in prow], np.int64),
            kinds=np.array([r[1] for r in prow], dtype=object),
            lonlat=pll,
            node=pnode,
            snap=psnap,
            names=np.array([r[2] for r in prow], dtype=object),
        )
        buildings = Buildings(bframe.drop(columns=["lon", "lat"]), bnode, bsnap, bll)
        return cls(graph, buildings, sites, params, data_print, time.perf_counter() - started)

    @property
    def on_network(self) -> np.ndarray:
        """Mask of buildings within ``max_snap_m`` of a street node."""
        return self.buildings.snap <= self.params.max_snap_m

    def walk(self, kind: str, sites: Sites | None = None) -> np.ndarray:
        """Metres from each building to the nearest point of ``kind`` (inf: beyond the
        largest circle, off the network, or no point)."""
        sites = sites or self.sites
        chosen = sites.of_kind(kind, self.params.max_snap_m)
        limit = self.params.max_reach_m + TOLERANCE_M
        dist = walk_distances(self.graph, sites.node[chosen], sites.snap[chosen], limit)
        walk = dist[self.buildings.node] + self.buildings.snap
        walk[~self.on_network | (walk > limit)] = np.inf
        return walk

    def walks(self) -> dict[str, np.ndarray]:
        """:meth:`walk` for every kind of the parameters."""
        return {kind: self.walk(kind) for kind in self.params.kinds}


# -- summaries -------------------------------------------------------------------------------


def summarize(model: CoverageModel, walk: np.ndarray, minutes: float) -> dict[str, Any]:
    """Covered buildings, people and vulnerable people within ``minutes`` (and totals)."""
    frame = model.buildings.frame
    covered = walk <= model.params.reach_m(minutes) + TOLERANCE_M
    off = ~model.on_network
    out: dict[str, Any] = {
        "minutes": minutes,
        "buildings": len(frame),
        "buildings_covered": int(covered.sum()),
        "off_network": int(off.sum()),
    }
    for col in ("population", *VULNERABLE):
        values = frame[col].to_numpy()
        total = int(values.sum())
        got = int(values[covered].sum())
        out[col] = total
        out[f"{col}_covered"] = got
        out[f"{col}_pct"] = round(100.0 * got / total, 2) if total else 0.0
    out["off_network_population"] = int(frame["population"].to_numpy()[off].sum())
    return out


def by_area(
    model: CoverageModel, walk: np.ndarray, minutes: float, area: str = "grid_id"
) -> pd.DataFrame:
    """Per grid (``grid_id``) or community (``community_id``): people, covered, coverage %."""
    frame = model.buildings.frame
    covered = walk <= model.params.reach_m(minutes) + TOLERANCE_M
    cols = ["population", *VULNERABLE]
    data = frame[[area, *cols]].copy()
    for col in cols:
        data[f"{col}_covered"] = np.where(covered, data[col], 0)
    data["buildings"] = 1
    data["buildings_covered"] = covered.astype(int)
    out = data.groupby(area, dropna=True).sum().reset_index()
    out["population_pct"] = np.where(
        out["population"] > 0, 100.0 * out["population_covered"] / out["population"].clip(1), 0.0
    ).round(2)
    return out.sort_values(area).reset_index(drop=True)


# -- storage ---------------------------------------------------------------------------------


#: The tables the data print covers, each with a change counter (migrations 0022, 0023).
PRINT_TABLES = ("buildings", "road_edges", "service_points")


class _KeptPrints:
    """Data prints made in this process, per database and its tables' change counters."""

    def __init__(self) -> None:
        self._items: LRUCache[tuple, str] = LRUCache(16)
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)

    def get(self, key: tuple) -> str | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple, value: str) -> None:
        with self._lock:
            self._items[key] = value

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a thread of the parent may have held it


_PRINTS = _KeptPrints()


def current_print(cur: Any) -> str:
    """The database's fingerprint of network, points and buildings
    (``gridmap_service_circles_print()``: ~0.3 s at city scale, a scan of every road edge
    and building), made again only when one of its tables changed since this process last
    made it: the tables' change counters (a 1 ms read) key the kept print."""
    cur.execute(
        "SELECT (SELECT oid FROM pg_database WHERE datname = current_database()), "
        "array_agg(version ORDER BY table_name) FROM gridmap_data_version "
        "WHERE table_name = ANY(%s)",
        (list(PRINT_TABLES),),
    )
    oid, versions = cur.fetchone()
    key = (cur.connection.dsn, oid, tuple(versions or ()))
    counted = versions is not None and len(versions) == len(PRINT_TABLES)
    kept = _PRINTS.get(key) if counted else None
    if kept is not None:
        return kept
    cur.execute("SELECT gridmap_service_circles_print()")
    made = cur.fetchone()[0]
    if counted:
        _PRINTS.put(key, made)
    return made


def data_print(url: str) -> str:
    """The database's current fingerprint of network, points and buildings."""
    conn = connect(url)
    try:
        with conn, conn.cursor() as cur:
            return current_print(cur)
    finally:
        conn.close()


def record_run(
    cur: Any,
    job: str,
    params: CircleParams,
    print_: str,
    duration_s: float,
    summary: dict[str, Any],
) -> int:
    """Insert an analysis_runs row; return its id."""
    cur.execute(
        "INSERT INTO analysis_runs (job, params, params_hash, data_print, duration_s, summary) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (
            job,
            json.dumps(params.to_json()),
            params.digest(job),
            print_,
            duration_s,
            json.dumps(summary),
        ),
    )
    return int(cur.fetchone()[0])


def save_coverage(
    url: str, model: CoverageModel, walks: dict[str, np.ndarray], duration_s: float
) -> int:
    """Store the walks as a new coverage run (older coverage runs are removed); its id."""
    summary = {
        kind: [summarize(model, walks[kind], m) for m in model.params.minutes]
        for kind in model.params.kinds
    }
    kinds = model.params.kinds
    table = pd.DataFrame({"building_id": model.buildings.ids})
    table["snap_m"] = np.where(model.on_network, np.round(model.buildings.snap, 1), np.nan)
    for i, kind in enumerate(kinds):
        table[f"w{i}"] = np.where(np.isfinite(walks[kind]), np.round(walks[kind], 1), np.nan)
    buf = io.StringIO()
    table.to_csv(buf, sep="\t", header=False, index=False, na_rep="\\N", float_format="%.1f")
    buf.seek(0)
    columns = ", ".join(f"w{i} real" for i in range(len(kinds)))
    array = ", ".join(f"w{i}" for i in range(len(kinds)))
    conn = connect(url)
    try:
        with conn, conn.cursor() as cur:
            run_id = record_run(cur, "coverage", model.params, model.data_print, duration_s,
                                summary)  # fmt: skip
            cur.execute("DELETE FROM analysis_runs WHERE job = 'coverage' AND id <> %s", (run_id,))
            cur.execute(
                f"CREATE TEMP TABLE _access (building_id bigint, snap_m real, {columns}) "
                "ON COMMIT DROP"
            )
            cur.copy_expert("COPY _access FROM STDIN", buf)
            cur.execute(
                "INSERT INTO building_access (run_id, building_id, snap_m, walk_m) "
                f"SELECT %s, building_id, snap_m, ARRAY[{array}]::real[] FROM _access",
                (run_id,),
            )
    finally:
        conn.close()
    return run_id


@dataclass(frozen=True)
class RunStatus:
    """Whether stored results of a job are current: 'missing', 'stale' or 'fresh'."""

    state: str
    reason: str = ""
    run_id: int | None = None
    computed_at: Any = None
    params: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None


def run_status(url: str, job: str, params: CircleParams) -> RunStatus:
    """Whether the latest stored ``job`` run matches ``params`` and the current data."""
    if job not in ("coverage", "isochrones"):
        raise AnalyticsError(f"Unknown job {job!r}.")
    conn = connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT id, params_hash, data_print, computed_at, params, summary "
                "FROM gridmap_latest_run(%s)",
                (job,),
            )
            row = cur.fetchone()
            now_print = current_print(cur)
    finally:
        conn.close()
    if row is None:
        return RunStatus("missing", "never computed")
    run_id, digest, print_, at, stored, summary = row
    base = {"run_id": run_id, "computed_at": at, "params": stored, "summary": summary}
    if digest != params.digest(job):
        return RunStatus("stale", "parameters changed", **base)
    if print_ != now_print:
        return RunStatus("stale", "data changed", **base)
    return RunStatus("fresh", "", **base)


def compute_coverage(
    url: str, params: CircleParams, *, progress: Any = None, store: bool = True
) -> tuple[CoverageModel, dict[str, np.ndarray], dict[str, float]]:
    """Load, compute every kind's walks and (``store``) save them; timings in seconds."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    model = CoverageModel.load(url, params)
    timings["load_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    walks: dict[str, np.ndarray] = {}
    for kind in params.kinds:
        walks[kind] = model.walk(kind)
        if progress:
            progress(1)
    timings["compute_s"] = time.perf_counter() - t1
    if store:
        t2 = time.perf_counter()
        save_coverage(url, model, walks, timings["compute_s"] + timings["load_s"])
        timings["store_s"] = time.perf_counter() - t2
    return model, walks, timings
