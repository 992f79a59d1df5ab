"""Patrol shifts of the grid workers and their GPS pings on the anchor day."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.demo.city.base import PING_SECONDS, _utc, stage_rng
from gridmap.demo.city.context import City


class PatrolBuilder:
    """Today's patrol shifts and their GPS tracks along the roads of each community."""

    def __init__(self, city: City) -> None:
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
