"""Reading cases: the filtered listing, one case with its history, and KPIs — all through
the SQL function ``gridmap_cases_select`` so a filter means the same in the API, Open311
and the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from gridmap.cases.errors import CaseNotFound

#: Columns of a case as the services return it (geometry as lon/lat; no idempotency key).
CASE_COLUMNS = """
    c.id, c.code, c.title, c.description, c.category, c.subcategory, c.source, c.status,
    c.priority, c.handling_type, c.reported_at, c.due_at, c.dispatched_at, c.resolved_at,
    c.closed_at, c.updated_at, c.department, c.escalation_level, c.satisfaction,
    c.reporter_name, c.reporter_phone, c.address, c.external_id,
    ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.grid_id, g.code AS grid_code,
    g.name AS grid_name,
    (c.due_at IS NOT NULL AND c.due_at < coalesce(CAST(:at AS timestamptz), now())
     AND gridmap_case_is_open(c.status)) AS overdue
"""


@contextmanager
def connection(bind: Engine | Connection) -> Iterator[Connection]:
    """The given connection, or a pooled one from the engine (so a caller can run several
    reads on one connection)."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


@dataclass(frozen=True)
class CaseFilter:
    """Which cases to read; None means no limit on that attribute."""

    statuses: list[str] | None = None
    categories: list[str] | None = None
    subcategories: list[str] | None = None
    grid_ids: list[int] | None = None
    sources: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None
    overdue: bool | None = None
    ids: list[int] | None = None
    codes: list[str] | None = None
    min_escalation: int | None = None

    def sql_args(self) -> dict[str, Any]:
        """Bind parameters for gridmap_cases_select / gridmap_cases_kpis."""
        args = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "bbox"}
        minx, miny, maxx, maxy = self.bbox or (None, None, None, None)
        return args | {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}


_FILTER_CALL = """gridmap_cases_select(
    statuses => CAST(:statuses AS text[]), categories => CAST(:categories AS text[]),
    subcategories => CAST(:subcategories AS text[]), grid_ids => CAST(:grid_ids AS integer[]),
    sources => CAST(:sources AS text[]), since => CAST(:since AS timestamptz),
    until => CAST(:until AS timestamptz), minx => CAST(:minx AS float8),
    miny => CAST(:miny AS float8), maxx => CAST(:maxx AS float8), maxy => CAST(:maxy AS float8),
    overdue => CAST(:overdue AS boolean), at => coalesce(CAST(:at AS timestamptz), now()),
    ids => CAST(:ids AS bigint[]), codes => CAST(:codes AS text[]),
    min_escalation => CAST(:min_escalation AS integer))"""


def list_cases(
    engine: Engine,
    flt: CaseFilter,
    *,
    limit: int = 50,
    offset: int = 0,
    at: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of matching cases, newest report first, and the number matching."""
    args = flt.sql_args() | {"at": at, "limit": limit, "offset": offset}
    with connection(engine) as conn:
        rows = conn.execute(
            text(
                f"SELECT {CASE_COLUMNS} FROM {_FILTER_CALL} c "
                "LEFT JOIN grids g ON g.id = c.grid_id "
                "ORDER BY c.reported_at DESC, c.id DESC LIMIT :limit OFFSET :offset"
            ),
            args,
        ).mappings()
        page = [dict(r) for r in rows]
        total = conn.execute(text(f"SELECT count(*) FROM {_FILTER_CALL} c"), args).scalar_one()
    return page, int(total)


def get_case(
    engine: Engine | Connection, case_id: int, *, at: datetime | None = None
) -> dict[str, Any]:
    """One case by id, or CaseNotFound."""
    with connection(engine) as conn:
        row = (
            conn.execute(
                text(
                    f"SELECT {CASE_COLUMNS} FROM cases c LEFT JOIN grids g ON g.id = c.grid_id "
                    "WHERE c.id = :id"
                ),
                {"id": case_id, "at": at},
            )
            .mappings()
            .first()
        )
    if row is None:
        raise CaseNotFound(f"No case has id {case_id}")
    return dict(row)


def case_history(engine: Engine | Connection, case_id: int) -> list[dict[str, Any]]:
    """The case's history, oldest first: its events, opened by its import (an entry without
    id) when a bulk import brought it in."""
    with connection(engine) as conn:
        rows = conn.execute(
            text("SELECT * FROM gridmap_case_history(:id)"), {"id": case_id}
        ).mappings()
        return [dict(r) for r in rows]


def latest_notes(engine: Engine, case_ids: list[int]) -> dict[int, str | None]:
    """The note of each case's latest history entry (see :func:`case_history`)."""
    if not case_ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM gridmap_case_latest_notes(CAST(:ids AS bigint[]))"),
            {"ids": case_ids},
        ).all()
    return {int(c): n for c, n in rows}


def case_id_for_key(engine: Engine, key: str, source: str) -> int | None:
    """The case an idempotency key (an Open311 token) created from a source."""
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT id FROM cases WHERE idempotency_key = :key AND source = :source"),
            {"key": key, "source": source},
        ).scalar()
    return int(found) if found is not None else None


def case_id_for_code(engine: Engine, code: str) -> int | None:
    """The id of the case with this code."""
    with engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM cases WHERE code = :code"), {"code": code})
        value = found.scalar()
    return int(value) if value is not None else None


def kpis(engine: Engine, flt: CaseFilter, *, at: datetime | None = None) -> dict[str, Any]:
    """Key figures of the matching cases (totals, open, overdue, on-time rate, per status
    and category) — for KPI tiles."""
    args = flt.sql_args() | {"at": at}
    call = _FILTER_CALL.replace("gridmap_cases_select", "gridmap_cases_kpis")
    with connection(engine) as conn:
        row = dict(conn.execute(text(f"SELECT * FROM {call}"), args).mappings().one())
    resolved = row["resolved"]
    row["on_time_rate"] = round(row["resolved_on_time"] / resolved, 4) if resolved else None
    if row["mean_satisfaction"] is not None:
        row["mean_satisfaction"] = float(row["mean_satisfaction"])
    return row
