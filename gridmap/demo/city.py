"""A deterministic, believable demo city, generated in memory (no database here).

The city sits around a fictional centre (lon 118.78, lat 32.04). Everything is laid out in
metres (UTM 50N) on a road lattice: nodes every ~90 m, jittered, gently warped and rotated;
the quads between nodes are blocks; a grid (网格) is 3 × 3 blocks whose outline runs through
its perimeter nodes; the city is an irregular blob of grids. Node coordinates are turned
into lon/lat once and every polygon, line and point is built from those arrays, so shared
borders have bit-identical vertices and grids tile communities, streets and districts
exactly.

Determinism: the same ``(scale, seed, anchor)`` gives the same frames. Each stage draws from
its own generator (``stage_rng(seed, stage)``), so stages are independent. Times are relative
to ``anchor``: cases fall in the 365 days before it, patrol shifts and GPS pings on the day
starting at it. :func:`default_anchor` is today's midnight in Asia/Shanghai; the loader
records the anchor in ``gridmap_meta``.

Frames are pandas DataFrames named and ordered as the tables they load into (foreign keys
first), with explicit ids. Point tables carry ``lon``/``lat`` columns instead of ``geom``;
polygon and line tables carry ``geom`` as shapely geometries (SRID 4326 implied). Point
tables carry no ``grid_id``: the database triggers assign it.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gridmap.demo import names as N
from gridmap.demo.taxonomy import CASE_TAXONOMY, DUE_HOURS, SOURCE_WEIGHTS

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
GENERATOR_VERSION = 1

#: Tables in load order (foreign keys first).
TABLES: tuple[str, ...] = (
    "districts",
    "streets",
    "communities",
    "users",
    "grids",
    "user_grids",
    "road_edges",
    "buildings",
    "cameras",
    "service_points",
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


class CityGenerator:
    """Generates the demo city stage by stage; :meth:`tables` yields frames in load order."""

    def __init__(self, scale: str | Scale, seed: int, anchor: datetime) -> None:
        self.scale = SCALES[scale] if isinstance(scale, str) else scale
        self.seed = int(seed)
        if anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=TZ)
        self.anchor = anchor
        self.anchor_s = int(anchor.timestamp())

    # -- public --------------------------------------------------------------------------

    def tables(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """``(table, frame)`` in load order; each frame is built when it is asked for, and
        the big ones are let go once handed out."""
        self._build_layout()
        self._build_hierarchy()
        yield "districts", self._districts()
        yield "streets", self._streets()
        yield "communities", self._communities()
        self._build_people()
        yield "users", self._users_frame
        yield "grids", self._grids()
        yield "user_grids", self._user_grids()
        self._build_roads()
        yield "road_edges", self._road_edges()
        yield "buildings", self._buildings()
        yield "cameras", self._cameras()
        yield "service_points", self._service_points()
        cases, events = _CaseBuilder(self).build()
        yield "cases", cases
        del cases
        yield "case_events", events
        del events
        shifts, pings = _PatrolBuilder(self).build()
        yield "patrol_shifts", shifts
        yield "gps_pings", pings

    # -- layout: lattice, blocks, grids ----------------------------------------------------

    def _build_layout(self) -> None:
        rng = stage_rng(self.seed, "layout")
        sc = self.scale
        target = sc.grids
        amps = rng.uniform(0.03, 0.09, 4)
        phases = rng.uniform(0, 2 * math.pi, 4)
        radius = math.sqrt(target / math.pi)
        for _ in range(12):
            size = math.ceil(radius * 1.5) * 2 + 2
            c = np.arange(size) + 0.5 - size / 2
            gx, gy = np.meshgrid(c, c)  # [gj, gi]
            rho, th = np.hypot(gx, gy), np.arctan2(gy, gx)
            edge = radius * (
                1
                + sum(
                    a * np.sin(k * th + p)
                    for a, k, p in zip(amps, (2, 3, 4, 5), phases, strict=True)
                )
            )
            keep = rho < edge
            n = int(keep.sum())
            if abs(n - target) <= max(1, target // 400):
                break
            radius *= math.sqrt(target / n) ** 0.9 if n else 1.5
        rows = np.flatnonzero(keep.any(1))
        cols = np.flatnonzero(keep.any(0))
        keep = keep[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        self.grid_keep = keep  # [gj, gi]
        gy_n, gx_n = keep.shape
        # Node lattice in metres: rotated, warped, jittered.
        s = sc.spacing_m
        ny, nx = GRID_BLOCKS * gy_n + 1, GRID_BLOCKS * gx_n + 1
        jj, ii = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        x = (ii - (nx - 1) / 2) * s
        y = (jj - (ny - 1) / 2) * s
        rot = rng.uniform(-0.2, 0.2)
        x, y = x * math.cos(rot) - y * math.sin(rot), x * math.sin(rot) + y * math.cos(rot)
        wl = rng.uniform(35, 50, 2) * s
        wp = rng.uniform(0, 2 * math.pi, 4)
        amp = 0.8 * s
        x = (
            x
            + amp * np.sin(2 * math.pi * y / wl[0] + wp[0])
            + 0.3 * amp * np.sin(2 * math.pi * y / (0.37 * wl[0]) + wp[2])
        )
        y = (
            y
            + amp * np.sin(2 * math.pi * x / wl[1] + wp[1])
            + 0.3 * amp * np.sin(2 * math.pi * x / (0.41 * wl[1]) + wp[3])
        )
        x = x + rng.uniform(-0.12, 0.12, x.shape) * s
        y = y + rng.uniform(-0.12, 0.12, y.shape) * s
        to_m = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
        to_ll = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
        cx, cy = to_m.transform(*CENTRE_LONLAT)
        self.xy = np.stack([x + cx, y + cy], axis=-1)  # [j, i, 2] metres
        lon, lat = to_ll.transform(self.xy[..., 0].ravel(), self.xy[..., 1].ravel())
        self.ll = np.stack([lon, lat], axis=-1).reshape(ny, nx, 2)  # [j, i, 2] degrees
        self.nx, self.ny = nx, ny
        # Metres per degree near the centre (for small offsets: noise, pushes).
        self.m_per_deg = np.array([111_320.0 * math.cos(math.radians(CENTRE_LONLAT[1])), 110_574.0])

    # -- hierarchy: districts → streets → communities → grids ------------------------------

    def _build_hierarchy(self) -> None:
        rng = stage_rng(self.seed, "hierarchy")
        sc = self.scale
        gj, gi = np.nonzero(self.grid_keep)
        pts = np.column_stack([gi + 0.5, gj + 0.5]).astype(float)
        n = len(pts)
        d = _partition(
            rng, pts, np.zeros(n, dtype=np.int64), sc.districts, math.sqrt(n / sc.districts)
        )
        st = _partition(rng, pts, d, sc.streets, math.sqrt(n / sc.streets))
        cm = _partition(rng, pts, st, sc.communities, math.sqrt(n / sc.communities))
        order = np.lexsort((gi, -gj, cm))
        self.g_i, self.g_j = gi[order], gj[order]
        self.g_comm = cm[order]
        self.comm_street = np.zeros(cm.max() + 1, dtype=np.int64)
        self.comm_street[cm] = st
        self.street_district = np.zeros(st.max() + 1, dtype=np.int64)
        self.street_district[st] = d
        # Sequence number of each grid inside its community (1-based).
        first = np.r_[0, np.flatnonzero(np.diff(self.g_comm)) + 1]
        starts = np.repeat(first, np.diff(np.r_[first, len(order)]))
        self.g_seq = np.arange(len(order)) - starts + 1
        # block → grid row (0-based), -1 outside the city.
        gmap = -np.ones(self.grid_keep.shape, dtype=np.int64)
        gmap[self.g_j, self.g_i] = np.arange(len(order))
        self.block_grid = np.repeat(np.repeat(gmap, GRID_BLOCKS, 0), GRID_BLOCKS, 1)
        # Names and codes.
        rn = stage_rng(self.seed, "names")
        n_d = int(d.max()) + 1
        n_s = len(self.street_district)
        n_c = len(self.comm_street)
        self.d_name = N.district_names(rn, n_d)
        self.s_name = N.street_names(rn, n_s)
        self.c_name = N.community_names(rn, n_c)
        self.d_code = [f"9901{k + 1:02d}" for k in range(n_d)]
        s_seq = np.zeros(n_s, dtype=int)
        for k in range(n_s):
            s_seq[k] = int((self.street_district[:k] == self.street_district[k]).sum()) + 1
        self.s_code = [f"{self.d_code[self.street_district[k]]}{s_seq[k]:03d}" for k in range(n_s)]
        c_seq = np.zeros(n_c, dtype=int)
        for k in range(n_c):
            c_seq[k] = int((self.comm_street[:k] == self.comm_street[k]).sum()) + 1
        self.c_code = [f"{self.s_code[self.comm_street[k]]}{c_seq[k]:03d}" for k in range(n_c)]
        self.g_code = np.array(
            [f"{self.c_code[c]}{q:03d}" for c, q in zip(self.g_comm, self.g_seq, strict=True)],
            dtype=object,
        )
        self.g_name = np.array(
            [f"{self.c_name[c]}第{q}网格" for c, q in zip(self.g_comm, self.g_seq, strict=True)],
            dtype=object,
        )
        # Grid polygons through their 12 perimeter nodes (counter-clockwise).
        k = np.arange(GRID_BLOCKS)
        b = GRID_BLOCKS
        di = np.r_[k, np.full(b, b), b - k, np.zeros(b, dtype=int)]
        dj = np.r_[np.zeros(b, dtype=int), k, np.full(b, b), b - k]
        ii = self.g_i[:, None] * b + di[None]
        jj = self.g_j[:, None] * b + dj[None]
        ring = self.ll[jj, ii]
        ring = np.concatenate([ring, ring[:, :1]], axis=1)
        self.g_poly = shapely.polygons(ring)
        self.c_poly = _multi(
            [shapely.coverage_union_all(self.g_poly[self.g_comm == c]) for c in range(n_c)]
        )
        g_street = self.comm_street[self.g_comm]
        self.s_poly = _multi(
            [shapely.coverage_union_all(self.g_poly[g_street == s]) for s in range(n_s)]
        )
        g_district = self.street_district[g_street]
        self.d_poly = _multi(
            [shapely.coverage_union_all(self.g_poly[g_district == q]) for q in range(n_d)]
        )
        self.city = shapely.coverage_union_all(self.g_poly)
        shapely.prepare(self.city)

    def _districts(self) -> pd.DataFrame:
        n = len(self.d_name)
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "code": self.d_code,
                "name": self.d_name,
                "geom": self.d_poly,
            }
        )

    def _streets(self) -> pd.DataFrame:
        n = len(self.s_name)
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "code": self.s_code,
                "name": self.s_name,
                "district_id": self.street_district + 1,
                "geom": self.s_poly,
            }
        )

    def _communities(self) -> pd.DataFrame:
        n = len(self.c_name)
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "code": self.c_code,
                "name": self.c_name,
                "street_id": self.comm_street + 1,
                "geom": self.c_poly,
            }
        )

    # -- people ---------------------------------------------------------------------------

    def _build_people(self) -> None:
        rng = stage_rng(self.seed, "users")
        n_g = len(self.g_code)
        n_c = len(self.c_name)
        sizes = np.bincount(self.g_comm, minlength=n_c)
        per_comm = _apportion(self.scale.workers, sizes * 10)
        self.w_comm = np.repeat(np.arange(n_c), per_comm)
        n_w = len(self.w_comm)
        self.lead_user = np.arange(n_g) + 4  # ids 1..3 are staff
        self.worker_user = np.arange(n_w) + 4 + n_g
        staff = [("admin", "系统管理员", "admin"), ("command", "指挥中心值班员", "command"),
                 ("planner", "规划分析员", "planner")]  # fmt: skip
        lead_names = N.person_names(rng, n_g)
        worker_names = N.person_names(rng, n_w)
        phones = N.masked_phones(rng, 3 + n_g + n_w)
        self.lead_name, self.lead_phone = lead_names, phones[3 : 3 + n_g]
        self.lead_username = np.array(["lead" + c for c in self.g_code], dtype=object)
        self.worker_username = np.array([f"worker{k + 1:05d}" for k in range(n_w)], dtype=object)
        self.worker_name = worker_names
        n = 3 + n_g + n_w
        created = self.anchor_s - 86_400 * rng.integers(30, 900, n) - rng.integers(0, 86_400, n)
        self._users_frame = pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "username": np.r_[
                    np.array([s[0] for s in staff], dtype=object),
                    self.lead_username,
                    self.worker_username,
                ],
                "display_name": np.r_[
                    np.array([s[1] for s in staff], dtype=object), lead_names, worker_names
                ],
                "role": np.r_[
                    np.array([s[2] for s in staff], dtype=object),
                    np.full(n_g, "grid_lead", dtype=object),
                    np.full(n_w, "grid_worker", dtype=object),
                ],
                "phone": np.r_[np.full(3, None, dtype=object), phones[3:]],
                "password_hash": None,
                "active": True,
                "created_at": _utc(created),
            }
        )

    def _grids(self) -> pd.DataFrame:
        n = len(self.g_code)
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "code": self.g_code,
                "name": self.g_name,
                "community_id": self.g_comm + 1,
                "lead_user_id": self.lead_user,
                "lead_name": self.lead_name,
                "lead_phone": self.lead_phone,
                "geom": shapely.multipolygons(self.g_poly[:, None]),
            }
        )

    def _user_grids(self) -> pd.DataFrame:
        n_g = len(self.g_code)
        grid_ids = np.arange(1, n_g + 1)
        # Workers look after every grid of their community.
        order = np.argsort(self.g_comm, kind="stable")
        first = np.searchsorted(self.g_comm[order], np.arange(len(self.c_name)))
        count = np.bincount(self.g_comm, minlength=len(self.c_name))
        w_n = count[self.w_comm]
        w_rep = np.repeat(np.arange(len(self.w_comm)), w_n)
        offs = np.arange(len(w_rep)) - np.repeat(np.cumsum(w_n) - w_n, w_n)
        w_grid = order[first[self.w_comm][w_rep] + offs] + 1
        frame = pd.DataFrame(
            {
                "user_id": np.r_[self.lead_user, self.worker_user[w_rep]],
                "grid_id": np.r_[grid_ids, w_grid],
            }
        )
        return frame.sort_values(["user_id", "grid_id"], ignore_index=True)

    # -- roads ----------------------------------------------------------------------------

    def _build_roads(self) -> None:
        rng = stage_rng(self.seed, "roads")
        nx, ny = self.nx, self.ny
        nby, nbx = ny - 1, nx - 1
        bk = np.zeros((nby + 2, nbx + 2), dtype=bool)
        bk[1:-1, 1:-1] = self.block_grid >= 0
        # Horizontal edges (j, i)-(j, i+1) and vertical edges (j, i)-(j+1, i).
        h_keep = bk[0 : nby + 1, 1 : nbx + 1] | bk[1 : nby + 2, 1 : nbx + 1]
        h_inner = bk[0 : nby + 1, 1 : nbx + 1] & bk[1 : nby + 2, 1 : nbx + 1]
        v_keep = bk[1 : nby + 1, 0 : nbx + 1] | bk[1 : nby + 1, 1 : nbx + 2]
        v_inner = bk[1 : nby + 1, 0 : nbx + 1] & bk[1 : nby + 1, 1 : nbx + 2]
        hj, hi = np.nonzero(h_keep)
        vj, vi = np.nonzero(v_keep)
        # Drop a few edges inside grids (dead ends, missing links) for realism.
        h_drop = h_inner[hj, hi] & (hj % GRID_BLOCKS != 0) & (rng.random(len(hj)) < 0.02)
        v_drop = v_inner[vj, vi] & (vi % GRID_BLOCKS != 0) & (rng.random(len(vj)) < 0.02)
        hj, hi = hj[~h_drop], hi[~h_drop]
        vj, vi = vj[~v_drop], vi[~v_drop]
        self.h_names, self.h_kind = self._line_names(rng, ny, nx, horizontal=True)
        self.v_names, self.v_kind = self._line_names(rng, nx, ny, horizontal=False)
        src_j = np.r_[hj, vj]
        src_i = np.r_[hi, vi]
        dst_j = np.r_[hj, vj + 1]
        dst_i = np.r_[hi + 1, vi]
        seg_h = hi // PRIMARY_EVERY
        seg_v = vj // PRIMARY_EVERY
        kind = np.r_[self.h_kind[hj, seg_h], self.v_kind[vi, seg_v]]
        name = np.r_[self.h_names[hj, seg_h], self.v_names[vi, seg_v]]
        src = src_j * nx + src_i
        dst = dst_j * nx + dst_i
        d = self.xy[dst_j, dst_i] - self.xy[src_j, src_i]
        length = np.hypot(d[:, 0], d[:, 1])
        coords = np.stack([self.ll[src_j, src_i], self.ll[dst_j, dst_i]], axis=1)
        self.edge_src, self.edge_dst, self.edge_len = src, dst, length
        self.edge_kind, self.edge_name, self.edge_coords = kind, name, coords
        # Adjacency: neighbour node (flat index) towards E, N, W, S; -1 when no edge.
        nbr = -np.ones((ny * nx, 4), dtype=np.int64)
        nbr[src[: len(hj)], 0] = dst[: len(hj)]
        nbr[dst[: len(hj)], 2] = src[: len(hj)]
        nbr[src[len(hj) :], 1] = dst[len(hj) :]
        nbr[dst[len(hj) :], 3] = src[len(hj) :]
        self.nbr = nbr

    def _line_names(
        self, rng: np.random.Generator, lines: int, length: int, *, horizontal: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Name and kind of every (lattice line, segment between primary roads)."""
        segs = (length - 2) // PRIMARY_EVERY + 1
        names = np.empty((lines, segs), dtype=object)
        kinds = np.empty((lines, segs), dtype=object)
        prim = [k for k in range(lines) if k % PRIMARY_EVERY == 0]
        combos = [(st, t) for t in ("路", "大道", "大街") for st in N.PRIMARY_ROAD_STEMS]
        pick = rng.choice(len(combos), size=len(prim), replace=False)
        half = segs / 2
        words = np.asarray(N.PLACE_WORDS, dtype=object)
        ords = np.asarray(N.ROAD_ORDINALS, dtype=object)
        for line in range(lines):
            if line % PRIMARY_EVERY == 0:
                stem, t = combos[pick[prim.index(line)]]
                for sg in range(segs):
                    if t == "路":
                        if horizontal:
                            names[line, sg] = stem + ("西路" if sg < half else "东路")
                        else:
                            names[line, sg] = stem + ("南路" if sg < half else "北路")
                    else:
                        names[line, sg] = stem + t
                    kinds[line, sg] = "primary"
                continue
            w = words[rng.integers(0, len(words), segs)]
            o = ords[rng.integers(0, len(ords), segs)]
            if line % GRID_BLOCKS == 0:
                names[line] = w + o + "路"
                kinds[line] = "secondary"
            else:
                alley = rng.random(segs) < 0.35
                names[line] = np.where(alley, w + "巷", w + o + np.where(horizontal, "街", "路"))
                kinds[line] = np.where(alley, "alley", "residential")
        return names, kinds

    def _road_edges(self) -> pd.DataFrame:
        n = len(self.edge_src)
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "source": self.edge_src + 1,
                "target": self.edge_dst + 1,
                "length_m": self.edge_len,
                "kind": self.edge_kind,
                "name": self.edge_name,
                "geom": shapely.linestrings(self.edge_coords),
            }
        )

    # -- placing things in blocks --------------------------------------------------------

    def _in_block(self, bj: np.ndarray, bi: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Bilinear point (lon, lat) at (u, v) ∈ (0, 1)² inside blocks (bj, bi)."""
        p00, p10 = self.ll[bj, bi], self.ll[bj, bi + 1]
        p01, p11 = self.ll[bj + 1, bi], self.ll[bj + 1, bi + 1]
        u, v = u[:, None], v[:, None]
        return (1 - u) * (1 - v) * p00 + u * (1 - v) * p10 + u * v * p11 + (1 - u) * v * p01

    def _frontage(
        self, rng: np.random.Generator, bj: np.ndarray, bi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Points set back from a block side and their street addresses ("长江路12号")."""
        n = len(bj)
        side = rng.integers(0, 4, n)  # 0 south, 1 east, 2 north, 3 west
        t = rng.uniform(0.12, 0.88, n)
        d = rng.uniform(0.1, 0.22, n)
        u = np.select([side == 0, side == 1, side == 2], [t, 1 - d, t], d)
        v = np.select([side == 0, side == 1, side == 2], [d, t, 1 - d], t)
        ll = self._in_block(bj, bi, u, v)
        horiz = (side == 0) | (side == 2)
        line = np.select([side == 0, side == 1, side == 2], [bj, bi + 1, bj + 1], bi)
        along = np.where(horiz, bi, bj)
        seg = along // PRIMARY_EVERY
        road = np.where(
            horiz,
            self.h_names[np.where(horiz, line, 0), np.where(horiz, seg, 0)],
            self.v_names[np.where(horiz, 0, line), np.where(horiz, 0, seg)],
        )
        parity = np.where((side == 0) | (side == 3), 2, 1)
        number = 2 * np.floor((along % PRIMARY_EVERY + t) * 4).astype(int) + parity
        addr = np.array([f"{r}{k}号" for r, k in zip(road, number, strict=True)], dtype=object)
        return ll, addr

    # -- buildings -----------------------------------------------------------------------

    def _buildings(self) -> pd.DataFrame:
        rng = stage_rng(self.seed, "buildings")
        sc = self.scale
        bj, bi = np.nonzero(self.block_grid >= 0)
        centre = self.xy[self.ny // 2, self.nx // 2]
        mid = self.xy[bj, bi]
        r = np.hypot(*(mid - centre).T)
        dens = (0.35 + np.exp(-((r / (0.55 * r.max())) ** 2))) * rng.lognormal(0, 0.35, len(bj))
        park = rng.random(len(bj)) < 0.03
        dens[park] = 0
        self.park_blocks = (bj[park], bi[park])
        lam = sc.buildings * dens / dens.sum()
        cnt = rng.poisson(lam)
        bj, bi = np.repeat(bj, cnt), np.repeat(bi, cnt)
        n = len(bj)
        ll, addr = self._frontage(rng, bj, bi)
        kinds = np.array(
            ["residential", "mixed", "commercial", "office", "industrial", "school",
             "hospital", "public"], dtype=object)  # fmt: skip
        kw = np.array([0.72, 0.08, 0.08, 0.04, 0.03, 0.02, 0.01, 0.02])
        kind = rng.choice(len(kinds), n, p=kw)
        floors = rng.choice(
            np.array([2, 3, 5, 6, 7, 11, 18, 24, 26, 33]),
            n,
            p=np.array([0.05, 0.07, 0.12, 0.2, 0.14, 0.12, 0.12, 0.08, 0.06, 0.04]),
        )
        floors = np.where(kind >= 4, rng.integers(1, 6, n), floors)
        per_floor = rng.integers(2, 5, n)
        households = np.select(
            [kind == 0, kind == 1], [floors * per_floor, floors * (per_floor // 2)], 0
        )
        population = rng.poisson(households * 2.6)
        vuln = rng.multinomial(population, [0.03, 0.012, 0.02, 0.938])
        updated = self.anchor_s - rng.integers(86_400, 365 * 86_400, n)
        self.b_ll, self.b_addr = ll, addr
        self.b_grid = self.block_grid[bj, bi]
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "code": [f"B{k:07d}" for k in range(1, n + 1)],
                "address": addr,
                "kind": kinds[kind],
                "floors": floors.astype(np.int16),
                "households": households,
                "population": population,
                "elderly_alone": vuln[:, 0],
                "disabled": vuln[:, 1],
                "low_income": vuln[:, 2],
                "lon": ll[:, 0],
                "lat": ll[:, 1],
                "footprint": None,
                "updated_at": _utc(updated),
            }
        )

    # -- cameras --------------------------------------------------------------------------

    def _cameras(self) -> pd.DataFrame:
        rng = stage_rng(self.seed, "cameras")
        sc = self.scale
        nx = self.nx
        deg = (self.nbr >= 0).sum(1)
        nodes = np.flatnonzero(deg > 0)
        nj, ni = nodes // nx, nodes % nx
        rank = {"primary": 3, "secondary": 2, "residential": 1, "alley": 0}
        h_rank = np.vectorize(rank.get, otypes=[np.int64])(self.h_kind)
        v_rank = np.vectorize(rank.get, otypes=[np.int64])(self.v_kind)
        hr = h_rank[nj, np.minimum(ni, nx - 2) // PRIMARY_EVERY]
        vr = v_rank[ni, np.minimum(nj, self.ny - 2) // PRIMARY_EVERY]
        weight = np.array([0.05, 0.4, 1.5, 5.0])[np.maximum(hr, vr)] * np.where(
            np.minimum(hr, vr) >= 2, 2.0, 1.0
        )
        weight = weight * (deg >= 3)[nodes] + 0.01
        n_square = round(sc.cameras * 0.05) if len(self.park_blocks[0]) else 0
        lam = (sc.cameras - n_square) * weight / weight.sum()
        cnt = np.minimum(rng.poisson(lam), deg[nodes])
        # Each camera of a node looks along a different edge of it.
        keys = rng.random((len(nodes), 4)) + (self.nbr[nodes] < 0) * 2
        dirs = np.argsort(keys, axis=1)
        node_rep = np.repeat(np.arange(len(nodes)), cnt)
        k_in = np.arange(len(node_rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        direction = dirs[node_rep, k_in]
        cj, ci = nj[node_rep], ni[node_rep]
        heading_vec = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])[direction]
        to = self.xy[cj + heading_vec[:, 1], ci + heading_vec[:, 0]] - self.xy[cj, ci]
        heading = np.degrees(np.arctan2(to[:, 0], to[:, 1])) % 360.0
        # Put the camera inside one of the node's blocks, near its corner.
        quad = self._corner_block(rng, cj, ci)
        bj, bi = cj - (quad // 2), ci - (quad % 2)
        inset = 0.04 + 0.03 * k_in
        u = np.where(quad % 2 == 0, inset, 1 - inset)
        v = np.where(quad // 2 == 0, inset, 1 - inset)
        ll = self._in_block(bj, bi, u, v)
        side = np.array(["东向", "北向", "西向", "南向"], dtype=object)[direction]
        hn = self.h_names[cj, np.minimum(ci, nx - 2) // PRIMARY_EVERY]
        vn = self.v_names[ci, np.minimum(cj, self.ny - 2) // PRIMARY_EVERY]
        name = np.where(hn == vn, hn + side, vn + "与" + hn + "交叉口" + side)
        kinds_j = rng.choice(
            np.array(["dome", "bullet", "face", "vehicle", "thermal"], dtype=object),
            len(cj),
            p=[0.3, 0.35, 0.15, 0.15, 0.05],
        )
        # Squares and parks: domes and face cameras around the middle.
        sq = rng.choice(len(self.park_blocks[0]), n_square) if n_square else np.zeros(0, int)
        sbj, sbi = self.park_blocks[0][sq], self.park_blocks[1][sq]
        sll = self._in_block(
            sbj, sbi, rng.uniform(0.3, 0.7, n_square), rng.uniform(0.3, 0.7, n_square)
        )
        sq_names = np.asarray(N.PLACE_WORDS, dtype=object)[
            (sbj * 7 + sbi * 13) % len(N.PLACE_WORDS)
        ]
        s_name = (
            sq_names
            + "广场"
            + np.asarray(["一", "二", "三", "四"], dtype=object)[rng.integers(0, 4, n_square)]
            + "号点位"
        )
        s_kind = rng.choice(np.array(["dome", "face"], dtype=object), n_square, p=[0.7, 0.3])
        n = len(cj) + n_square
        status = rng.choice(
            np.array(["online", "offline", "fault"], dtype=object), n, p=[0.9, 0.07, 0.03]
        )
        ago = np.select(
            [status == "online", status == "offline"],
            [rng.integers(0, 120, n), rng.integers(3_600, 30 * 86_400, n)],
            rng.integers(86_400, 60 * 86_400, n),
        )
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "code": [f"CAM{k:06d}" for k in range(1, n + 1)],
                "name": np.r_[name, s_name],
                "kind": np.r_[kinds_j, s_kind],
                "status": status,
                "last_seen": _utc(self.anchor_s - ago),
                "heading": np.r_[heading, rng.uniform(0, 360, n_square)].astype(np.float32)
                % np.float32(360),
                "fov": rng.uniform(60, 100, n).round(0).astype(np.float32),
                "range_m": rng.uniform(30, 80, n).round(0).astype(np.float32),
                "lon": np.r_[ll[:, 0], sll[:, 0]],
                "lat": np.r_[ll[:, 1], sll[:, 1]],
            }
        )

    def _corner_block(self, rng: np.random.Generator, j: np.ndarray, i: np.ndarray) -> np.ndarray:
        """For nodes (j, i): one city block touching them, as quadrant 0 NE,1 NW,2 SE,3 SW."""
        nby, nbx = self.block_grid.shape
        ok = np.zeros((len(j), 4), dtype=bool)
        for q in range(4):
            bj, bi = j - q // 2, i - q % 2
            inside = (bj >= 0) & (bj < nby) & (bi >= 0) & (bi < nbx)
            ok[inside, q] = self.block_grid[bj[inside], bi[inside]] >= 0
        keys = rng.random(ok.shape) + (~ok) * 2
        return np.argmin(keys, axis=1)

    # -- service points ------------------------------------------------------------------

    def _service_points(self) -> pd.DataFrame:
        rng = stage_rng(self.seed, "service_points")
        sc = self.scale
        n_c, n_s = len(self.c_name), len(self.s_name)
        rest = max(sc.service_points - n_c - n_s, 0)
        kw = {"police_office": 0.3, "health_station": 0.25, "convenience_station": 0.25,
              "elderly_care": 0.2}  # fmt: skip
        extra = _apportion(rest, np.array(list(kw.values())) * rest) if rest else np.zeros(4, int)
        rows: list[tuple[str, int]] = [("party_service_center", c) for c in range(n_c)]
        # A governance centre sits in one community of its street.
        for s in range(n_s):
            comms = np.flatnonzero(self.comm_street == s)
            rows.append(("governance_center", int(rng.choice(comms))))
        for (kind, _), k in zip(kw.items(), extra, strict=True):
            for c in rng.choice(n_c, int(k), replace=int(k) > n_c):
                rows.append((kind, int(c)))
        kind = np.array([r[0] for r in rows], dtype=object)
        comm = np.array([r[1] for r in rows])
        # Random block of the community.
        bj_all, bi_all = np.nonzero(self.block_grid >= 0)
        b_comm = self.g_comm[self.block_grid[bj_all, bi_all]]
        order = np.argsort(b_comm, kind="stable")
        first = np.searchsorted(b_comm[order], np.arange(n_c))
        count = np.bincount(b_comm, minlength=n_c)
        pick = order[first[comm] + (rng.random(len(comm)) * count[comm]).astype(int)]
        ll, addr = self._frontage(rng, bj_all[pick], bi_all[pick])
        cname = np.asarray(self.c_name, dtype=object)[comm]
        cstem = np.array([c.removesuffix("社区") for c in cname], dtype=object)
        sname = np.asarray(self.s_name, dtype=object)[self.comm_street[comm]]
        label = {
            "party_service_center": (cname + "党群服务中心", "08:30-17:30"),
            "governance_center": (sname + "综治中心", "00:00-24:00"),
            "police_office": (cstem + "警务室", "00:00-24:00"),
            "health_station": (cstem + "社区卫生服务站", "08:00-20:00"),
            "convenience_station": (cstem + "便民服务站", "08:30-17:30"),
            "elderly_care": (cstem + "居家养老服务中心", "08:00-18:00"),
        }
        name = np.empty(len(kind), dtype=object)
        hours = np.empty(len(kind), dtype=object)
        for k, (nm, h) in label.items():
            m = kind == k
            name[m] = nm[m]
            hours[m] = h
        n = len(kind)
        phone = np.array(
            [f"025-{p}" for p in rng.integers(52_000_000, 58_999_999, n)], dtype=object
        )
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "code": [f"SP{k:05d}" for k in range(1, n + 1)],
                "name": name,
                "kind": kind,
                "opening_hours": hours,
                "address": addr,
                "phone": phone,
                "lon": ll[:, 0],
                "lat": ll[:, 1],
            }
        )


# Case lifecycle columns: (status reached, action, actor kind).
_STAGES: tuple[tuple[str, str], ...] = (
    ("reported", "report"),
    ("dispatched", "dispatch"),
    ("returned", "return"),
    ("dispatched", "redispatch"),
    ("accepted", "accept"),
    ("in_progress", "start"),
    ("resolved", "resolve"),
    ("closed", "close"),
    ("rejected", "reject"),
)
_STATUSES = ("reported", "dispatched", "returned", "accepted", "in_progress", "resolved",
             "closed", "rejected")  # fmt: skip
_NOTES = {
    "report": "受理登记",
    "dispatch": "社区派单至网格",
    "return": "非本网格事项，申请退回",
    "redispatch": "重新派单",
    "accept": "网格员接单",
    "start": "到场核实处置",
    "resolve": "已处置，待核查",
    "close": "回访满意，结案",
    "reject": "不属于受理范围",
}
_HOUR_WEIGHTS = np.array(
    [0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.5, 1.2, 2.2, 3.0, 3.2, 2.8,
     1.8, 1.6, 2.6, 2.9, 2.7, 2.2, 1.6, 1.7, 1.9, 1.5, 1.0, 0.6]
)  # fmt: skip
_NEVER = np.iinfo(np.int64).max


class _CaseBuilder:
    """Cases over the past year, clustered in hot spots, with coherent histories."""

    def __init__(self, city: CityGenerator) -> None:
        self.c = city
        self.rng = stage_rng(city.seed, "cases")

    def _taxonomy(self) -> dict[str, np.ndarray]:
        cats, subs, sub_cat, titles, title_sub = [], [], [], [], []
        for ci, (slug, cat) in enumerate(CASE_TAXONOMY.items()):
            cats.append(slug)
            for sslug, sub in cat["subcategories"].items():
                for t in sub["titles"]:
                    titles.append(t)
                    title_sub.append(len(subs))
                subs.append(sslug)
                sub_cat.append(ci)
        return {
            "cats": np.asarray(cats, dtype=object),
            "cat_w": np.array([c["weight"] for c in CASE_TAXONOMY.values()]),
            "dept": np.asarray([c["department"] for c in CASE_TAXONOMY.values()], dtype=object),
            "prio": np.array([c["priority"] for c in CASE_TAXONOMY.values()]),
            "subs": np.asarray(subs, dtype=object),
            "sub_cat": np.array(sub_cat),
            "titles": np.asarray(titles, dtype=object),
            "title_sub": np.array(title_sub),
        }

    def _locations(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Case points (lon, lat) and the building each one is near (for address, handler)."""
        c, rng = self.c, self.rng
        nb = len(c.b_ll)
        n_out = max(1, round(n * 0.005))
        n_hot = round((n - n_out) * 0.6)
        n_near = n - n_out - n_hot
        hot_b = rng.choice(nb, c.scale.hotspots, replace=False)
        hot_sigma = rng.uniform(40, 250, c.scale.hotspots)
        hot_w = rng.lognormal(0, 0.8, c.scale.hotspots)
        h = rng.choice(c.scale.hotspots, n_hot, p=hot_w / hot_w.sum())
        off = rng.normal(0, 1, (n_hot, 2)) * hot_sigma[h, None] / c.m_per_deg
        hot_ll = c.b_ll[hot_b[h]] + off
        outside = ~shapely.contains_xy(c.city, hot_ll[:, 0], hot_ll[:, 1])
        hot_ll[outside] = c.b_ll[hot_b[h[outside]]] + rng.normal(0, 3, (outside.sum(), 2)) / (
            c.m_per_deg
        )
        near_b = rng.integers(0, nb, n_near)
        near_ll = c.b_ll[near_b] + rng.normal(0, 6, (n_near, 2)) / c.m_per_deg
        # Just outside the city (unassigned cases): boundary vertices pushed outwards.
        ring = shapely.get_coordinates(shapely.boundary(c.city))
        start = ring[rng.integers(0, len(ring), n_out)]
        centre = c.ll[c.ny // 2, c.nx // 2]
        dirv = (start - centre) * c.m_per_deg
        dirv /= np.hypot(dirv[:, 0], dirv[:, 1])[:, None]
        dist = rng.uniform(60, 400, n_out)
        out_ll = start + dirv * dist[:, None] / c.m_per_deg
        for _ in range(10):
            inside = shapely.contains_xy(c.city, out_ll[:, 0], out_ll[:, 1])
            if not inside.any():
                break
            dist[inside] *= 2
            out_ll[inside] = start[inside] + dirv[inside] * dist[inside, None] / c.m_per_deg
        out_b = np.argmin(
            ((c.b_ll[None, :: max(1, nb // 2000)] - start[:, None]) ** 2).sum(-1), axis=1
        ) * max(1, nb // 2000)
        ll = np.concatenate([hot_ll, near_ll, out_ll])
        bidx = np.concatenate([hot_b[h], near_b, out_b])
        self.hot_of = np.concatenate([h, -np.ones(n_near + n_out, dtype=np.int64)])
        self.n_hotspots = c.scale.hotspots
        return ll, bidx

    def build(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        c, rng = self.c, self.rng
        n = c.scale.cases
        tx = self._taxonomy()
        ll, bidx = self._locations(n)
        # Category: hot spots have a dominant category; the rest follow the city mix.
        hot_cat = rng.choice(len(tx["cats"]), self.n_hotspots, p=tx["cat_w"])
        cat = rng.choice(len(tx["cats"]), n, p=tx["cat_w"])
        dom = (self.hot_of >= 0) & (rng.random(n) < 0.5)
        cat[dom] = hot_cat[self.hot_of[dom]]
        sub_counts = np.bincount(tx["sub_cat"], minlength=len(tx["cats"]))
        sub_first = np.searchsorted(tx["sub_cat"], np.arange(len(tx["cats"])))
        sub = sub_first[cat] + (rng.random(n) * sub_counts[cat]).astype(int)
        t_counts = np.bincount(tx["title_sub"], minlength=len(tx["subs"]))
        t_first = np.searchsorted(tx["title_sub"], np.arange(len(tx["subs"])))
        title = t_first[sub] + (rng.random(n) * t_counts[sub]).astype(int)
        # When: past 365 days, more lately, fewer at weekends and at night.
        days_ago = np.arange(1, 366)
        day_start = c.anchor_s - days_ago * 86_400
        dow = pd.to_datetime(day_start, unit="s", utc=True).tz_convert(TZ).day_of_week.to_numpy()
        doy = (c.anchor.timetuple().tm_yday - days_ago) % 365
        dw = (1 + 0.15 * np.sin(2 * np.pi * (doy - 100) / 365)) * np.where(dow >= 5, 0.8, 1.0)
        dw *= 1 + 0.25 * (365 - days_ago) / 365
        day = rng.choice(365, n, p=dw / dw.sum())
        hour = rng.choice(24, n, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
        reported = day_start[day] + hour * 3600 + rng.integers(0, 3600, n)
        # Sort by time so ids and codes grow with it.
        order = np.argsort(reported, kind="stable")
        reported, ll, bidx = reported[order], ll[order], bidx[order]
        cat, sub, title = cat[order], sub[order], title[order]
        prio = np.empty(n, dtype=np.int64)
        u = rng.random(n)
        cum = np.cumsum(tx["prio"], axis=1)[cat]
        prio = 1 + (u[:, None] > cum).sum(1)
        prio = np.minimum(prio, 4)
        src_names = np.asarray(list(SOURCE_WEIGHTS), dtype=object)
        src_w = np.array(list(SOURCE_WEIGHTS.values()))
        source = rng.choice(len(src_names), n, p=src_w / src_w.sum())
        window = np.array([0, *[DUE_HOURS[k] * 3600 for k in (1, 2, 3, 4)]])[prio]

        def lag(median_s: float, sigma: float) -> np.ndarray:
            return np.maximum(60, rng.lognormal(math.log(median_s), sigma, n)).astype(np.int64)

        T = np.full((n, len(_STAGES)), _NEVER, dtype=np.int64)
        T[:, 0] = reported
        rejected = rng.random(n) < 0.02
        returned = ~rejected & (rng.random(n) < 0.03)
        live = ~rejected
        self_found = src_names[source] == "grid_worker"
        # Most cases are dispatched within the hour; a few wait for verification for days.
        waiting = rng.random(n) < 0.03
        t = reported + np.select(
            [self_found, waiting], [lag(120, 0.5), lag(2 * 86_400, 0.8)], lag(1200, 1.0)
        )
        T[live, 1] = t[live]
        t_ret = t + lag(3600, 0.8)
        t_red = t_ret + lag(86_400, 0.8)
        T[returned, 2] = t_ret[returned]
        T[returned, 3] = t_red[returned]
        t = np.where(returned, t_red, t) + lag(900, 0.9)
        T[live, 4] = t[live]
        t = t + lag(2400, 0.9)
        T[live, 5] = t[live]
        stuck = rng.random(n) < 0.01
        work = (window * 0.35 * rng.lognormal(0, 1.0, n) * np.where(stuck, 30, 1)).astype(np.int64)
        t = t + np.maximum(work, 300)
        T[live, 6] = t[live]
        t = t + lag(36 * 3600, 0.8)
        T[live, 7] = t[live]
        T[rejected, 8] = reported[rejected] + lag(7200, 0.8)[rejected]
        valid = c.anchor_s >= T
        last = np.where(valid, np.arange(len(_STAGES)), -1).max(axis=1)
        stage_status = np.asarray([s for s, _ in _STAGES], dtype=object)
        status = stage_status[last]
        last_t = T[np.arange(n), last]
        due = reported + window
        done_t = np.where(valid[:, 6], T[:, 6], c.anchor_s)
        late = done_t - due
        escalation = (late[:, None] > np.array(ESCALATION_HOURS)[None] * 3600).sum(1)
        closed = valid[:, 7]
        sat = np.where(
            closed & (rng.random(n) < 0.8),
            rng.choice(np.arange(1, 6), n, p=[0.02, 0.03, 0.1, 0.3, 0.55]),
            0,
        )
        dispatched = valid[:, 1]
        handling = rng.choice(
            np.array(["reply", "self_handle", "transfer"], dtype=object), n, p=[0.25, 0.45, 0.3]
        )
        dept = np.select(
            [handling == "transfer", handling == "reply"],
            [tx["dept"][cat], np.full(n, "街道综治中心", dtype=object)],
            "社区网格站",
        )
        src_str = src_names[source]
        with_reporter = np.isin(src_str, ["hotline_12345", "resident_app", "walk_in", "open311"])
        person = N.person_names(rng, 5_000)
        phones = N.masked_phones(rng, 5_000)
        who = rng.integers(0, 5_000, n)
        near_addr = np.array([a + "附近" for a in c.b_addr], dtype=object)
        titles = tx["titles"][title]
        description = np.array(["群众反映：" + t + "，请核实处置。" for t in tx["titles"]],
                               dtype=object)[title]  # fmt: skip
        cases = pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "code": [f"SJ{k:08d}" for k in range(1, n + 1)],
                "title": titles,
                "description": description,
                "category": tx["cats"][cat],
                "subcategory": tx["subs"][sub],
                "source": src_str,
                "status": status,
                "priority": prio.astype(np.int16),
                "handling_type": np.where(dispatched, handling, None),
                "reported_at": _utc(reported),
                "due_at": _utc(due),
                "dispatched_at": _utc(np.where(dispatched, T[:, 1], np.nan)),
                "resolved_at": _utc(np.where(valid[:, 6], T[:, 6], np.nan)),
                "closed_at": _utc(np.where(closed, T[:, 7], np.nan)),
                "updated_at": _utc(last_t),
                "department": np.where(dispatched, dept, None),
                "escalation_level": escalation.astype(np.int16),
                "satisfaction": pd.array(np.where(sat > 0, sat, None), dtype="Int16"),
                "reporter_name": np.where(with_reporter, person[who], None),
                "reporter_phone": np.where(with_reporter, phones[who], None),
                "address": near_addr[bidx],
                "lon": ll[:, 0],
                "lat": ll[:, 1],
            }
        )
        # History: one event per stage reached, in order.
        rows, cols = np.nonzero(valid)
        first = np.r_[True, rows[1:] != rows[:-1]]
        st_code = stage_status[cols]
        from_status = np.where(first, None, np.roll(st_code, 1))
        handler = c.lead_username[c.b_grid[bidx]]
        actor_by_source = np.array(
            ["12345热线", "grid_worker", "居民端", "视频巡查", "来访登记", "open311", "import"],
            dtype=object,
        )
        reporter = np.where(self_found, handler, actor_by_source[source])
        actor = np.select(
            [cols == 0, np.isin(cols, [1, 3, 7, 8])],
            [reporter[rows], np.full(len(rows), "command", dtype=object)],
            handler[rows],
        )
        actions = np.asarray([a for _, a in _STAGES], dtype=object)
        notes = np.asarray([_NOTES[a] for _, a in _STAGES], dtype=object)
        events = pd.DataFrame(
            {
                "id": np.arange(1, len(rows) + 1),
                "case_id": rows + 1,
                "at": _utc(T[rows, cols]),
                "actor": actor,
                "action": actions[cols],
                "from_status": from_status,
                "to_status": st_code,
                "note": notes[cols],
            }
        )
        return cases, events


class _PatrolBuilder:
    """Today's patrol shifts and their GPS tracks along the roads of each community."""

    def __init__(self, city: CityGenerator) -> None:
        self.c = city
        self.rng = stage_rng(city.seed, "patrols")

    def _walks(self, comm: np.ndarray, start: np.ndarray, steps: int) -> np.ndarray:
        """Random walks (node flat indices, (W, steps+1)) with no immediate back-tracking,
        preferring to go straight, staying on nodes of each walker's community."""
        c, rng = self.c, self.rng
        nby, nbx = c.block_grid.shape
        pad = -np.ones((nby + 2, nbx + 2), dtype=np.int64)
        pad[1:-1, 1:-1] = np.where(c.block_grid >= 0, c.g_comm[c.block_grid], -1)
        # Communities of the four blocks around each node.
        node_comm = np.stack(
            [pad[1:, 1:], pad[1:, :-1], pad[:-1, 1:], pad[:-1, :-1]], axis=-1
        ).reshape(-1, 4)
        w = len(comm)
        path = np.empty((w, steps + 1), dtype=np.int64)
        path[:, 0] = start
        prev = -np.ones(w, dtype=np.int64)
        last_dir = rng.integers(0, 4, w)
        cur = start.copy()
        for k in range(1, steps + 1):
            cand = c.nbr[cur]
            exists = cand >= 0
            home = (node_comm[np.where(exists, cand, 0)] == comm[:, None, None]).any(-1) & exists
            score = rng.random((w, 4)) + (np.arange(4)[None] == last_dir[:, None]) * 0.6
            ok = home & (cand != prev[:, None])
            ok = np.where(ok.any(1)[:, None], ok, home)
            score = np.where(ok, score, -1.0)
            d = np.argmax(score, axis=1)
            nxt = np.where(ok.any(1), cand[np.arange(w), d], cur)
            last_dir = np.where(ok.any(1), d, last_dir)
            prev, cur = cur, nxt
            path[:, k] = cur
        return path

    def build(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        c, rng = self.c, self.rng
        w = len(c.w_comm)
        comm = c.w_comm
        kinds = np.array(["grid_patrol", "party_volunteer", "cadre_night", "police_joint"],
                         dtype=object)  # fmt: skip
        kind = rng.choice(4, w, p=[0.8, 0.1, 0.05, 0.05])
        duration = int(c.scale.shift_hours * 3600)
        base = np.where(kind == 2, 16 * 3600, 8 * 3600)
        jitter = np.where(kind == 2, 0, rng.integers(-180, 181, w) * PING_SECONDS)
        start_s = c.anchor_s + base + jitter
        # Start at a random corner node of a random block of the community.
        bj_all, bi_all = np.nonzero(c.block_grid >= 0)
        b_comm = c.g_comm[c.block_grid[bj_all, bi_all]]
        order = np.argsort(b_comm, kind="stable")
        first = np.searchsorted(b_comm[order], np.arange(len(c.c_name)))
        count = np.bincount(b_comm, minlength=len(c.c_name))
        blk = order[first[comm] + (rng.random(w) * count[comm]).astype(int)]
        sj, si = bj_all[blk], bi_all[blk]
        start_grid = c.block_grid[sj, si]
        start_node = sj * c.nx + si
        speed = rng.uniform(1.0, 1.4, w)
        steps = int(duration * 1.45 / (0.7 * c.scale.spacing_m)) + 8
        path = self._walks(comm, start_node, steps)
        xy = c.xy.reshape(-1, 2)
        ll = c.ll.reshape(-1, 2)
        seg = np.hypot(*(xy[path[:, 1:]] - xy[path[:, :-1]]).transpose(2, 0, 1))
        pause = np.where(rng.random(path.shape) < 0.12, rng.exponential(180, path.shape), 0.0)
        pause[:, 0] = 0
        # Knots: arrive at node k, leave it after the pause.
        arrive = np.zeros(path.shape)
        arrive[:, 1:] = np.cumsum(seg / speed[:, None] + pause[:, :-1], axis=1)
        leave = arrive + pause
        knot_t = np.stack([arrive, leave], axis=-1).reshape(w, -1)
        knot_ll = np.repeat(ll[path], 2, axis=1)
        if (knot_t[:, -1] < duration).any():
            raise RuntimeError("patrol walks too short for the shift; raise the step count")
        n_p = duration // PING_SECONDS
        tau = np.arange(n_p) * PING_SECONDS
        lon = np.empty((w, n_p))
        lat = np.empty((w, n_p))
        for k in range(w):
            lon[k] = np.interp(tau, knot_t[k], knot_ll[k, :, 0])
            lat[k] = np.interp(tau, knot_t[k], knot_ll[k, :, 1])
        noise = rng.normal(0, 3.0, (w, n_p, 2))
        acc = rng.uniform(3, 10, (w, n_p))
        bad = rng.random((w, n_p)) < 0.005
        noise[bad] = rng.normal(0, 60, (bad.sum(), 2))
        acc[bad] = rng.uniform(50, 200, bad.sum())
        lon += noise[..., 0] / c.m_per_deg[0]
        lat += noise[..., 1] / c.m_per_deg[1]
        device = np.array([f"DEV{k + 1:06d}" for k in range(w)], dtype=object)
        teams = {
            0: np.array([c.c_name[x] + "网格巡查组" for x in comm], dtype=object),
            1: np.array([c.c_name[x] + "党员义巡队" for x in comm], dtype=object),
            2: np.array([c.s_name[c.comm_street[x]] + "干部夜巡队" for x in comm], dtype=object),
            3: np.array([c.s_name[c.comm_street[x]] + "警民共巡队" for x in comm], dtype=object),
        }
        team = np.select([kind == q for q in range(4)], [teams[q] for q in range(4)])
        shifts = pd.DataFrame(
            {
                "id": np.arange(1, w + 1),
                "worker_id": c.worker_user,
                "device_id": device,
                "kind": kinds[kind],
                "team": team,
                "grid_id": start_grid + 1,
                "started_at": _utc(start_s),
                "ended_at": _utc(start_s + duration),
            }
        )
        at = (start_s[:, None] + tau[None]).ravel()
        pings = pd.DataFrame(
            {
                "device_id": np.repeat(device, n_p),
                "at": _utc(at),
                "accuracy_m": acc.ravel().round(1).astype(np.float32),
                "lon": lon.ravel(),
                "lat": lat.ravel(),
            }
        )
        return shifts, pings


def generate_city(
    scale: str | Scale = "small", seed: int = 7, anchor: datetime | None = None
) -> dict[str, pd.DataFrame]:
    """The whole city at once: ``{table: frame}`` in load order (small scales only, ideally)."""
    gen = CityGenerator(scale, seed, anchor or default_anchor())
    return dict(gen.tables())
