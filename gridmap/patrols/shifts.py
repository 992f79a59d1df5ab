"""Patrol shifts (worker or team, kind, start/end) and a device's track for replay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from gridmap.errors import Problem
from gridmap.patrols.errors import PatrolNotFound, invalid_input

KINDS = ("grid_patrol", "party_volunteer", "cadre_night", "police_joint")
SHIFT_COLUMNS = "id, worker_id, device_id, kind, team, grid_id, started_at, ended_at"
#: Optional references of a shift: field → (table, what it names).
REFERENCES = {"worker_id": ("users", "user"), "grid_id": ("grids", "grid")}


def _ref_problem(conn: Connection, value: int | None, key: str) -> str | None:
    """Why ``value`` (an optional id of a user or a grid) names no row, or None."""
    if value is None:
        return None
    table, what = REFERENCES[key]
    found = conn.execute(text(f"SELECT 1 FROM {table} WHERE id = :id"), {"id": value}).first()
    return None if found else f"names no {what} ({value})"


def create_shift(engine: Engine, values: dict[str, Any]) -> dict[str, Any]:
    """Start a shift: device_id, kind, started_at required; worker_id, team, grid_id.
    ``values`` are checked by the API's model (:class:`gridmap.api.patrol_schemas.ShiftIn`),
    here too for callers outside HTTP; the user and grid named must exist."""
    from gridmap.api.patrol_schemas import ShiftIn, validated

    shift = validated(ShiftIn, values)
    params = shift.model_dump()
    cols = tuple(params)
    sql = text(
        f"INSERT INTO patrol_shifts ({', '.join(cols)}) "
        f"VALUES ({', '.join(':' + c for c in cols)}) RETURNING {SHIFT_COLUMNS}"
    )
    with engine.begin() as conn:
        problems = [
            Problem(key, why) for key in REFERENCES if (why := _ref_problem(conn, params[key], key))
        ]
        if problems:
            raise invalid_input(problems)
        try:
            with conn.begin_nested():
                return dict(conn.execute(sql, params).one()._mapping)
        except IntegrityError as exc:  # the user or grid was deleted meanwhile
            raise invalid_input(
                [Problem("grid_id", "the user or grid named was just deleted")]
            ) from exc


def end_shift(engine: Engine, shift_id: int, ended_at: datetime) -> dict[str, Any]:
    """Close a shift at ``ended_at`` (not in the future, not before it started)."""
    from gridmap.api.patrol_schemas import ShiftEndIn, validated

    ended_at = validated(ShiftEndIn, {"ended_at": ended_at}).ended_at
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
                raise invalid_input([Problem("ended_at", "is before the shift started")])
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
