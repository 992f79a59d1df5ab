"""What is due and what is overdue: the cadence rule of ``sql/functions/households.sql``
(a household's cadence is the shortest of its tags' and the every-household one; only
visits that saw the household count; on the due day itself it is still within cadence).

Both functions read through the connection they are given: a grid-scoped connection
(:func:`gridmap.access.scope.scoped_connection`) answers for the user's grids only."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, text

SHARES = text(
    "SELECT id, households, visited, overdue, vulnerable_overdue, share "
    "FROM gridmap_visit_shares(:as_of, :tz, :by_unit, :grid_ids)"
)
OVERDUE = text(
    "SELECT * FROM gridmap_overdue_households(:as_of, :tz, :grid_ids, :unit_ids, :limit, "
    ":vulnerable)"
)


def visit_shares(
    conn: Engine | Connection,
    as_of: date,
    tz: str,
    *,
    by_unit: bool = False,
    grid_ids: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Per grid (or ten-household unit): households, visited within cadence, overdue,
    vulnerable overdue and the share visited, as of the end of local day ``as_of``."""
    rows = conn.execute(
        SHARES, {"as_of": as_of, "tz": tz, "by_unit": by_unit, "grid_ids": grid_ids}
    ).mappings()
    return [dict(r) for r in rows]


def overdue_households(
    conn: Engine | Connection,
    as_of: date,
    tz: str,
    *,
    grid_ids: list[int] | None = None,
    unit_ids: list[int] | None = None,
    limit: int = 500,
    vulnerable_only: bool = False,
) -> list[dict[str, Any]]:
    """The overdue households (with ``vulnerable_only``: the vulnerable people not seen),
    most days overdue first (personal data: mask before showing, see
    :func:`gridmap.access.masking.mask_household`)."""
    rows = conn.execute(
        OVERDUE,
        {
            "as_of": as_of,
            "tz": tz,
            "grid_ids": grid_ids,
            "unit_ids": unit_ids,
            "limit": limit,
            "vulnerable": vulnerable_only,
        },
    ).mappings()
    return [dict(r) for r in rows]
