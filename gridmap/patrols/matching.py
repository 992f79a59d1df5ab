"""Matching GPS fixes to the walkable road network: the nearest edge within the match
distance, found with a shapely STRtree over edges in a local metric projection."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from sqlalchemy import Engine, text

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
    """Road edges in a metric CRS, indexed for nearest-edge queries."""

    edge_ids: np.ndarray
    tree: shapely.STRtree
    transformer: pyproj.Transformer
    fingerprint: tuple

    @classmethod
    def from_engine(cls, engine: Engine) -> EdgeMatcher:
        """Read every road edge and index it."""
        with engine.connect() as conn:
            fp = _fingerprint(conn)
            rows = conn.execute(
                text("SELECT id, ST_AsBinary(geom) FROM road_edges ORDER BY id")
            ).all()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        geoms = shapely.from_wkb([bytes(r[1]) for r in rows]) if rows else np.array([])
        if len(geoms):
            bounds = shapely.total_bounds(geoms)
            lon0, lat0 = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        else:
            lon0, lat0 = 0.0, 0.0
        tr = pyproj.Transformer.from_crs(4326, local_crs(lon0, lat0), always_xy=True)
        coords = shapely.get_coordinates(geoms) if len(geoms) else np.empty((0, 2))
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        metric = shapely.set_coordinates(np.array(geoms, dtype=object).copy(), np.c_[x, y])
        return cls(ids, shapely.STRtree(metric), tr, fp)

    def match(self, lon: np.ndarray, lat: np.ndarray, max_m: float) -> np.ndarray:
        """The id of the nearest edge within ``max_m`` of each fix, -1 where none is."""
        out = np.full(len(lon), -1, dtype=np.int64)
        if len(lon) == 0 or len(self.edge_ids) == 0:
            return out
        x, y = self.transformer.transform(np.asarray(lon), np.asarray(lat))
        points = shapely.points(x, y)
        # every edge within max_m, then the closest per point (ties: lowest edge id); faster
        # than STRtree.query_nearest with max_distance on dense networks, same answer
        pi, ti = self.tree.query(points, predicate="dwithin", distance=max_m)
        if len(pi) == 0:
            return out
        dist = shapely.distance(points[pi], self.tree.geometries[ti])
        order = np.lexsort((ti, dist, pi))
        pi, ti = pi[order], ti[order]
        first = np.ones(len(pi), dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        out[pi[first]] = self.edge_ids[ti[first]]
        return out


def _fingerprint(conn) -> tuple:
    return tuple(conn.execute(text("SELECT count(*), coalesce(max(id), 0) FROM road_edges")).one())


_CACHE: dict[str, EdgeMatcher] = {}
_LOCK = threading.Lock()


def matcher_for(engine: Engine) -> EdgeMatcher:
    """The process's matcher for this database, rebuilt when road_edges changed."""
    key = engine.url.render_as_string(hide_password=False)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            with engine.connect() as conn:
                if _fingerprint(conn) == cached.fingerprint:
                    return cached
        built = EdgeMatcher.from_engine(engine)
        _CACHE[key] = built
        return built
