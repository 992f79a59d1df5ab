"""``/api/v1/patrols``: GPS ping batches (idempotent), shifts, a device's track, coverage
per grid for a window, a grid's longest-unvisited streets and the risk gap ranking."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, request
from sqlalchemy import text

from gridmap.access import current_user
from gridmap.access.scope import scoped_connection
from gridmap.api.context import engine, json_response, limit_body
from gridmap.api.errors import handle_api_error
from gridmap.cases.errors import CaseValidationError
from gridmap.patrols import coverage, shifts
from gridmap.patrols.errors import PatrolError, PatrolNotFound, PatrolValidationError, Problem
from gridmap.patrols.ingest import MAX_DEVICE, parse_pings
from gridmap.settings import get_settings
from gridmap.text_bounds import range_problem, text_problem

blueprint = Blueprint("patrols_api", __name__, url_prefix="/api/v1/patrols")
blueprint.before_request(limit_body)

#: Largest id each kind of row can have (the id column's type: integer or bigint).
MAX_ID = {"grid": 2**31 - 1, "patrol shift": 2**63 - 1}


def _jsonable(value: Any) -> Any:
    """Date-times as ISO 8601 text, recursively."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _ok(payload: Any, status: int = 200):
    return json_response(_jsonable(payload), status)


@blueprint.errorhandler(Exception)
def _error(exc: Exception):
    if isinstance(exc, PatrolError):
        body: dict[str, Any] = {"message": exc.message}
        if exc.hint:
            body["hint"] = exc.hint
        if isinstance(exc, PatrolValidationError):
            body["problems"] = [p.as_dict() for p in exc.problems]
        return json_response({"error": body}, exc.http_status)
    return handle_api_error(exc)


def _body() -> Any:
    from gridmap.api.context import json_body

    try:
        return json_body()
    except CaseValidationError as exc:
        raise PatrolValidationError([Problem("body", exc.problems[0].message)]) from exc


def _moment(raw: Any, name: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        raise PatrolValidationError(
            [Problem(name, f"must be an ISO 8601 date-time (got {str(raw)[:40]!r})")]
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(get_settings().cases_timezone))
    why = range_problem(value)
    if why:
        raise PatrolValidationError([Problem(name, why)])
    return value


def _known_id(value: int, what: str) -> int:
    """A path id, or 404 when no row can have it (beyond the id column's range)."""
    if value > MAX_ID[what]:
        raise PatrolNotFound(f"There is no {what} {value}.")
    return value


def _int(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PatrolValidationError([Problem(name, "must be an integer")]) from None
    if not low <= value <= high:
        raise PatrolValidationError([Problem(name, f"must be between {low} and {high}")])
    return value


def _window() -> coverage.Window:
    length = coverage.parse_window(request.args.get("window", "8h"))
    end = _moment(request.args.get("end"), "end") or datetime.now(UTC)
    return coverage.Window.last(length, end)


@blueprint.post("/pings")
def post_pings():
    """Store a batch of pings; the same batch again changes nothing."""
    from gridmap.patrols.ingest import ingest_pings

    batch = parse_pings(_body())
    return _ok(ingest_pings(engine(), batch).as_dict())


@blueprint.post("/shifts")
def post_shift():
    body = _body()
    if not isinstance(body, dict):
        raise PatrolValidationError([Problem("body", "must be a JSON object")])
    values = dict(body)
    for key in ("started_at", "ended_at"):
        if key in values:
            values[key] = _moment(values[key], key)
    return _ok(shifts.create_shift(engine(), values), 201)


@blueprint.post("/shifts/<int:shift_id>/end")
def end_shift(shift_id: int):
    _known_id(shift_id, "patrol shift")
    body = _body() if request.get_data() else {}
    ended = _moment(body.get("ended_at") if isinstance(body, dict) else None, "ended_at")
    with scoped_connection(engine(), current_user()) as conn:  # 404 unless the user may see it
        visible = conn.execute(
            text("SELECT 1 FROM patrol_shifts WHERE id = :id"), {"id": shift_id}
        ).first()
    if visible is None:
        raise PatrolNotFound(f"There is no patrol shift {shift_id}.")
    return _ok(shifts.end_shift(engine(), shift_id, ended or datetime.now(UTC)))


@blueprint.get("/shifts")
def get_shifts():
    args = request.args
    rows = shifts.list_shifts(
        engine(),
        _moment(args.get("since"), "since"),
        _moment(args.get("until"), "until"),
        _int(args.get("limit"), "limit", 500, 1, 5000),
    )
    return _ok({"shifts": rows})


@blueprint.get("/shifts/<int:shift_id>")
def get_shift(shift_id: int):
    _known_id(shift_id, "patrol shift")
    return _ok(shifts.get_shift(engine(), shift_id))


@blueprint.get("/track")
def get_track():
    """A device's fixes in [from, to] (or a shift's, with shift_id)."""
    args = request.args
    if args.get("shift_id"):
        shift = shifts.get_shift(
            engine(), _int(args["shift_id"], "shift_id", 0, 1, MAX_ID["patrol shift"])
        )
        device = shift["device_id"]
        start = _moment(args.get("from"), "from") or shift["started_at"]
        end = _moment(args.get("to"), "to") or shift["ended_at"] or datetime.now(UTC)
    else:
        device = args.get("device_id", "").strip()
        if not device:
            raise PatrolValidationError([Problem("device_id", "is required (or shift_id)")])
        why = text_problem(device, max_len=MAX_DEVICE)
        if why:
            raise PatrolValidationError([Problem("device_id", why)])
        start = _moment(args.get("from"), "from")
        end = _moment(args.get("to"), "to")
        if start is None or end is None:
            raise PatrolValidationError([Problem("from", "from and to are required")])
    points = shifts.track(engine(), device, start, end)
    return _ok({"device_id": device, "from": start, "to": end, "points": points})


@blueprint.get("/coverage")
def get_coverage():
    """Per grid: street, patrolled, camera-seen and watched metres and shares."""
    window = _window()
    rows = coverage.grid_coverage(engine(), window)
    return _ok({"from": window.start, "to": window.end, "grids": rows})


@blueprint.get("/grids/<int:grid_id>/unvisited")
def get_unvisited(grid_id: int):
    _known_id(grid_id, "grid")
    limit = _int(request.args.get("limit"), "limit", 10, 1, 500)
    with scoped_connection(engine(), current_user()) as conn:  # 404 unless the user may see it
        found = conn.execute(text("SELECT 1 FROM grids WHERE id = :id"), {"id": grid_id}).first()
        if found is None:
            raise PatrolNotFound(f"There is no grid {grid_id}.")
    return _ok(
        {"grid_id": grid_id, "streets": coverage.unvisited_streets(engine(), grid_id, limit)}
    )


@blueprint.get("/risk-gap")
def get_risk_gap():
    """Grids where patrols are most needed: case density x unpatrolled share."""
    window = _window()
    limit = _int(request.args.get("limit"), "limit", 20, 1, 1000)
    rows = coverage.risk_gap(engine(), window, limit)
    return _ok({"from": window.start, "to": window.end, "grids": rows})
