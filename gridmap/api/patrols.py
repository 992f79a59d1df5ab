"""``/api/v1/patrols``: GPS ping batches (idempotent), shifts, a device's track, coverage
per grid for a window, a grid's longest-unvisited streets and the risk gap ranking."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint
from sqlalchemy import text

from gridmap.access import current_user
from gridmap.access.scope import scoped_connection
from gridmap.api import patrol_schemas as s
from gridmap.api.context import engine, json_response, limit_body
from gridmap.api.contract import ErrorOut, Reply, contract
from gridmap.api.errors import handle_api_error
from gridmap.api.serialize import jsonable
from gridmap.patrols import coverage, shifts
from gridmap.patrols.errors import PatrolNotFound

blueprint = Blueprint("patrols_api", __name__, url_prefix="/api/v1/patrols")
blueprint.before_request(limit_body)
blueprint.register_error_handler(Exception, handle_api_error)

#: Largest id each kind of row can have (the id column's type: integer or bigint).
MAX_ID = {"grid": s.MAX_INT, "patrol shift": s.MAX_BIGINT}


def _ok(payload: Any, status: int = 200):
    return json_response(jsonable(payload), status)


def _known_id(value: int, what: str) -> int:
    """A path id, or 404 when no row can have it (beyond the id column's range)."""
    if value > MAX_ID[what]:
        raise PatrolNotFound(f"There is no {what} {value}.")
    return value


def _window(query: s.WindowQuery) -> coverage.Window:
    return coverage.Window.last(coverage.parse_window(query.window), query.end)


SHIFT = Reply("The shift.", s.ShiftOut)


@blueprint.post("/pings")
@contract(body=s.PingBatchIn, responses={200: Reply("What the batch did.", s.IngestOut)})
def post_pings(body: s.PingBatchIn):
    """Store a batch of pings; the same batch again changes nothing."""
    from gridmap.patrols.ingest import batch_of, ingest_pings

    return _ok(ingest_pings(engine(), batch_of(body)).as_dict())


@blueprint.post("/shifts")
@contract(body=s.ShiftIn, responses={201: Reply("The shift, started.", s.ShiftOut)})
def post_shift(body: s.ShiftIn):
    """Start a shift (a device, its kind, who and where)."""
    return _ok(shifts.create_shift(engine(), body.model_dump()), 201)


@blueprint.post("/shifts/<int:shift_id>/end")
@contract(body=s.ShiftEndIn, body_optional=True, responses={200: SHIFT})
def end_shift(shift_id: int, body: s.ShiftEndIn):
    """End a shift (now, or at ended_at)."""
    _known_id(shift_id, "patrol shift")
    with scoped_connection(engine(), current_user()) as conn:  # 404 unless the user may see it
        visible = conn.execute(
            text("SELECT 1 FROM patrol_shifts WHERE id = :id"), {"id": shift_id}
        ).first()
    if visible is None:
        raise PatrolNotFound(f"There is no patrol shift {shift_id}.")
    return _ok(shifts.end_shift(engine(), shift_id, body.ended_at or datetime.now(UTC)))


@blueprint.get("/shifts")
@contract(query=s.ShiftsQuery, responses={200: Reply("Shifts, newest first.", s.ShiftList)})
def get_shifts(query: s.ShiftsQuery):
    """Shifts overlapping [since, until], newest first."""
    return _ok({"shifts": shifts.list_shifts(engine(), query.since, query.until, query.limit)})


@blueprint.get("/shifts/<int:shift_id>")
@contract(responses={200: SHIFT})
def get_shift(shift_id: int):
    """One shift."""
    _known_id(shift_id, "patrol shift")
    return _ok(shifts.get_shift(engine(), shift_id))


@blueprint.get("/track")
@contract(
    query=s.TrackQuery,
    responses={
        200: Reply("The fixes, in time order.", s.TrackOut),
        404: Reply("There is no shift shift_id.", ErrorOut),
    },
)
def get_track(query: s.TrackQuery):
    """A device's fixes in [from, to] (or a shift's, with shift_id)."""
    if query.shift_id is not None:
        shift = shifts.get_shift(engine(), query.shift_id)
        device = shift["device_id"]
        start = query.from_ or shift["started_at"]
        end = query.to or shift["ended_at"] or datetime.now(UTC)
    else:
        device, start, end = query.device_id, query.from_, query.to
    points = shifts.track(engine(), device, start, end)
    return _ok({"device_id": device, "from": start, "to": end, "points": points})


@blueprint.get("/coverage")
@contract(query=s.WindowQuery, responses={200: Reply("Coverage per grid.", s.CoverageOut)})
def get_coverage(query: s.WindowQuery):
    """Per grid: street, patrolled, camera-seen and watched metres and shares."""
    window = _window(query)
    rows = coverage.grid_coverage(engine(), window)
    return _ok({"from": window.start, "to": window.end, "grids": rows})


@blueprint.get("/grids/<int:grid_id>/unvisited")
@contract(
    query=s.UnvisitedQuery,
    responses={200: Reply("Street pieces, longest unvisited first.", s.UnvisitedOut)},
)
def get_unvisited(grid_id: int, query: s.UnvisitedQuery):
    """The grid's street pieces patrolled longest ago (never first), longest first."""
    _known_id(grid_id, "grid")
    with scoped_connection(engine(), current_user()) as conn:  # 404 unless the user may see it
        found = conn.execute(text("SELECT 1 FROM grids WHERE id = :id"), {"id": grid_id}).first()
        if found is None:
            raise PatrolNotFound(f"There is no grid {grid_id}.")
    streets = coverage.unvisited_streets(engine(), grid_id, query.limit)
    return _ok({"grid_id": grid_id, "streets": streets})


@blueprint.get("/risk-gap")
@contract(query=s.RiskGapQuery, responses={200: Reply("Grids, most needed first.", s.RiskGapOut)})
def get_risk_gap(query: s.RiskGapQuery):
    """Grids where patrols are most needed: case density x unpatrolled share."""
    window = _window(query)
    rows = coverage.risk_gap(engine(), window, query.limit)
    return _ok({"from": window.start, "to": window.end, "grids": rows})
