"""Coordinate systems of imported files: any EPSG code through pyproj (CGCS2000 EPSG:4490
and its Gauss-Krüger zones EPSG:4491-4554 included), and the offset systems of Chinese web
maps, GCJ-02 (Amap, Tencent) and BD-09 (Baidu), which are not in PROJ.

GCJ-02 and BD-09: the forward formulas (WGS84 → GCJ-02 → BD-09) come from the
``coordTransform`` package (PyPI, MIT, maintained, with a C batch implementation). Its
GCJ-02 → WGS84 is the usual one-step approximation (1-2 m off), so the inverse here is a
fixed-point iteration on the forward formula, ``w ← w − (gcj(w) − g)``: the offset changes
slowly (its Jacobian is close to the identity), so each step shrinks the error by about
three orders of magnitude and 2-3 steps reach < 1 mm. BD-09 → WGS84 iterates WGS84 → BD-09
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import coordTransform as _ct
import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gridmap.errors import GridmapError

WGS84 = CRS.from_epsg(4326)
#: Offset systems gridmap converts on request (not EPSG codes).
OFFSET_SYSTEMS = ("gcj02", "bd09")
#: Iteration stop: largest change (degrees) of one step, ~1 mm.
_TOLERANCE_DEG = 1e-8
_MAX_STEPS = 20


class CRSProblem(GridmapError):
    """An unknown or unusable coordinate system."""


def parse_crs(text: str | int) -> CRS:
    """A CRS from ``EPSG:4547``, ``4547`` or any pyproj-understood text."""
    value = str(text).strip()
    if value.isdigit():
        value = f"EPSG:{value}"
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise CRSProblem(
            f"Unknown coordinate system {text!r}",
            hint="give an EPSG code, e.g. --crs EPSG:4490 (CGCS2000) or EPSG:4547 "
            "(CGCS2000 3-degree Gauss-Kruger CM 114E)",
        ) from exc


def describe(crs: CRS | None) -> str:
    """``EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E)`` or the CRS name."""
    if crs is None:
        return "none"
    code = crs.to_epsg(min_confidence=70)
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def _forward_gcj(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(lon) == 0:
        return lon, lat
    x, y = _ct.wgs84_to_gcj02(np.ascontiguousarray(lon, float), np.ascontiguousarray(lat, float))
    return np.asarray(x, float), np.asarray(y, float)


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 of WGS84 lon/lat arrays (identity outside China, as the formula defines)."""
    return _forward_gcj(np.asarray(lon, float), np.asarray(lat, float))


def _invert(forward, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(w) = (lon, lat)`` for w by fixed-point iteration (see module doc)."""
    t_lon, t_lat = np.asarray(lon, float), np.asarray(lat, float)
    w_lon, w_lat = t_lon.copy(), t_lat.copy()
    for _ in range(_MAX_STEPS):
        f_lon, f_lat = forward(w_lon, w_lat)
        d_lon, d_lat = f_lon - t_lon, f_lat - t_lat
        w_lon -= d_lon
        w_lat -= d_lat
        if len(w_lon) == 0 or max(np.abs(d_lon).max(), np.abs(d_lat).max()) < _TOLERANCE_DEG:
            break
    return w_lon, w_lat


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 of GCJ-02 lon/lat arrays (iterated inverse of the forward formula)."""
    return _invert(_forward_gcj, lon, lat)


def wgs84_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 of WGS84 lon/lat arrays (WGS84 → GCJ-02 → BD-09)."""
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    if len(g_lon) == 0:
        return g_lon, g_lat
    x, y = _ct.gcj02_to_bd09(np.ascontiguousarray(g_lon), np.ascontiguousarray(g_lat))
    return np.asarray(x, float), np.asarray(y, float)


def bd09_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 of BD-09 lon/lat arrays (iterated inverse of WGS84 → BD-09; the published
    closed-form BD-09 → GCJ-02 is itself ~10 cm off, so it is not used)."""
    return _invert(wgs84_to_bd09, lon, lat)


_FROM_OFFSET = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


def _apply(geoms: np.ndarray, fn) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.column_stack(fn(xy[:, 0], xy[:, 1])))


