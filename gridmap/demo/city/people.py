"""Accounts: the staff, one lead per grid and the grid workers, and who serves which grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridmap.demo import names as N
from gridmap.demo.city.base import _apportion, _utc, stage_rng
from gridmap.demo.city.context import City


def build_people(ctx: City) -> None:
    rng = stage_rng(ctx.seed, "users")
    n_g = len(ctx.g_code)
    n_c = len(ctx.c_name)
    sizes = np.bincount(ctx.g_comm, minlength=n_c)
    per_comm = _apportion(ctx.scale.workers, sizes * 10)
    ctx.w_comm = np.repeat(np.arange(n_c), per_comm)
    n_w = len(ctx.w_comm)
    ctx.lead_user = np.arange(n_g) + 4  # ids 1..3 are staff
    ctx.worker_user = np.arange(n_w) + 4 + n_g
    staff = [("admin", "系统管理员", "admin"), ("command", "指挥中心值班员", "command"),
             ("planner", "规划分析员", "planner")]  # fmt: skip
    lead_names = N.person_names(rng, n_g)
    worker_names = N.person_names(rng, n_w)
    phones = N.masked_phones(rng, 3 + n_g + n_w)
    ctx.lead_name, ctx.lead_phone = lead_names, phones[3 : 3 + n_g]
    ctx.lead_username = np.array(["lead" + c for c in ctx.g_code], dtype=object)
    ctx.worker_username = np.array([f"worker{k + 1:05d}" for k in range(n_w)], dtype=object)
    ctx.worker_name = worker_names
    n = 3 + n_g + n_w
    created = ctx.anchor_s - 86_400 * rng.integers(30, 900, n) - rng.integers(0, 86_400, n)
    ctx.users_frame = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "username": np.r_[
                np.array([s[0] for s in staff], dtype=object),
                ctx.lead_username,
                ctx.worker_username,
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


def user_grids(ctx: City) -> pd.DataFrame:
    n_g = len(ctx.g_code)
    grid_ids = np.arange(1, n_g + 1)
    # Workers look after every grid of their community.
    order = np.argsort(ctx.g_comm, kind="stable")
    first = np.searchsorted(ctx.g_comm[order], np.arange(len(ctx.c_name)))
    count = np.bincount(ctx.g_comm, minlength=len(ctx.c_name))
    w_n = count[ctx.w_comm]
    w_rep = np.repeat(np.arange(len(ctx.w_comm)), w_n)
    offs = np.arange(len(w_rep)) - np.repeat(np.cumsum(w_n) - w_n, w_n)
    w_grid = order[first[ctx.w_comm][w_rep] + offs] + 1
    frame = pd.DataFrame(
        {
            "user_id": np.r_[ctx.lead_user, ctx.worker_user[w_rep]],
            "grid_id": np.r_[grid_ids, w_grid],
        }
    )
    return frame.sort_values(["user_id", "grid_id"], ignore_index=True)
