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

The stages are modules of this package, each a function of the shared :class:`City`
(:mod:`.context`): :mod:`.layout`, :mod:`.areas`, :mod:`.people`, :mod:`.roads`,
:mod:`.buildings`, :mod:`.households` (compounds, households, ten-household units and
visits of a few grids), :mod:`.facilities`, :mod:`.basemap` (water and parks for the offline
basemap), :mod:`.cases` and :mod:`.patrols`; constants, sizes and helpers are in
:mod:`.base`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pandas as pd

from gridmap.demo.city import (
    areas,
    basemap,
    buildings,
    facilities,
    households,
    layout,
    people,
    roads,
)
from gridmap.demo.city.base import (
    CENTRE_LONLAT,
    ESCALATION_HOURS,
    GENERATOR_VERSION,
    GRID_BLOCKS,
    METRIC_CRS,
    PING_SECONDS,
    PRIMARY_EVERY,
    SCALES,
    TABLES,
    TZ,
    Scale,
    default_anchor,
    stage_rng,
)
from gridmap.demo.city.cases import CaseBuilder
from gridmap.demo.city.context import City
from gridmap.demo.city.patrols import PatrolBuilder

__all__ = [
    "CENTRE_LONLAT",
    "ESCALATION_HOURS",
    "GENERATOR_VERSION",
    "GRID_BLOCKS",
    "METRIC_CRS",
    "PING_SECONDS",
    "PRIMARY_EVERY",
    "SCALES",
    "TABLES",
    "TZ",
    "City",
    "CityGenerator",
    "Scale",
    "default_anchor",
    "generate_city",
    "stage_rng",
]


class CityGenerator:
    """Generates the demo city stage by stage; :meth:`tables` yields frames in load order."""

    def __init__(self, scale: str | Scale, seed: int, anchor: datetime) -> None:
        self.city = City(SCALES[scale] if isinstance(scale, str) else scale, seed, anchor)
        self.scale, self.seed = self.city.scale, self.city.seed
        self.anchor, self.anchor_s = self.city.anchor, self.city.anchor_s

    def tables(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """``(table, frame)`` in load order; each frame is built when it is asked for, and
        the big ones are let go once handed out."""
        city = self.city
        layout.build_layout(city)
        areas.build_hierarchy(city)
        yield "districts", areas.districts(city)
        yield "streets", areas.streets(city)
        yield "communities", areas.communities(city)
        people.build_people(city)
        yield "users", city.users_frame
        yield "grids", areas.grids(city)
        yield "user_grids", people.user_grids(city)
        roads.build_roads(city)
        yield "road_edges", roads.road_edges(city)
        building_frame = buildings.buildings(city)
        register = households.HouseholdBuilder(city, building_frame)
        yield "compounds", register.compounds()
        yield "buildings", building_frame
        yield "ten_household_units", register.units()
        yield "households", register.households()
        yield "visits", register.visits()
        del register, building_frame
        yield "cameras", facilities.cameras(city)
        yield "service_points", facilities.service_points(city)
        yield "basemap_features", basemap.basemap_features(city)
        cases, events = CaseBuilder(city).build()
        yield "cases", cases
        del cases
        yield "case_events", events
        del events
        shifts, pings = PatrolBuilder(city).build()
        yield "patrol_shifts", shifts
        yield "gps_pings", pings


def generate_city(
    scale: str | Scale = "small", seed: int = 7, anchor: datetime | None = None
) -> dict[str, pd.DataFrame]:
    """The whole city at once: ``{table: frame}`` in load order (small scales only, ideally)."""
    gen = CityGenerator(scale, seed, anchor or default_anchor())
    return dict(gen.tables())
