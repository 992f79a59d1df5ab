"""Cases (事件) over the past year, clustered in hot spots, with coherent histories."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely

from gridmap.demo import names as N
from gridmap.demo.city.base import ESCALATION_HOURS, TZ, _utc, stage_rng
from gridmap.demo.city.context import City
from gridmap.demo.taxonomy import CASE_TAXONOMY, DUE_HOURS, SOURCE_WEIGHTS

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


class CaseBuilder:
    """Cases over the past year, clustered in hot spots, with coherent histories."""

    def __init__(self, city: City) -> None:
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
