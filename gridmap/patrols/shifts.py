"""Patrol shifts (worker or team, kind, start/end) and a device's track for replay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from gridmap.bounds import MAX_NAME, moment_problem
from gridmap.patrols.errors import PatrolNotFound, PatrolValidationError, Problem
from gridmap.patrols.ingest import MAX_DEVICE
from gridmap.text_bounds import text_problem

KINDS = ("grid_patrol", "party_volunteer", "cadre_night", "police_joint")
SHIFT_COLUMNS = "id, worker_id, device_id, kind, team, grid_id, started_at, ended_at"
#: Fields a new shift may name.
FIELDS = ("worker_id", "device_id", "kind", "team", "grid_id", "started_at", "ended_at")
#: Optional references of a shift: field → (table, what it names).
REFERENCES = {"worker_id": ("users", "user"), "grid_id": ("grids", "grid")}
#: Largest value of an integer id column.
MAX_INT = 2**31 - 1


def _ref_problem(conn: Connection, values: dict[str, Any], key: str) -> str | None:
    """Why ``values[key]`` (an optional id of a user or a grid) names no row, or None."""
    value = values.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be a whole number (an id)"
    table, what = REFERENCES[key]
    if not 1 <= value <= MAX_INT:
        return f"names no {what}"
    found = conn.execute(text(f"SELECT 1 FROM {table} WHERE id = :id"), {"id": value}).first()
    return None if found else f"names no {what} ({value})"


def create_shift(engine: Engine, values: dict[str, Any]) -> dict[str, Any]:
    """Start a shift: device_id, kind, started_at required; worker_id, team, grid_id."""
    problems = []
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        problems.append(Problem(unknown[0], "is not a shift field; use " + ", ".join(FIELDS)))
    for key, limit, required in (("device_id", MAX_DEVICE, True), ("team", MAX_NAME, False)):
        why = text_problem(values.get(key), max_len=limit, required=required)
        if why:
            problems.append(Problem(key, why))
    if values.get("kind") not in KINDS:
        problems.append(Problem("kind", "must be one of " + ", ".join(KINDS)))
    for key in ("started_at", "ended_at"):
        if values.get(key) is not None and not isinstance(values[key], datetime):
            problems.append(Problem(key, "must be an ISO 8601 date-time"))
        elif values.get(key) is not None and (why := moment_problem(values[key])):
            problems.append(Problem(key, why))
    if not isinstance(values.get("started_at"), datetime):
        problems.append(Problem("started_at", "is required"))
    elif isinstance(values.get("ended_at"), datetime) and values["ended_at"] < values["started_at"]:
        problems.append(Problem("ended_at", "is before started_at"))
    cols = ("worker_id", "device_id", "kind", "team", "grid_id", "started_at", "ended_at")
    params = {c: values.get(c) for c in cols}
    if isinstance(params["device_id"], str):
        params["device_id"] = params["device_id"].strip()
    sql = text(
        f"INSERT INTO patrol_shifts ({', '.join(cols)}) "
        f"VALUES ({', '.join(':' + c for c in cols)}) RETURNING {SHIFT_COLUMNS}"
    )
    with engine.begin() as conn:
        for key in REFERENCES:
            why = _ref_problem(conn, values, key)
            if why:
                problems.append(Problem(key, why))
        if problems:
            raise PatrolValidationError(problems)
        try:
            with conn.begin_nested():
                return dict(conn.execute(sql, params).one()._mapping)
        except IntegrityError as exc:  # the user or grid was deleted meanwhile
            raise PatrolValidationError(
                [Problem("grid_id", "the user or grid named was just deleted")]
            ) from exc


def end_shift(engine: Engine, shift_id: int, ended_at: datetime) -> dict[str, Any]:
    """Close a shift at ``ended_at``."""
    why = moment_problem(ended_at)
    if why:
        raise PatrolValidationError([Problem("ended_at", why)])
    sql = text(
        "UPDATE patrol_shifts SET ended_at = :end WHERE id = :id AND started_at <= :end "
        f"RETURNING {SHIFT_COLUMNS}"
    )
    with engine.begin() as conn:
        row = conn.execute(sql, {"id": shift_id, "end": ended_at}).one_or_none()
        if row is None:
            exists = conn.execute(
                text("SELECT 1 FROM patrol_shifts WHERE id = :id"), {"id": shift_id}
            ).scalar()
            if exists:
                raise PatrolValidationError([Problem("ended_at", "is before the shift started")])
            raise PatrolNotFound(f"There is no patrol shift {shift_id}.")
    return dict(row._mapping)


def list_shifts(
    engine: Engine, since: datetime | None = None, until: datetime | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Shifts overlapping [since, until], newest first."""
    sql = text(
        f"SELECT {SHIFT_COLUMNS} FROM patrol_shifts "
        "WHERE (CAST(:until AS timestamptz) IS NULL OR started_at <= :until) "
        "AND (CAST(:since AS timestamptz) IS NULL OR coalesce(ended_at, 'infinity') >= :since) "
        "ORDER BY started_at DESC, id DESC LIMIT :lim"
    )
    with engine.connect() as conn:
        rows = conn.execute(sql, {"since": since, "until": until, "lim": limit})
        return [dict(r._mapping) for r in rows]


def get_shift(engine: Engine, shift_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT {SHIFT_COLUMNS} FROM patrol_shifts WHERE id = :id"), {"id": shift_id}
        ).one_or_none()
    if row is None:
        raise PatrolNotFound(f"There is no patrol shift {shift_id}.")
    return dict(row._mapping)


def track(
    engine: Engine, device_id: str, start: datetime, end: datetime, limit: int = 20_000
) -> list[dict[str, Any]]:
    """A device's accepted fixes in [start, end], in time order (for replay)."""
    sql = text(
        "SELECT at, ST_X(geom) AS lon, ST_Y(geom) AS lat, accuracy_m FROM gps_pings "
        "WHERE device_id = :d AND at BETWEEN :t0 AND :t1 ORDER BY at LIMIT :lim"
    )
    with engine.connect() as conn:
        rows = conn.execute(sql, {"d": device_id, "t0": start, "t1": end, "lim": limit})
        return [dict(r._mapping) for r in rows]
