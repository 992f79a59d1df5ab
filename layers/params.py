"""Typed parameters of the map layers, handed to them through :class:`layers.base.LayerContext`.

A layer context carries parameter objects looked up by their type (``ctx.param(CaseFilter)``;
the type's default instance when the caller gave none), so a layer reads only the kinds of
parameters it declares in ``Layer.reads`` and never another layer's keys:

- :class:`~gridmap.cases.filters.CaseFilter`: which cases (the case layer, dashboard tiles).
- :class:`CircleFilter`: which service circles (service circles, uncovered buildings).
- :class:`PatrolWindow`: the patrol window (patrol coverage, unwatched streets, risk gap).
- :class:`RiskGapParams`: how many grids the risk gap ranks.

:func:`from_filters` maps the flat filter names exports accept (``statuses``,
``circle_kind``, ``patrol_window_h`` …, with the export's time window) into these objects:
the one place that knows those names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    "CaseFilter",
    "CircleFilter",
    "PatrolWindow",
    "RiskGapParams",
    "from_filters",
]
