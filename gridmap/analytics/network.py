"""The walking network: a routable graph in compiled arrays (scipy CSR), built from the
``road_edges`` table or imported from OpenStreetMap ``.osm.pbf`` / GeoPackage / GeoJSON /
Shapefile lines (split where lines share a vertex, largest connected component kept).

Distances are metres; coordinates are projected into a local azimuthal equidistant system
centred on the network, so snapping and polygons work in metres.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2.extras
import pyogrio
import shapely
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gridmap.analytics.errors import NetworkError
from gridmap.db.engine import connect

#: OSM highway values nobody walks along.
NOT_WALKABLE = frozenset(
    {"motorway", "motorway_link", "construction", "proposed", "abandoned", "raceway",
     "bus_guideway", "escape", "busway", "elevator", "platform"}
)  # fmt: skip
#: OSM highway value → road_edges.kind.
KIND_OF_HIGHWAY = {
    "trunk": "primary",
    "trunk_link": "primary",
    "primary": "primary",
    "primary_link": "primary",
    "secondary": "secondary",
    "secondary_link": "secondary",
    "tertiary": "secondary",
    "tertiary_link": "secondary",
    "residential": "residential",
    "unclassified": "residential",
    "living_street": "residential",
    "road": "residential",
    "service": "alley",
    "track": "alley",
}
#: Decimal places lon/lat vertices are rounded to when deciding they are the same (~1 cm).
VERTEX_DECIMALS = 7


def local_crs(lon: float, lat: float) -> CRS:
    """An azimuthal equidistant CRS (metres) centred at ``lon, lat``."""
    return CRS.from_proj4(f"+proj=aeqd +lat_0={lat:.6f} +lon_0={lon:.6f} +datum=WGS84 +units=m")


@dataclass
class WalkGraph:
    """A connected, undirected walking graph.

    ``node_ids[i]`` is the road_edges node id of graph node ``i``; ``xy`` its projected
    position (m), ``lonlat`` its position in degrees. ``matrix`` is the symmetric CSR
    adjacency with edge lengths (m). ``edge_u/edge_v/edge_len`` list each kept edge once,
    ``edge_xy`` its projected geometry (for polygons). ``dropped_nodes`` counts nodes outside
    the largest connected component, ``dropped_edges`` input edges not kept (outside it,
    self loops, longer parallels).
    """

    node_ids: np.ndarray
    xy: np.ndarray
    lonlat: np.ndarray
    matrix: sparse.csr_matrix
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_len: np.ndarray
    edge_xy: np.ndarray
    crs: CRS
    dropped_nodes: int = 0
    dropped_edges: int = 0
    components: int = 1
    _tree: cKDTree | None = field(default=None, repr=False)
    _incidence: sparse.csr_matrix | None = field(default=None, repr=False)

    @property
    def incidence(self) -> sparse.csr_matrix:
        """Node × edge incidence (CSR): row ``i`` lists the edges touching node ``i``."""
        if self._incidence is None:
            m = self.n_edges
            rows = np.concatenate([self.edge_u, self.edge_v])
            cols = np.concatenate([np.arange(m), np.arange(m)])
            self._incidence = sparse.csr_matrix(
                (np.ones(2 * m, np.int8), (rows, cols)), shape=(self.n_nodes, m)
            )
        return self._incidence

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    def to_local(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Projected (m) positions of lon/lat arrays, shape (n, 2)."""
        tr = Transformer.from_crs(4326, self.crs, always_xy=True)
        x, y = tr.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.column_stack([x, y])

    def to_lonlat(self, geoms: np.ndarray) -> np.ndarray:
        """Geometries in the local CRS transformed to lon/lat."""
        tr = Transformer.from_crs(self.crs, 4326, always_xy=True)
        return shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))

    def snap(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest graph node of each projected position, and the distance to it (m)."""
        if self._tree is None:
            self._tree = cKDTree(self.xy)
        if len(xy) == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        dist, idx = self._tree.query(xy)
        return idx.astype(np.int64), dist


def graph_from_edges(
    source: np.ndarray,
    target: np.ndarray,
    length_m: np.ndarray,
    geoms: np.ndarray,
) -> WalkGraph:
    """The largest connected component of the edges (lon/lat LineStrings) as a WalkGraph.

    Node positions come from the edges' first (source) and last (target) vertices. Self
    loops are dropped; of parallel edges the shortest is kept.
    """
    source = np.asarray(source, np.int64)
    target = np.asarray(target, np.int64)
    length_m = np.asarray(length_m, float)
    if len(source) == 0:
        raise NetworkError(
            "The walking network is empty.",
            hint="import roads first: gridmap circles import-roads FILE",
        )
    first = shapely.get_coordinates(shapely.get_point(geoms, 0))
    last = shapely.get_coordinates(shapely.get_point(geoms, -1))
    ids, inverse = np.unique(np.concatenate([source, target]), return_inverse=True)
    u, v = inverse[: len(source)], inverse[len(source) :]
    lonlat = np.zeros((len(ids), 2))
    lonlat[u] = first
    lonlat[v] = last
    n = len(ids)
    loops = u == v
    pairs = pd.DataFrame({"a": np.minimum(u, v), "b": np.maximum(u, v), "len": length_m})
    pairs["i"] = np.arange(len(u))
    pairs = pairs[~loops].sort_values(["a", "b", "len"]).drop_duplicates(["a", "b"])
    keep = pairs["i"].to_numpy()
    u, v, length_m, geoms = u[keep], v[keep], length_m[keep], geoms[keep]
    adj = sparse.coo_matrix((length_m, (u, v)), shape=(n, n)).tocsr()
    n_comp, labels = csgraph.connected_components(adj, directed=False)
    main = np.argmax(np.bincount(labels)) if n_comp else 0
    in_main = labels == main
    kept_edges = in_main[u]
    new_index = np.full(n, -1, np.int64)
    new_index[in_main] = np.arange(in_main.sum())
    u2, v2 = new_index[u[kept_edges]], new_index[v[kept_edges]]
    len2 = length_m[kept_edges]
    m = int(in_main.sum())
    matrix = sparse.coo_matrix(
        (np.concatenate([len2, len2]), (np.concatenate([u2, v2]), np.concatenate([v2, u2]))),
        shape=(m, m),
    ).tocsr()
    ll = lonlat[in_main]
    crs = local_crs(*ll.mean(axis=0))
    tr = Transformer.from_crs(4326, crs, always_xy=True)
    x, y = tr.transform(ll[:, 0], ll[:, 1])
    edge_geoms = geoms[kept_edges]
    edge_xy = shapely.transform(
        edge_geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1]))
    )
    return WalkGraph(
        node_ids=ids[in_main],
        xy=np.column_stack([x, y]),
        lonlat=ll,
        matrix=matrix,
        edge_u=u2,
        edge_v=v2,
        edge_len=len2,
        edge_xy=edge_xy,
        crs=crs,
        dropped_nodes=int(n - m),
        dropped_edges=int(len(source) - kept_edges.sum()),
        components=int(n_comp),
    )


def load_graph(url: str) -> WalkGraph:
    """The walking graph of the database's ``road_edges``."""
    conn = connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT source, target, length_m, ST_AsBinary(geom) FROM road_edges")
            rows = cur.fetchall()
    finally:
        conn.close()
    if not rows:
        return graph_from_edges(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, object))
    src, tgt, length, wkb = zip(*rows, strict=True)
    geoms = shapely.from_wkb(np.array([bytes(w) for w in wkb], dtype=object))
    return graph_from_edges(np.array(src), np.array(tgt), np.array(length), geoms)


