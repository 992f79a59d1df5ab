"""Cameras (雪亮工程) at corners and along streets, and service points."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.demo import names as N
from gridmap.demo.city.base import PRIMARY_EVERY, _apportion, _utc, stage_rng
from gridmap.demo.city.buildings import frontage, in_block
from gridmap.demo.city.context import City


def cameras(ctx: City) -> pd.DataFrame:
    rng = stage_rng(ctx.seed, "cameras")
    sc = ctx.scale
    nx = ctx.nx
    deg = (ctx.nbr >= 0).sum(1)
    nodes = np.flatnonzero(deg > 0)
    nj, ni = nodes // nx, nodes % nx
    rank = {"primary": 3, "secondary": 2, "residential": 1, "alley": 0}
    h_rank = np.vectorize(rank.get, otypes=[np.int64])(ctx.h_kind)
    v_rank = np.vectorize(rank.get, otypes=[np.int64])(ctx.v_kind)
    hr = h_rank[nj, np.minimum(ni, nx - 2) // PRIMARY_EVERY]
    vr = v_rank[ni, np.minimum(nj, ctx.ny - 2) // PRIMARY_EVERY]
    weight = np.array([0.05, 0.4, 1.5, 5.0])[np.maximum(hr, vr)] * np.where(
        np.minimum(hr, vr) >= 2, 2.0, 1.0
    )
    weight = weight * (deg >= 3)[nodes] + 0.01
    n_square = round(sc.cameras * 0.05) if len(ctx.park_blocks[0]) else 0
    lam = (sc.cameras - n_square) * weight / weight.sum()
    cnt = np.minimum(rng.poisson(lam), deg[nodes])
    # Each camera of a node looks along a different edge of it.
    keys = rng.random((len(nodes), 4)) + (ctx.nbr[nodes] < 0) * 2
    dirs = np.argsort(keys, axis=1)
    node_rep = np.repeat(np.arange(len(nodes)), cnt)
    k_in = np.arange(len(node_rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    direction = dirs[node_rep, k_in]
    cj, ci = nj[node_rep], ni[node_rep]
    heading_vec = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])[direction]
    to = ctx.xy[cj + heading_vec[:, 1], ci + heading_vec[:, 0]] - ctx.xy[cj, ci]
    heading = np.degrees(np.arctan2(to[:, 0], to[:, 1])) % 360.0
    # Put the camera inside one of the node's blocks, near its corner.
    quad = _corner_block(ctx, rng, cj, ci)
    bj, bi = cj - (quad // 2), ci - (quad % 2)
    inset = 0.04 + 0.03 * k_in
    u = np.where(quad % 2 == 0, inset, 1 - inset)
    v = np.where(quad // 2 == 0, inset, 1 - inset)
    ll = in_block(ctx, bj, bi, u, v)
    side = np.array(["东向", "北向", "西向", "南向"], dtype=object)[direction]
    hn = ctx.h_names[cj, np.minimum(ci, nx - 2) // PRIMARY_EVERY]
    vn = ctx.v_names[ci, np.minimum(cj, ctx.ny - 2) // PRIMARY_EVERY]
    name = np.where(hn == vn, hn + side, vn + "与" + hn + "交叉口" + side)
    kinds_j = rng.choice(
        np.array(["dome", "bullet", "face", "vehicle", "thermal"], dtype=object),
        len(cj),
        p=[0.3, 0.35, 0.15, 0.15, 0.05],
    )
    # Squares and parks: domes and face cameras around the middle.
    sq = rng.choice(len(ctx.park_blocks[0]), n_square) if n_square else np.zeros(0, int)
    sbj, sbi = ctx.park_blocks[0][sq], ctx.park_blocks[1][sq]
    sll = in_block(ctx, sbj, sbi, rng.uniform(0.3, 0.7, n_square), rng.uniform(0.3, 0.7, n_square))
    sq_names = np.asarray(N.PLACE_WORDS, dtype=object)[(sbj * 7 + sbi * 13) % len(N.PLACE_WORDS)]
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
            "last_seen": _utc(ctx.anchor_s - ago),
            "heading": np.r_[heading, rng.uniform(0, 360, n_square)].astype(np.float32)
            % np.float32(360),
            "fov": rng.uniform(60, 100, n).round(0).astype(np.float32),
            "range_m": rng.uniform(30, 80, n).round(0).astype(np.float32),
            "lon": np.r_[ll[:, 0], sll[:, 0]],
            "lat": np.r_[ll[:, 1], sll[:, 1]],
        }
    )


def _corner_block(ctx: City, rng: np.random.Generator, j: np.ndarray, i: np.ndarray) -> np.ndarray:
    """For nodes (j, i): one city block touching them, as quadrant 0 NE,1 NW,2 SE,3 SW."""
    nby, nbx = ctx.block_grid.shape
    ok = np.zeros((len(j), 4), dtype=bool)
    for q in range(4):
        bj, bi = j - q // 2, i - q % 2
        inside = (bj >= 0) & (bj < nby) & (bi >= 0) & (bi < nbx)
        ok[inside, q] = ctx.block_grid[bj[inside], bi[inside]] >= 0
    keys = rng.random(ok.shape) + (~ok) * 2
    return np.argmin(keys, axis=1)


def service_points(ctx: City) -> pd.DataFrame:
    rng = stage_rng(ctx.seed, "service_points")
    sc = ctx.scale
    n_c, n_s = len(ctx.c_name), len(ctx.s_name)
    rest = max(sc.service_points - n_c - n_s, 0)
    kw = {"police_office": 0.3, "health_station": 0.25, "convenience_station": 0.25,
          "elderly_care": 0.2}  # fmt: skip
    extra = _apportion(rest, np.array(list(kw.values())) * rest) if rest else np.zeros(4, int)
    rows: list[tuple[str, int]] = [("party_service_center", c) for c in range(n_c)]
    # A governance centre sits in one community of its street.
    for s in range(n_s):
        comms = np.flatnonzero(ctx.comm_street == s)
        rows.append(("governance_center", int(rng.choice(comms))))
    for (kind, _), k in zip(kw.items(), extra, strict=True):
        for c in rng.choice(n_c, int(k), replace=int(k) > n_c):
            rows.append((kind, int(c)))
    kind = np.array([r[0] for r in rows], dtype=object)
    comm = np.array([r[1] for r in rows])
    # Random block of the community.
    bj_all, bi_all = np.nonzero(ctx.block_grid >= 0)
    b_comm = ctx.g_comm[ctx.block_grid[bj_all, bi_all]]
    order = np.argsort(b_comm, kind="stable")
    first = np.searchsorted(b_comm[order], np.arange(n_c))
    count = np.bincount(b_comm, minlength=n_c)
    pick = order[first[comm] + (rng.random(len(comm)) * count[comm]).astype(int)]
    ll, addr = frontage(ctx, rng, bj_all[pick], bi_all[pick])
    cname = np.asarray(ctx.c_name, dtype=object)[comm]
    cstem = np.array([c.removesuffix("社区") for c in cname], dtype=object)
    sname = np.asarray(ctx.s_name, dtype=object)[ctx.comm_street[comm]]
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
    phone = np.array([f"025-{p}" for p in rng.integers(52_000_000, 58_999_999, n)], dtype=object)
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
