"""The grid lead's case table and map points: one page of cases at a time, the total, and
where a case picked on the map stands in the table's order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from gridmap.access import User
from gridmap.web.services.lead.scope import narrow, user_connection, visible_grid_ids

PAGE_SQL = text(
    "SELECT * FROM gridmap_lead_cases(:ids, ST_GeomFromText(:area, 4326), :open_only, :at, "
    ":limit, :offset)"
)
COUNT_SQL = text(
    "SELECT * FROM gridmap_lead_case_count(:ids, ST_GeomFromText(:area, 4326), :open_only, "
    ":case_id, :cap)"
)
#: The table counts at most this many cases ("100,000+" beyond).
COUNT_CAP = 100_000


@dataclass(frozen=True)
class CaseScope:
    """Which cases the table lists: those of ``grid_ids`` (None: every grid the user sees)
    inside ``area`` (WKT; None: anywhere), only the open ones when ``open_only``."""

    grid_ids: tuple[int, ...] | None
    area: str | None = None
    open_only: bool = False

    def params(self, user: User | None) -> dict[str, Any]:
        return {
            "ids": narrow(
                visible_grid_ids(user), None if self.grid_ids is None else list(self.grid_ids)
            ),
            "area": self.area,
            "open_only": self.open_only,
        }


@dataclass(frozen=True)
class CasePage:
    """One page of the table: its rows, the total (at most :data:`COUNT_CAP`) and the
    page's first row index."""

    rows: list[dict[str, Any]]
    total: int
    offset: int


def case_page(
    engine: Engine,
    user: User | None,
    scope: CaseScope,
    *,
    offset: int,
    limit: int,
    at: datetime,
) -> CasePage:
    """Rows ``offset``…``offset + limit`` of the scope's cases, newest first."""
    params = scope.params(user)
    if params["ids"] == []:
        return CasePage([], 0, 0)
    with user_connection(engine, user) as conn:
        count = {**params, "case_id": None, "cap": COUNT_CAP}
        total = conn.execute(COUNT_SQL, count).one().total
        offset = max(0, min(offset, max(total - 1, 0) // limit * limit))
        rows = conn.execute(
            PAGE_SQL, {**params, "at": at, "limit": limit, "offset": offset}
        ).mappings()
        return CasePage([dict(r) for r in rows], int(total), offset)


def case_position(engine: Engine, user: User | None, scope: CaseScope, case_id: int) -> int | None:
    """Where case ``case_id`` stands in the table's order (None: not listed)."""
    params = scope.params(user)
    if params["ids"] == []:
        return None
    with user_connection(engine, user) as conn:
        row = conn.execute(COUNT_SQL, {**params, "case_id": int(case_id), "cap": COUNT_CAP}).one()
    return None if row.case_position is None else int(row.case_position)


def case_points(
    engine: Engine, user: User | None, scope: CaseScope, *, limit: int, at: datetime
) -> list[dict[str, Any]]:
    """The newest ``limit`` cases of the scope for the map."""
    params = scope.params(user)
    if params["ids"] == []:
        return []
    with user_connection(engine, user) as conn:
        rows = conn.execute(PAGE_SQL, {**params, "at": at, "limit": limit, "offset": 0})
        return [dict(r) for r in rows.mappings()]
