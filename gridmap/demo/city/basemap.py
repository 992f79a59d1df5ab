"""The offline basemap's own features: a river along the town's south side with a green
riverside strip, the park blocks (which hold no buildings) as named parks, and a lake in the
biggest of them. Drawn by the basemap tiles under the roads; no stage reads them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gridmap.demo import names as N
from gridmap.demo.city.base import METRIC_CRS, stage_rng
from gridmap.demo.city.context import City

RIVER_NAMES = ("玉带河", "清溪河", "白鹭河", "金川河", "秦淮河", "月牙河")
PARK_ENDINGS = ("公园", "绿地", "游园", "广场")
LAKE_NAMES = ("镜湖", "月湖", "翠湖", "莲花湖")


def _to_metres(geom: shapely.Geometry) -> shapely.Geometry:
    fwd = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    return shapely.transform(geom, lambda c: np.column_stack(fwd.transform(c[:, 0], c[:, 1])))


def _to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    back = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
    return shapely.transform(geom, lambda c: np.column_stack(back.transform(c[:, 0], c[:, 1])))


def _river_line(city_m: shapely.Geometry, spacing: float) -> shapely.LineString:
    """A line following the town's south edge a block and a half out, running on past it."""
    outline = city_m.buffer(1.5 * spacing).simplify(spacing / 2)
    if isinstance(outline, shapely.MultiPolygon):
        outline = max(outline.geoms, key=lambda p: p.area)
    cx, cy = outline.centroid.x, outline.centroid.y
    ring = np.asarray(outline.exterior.coords)[:-1]
    angle = np.degrees(np.arctan2(ring[:, 1] - cy, ring[:, 0] - cx)) % 360
    start = int(np.argmin(np.abs(angle - 90)))  # begin in the north: the south is one run
    ring, angle = np.roll(ring, -start, axis=0), np.roll(angle, -start)
    south = ring[(angle > 195) & (angle < 345)]
    if south[0, 0] > south[-1, 0]:
        south = south[::-1]
    # Run on past the town, away from its centre, for a few blocks on either side.
    reach = 8 * spacing
    ends = []
    for end, prev in ((south[0], south[1]), (south[-1], south[-2])):
        d = end - prev
        d = d / (np.hypot(*d) or 1)
        ends.append(end + d * reach)
    return shapely.LineString(np.vstack([ends[0], south, ends[1]]))


def basemap_features(ctx: City) -> pd.DataFrame:
    rng = stage_rng(ctx.seed, "basemap")
    spacing = ctx.scale.spacing_m
    city_m = _to_metres(ctx.city)
    river_line = _river_line(city_m, spacing)
    width = spacing * rng.uniform(0.8, 1.1)
    river = river_line.buffer(width / 2, quad_segs=4).difference(city_m)
    bank = river_line.buffer(width / 2 + 0.6 * spacing, quad_segs=4).difference(river)
    bank = bank.difference(city_m.buffer(-1)).buffer(0)
    river_name = RIVER_NAMES[rng.integers(len(RIVER_NAMES))]
    rows: list[tuple[str, str, str, shapely.Geometry]] = [
        ("water", "river", river_name, river),
        ("park", "riverside", f"{river_name}滨河绿地", bank),
    ]
    # Parks: the blocks the buildings stage left empty, each named.
    bj, bi = ctx.park_blocks
    corners = np.stack(
        [ctx.ll[bj, bi], ctx.ll[bj, bi + 1], ctx.ll[bj + 1, bi + 1], ctx.ll[bj + 1, bi]], axis=1
    )
    blocks = shapely.polygons(corners)
    words = list(dict.fromkeys(N.PLACE_WORDS))
    pick = rng.permutation(len(words))
    parks = (
        [
            g if isinstance(g, shapely.Polygon) else max(g.geoms, key=lambda p: p.area)
            for g in shapely.get_parts(shapely.coverage_union_all(blocks))
        ]
        if len(blocks)
        else []
    )
    parks.sort(key=lambda p: -p.area)
    for k, park in enumerate(parks):
        ending = PARK_ENDINGS[rng.integers(len(PARK_ENDINGS))]
        rows.append(("park", "park", words[pick[k % len(words)]] + ending, park))
    if parks:
        # A lake in the biggest park: an ellipse-ish blob inside it.
        big = _to_metres(parks[0])
        core = big.buffer(-0.18 * math.sqrt(big.area), quad_segs=8)
        if not core.is_empty:
            lake = core.buffer(0.08 * math.sqrt(big.area), quad_segs=8).intersection(
                big.buffer(-0.1 * math.sqrt(big.area))
            )
            rows.append(
                ("water", "lake", LAKE_NAMES[rng.integers(len(LAKE_NAMES))], _to_lonlat(lake))
            )
    rows[0] = (*rows[0][:3], _to_lonlat(rows[0][3]))
    rows[1] = (*rows[1][:3], _to_lonlat(rows[1][3]))
    kinds, classes, names, geoms = zip(*rows, strict=True)
    geoms = shapely.make_valid(np.asarray(geoms, dtype=object))
    return pd.DataFrame(
        {
            "id": np.arange(1, len(rows) + 1),
            "kind": kinds,
            "class": classes,
            "name": names,
            "source": "demo",
            "geom": geoms,
        }
    )