# -- import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    """What a road import read, kept and dropped."""

    lines_read: int
    lines_walkable: int
    edges: int
    nodes: int
    components: int
    dropped_edges: int
    dropped_nodes: int


def read_lines(path: Path) -> pd.DataFrame:
    """Walkable lines of a file: columns ``highway``, ``name``, ``geometry`` (lon/lat).

    ``.osm.pbf``/``.osm`` are read through GDAL's OSM driver (layer ``lines``); other
    files (GeoPackage, GeoJSON, Shapefile) take their first layer, reprojected to 4326.
    """
    path = Path(path)
    if not path.exists():
        raise NetworkError(f"Road file {path} does not exist.")
    osm = path.name.endswith((".osm.pbf", ".osm"))
    try:
        frame = pyogrio.read_dataframe(path, layer="lines" if osm else None)
    except Exception as exc:  # pyogrio raises several DataSourceError kinds
        raise NetworkError(f"Cannot read road file {path.name}: {exc}") from exc
    if frame.crs is not None and not frame.crs.equals(CRS.from_epsg(4326)):
        frame = frame.to_crs(4326)
    frame = frame[frame.geometry.notna()].explode(index_parts=False)
    frame = frame[frame.geometry.geom_type == "LineString"]
    cols = {c.lower(): c for c in frame.columns}
    highway = frame[cols["highway"]] if "highway" in cols else pd.Series("road", frame.index)
    keep = highway.notna() & ~highway.isin(NOT_WALKABLE) if osm else ~highway.isin(NOT_WALKABLE)
    name = frame[cols["name"]] if "name" in cols else pd.Series(None, frame.index)
    out = pd.DataFrame(
        {"highway": highway.fillna("road"), "name": name, "geometry": frame.geometry.values}
    )
    out.attrs["read"] = len(frame)
    return out[keep.to_numpy()].reset_index(drop=True)


