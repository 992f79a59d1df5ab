"""The administrative hierarchy: districts, streets (街道), communities and grids, with
their codes, names and outlines."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gridmap.demo import names as N
from gridmap.demo.city.base import GRID_BLOCKS, _multi, _partition, stage_rng
from gridmap.demo.city.context import City


def build_hierarchy(ctx: City) -> None:
    rng = stage_rng(ctx.seed, "hierarchy")
    sc = ctx.scale
    gj, gi = np.nonzero(ctx.grid_keep)
    pts = np.column_stack([gi + 0.5, gj + 0.5]).astype(float)
    n = len(pts)
    d = _partition(rng, pts, np.zeros(n, dtype=np.int64), sc.districts, math.sqrt(n / sc.districts))
    st = _partition(rng, pts, d, sc.streets, math.sqrt(n / sc.streets))
    cm = _partition(rng, pts, st, sc.communities, math.sqrt(n / sc.communities))
    order = np.lexsort((gi, -gj, cm))
    ctx.g_i, ctx.g_j = gi[order], gj[order]
    ctx.g_comm = cm[order]
    ctx.comm_street = np.zeros(cm.max() + 1, dtype=np.int64)
    ctx.comm_street[cm] = st
    ctx.street_district = np.zeros(st.max() + 1, dtype=np.int64)
    ctx.street_district[st] = d
    # Sequence number of each grid inside its community (1-based).
    first = np.r_[0, np.flatnonzero(np.diff(ctx.g_comm)) + 1]
    starts = np.repeat(first, np.diff(np.r_[first, len(order)]))
    ctx.g_seq = np.arange(len(order)) - starts + 1
    # block → grid row (0-based), -1 outside the city.
    gmap = -np.ones(ctx.grid_keep.shape, dtype=np.int64)
    gmap[ctx.g_j, ctx.g_i] = np.arange(len(order))
    ctx.block_grid = np.repeat(np.repeat(gmap, GRID_BLOCKS, 0), GRID_BLOCKS, 1)
    # Names and codes.
    rn = stage_rng(ctx.seed, "names")
    n_d = int(d.max()) + 1
    n_s = len(ctx.street_district)
    n_c = len(ctx.comm_street)
    ctx.d_name = N.district_names(rn, n_d)
    ctx.s_name = N.street_names(rn, n_s)
    ctx.c_name = N.community_names(rn, n_c)
    ctx.d_code = [f"9901{k + 1:02d}" for k in range(n_d)]
    s_seq = np.zeros(n_s, dtype=int)
    for k in range(n_s):
        s_seq[k] = int((ctx.street_district[:k] == ctx.street_district[k]).sum()) + 1
    ctx.s_code = [f"{ctx.d_code[ctx.street_district[k]]}{s_seq[k]:03d}" for k in range(n_s)]
    c_seq = np.zeros(n_c, dtype=int)
    for k in range(n_c):
        c_seq[k] = int((ctx.comm_street[:k] == ctx.comm_street[k]).sum()) + 1
    ctx.c_code = [f"{ctx.s_code[ctx.comm_street[k]]}{c_seq[k]:03d}" for k in range(n_c)]
    ctx.g_code = np.array(
        [f"{ctx.c_code[c]}{q:03d}" for c, q in zip(ctx.g_comm, ctx.g_seq, strict=True)],
        dtype=object,
    )
    ctx.g_name = np.array(
        [f"{ctx.c_name[c]}第{q}网格" for c, q in zip(ctx.g_comm, ctx.g_seq, strict=True)],
        dtype=object,
    )
    # Grid polygons through their 12 perimeter nodes (counter-clockwise).
    k = np.arange(GRID_BLOCKS)
    b = GRID_BLOCKS
    di = np.r_[k, np.full(b, b), b - k, np.zeros(b, dtype=int)]
    dj = np.r_[np.zeros(b, dtype=int), k, np.full(b, b), b - k]
    ii = ctx.g_i[:, None] * b + di[None]
    jj = ctx.g_j[:, None] * b + dj[None]
    ring = ctx.ll[jj, ii]
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    ctx.g_poly = shapely.polygons(ring)
    ctx.c_poly = _multi(
        [shapely.coverage_union_all(ctx.g_poly[ctx.g_comm == c]) for c in range(n_c)]
    )
    g_street = ctx.comm_street[ctx.g_comm]
    ctx.s_poly = _multi([shapely.coverage_union_all(ctx.g_poly[g_street == s]) for s in range(n_s)])
    g_district = ctx.street_district[g_street]
    ctx.d_poly = _multi(
        [shapely.coverage_union_all(ctx.g_poly[g_district == q]) for q in range(n_d)]
    )
    ctx.city = shapely.coverage_union_all(ctx.g_poly)
    shapely.prepare(ctx.city)


def _areas(code: Any, name: Any, geom: Any, **columns: Any) -> pd.DataFrame:
    """One level's rows: ids from 1, ``code``, ``name``, then ``columns``, then ``geom``."""
    return pd.DataFrame(
        {"id": np.arange(1, len(code) + 1), "code": code, "name": name, **columns, "geom": geom}
    )


def districts(ctx: City) -> pd.DataFrame:
    return _areas(ctx.d_code, ctx.d_name, ctx.d_poly)


def streets(ctx: City) -> pd.DataFrame:
    return _areas(ctx.s_code, ctx.s_name, ctx.s_poly, district_id=ctx.street_district + 1)


def communities(ctx: City) -> pd.DataFrame:
    return _areas(ctx.c_code, ctx.c_name, ctx.c_poly, street_id=ctx.comm_street + 1)


def grids(ctx: City) -> pd.DataFrame:
    return _areas(
        ctx.g_code,
        ctx.g_name,
        shapely.multipolygons(ctx.g_poly[:, None]),
        community_id=ctx.g_comm + 1,
        lead_user_id=ctx.lead_user,
        lead_name=ctx.lead_name,
        lead_phone=ctx.lead_phone,
    )
