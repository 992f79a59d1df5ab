"""Choosing grids: the district → street → community → grid hierarchy (only what the user
may see), with the residential compounds (小区) of a community between community and grid,
attribute thresholds, and an area drawn on the map (box or lasso).

A compound is not a level grids nest in (one grid holds several compounds, a compound may
reach into two grids): choosing one keeps the grids holding its buildings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import Engine, text

from gridmap.access import User
from gridmap.web.services.lead.figures import GridFigures, grid_figures
from gridmap.web.services.lead.scope import narrow, user_connection, visible_grid_ids

LEVELS = ("district", "street", "community", "grid")
#: Most grids attribute thresholds are computed over in one request (the figures of every
#: grid of a 10,000-grid city take seconds; a district or street is well below this).
MAX_ATTRIBUTE_GRIDS = 2000


@dataclass(frozen=True)
class GridRow:
    """A grid with the names and ids of the areas above it."""

    grid_id: int
    grid_code: str
    grid_name: str
    community_id: int
    community_name: str
    street_id: int
    street_name: str
    district_id: int
    district_name: str

    def id_of(self, level: str) -> int:
        return getattr(self, f"{level}_id")

    def name_of(self, level: str) -> str:
        return getattr(self, f"{level}_name")


def hierarchy(
    engine: Engine, user: User | None, grid_ids: Sequence[int] | None = None
) -> list[GridRow]:
    """Every grid ``user`` may see (of ``grid_ids``, when given), with its community,
    street and district."""
    allowed = narrow(visible_grid_ids(user), None if grid_ids is None else list(grid_ids))
    if allowed == []:
        return []
    with user_connection(engine, user) as conn:
        rows = conn.execute(text("SELECT * FROM gridmap_grid_hierarchy(:ids)"), {"ids": allowed})
        return [GridRow(*r) for r in rows]  # the function's columns = the fields


@dataclass(frozen=True)
class GridFilter:
    """What the user asked for: a place in the hierarchy, attribute thresholds (None: no
    threshold) and a drawn area (a lon/lat ring; None: anywhere)."""

    district: int | None = None
    street: int | None = None
    community: int | None = None
    grid: int | None = None
    compound: int | None = None
    min_open_cases: int | None = None
    min_population: int | None = None
    min_vulnerable: int | None = None
    max_patrol_pct: float | None = None
    area: tuple[tuple[float, float], ...] | None = field(default=None)

    @property
    def has_attributes(self) -> bool:
        return any(
            v is not None
            for v in (
                self.min_open_cases,
                self.min_population,
                self.min_vulnerable,
                self.max_patrol_pct,
            )
        )

    def area_wkt(self) -> str | None:
        """The drawn area as WKT (None: no area)."""
        if not self.area:
            return None
        return shapely.Polygon(self.area).wkt

    def to_store(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_store(cls, data: Mapping[str, Any] | None) -> GridFilter:
        if not data:
            return cls()
        values = dict(data)
        if values.get("area"):
            values["area"] = tuple(tuple(p) for p in values["area"])
        return cls(**{k: values.get(k) for k in cls.__dataclass_fields__})


def options(rows: Sequence[GridRow], flt: GridFilter) -> dict[str, list[dict[str, Any]]]:
    """Dropdown options per level: each level offers only what lies under the levels
    chosen above it (and only grids the user may see, since ``rows`` are theirs)."""
    out: dict[str, list[dict[str, Any]]] = {}
    under = list(rows)  # the rows under every level chosen so far, narrowed level by level
    for level in LEVELS:
        key, name = f"{level}_id", f"{level}_name"
        seen: dict[int, str] = {}
        for row in under:
            seen.setdefault(getattr(row, key), getattr(row, name))
        out[level] = [{"label": label, "value": value} for value, label in seen.items()]
        if (chosen := getattr(flt, level)) is not None:
            under = [row for row in under if getattr(row, key) == chosen]
    return out


def valid_choice(rows: Sequence[GridRow], flt: GridFilter) -> GridFilter:
    """``flt`` with every level cleared that does not lie under the levels above it."""
    values = {level: getattr(flt, level) for level in LEVELS}
    under = list(rows)
    for level in LEVELS:
        if values[level] is None:
            continue
        key = f"{level}_id"
        kept = [row for row in under if getattr(row, key) == values[level]]
        if kept:
            under = kept
        else:
            values[level] = None
    return GridFilter(**{**asdict(flt), **values, "area": flt.area})


COMPOUNDS_SQL = text(
    "SELECT c.id, c.name FROM compounds c WHERE c.community_id = :community "
    "AND EXISTS (SELECT 1 FROM buildings b WHERE b.compound_id = c.id) ORDER BY c.name, c.id"
)
COMPOUND_GRIDS_SQL = text(
    "SELECT DISTINCT grid_id FROM buildings WHERE compound_id = :compound AND grid_id IS NOT NULL"
)


def compound_options(
    engine: Engine, user: User | None, community_id: int | None
) -> list[dict[str, Any]]:
    """The compounds of a community with buildings the user may see (none without a
    community: a city has thousands)."""
    if community_id is None or user is None:
        return []
    with user_connection(engine, user) as conn:
        rows = conn.execute(COMPOUNDS_SQL, {"community": community_id}).all()
    return [{"label": name, "value": int(cid)} for cid, name in rows]


def compound_grids(engine: Engine, user: User | None, compound_id: int) -> set[int]:
    """The grids holding buildings of a compound (those the user may see)."""
    with user_connection(engine, user) as conn:
        return set(conn.execute(COMPOUND_GRIDS_SQL, {"compound": compound_id}).scalars())


def area_from_selection(selected: Mapping[str, Any] | None) -> tuple[tuple[float, float], ...]:
    """The lon/lat ring of a plotly map selection (``selectedData`` of a box or lasso);
    empty when there is no usable selection."""
    if not selected:
        return ()
    lasso = (selected.get("lassoPoints") or {}).get("map")
    if lasso and len(lasso) >= 3:
        ring = [(float(x), float(y)) for x, y in lasso]
        return (*ring, ring[0])
    box = (selected.get("range") or {}).get("map")
    if box and len(box) == 2:
        (x0, y0), (x1, y1) = box
        minx, maxx = sorted((float(x0), float(x1)))
        miny, maxy = sorted((float(y0), float(y1)))
        if minx == maxx or miny == maxy:
            return ()
        return ((minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy), (minx, miny))
    return ()


@dataclass(frozen=True)
class Selection:
    """The grids a filter picked (ids in order) and, when attributes were asked for, their
    figures."""

    grid_ids: list[int]
    figures: dict[int, GridFigures] = field(default_factory=dict)
    #: Attribute thresholds were asked for over more than MAX_ATTRIBUTE_GRIDS grids: not
    #: applied (choose a district or street first).
    too_broad: bool = False


def select_grids(
    engine: Engine,
    user: User | None,
    rows: Sequence[GridRow],
    flt: GridFilter,
    *,
    at: datetime,
) -> Selection:
    """The grids of ``rows`` (the user's) matching the hierarchy choice, the drawn area
    and the attribute thresholds."""
    chosen = [(f"{lv}_id", v) for lv in LEVELS if (v := getattr(flt, lv)) is not None]
    picked = [r.grid_id for r in rows if all(getattr(r, k) == v for k, v in chosen)]
    if picked and flt.area:
        ids = narrow(visible_grid_ids(user), picked)
        with user_connection(engine, user) as conn:
            inside = conn.execute(
                text("SELECT grid_id FROM gridmap_grids_in_area(:ids, ST_GeomFromText(:a, 4326))"),
                {"ids": ids, "a": flt.area_wkt()},
            ).scalars()
            keep = set(inside)
        picked = [g for g in picked if g in keep]
    if not picked or not flt.has_attributes:
        return Selection(picked)
    if len(picked) > MAX_ATTRIBUTE_GRIDS:
        return Selection(picked, too_broad=True)
    figures = grid_figures(engine, user, picked, at=at)
    kept = [g for g in picked if g in figures and matches(figures[g], flt)]
    return Selection(kept, {g: figures[g] for g in kept})


def matches(fig: GridFigures, flt: GridFilter) -> bool:
    """Whether a grid's figures pass the filter's attribute thresholds."""
    if flt.min_open_cases is not None and fig.cases_open < flt.min_open_cases:
        return False
    if flt.min_population is not None and fig.population < flt.min_population:
        return False
    if flt.min_vulnerable is not None and fig.vulnerable < flt.min_vulnerable:
        return False
    if flt.max_patrol_pct is not None:
        share = fig.patrol_share
        if share is None or 100.0 * share >= flt.max_patrol_pct:
            return False
    return True
