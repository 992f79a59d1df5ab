"""The grid detail panel's figures: people, households, vulnerable groups, building units,
cameras online, open and overdue cases, patrol coverage and service coverage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, text

from gridmap.access import User
from gridmap.patrols.coverage import parse_window
from gridmap.settings import get_settings
from gridmap.web.services.lead.scope import narrow, user_connection, visible_grid_ids

FIGURES_SQL = text("SELECT * FROM gridmap_grid_figures(:ids, :at, :patrol_from, :kind, :minutes)")


@dataclass(frozen=True)
class GridFigures:
    """One grid's figures (``street_m`` 0: patrol coverage not computed for it;
    ``service_population`` None: no stored service-circle coverage)."""

    grid_id: int
    population: int
    households: int
    elderly_alone: int
    disabled: int
    low_income: int
    buildings: int
    cameras_online: int
    cameras_total: int
    cases_open: int
    cases_overdue: int
    street_m: float
    patrolled_m: float
    service_population: int | None

    @property
    def vulnerable(self) -> int:
        """People in a vulnerable group (elderly living alone, disabled, low income)."""
        return self.elderly_alone + self.disabled + self.low_income

    @property
    def patrol_share(self) -> float | None:
        """Share of the walkable street length patrolled in the window (None: unknown)."""
        return self.patrolled_m / self.street_m if self.street_m > 0 else None

    @property
    def service_share(self) -> float | None:
        """Share of the people within the service circle (None: unknown or nobody lives
        here)."""
        if self.service_population is None or self.population <= 0:
            return None
        return self.service_population / self.population


def combined(figures: Iterable[GridFigures]) -> GridFigures:
    """The figures of several grids together (``grid_id`` 0): counts and lengths summed;
    the people within the service circle summed over the grids that have them (None: no
    grid has)."""
    parts = list(figures)
    served = [f.service_population for f in parts if f.service_population is not None]
    counted = [name for name in GridFigures.__dataclass_fields__ if name not in
               ("grid_id", "service_population")]  # fmt: skip
    totals = {name: sum(getattr(f, name) for f in parts) for name in counted}
    return GridFigures(grid_id=0, **totals, service_population=sum(served) if served else None)


def grid_figures(
    engine: Engine,
    user: User | None,
    grid_ids: Sequence[int] | None,
    *,
    at: datetime,
) -> dict[int, GridFigures]:
    """Figures of the grids ``grid_ids`` (None: all) that ``user`` may see, at ``at`` (open
    and overdue cases; the patrol window, from the settings, ends then)."""
    settings = get_settings()
    ids = narrow(visible_grid_ids(user), None if grid_ids is None else list(grid_ids))
    if ids == []:
        return {}
    params = {
        "ids": ids,
        "at": at,
        "patrol_from": at - parse_window(settings.lead_patrol_window),
        "kind": settings.lead_service_kind,
        "minutes": settings.lead_service_minutes,
    }
    with user_connection(engine, user) as conn:
        rows = conn.execute(FIGURES_SQL, params)
        out = {}
        for r in rows:
            values = dict(r._mapping)
            values["street_m"] = float(values["street_m"] or 0.0)
            values["patrolled_m"] = float(values["patrolled_m"] or 0.0)
            out[int(values["grid_id"])] = GridFigures(**values)
        return out
