"""Typed parameters of the map layers, handed to them through :class:`layers.base.LayerContext`.

A layer context carries parameter objects looked up by their type (``ctx.param(CaseFilter)``;
the type's default instance when the caller gave none), so a layer reads only the kinds of
parameters it declares in ``Layer.reads`` and never another layer's keys:

- :class:`~gridmap.cases.filters.CaseFilter`: which cases (the case layer, dashboard tiles).
- :class:`CircleFilter`: which service circles (service circles, uncovered buildings).
- :class:`PatrolWindow`: the patrol window (patrol coverage, unwatched streets, risk gap).
- :class:`RiskGapParams`: how many grids the risk gap ranks.
- :class:`AreaFilter`: which part of the city an export holds (districts, streets,
  communities, compounds, grids), resolved once into grid ids and shapes
  (:func:`gridmap.io.export.resolve_area`) and applied to every layer's frame alike.

:func:`from_filters` maps the flat filter names exports accept (``statuses``,
``circle_kind``, ``patrol_window_h`` …, with the export's time window) into these objects:
the one place that knows those names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gridmap.cases.filters import CaseFilter

#: Hours of the patrol window when no start is given.
DEFAULT_PATROL_HOURS = 8.0


@dataclass(frozen=True)
class CircleFilter:
    """Which walking circles: one service ``kind`` and one circle of ``minutes`` (None: each
    layer's own choice), and whether to also draw the plain Euclidean circles."""

    kind: str | None = None
    minutes: float | None = None
    euclid: bool = False


@dataclass(frozen=True)
class PatrolWindow:
    """The patrol window ``[since, until]``; without ``since`` the ``hours`` before ``until``
    (None: now)."""

    since: datetime | None = None
    until: datetime | None = None
    hours: float = DEFAULT_PATROL_HOURS

    def bounds(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """``(t0, t1)`` of the window (``now`` defaults to the current time)."""
        end = self.until or now or datetime.now(UTC)
        if self.since is not None:
            return self.since, end
        return end - timedelta(hours=float(self.hours)), end


@dataclass(frozen=True)
class RiskGapParams:
    """How many grids the risk gap ranks (None: the layer's ``top``)."""

    top: int | None = None


@dataclass(frozen=True)
class AreaPart:
    """One condition on where a feature lies: in one of ``grid_ids`` (by its ``grid_id``,
    else its geometry within ``grid_shape``) or in one of ``compound_ids`` (by its
    ``compound_id``, else its geometry within ``compound_shape``). None: not by that kind."""

    grid_ids: frozenset[int] | None = None
    compound_ids: frozenset[int] | None = None
    grid_shape: Any = field(default=None, compare=False)
    compound_shape: Any = field(default=None, compare=False)

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """Lon/lat box around the part (None: empty)."""
        shapes = [s for s in (self.grid_shape, self.compound_shape) if s is not None]
        boxes = [s.bounds for s in shapes if not s.is_empty]
        if not boxes:
            return None
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )


@dataclass(frozen=True)
class AreaFilter:
    """Where exported features must lie: every one of ``parts`` (the area asked for and,
    for a scoped reader, its own grids). No parts: everywhere."""

    parts: tuple[AreaPart, ...] = ()


def from_filters(
    filters: Mapping[str, Any] | None,
    time_from: datetime | None = None,
    time_to: datetime | None = None,
) -> tuple[object, ...]:
    """The typed parameters the flat export filters mean (names as in
    :class:`gridmap.api.export_schemas.ExportFilters`); the time window applies to the cases
    and to the patrol window alike, as it always did in exports."""
    f = dict(filters or {})
    minutes = f.get("circle_minutes")
    top = f.get("risk_top")
    return (
        CaseFilter(
            since=time_from,
            until=time_to,
            categories=f.get("categories"),
            statuses=f.get("statuses"),
            sources=f.get("sources"),
        ),
        CircleFilter(
            kind=f.get("circle_kind"),
            minutes=None if minutes is None else float(minutes),
            euclid=bool(f.get("circle_euclid")),
        ),
        PatrolWindow(
            since=time_from,
            until=time_to,
            hours=float(f.get("patrol_window_h", DEFAULT_PATROL_HOURS)),
        ),
        RiskGapParams(top=None if top is None else int(top)),
    )


__all__ = [
    "DEFAULT_PATROL_HOURS",
    "AreaFilter",
    "AreaPart",
    "CaseFilter",
    "CircleFilter",
    "PatrolWindow",
    "RiskGapParams",
    "from_filters",
]
