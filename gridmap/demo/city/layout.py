"""The lattice of road nodes, its blocks and which grids the city keeps."""

from __future__ import annotations

import math

import numpy as np
from pyproj import Transformer

from gridmap.demo.city.base import CENTRE_LONLAT, GRID_BLOCKS, METRIC_CRS, stage_rng
from gridmap.demo.city.context import City


def build_layout(ctx: City) -> None:
    rng = stage_rng(ctx.seed, "layout")
    sc = ctx.scale
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
                a * np.sin(k * th + p) for a, k, p in zip(amps, (2, 3, 4, 5), phases, strict=True)
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
    ctx.grid_keep = keep  # [gj, gi]
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
    ctx.xy = np.stack([x + cx, y + cy], axis=-1)  # [j, i, 2] metres
    lon, lat = to_ll.transform(ctx.xy[..., 0].ravel(), ctx.xy[..., 1].ravel())
    ctx.ll = np.stack([lon, lat], axis=-1).reshape(ny, nx, 2)  # [j, i, 2] degrees
    ctx.nx, ctx.ny = nx, ny
    # Metres per degree near the centre (for small offsets: noise, pushes).
    ctx.m_per_deg = np.array([111_320.0 * math.cos(math.radians(CENTRE_LONLAT[1])), 110_574.0])