def split_at_shared_vertices(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split lon/lat LineStrings where they share a vertex (and at their ends).

    Returns (line index, source node, target node) per piece and the pieces; node numbers
    are 1-based ids of the distinct split vertices.
    """
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    key = np.round(coords, VERTEX_DECIMALS)
    _, vid, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    vid = vid.ravel()
    starts = np.r_[True, owner[1:] != owner[:-1]]
    ends = np.r_[owner[1:] != owner[:-1], True]
    is_node = starts | ends | (counts[vid] > 1)
    pieces, src, tgt, which = [], [], [], []
    node_positions = np.flatnonzero(is_node)
    for a, b in itertools.pairwise(node_positions):
        if owner[a] != owner[b] or b == a:
            continue
        pieces.append(coords[a : b + 1])
        src.append(vid[a] + 1)
        tgt.append(vid[b] + 1)
        which.append(owner[a])
    geoms = shapely.linestrings(np.concatenate(pieces), indices=np.repeat(
        np.arange(len(pieces)), [len(p) for p in pieces]))  # fmt: skip
    return np.array(which), np.array([src, tgt]).T, geoms


def import_roads(
    url: str,
    path: Path,
    *,
    replace: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import walkable lines from ``path`` into ``road_edges`` (the largest connected
    component, split at shared vertices); ``replace`` deletes the old network first."""
    say = progress or (lambda _msg: None)
    say(f"reading {Path(path).name}")
    lines = read_lines(path)
    if lines.empty:
        raise NetworkError(f"{Path(path).name} holds no walkable lines.")
    say(f"splitting {len(lines):,} lines at shared vertices")
    which, ends, pieces = split_at_shared_vertices(lines["geometry"].to_numpy())
    ll = shapely.get_coordinates(pieces)
    crs = local_crs(*ll.mean(axis=0))
    tr = Transformer.from_crs(4326, crs, always_xy=True)
    length = shapely.length(
        shapely.transform(pieces, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    )
    ok = length > 0
    which, ends, pieces, length = which[ok], ends[ok], pieces[ok], length[ok]
    graph = graph_from_edges(ends[:, 0], ends[:, 1], length, pieces)
    keep_nodes = np.isin(ends[:, 0], graph.node_ids) & (ends[:, 0] != ends[:, 1])
    frame = pd.DataFrame(
        {
            "source": ends[:, 0],
            "target": ends[:, 1],
            "length_m": length,
            "kind": [KIND_OF_HIGHWAY.get(h, "footway") for h in lines["highway"].to_numpy()[which]],
            "name": lines["name"].to_numpy()[which],
            "wkt": shapely.to_wkt(pieces, rounding_precision=VERTEX_DECIMALS),
        }
    ).iloc[np.flatnonzero(keep_nodes)]
    say(f"writing {len(frame):,} edges")
    conn = connect(url)
    try:
        with conn, conn.cursor() as cur:
            if replace:
                cur.execute("DELETE FROM road_edges")
            psycopg2.extras.execute_values(
                cur,
                "INSERT INTO road_edges (source, target, length_m, kind, name, geom) VALUES %s",
                [
                    (int(s), int(t), float(m), k, n if isinstance(n, str) else None, w)
                    for s, t, m, k, n, w in frame.itertuples(index=False)
                ],
                template="(%s, %s, %s, %s, %s, ST_GeomFromText(%s, 4326))",
                page_size=2000,
            )
    finally:
        conn.close()
    return ImportReport(
        lines_read=int(lines.attrs.get("read", len(lines))),
        lines_walkable=len(lines),
        edges=len(frame),
        nodes=graph.n_nodes,
        components=graph.components,
        dropped_edges=graph.dropped_edges,
        dropped_nodes=graph.dropped_nodes,
    )