def to_wgs84(geoms: np.ndarray, source: CRS, offset: str | None = None) -> np.ndarray:
    """Geometries in ``source`` (then, if given, the offset system on top) as WGS84 lon/lat."""
    out = np.asarray(geoms, dtype=object)
    if not source.equals(WGS84, ignore_axis_order=True):
        tr = Transformer.from_crs(source, WGS84, always_xy=True)
        out = _apply(out, tr.transform)
    if offset:
        if not source.is_geographic:
            raise CRSProblem(
                f"{offset.upper()} coordinates are longitude/latitude, but the file is in "
                f"{describe(source)}",
                hint="drop --crs, or the GCJ-02/BD-09 option",
            )
        out = _apply(out, _FROM_OFFSET[offset])
    return out


@dataclass(frozen=True)
class Extent:
    """A lon/lat box (the city's extent)."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def contains(self, lon: np.ndarray, lat: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Whether each point lies in the box grown by ``margin`` degrees."""
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        return (
            (lon >= self.xmin - margin)
            & (lon <= self.xmax + margin)
            & (lat >= self.ymin - margin)
            & (lat <= self.ymax + margin)
        )

    @property
    def center(self) -> tuple[float, float]:
        return (self.xmin + self.xmax) / 2, (self.ymin + self.ymax) / 2


#: Longitude/latitude sanity: the extent when the database has no districts.
LONLAT = Extent(-180.0, -90.0, 180.0, 90.0)


def _candidates(x: float, y: float, extent: Extent) -> list[tuple[str, CRS | str]]:
    """Coordinate systems a file at (x, y) might really be in, most specific first."""
    out: list[tuple[str, CRS | str]] = []
    if abs(x) <= 180 and abs(y) <= 180:
        if abs(y) <= 90:
            out += [("GCJ-02 (Amap/Tencent)", "gcj02"), ("BD-09 (Baidu)", "bd09")]
        return [*out, ("latitude/longitude swapped", "swap")]
    zone = int(x // 1_000_000)
    if 25 <= zone <= 45:  # 3-degree Gauss-Krüger with zone prefix: EPSG:4513-4533
        out.append(("", CRS.from_epsg(4513 + zone - 25)))
    elif 13 <= zone <= 23:  # 6-degree with zone prefix: EPSG:4491-4501
        out.append(("", CRS.from_epsg(4491 + zone - 13)))
    elif 0 < x < 1_000_000:
        cm3 = int(round(extent.center[0] / 3.0) * 3)
        if 75 <= cm3 <= 135:  # 3-degree, CM in the name: EPSG:4534-4554
            out.append(("", CRS.from_epsg(4534 + (cm3 - 75) // 3)))
        cm6 = int(round((extent.center[0] - 3) / 6.0) * 6 + 3)
        if 75 <= cm6 <= 135:  # 6-degree, CM in the name: EPSG:4502-4512
            out.append(("", CRS.from_epsg(4502 + (cm6 - 75) // 6)))
        utm = int((extent.center[0] + 180) // 6) + 1
        out.append(("", CRS.from_epsg(32600 + utm)))
    out.append(("", CRS.from_epsg(3857)))
    return out


def guess_system(x: np.ndarray, y: np.ndarray, source: CRS, extent: Extent) -> str | None:
    """Name the coordinate system that would bring most of the points inside ``extent``, or
    None: ``x, y`` are the file's own numbers (read as ``source``, which put them outside).
    Used for the "this usually means a wrong coordinate system" hint."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any() or extent == LONLAT:
        return None
    x, y = x[ok][:1000], y[ok][:1000]
    mx, my = float(np.median(x)), float(np.median(y))
    for label, system in _candidates(mx, my, extent):
        if isinstance(system, CRS) and system.equals(source):
            continue
        try:
            if system == "swap":
                lon, lat = y, x
            elif isinstance(system, str):
                lon, lat = _FROM_OFFSET[system](x, y)
            else:
                lon, lat = Transformer.from_crs(system, WGS84, always_xy=True).transform(x, y)
        except Exception:  # a candidate that fails is just not the answer
            continue
        if np.mean(extent.contains(lon, lat)) >= 0.5:
            return label or describe(system)
    return None
