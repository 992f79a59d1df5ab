"""Below the building: the household register of a few grids (issue 15); at city scale
only the compounds of every block of homes (the register is filled by SQL after the load,
:mod:`gridmap.demo.household_fill`).

For the grids of :func:`register_grids` (the demo lead's first grids and others spread
over the city; ``Scale.household_grids`` of them): a residential compound (小区) per block
holding homes (the block's quad shrunk towards its centre), every home of their buildings
as a household (units of two doors per floor, rooms "301"), tags in the shares the
buildings' counts give (独居老人, 残疾, 低保) plus a few 留守儿童 and 重点关注, ten-household
units of about ten consecutive doors with a lead, and 90 days of visits before the anchor
at each household's cadence stretched by its grid's diligence, with gaps: some households
neglected, some visits finding nobody at home, a few fixes far from the building.
Households are registered 120 days before the anchor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gridmap.demo.city.base import _utc, stage_rng
from gridmap.demo.city.context import City
from gridmap.demo.names import masked_phones, person_names

#: Cadences (days) as migration 0024 seeds them; every household: quarterly.
CADENCE = {"elderly_alone": 7, "watch": 14, "disabled": 30, "low_income": 30,
           "left_behind_child": 30}  # fmt: skip
EVERY_HOUSEHOLD_DAYS = 90
VULNERABLE = ("elderly_alone", "disabled", "low_income", "left_behind_child", "watch")
#: Shares of households with the tags the buildings do not count.
EXTRA_TAGS = {"left_behind_child": 0.012, "watch": 0.006}
VISIT_DAYS = 90
REGISTERED_DAYS = 120
#: Share of households nobody visits at all in the window, and of fixes far away.
NEGLECTED = 0.08
FAR_FIX = 0.02
COMPOUND_NAMES = ("幸福", "和平", "阳光", "翠苑", "锦绣", "金桥", "春晖", "枫林", "丽景", "康乐",
                  "新华", "东湖", "文昌", "桂花", "梧桐", "清风")  # fmt: skip
COMPOUND_SUFFIX = ("小区", "花园", "新村", "家园", "苑")
MANAGERS = ("安居物业", "万家物业", "绿城服务", "邻里物业", "新城物业", "社区自管")
SHRINK = 0.85  # compound outline: the block's quad scaled towards its centre


def register_grids(ctx: City) -> np.ndarray:
    """Grid positions holding households: the first three (the demo lead's) and every
    tenth after them, ``Scale.household_grids`` in all."""
    n_g = len(ctx.g_code)
    order = np.r_[np.arange(min(3, n_g)), np.arange(3, n_g, 10)]
    return order[: ctx.scale.household_grids]


class HouseholdBuilder:
    """Builds the four frames from the buildings frame (ids, kinds, counts)."""

    def __init__(self, ctx: City, buildings: pd.DataFrame) -> None:
        self.ctx = ctx
        self.rng = stage_rng(ctx.seed, "households")
        grids = register_grids(ctx)
        homes = buildings["households"].to_numpy() > 0
        self.b = np.nonzero(homes & np.isin(ctx.b_grid, grids))[0]  # building positions
        # compounds: of the register's blocks, or of every block of homes when the whole
        # city's register is filled by SQL after the load (Scale.household_fill)
        self.compound_b = np.nonzero(homes)[0] if ctx.scale.household_fill else self.b
        self.buildings = buildings
        self._households: pd.DataFrame | None = None

    def compounds(self) -> pd.DataFrame:
        ctx, rng = self.ctx, self.rng
        bj, bi = ctx.b_block[0][self.compound_b], ctx.b_block[1][self.compound_b]
        blocks = np.unique(np.c_[bj, bi], axis=0)
        polys = []
        for j, i in blocks:
            quad = np.array([ctx.ll[j, i], ctx.ll[j, i + 1], ctx.ll[j + 1, i + 1],
                             ctx.ll[j + 1, i]])  # fmt: skip
            centre = quad.mean(axis=0)
            polys.append(shapely.MultiPolygon([shapely.Polygon(centre + SHRINK * (quad - centre))]))
        n = len(blocks)
        names = [
            COMPOUND_NAMES[k % len(COMPOUND_NAMES)] + COMPOUND_SUFFIX[(k // 7) % 5]
            for k in rng.integers(0, 1_000, n)
        ]
        managed = rng.random(n) >= 0.15
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "code": [f"XQ{k:05d}" for k in range(1, n + 1)],
                "name": names,
                "community_id": ctx.g_comm[ctx.block_grid[blocks[:, 0], blocks[:, 1]]] + 1,
                "property_manager": np.where(
                    managed, np.asarray(MANAGERS, object)[rng.integers(0, 6, n)], None
                ),
                "owners_committee": rng.random(n) < 0.55,
                "party_branch": rng.random(n) < 0.4,
                "geom": polys,
            }
        )

    def households(self) -> pd.DataFrame:
        if self._households is not None:
            return self._households
        if not hasattr(self, "_unit_of"):
            self.units()  # (the loader asks for the units first)
        ctx, rng, f = self.ctx, self.rng, self.buildings
        count = f["households"].to_numpy()[self.b]
        floors = np.maximum(f["floors"].to_numpy()[self.b].astype(int), 1)
        per_floor = np.maximum(count // floors, 1)
        rep = np.repeat(np.arange(len(self.b)), count)  # household -> position in self.b
        k = np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count)
        floor = k // per_floor[rep] + 1
        door = k % per_floor[rep] + 1
        unit = (door - 1) // 2 + 1
        room = [f"{fl}{d:02d}" for fl, d in zip(floor, door, strict=True)]
        bcode = f["code"].to_numpy()[self.b][rep]
        n = len(rep)
        starts = np.cumsum(count) - count
        tags: list[list[str]] = [[] for _ in range(n)]
        for col in ("elderly_alone", "disabled", "low_income"):
            wanted = np.minimum(f[col].to_numpy()[self.b], count)
            for pos in np.nonzero(wanted)[0]:
                for h in starts[pos] + rng.choice(count[pos], wanted[pos], replace=False):
                    tags[h].append(col)
        for tag, share in EXTRA_TAGS.items():
            for h in np.nonzero(rng.random(n) < share)[0]:
                tags[h].append(tag)
        tags = [sorted(t) for t in tags]
        alone = np.array(["elderly_alone" in t for t in tags])
        members = np.where(alone, 1, np.clip(rng.poisson(2.6, n), 1, 8))
        self.h_building = self.b[rep]
        self.h_tags = tags
        self._households = pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "code": [f"{c}-{u}-{r}" for c, u, r in zip(bcode, unit, room, strict=True)],
                "building_id": f["id"].to_numpy()[self.h_building],
                "unit": unit.astype(str),
                "floor": floor.astype(np.int16),
                "room": room,
                "head_name": person_names(rng, n),
                "head_phone": masked_phones(rng, n),
                "members": members.astype(np.int16),
                "tags": ["{" + ",".join(t) + "}" for t in tags],
                "ten_household_unit_id": self._unit_of,
                "registered_on": (ctx.anchor - pd.Timedelta(days=REGISTERED_DAYS)).date(),
            }
        )
        return self._households

    def units(self) -> pd.DataFrame:
        """Ten-household units: about ten consecutive doors of one building."""
        f = self.buildings
        count = f["households"].to_numpy()[self.b]
        groups = np.maximum(np.round(count / 10).astype(int), 1)
        unit_of = []
        rows = []
        for pos, (n, g) in enumerate(zip(count, groups, strict=True)):
            sizes = np.diff(np.linspace(0, n, g + 1).round().astype(int))
            for j, size in enumerate(sizes):
                rows.append((self.b[pos], j + 1))
                unit_of.extend([len(rows)] * size)
        self._unit_of = np.asarray(unit_of)
        n = len(rows)
        building = np.array([r[0] for r in rows], dtype=np.int64)
        return pd.DataFrame(
            {
                "id": np.arange(1, n + 1),
                "code": [f"LH{k:06d}" for k in range(1, n + 1)],
                "name": [f"{self.ctx.b_addr[b]}第{j}联户" for b, j in rows],
                "grid_id": self.ctx.b_grid[building] + 1,
                "lead_name": person_names(self.rng, n),
                "lead_phone": masked_phones(self.rng, n),
            }
        )

    def visits(self) -> pd.DataFrame:
        """90 days of visits before the anchor, with gaps."""
        ctx, rng = self.ctx, self.rng
        frame = self.households()
        n_g = len(ctx.g_code)
        diligence = rng.uniform(0.8, 1.25, n_g)  # >1: visits come later than the cadence
        grid = ctx.b_grid[self.h_building]
        cadence = np.array(
            [min([CADENCE[t] for t in tags] + [EVERY_HOUSEHOLD_DAYS]) for tags in self.h_tags]
        )
        end_s = ctx.anchor_s
        start_s = end_s - VISIT_DAYS * 86_400
        day_s = 86_400
        hh, at = [], []
        neglected = rng.random(len(frame)) < NEGLECTED
        for h in np.nonzero(~neglected)[0]:
            step = cadence[h] * diligence[grid[h]]
            t = start_s + rng.uniform(0, step) * day_s
            while t < end_s:
                hh.append(h)
                at.append(t)
                t += step * rng.lognormal(0, 0.3) * day_s
        hh, at = np.asarray(hh, int), np.asarray(at)
        # visiting hours, 9:00-18:00 local (the day's local midnight + 9..18 h)
        local_midnight = end_s - ((end_s - at) // day_s + 1) * day_s
        at = local_midnight + rng.uniform(9, 18, len(at)) * 3600
        n = len(hh)
        vulnerable = np.array([bool(self.h_tags[h]) for h in hh], bool)
        kind = np.where(vulnerable & (rng.random(n) < 0.7), "care", "routine").astype(object)
        other = rng.random(n)
        kind[other < 0.15] = np.array(["mediation", "door_service", "safety_check"], object)[
            rng.integers(0, 3, int((other < 0.15).sum()))
        ]
        outcome = np.asarray(["met", "not_home", "follow_up"], object)[
            rng.choice(3, n, p=[0.85, 0.1, 0.05])
        ]
        b_ll = ctx.b_ll[self.h_building[hh]]
        has_fix = rng.random(n) < 0.9
        far = has_fix & (rng.random(n) < FAR_FIX)
        metres = np.where(far, rng.uniform(300, 900, n), np.abs(rng.normal(0, 15, n)))
        angle = rng.uniform(0, 2 * np.pi, n)
        offset = np.c_[np.cos(angle), np.sin(angle)] * metres[:, None] / ctx.m_per_deg
        fix = b_ll + offset
        geom = np.full(n, None, dtype=object)
        geom[has_fix] = shapely.points(fix[has_fix])
        lead = ctx.lead_user[grid[hh]]
        order = np.argsort(at, kind="stable")
        out = pd.DataFrame(
            {
                "household_id": frame["id"].to_numpy()[hh],
                "worker_id": lead,
                "worker_name": ctx.lead_name[grid[hh]],
                "visited_at": _utc(at.astype(np.int64)),
                "kind": kind,
                "outcome": outcome,
                "geom": geom,
                "accuracy_m": np.where(has_fix, rng.uniform(4, 30, n).round(1), np.nan),
                "distance_m": np.where(has_fix, metres.round(1), np.nan),
                "far_fix": far,
            }
        ).iloc[order]
        out.insert(0, "id", np.arange(1, n + 1))
        return out.reset_index(drop=True)
