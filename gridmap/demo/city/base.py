"""The demo city's constants, sizes (:data:`SCALES`), time anchor, per-stage random
generators and small geometry helpers shared by the stages."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely

TZ = ZoneInfo("Asia/Shanghai")
CENTRE_LONLAT = (118.78, 32.04)
METRIC_CRS = "EPSG:32650"
#: Blocks along each side of a grid.
GRID_BLOCKS = 3
#: Lattice lines between two primary roads (every 12th line is a primary road).
PRIMARY_EVERY = 12
#: Seconds between two GPS pings of a device.
PING_SECONDS = 10
#: Hours past due_at at which a case escalates to levels 1, 2, 3 (community, street,
#: district); the default of the cases_escalation_hours setting.
ESCALATION_HOURS = (0.0, 24.0, 72.0)
#: Version of the generator's output, recorded with the demo (bump when output changes).
GENERATOR_VERSION = 2

#: Tables in load order (foreign keys first).
TABLES: tuple[str, ...] = (
    "districts",
    "streets",
    "communities",
    "users",
    "grids",
    "user_grids",
    "road_edges",
    "compounds",
    "buildings",
    "ten_household_units",
    "households",
    "visits",
    "cameras",
    "service_points",
    "basemap_features",
    "cases",
    "case_events",
    "patrol_shifts",
    "gps_pings",
)


@dataclass(frozen=True)
class Scale:
    """How big a demo city is (targets; exact counts follow from the seed)."""

    name: str
    grids: int
    districts: int
    streets: int
    communities: int
    buildings: int
    cameras: int
    service_points: int
    cases: int
    hotspots: int
    workers: int
    shift_hours: float
    spacing_m: float = 90.0
    #: Grids whose household register (households, ten-household units, compounds and 90
    #: days of visits) the generator builds in Python: the demo lead's first grids and
    #: others spread over the city (small scale).
    household_grids: int = 0
    #: About this many households over every home of the city, filled by SQL after the
    #: load (:mod:`gridmap.demo.household_fill`; city scale), with a compound per block of
    #: homes from the generator; 0: none.
    household_fill: int = 0


SCALES: dict[str, Scale] = {
    "small": Scale(
        "small",
        grids=130,
        districts=2,
        streets=5,
        communities=14,
        buildings=5_000,
        cameras=300,
        service_points=40,
        cases=20_000,
        hotspots=15,
        workers=30,
        shift_hours=8,
        household_grids=12,
    ),
    "city": Scale(
        "city",
        grids=10_000,
        districts=9,
        streets=110,
        communities=1_000,
        buildings=500_000,
        cameras=35_000,
        service_points=1_500,
        cases=2_000_000,
        hotspots=300,
        workers=2_233,
        shift_hours=8,
        household_fill=1_200_000,
    ),
}


def default_anchor(now: datetime | None = None) -> datetime:
    """Midnight (Asia/Shanghai) of ``now``'s day: the demo's "today"."""
    now = (now or datetime.now(TZ)).astimezone(TZ)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """An independent generator for one stage of one seed."""
    return np.random.default_rng([seed, zlib.crc32(stage.encode())])


def _utc(seconds: np.ndarray) -> pd.Series:
    """Epoch seconds (int64, or NaN for none) → tz-aware UTC timestamps."""
    return pd.Series(pd.to_datetime(seconds, unit="s", utc=True))


def _apportion(total: int, sizes: np.ndarray) -> np.ndarray:
    """Split ``total`` over parts, at least 1 each, the rest proportionally to ``sizes``
    (largest remainder); a part never gets more than its size."""
    sizes = np.asarray(sizes, dtype=float)
    rest = max(total - len(sizes), 0)
    share = rest * sizes / sizes.sum()
    k = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - k), kind="stable")
    k[order[: rest - int(k.sum())]] += 1
    return np.minimum(k + 1, np.ceil(sizes).astype(np.int64))


def _partition(
    rng: np.random.Generator, pts: np.ndarray, parent: np.ndarray, total: int, cell: float
) -> np.ndarray:
    """Cut each parent's points into contiguous-looking children (k-means on warped points).

    ``cell`` is the expected child diameter in point units; the warp bends borders on that
    scale. Children are numbered globally, parent by parent, north-west first.
    """
    f = 2.0 / cell
    ph = rng.uniform(0, 2 * math.pi, 2)
    amp = 0.3 * cell
    w = pts + amp * np.column_stack([np.sin(pts[:, 1] * f + ph[0]), np.sin(pts[:, 0] * f + ph[1])])
    sizes = np.bincount(parent)
    ks = _apportion(total, sizes)
    out = np.empty(len(pts), dtype=np.int64)
    nxt = 0
    for p, k in enumerate(ks):
        idx = np.flatnonzero(parent == p)
        q = w[idx]
        seeds = q[rng.choice(len(idx), k, replace=False)]
        for _ in range(6):
            lab = np.argmin(((q[:, None, :] - seeds[None]) ** 2).sum(-1), axis=1)
            for c in range(k):
                m = lab == c
                if m.any():
                    seeds[c] = q[m].mean(0)
        lab = np.argmin(((q[:, None, :] - seeds[None]) ** 2).sum(-1), axis=1)
        used = np.unique(lab)
        cy = np.array([pts[idx[lab == c], 1].mean() for c in used])
        cx = np.array([pts[idx[lab == c], 0].mean() for c in used])
        order = used[np.lexsort((cx, -np.round(cy / cell)))]
        remap = np.empty(k, dtype=np.int64)
        remap[order] = np.arange(len(order)) + nxt
        out[idx] = remap[lab]
        nxt += len(order)
    return out


def _multi(polys: list[shapely.Geometry]) -> np.ndarray:
    """Union results → valid MultiPolygons."""
    out = []
    for g in polys:
        if not shapely.is_valid(g):
            g = shapely.make_valid(g)
        if g.geom_type == "Polygon":
            g = shapely.MultiPolygon([g])
        out.append(g)
    return np.array(out, dtype=object)
