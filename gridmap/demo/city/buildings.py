"""Buildings in the blocks, and points inside blocks or on their street frontage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.demo.city.base import PRIMARY_EVERY, _utc, stage_rng
from gridmap.demo.city.context import City


def in_block(ctx: City, bj: np.ndarray, bi: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear point (lon, lat) at (u, v) ∈ (0, 1)² inside blocks (bj, bi)."""
    p00, p10 = ctx.ll[bj, bi], ctx.ll[bj, bi + 1]
    p01, p11 = ctx.ll[bj + 1, bi], ctx.ll[bj + 1, bi + 1]
    u, v = u[:, None], v[:, None]
    return (1 - u) * (1 - v) * p00 + u * (1 - v) * p10 + u * v * p11 + (1 - u) * v * p01


def frontage(
    ctx: City, rng: np.random.Generator, bj: np.ndarray, bi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points set back from a block side and their street addresses ("长江路12号")."""
    n = len(bj)
    side = rng.integers(0, 4, n)  # 0 south, 1 east, 2 north, 3 west
    t = rng.uniform(0.12, 0.88, n)
    d = rng.uniform(0.1, 0.22, n)
    u = np.select([side == 0, side == 1, side == 2], [t, 1 - d, t], d)
    v = np.select([side == 0, side == 1, side == 2], [d, t, 1 - d], t)
    ll = in_block(ctx, bj, bi, u, v)
    horiz = (side == 0) | (side == 2)
    line = np.select([side == 0, side == 1, side == 2], [bj, bi + 1, bj + 1], bi)
    along = np.where(horiz, bi, bj)
    seg = along // PRIMARY_EVERY
    road = np.where(
        horiz,
        ctx.h_names[np.where(horiz, line, 0), np.where(horiz, seg, 0)],
        ctx.v_names[np.where(horiz, 0, line), np.where(horiz, 0, seg)],
    )
    parity = np.where((side == 0) | (side == 3), 2, 1)
    number = 2 * np.floor((along % PRIMARY_EVERY + t) * 4).astype(int) + parity
    addr = np.array([f"{r}{k}号" for r, k in zip(road, number, strict=True)], dtype=object)
    return ll, addr


def buildings(ctx: City) -> pd.DataFrame:
    rng = stage_rng(ctx.seed, "buildings")
    sc = ctx.scale
    bj, bi = np.nonzero(ctx.block_grid >= 0)
    centre = ctx.xy[ctx.ny // 2, ctx.nx // 2]
    mid = ctx.xy[bj, bi]
    r = np.hypot(*(mid - centre).T)
    dens = (0.35 + np.exp(-((r / (0.55 * r.max())) ** 2))) * rng.lognormal(0, 0.35, len(bj))
    park = rng.random(len(bj)) < 0.03
    dens[park] = 0
    ctx.park_blocks = (bj[park], bi[park])
    lam = sc.buildings * dens / dens.sum()
    cnt = rng.poisson(lam)
    bj, bi = np.repeat(bj, cnt), np.repeat(bi, cnt)
    n = len(bj)
    ll, addr = frontage(ctx, rng, bj, bi)
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
    updated = ctx.anchor_s - rng.integers(86_400, 365 * 86_400, n)
    ctx.b_ll, ctx.b_addr = ll, addr
    ctx.b_grid = ctx.block_grid[bj, bi]
    ctx.b_block = (bj, bi)
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
