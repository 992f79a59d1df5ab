"""The road network on the lattice: named, classed edges and node adjacency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gridmap.demo import names as N
from gridmap.demo.city.base import GRID_BLOCKS, PRIMARY_EVERY, stage_rng
from gridmap.demo.city.context import City


def build_roads(ctx: City) -> None:
    rng = stage_rng(ctx.seed, "roads")
    nx, ny = ctx.nx, ctx.ny
    nby, nbx = ny - 1, nx - 1
    bk = np.zeros((nby + 2, nbx + 2), dtype=bool)
    bk[1:-1, 1:-1] = ctx.block_grid >= 0
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
    ctx.h_names, ctx.h_kind = _line_names(ctx, rng, ny, nx, horizontal=True)
    ctx.v_names, ctx.v_kind = _line_names(ctx, rng, nx, ny, horizontal=False)
    src_j = np.r_[hj, vj]
    src_i = np.r_[hi, vi]
    dst_j = np.r_[hj, vj + 1]
    dst_i = np.r_[hi + 1, vi]
    seg_h = hi // PRIMARY_EVERY
    seg_v = vj // PRIMARY_EVERY
    kind = np.r_[ctx.h_kind[hj, seg_h], ctx.v_kind[vi, seg_v]]
    name = np.r_[ctx.h_names[hj, seg_h], ctx.v_names[vi, seg_v]]
    src = src_j * nx + src_i
    dst = dst_j * nx + dst_i
    d = ctx.xy[dst_j, dst_i] - ctx.xy[src_j, src_i]
    length = np.hypot(d[:, 0], d[:, 1])
    coords = np.stack([ctx.ll[src_j, src_i], ctx.ll[dst_j, dst_i]], axis=1)
    ctx.edge_src, ctx.edge_dst, ctx.edge_len = src, dst, length
    ctx.edge_kind, ctx.edge_name, ctx.edge_coords = kind, name, coords
    # Adjacency: neighbour node (flat index) towards E, N, W, S; -1 when no edge.
    nbr = -np.ones((ny * nx, 4), dtype=np.int64)
    nbr[src[: len(hj)], 0] = dst[: len(hj)]
    nbr[dst[: len(hj)], 2] = src[: len(hj)]
    nbr[src[len(hj) :], 1] = dst[len(hj) :]
    nbr[dst[len(hj) :], 3] = src[len(hj) :]
    ctx.nbr = nbr


def _line_names(
    ctx: City, rng: np.random.Generator, lines: int, length: int, *, horizontal: bool
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


def road_edges(ctx: City) -> pd.DataFrame:
    n = len(ctx.edge_src)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "source": ctx.edge_src + 1,
            "target": ctx.edge_dst + 1,
            "length_m": ctx.edge_len,
            "kind": ctx.edge_kind,
            "name": ctx.edge_name,
            "geom": shapely.linestrings(ctx.edge_coords),
        }
    )
