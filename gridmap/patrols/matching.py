"""Matching GPS fixes to the walkable road network: the nearest edge within the match
distance, in a local metric projection: a shapely STRtree finds the edge segments near
each fix, numpy measures the distances."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from sqlalchemy import Connection, Engine, text

from gridmap.access.scope import request_cache_scope
from gridmap.db.cache import TableCache

#: Seconds in one visit bucket (edge_visits.bucket); must match the SQL (5 minutes).
BUCKET_S = 300


def local_crs(lon: float, lat: float) -> pyproj.CRS:
    """A transverse Mercator in metres centred on (lon, lat): < 0.1 % scale error ±50 km."""
    return pyproj.CRS.from_proj4(
        f"+proj=tmerc +lat_0={lat:.6f} +lon_0={lon:.6f} +k=1 +x_0=0 +y_0=0 "
        "+ellps=WGS84 +units=m +no_defs"
    )


@dataclass
class EdgeMatcher:
    """Road edges in a metric CRS as straight segments (start ``a``, end ``b``, the index
    of their edge), the segments' boxes indexed for the fixes' surroundings."""

    edge_ids: np.ndarray
    a: np.ndarray
    b: np.ndarray
    segment_edge: np.ndarray
    tree: shapely.STRtree
    transformer: pyproj.Transformer

    @classmethod
    def read(cls, conn: Connection) -> EdgeMatcher:
        """Read every road edge and index its segments."""
        rows = conn.execute(text("SELECT id, ST_AsBinary(geom) FROM road_edges ORDER BY id")).all()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        geoms = shapely.from_wkb([bytes(r[1]) for r in rows]) if rows else np.array([])
        return cls.from_geometries(ids, geoms)

    @classmethod
    def from_geometries(cls, ids: np.ndarray, geoms: np.ndarray) -> EdgeMatcher:
        """Edges ``ids`` with lon/lat (Multi)LineStrings ``geoms``."""
        if len(geoms):
            bounds = shapely.total_bounds(geoms)
            lon0, lat0 = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        else:
            lon0, lat0 = 0.0, 0.0
        tr = pyproj.Transformer.from_crs(4326, local_crs(lon0, lat0), always_xy=True)
        parts, edge = shapely.get_parts(geoms, return_index=True) if len(geoms) else ([], [])
        coords, part = shapely.get_coordinates(parts, return_index=True)
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        xy = np.c_[x, y]
        same = part[1:] == part[:-1]  # consecutive vertices of one part form a segment
        a, b = xy[:-1][same], xy[1:][same]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        tree = shapely.STRtree(shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]))
        return cls(ids, a, b, np.asarray(edge)[part[:-1][same]], tree, tr)

    def match(self, lon: np.ndarray, lat: np.ndarray, max_m: float) -> np.ndarray:
        """The id of the nearest edge within ``max_m`` of each fix, -1 where none is (ties:
        the lowest edge id)."""
        out = np.full(len(lon), -1, dtype=np.int64)
        if len(lon) == 0 or len(self.a) == 0:
            return out
        x, y = self.transformer.transform(np.asarray(lon), np.asarray(lat))
        around = shapely.box(x - max_m, y - max_m, x + max_m, y + max_m)
        pi, si = self.tree.query(around)  # segments whose box meets the fix's square
        if len(pi) == 0:
            return out
        dist = _to_segment(x[pi], y[pi], self.a[si], self.b[si])
        near = dist <= max_m
        pi, dist, edge = pi[near], dist[near], self.edge_ids[self.segment_edge[si[near]]]
        order = np.lexsort((edge, dist, pi))
        pi, edge = pi[order], edge[order]
        first = np.ones(len(pi), dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        out[pi[first]] = edge[first]
        return out


def _to_segment(px: np.ndarray, py: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of each point to its segment [a, b] (element-wise)."""
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    dx, dy = bx - ax, by - ay
    l2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(np.where(l2 > 0, ((px - ax) * dx + (py - ay) * dy) / l2, 0.0), 0.0, 1.0)
    qx = np.where(t >= 1, bx, ax + t * dx)  # the end itself, not a + (b - a)
    qy = np.where(t >= 1, by, ay + t * dy)
    return np.hypot(px - qx, py - qy)


#: The process's matchers, rebuilt when road_edges changed.
_MATCHERS = TableCache(
    "SELECT count(*), coalesce(max(id), 0) FROM road_edges",
    EdgeMatcher.read,
    scope=request_cache_scope,
)


def matcher_for(engine: Engine) -> EdgeMatcher:
    """The process's matcher for this database, rebuilt when road_edges changed."""
    return _MATCHERS.get(engine)
