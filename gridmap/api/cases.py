"""``/api/v1/cases``: report (idempotent), list with filters, read one with its history and
nearest cameras, act on it through the workflow; plus the taxonomy, workflow and KPIs."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, request
from sqlalchemy.exc import OperationalError

from gridmap.access import audit, current_user
from gridmap.access.scope import scoped_connection
from gridmap.api.context import engine, json_body, json_response, limit_body, taxonomy
from gridmap.api.errors import handle_api_error
from gridmap.api.serialize import camera_json, case_json, event_json
from gridmap.cases import queries
from gridmap.cases.cameras import nearest_cameras
from gridmap.cases.errors import CaseValidationError, Problem
from gridmap.cases.intake import (
    SOURCES,
    STATUSES,
    check_idempotency_key,
    submit_case,
    validate_case,
)
from gridmap.cases.workflow import TRANSITIONS, apply_action, parse_action
from gridmap.settings import get_settings

blueprint = Blueprint("cases_api", __name__, url_prefix="/api/v1")
blueprint.before_request(limit_body)
blueprint.register_error_handler(Exception, handle_api_error)

LIST_PARAMS = (
    "status",
    "category",
    "subcategory",
    "grid_id",
    "source",
    "since",
    "until",
    "bbox",
    "overdue",
    "min_escalation",
    "limit",
    "offset",
)


def _list(args, name: str, allowed: tuple[str, ...] | None, problems: list[Problem]):
    raw = args.get(name)
    if raw is None or not raw.strip():
        return None
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if allowed is not None:
        bad = [v for v in values if v not in allowed]
        if bad:
            problems.append(
                Problem(name, f"unknown value {bad[0][:40]!r} (known: {', '.join(allowed)})")
            )
    return values


def _int(args, name: str, low: int, high: int, problems: list[Problem]) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        problems.append(Problem(name, f"must be an integer (got {raw[:40]!r})"))
        return None
    if not low <= value <= high:
        problems.append(Problem(name, f"must be between {low} and {high}"))
        return None
    return value


def _moment(args, name: str, problems: list[Problem]) -> datetime | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        problems.append(Problem(name, f"must be an ISO 8601 date-time (got {raw[:40]!r})"))
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(get_settings().cases_timezone))
    return value


def parse_filter(args) -> tuple[queries.CaseFilter, int, int]:
    """A CaseFilter, limit and offset from query parameters; 400 naming each bad one."""
    problems: list[Problem] = []
    for key in args:
        if key not in LIST_PARAMS:
            problems.append(
                Problem(
                    key[:40], "is not a known parameter (known: " + ", ".join(LIST_PARAMS) + ")"
                )
            )
    tax = taxonomy()
    grid_ids = None
    raw_grids = _list(args, "grid_id", None, problems)
    if raw_grids:
        try:
            grid_ids = [int(v) for v in raw_grids]
        except ValueError:
            problems.append(Problem("grid_id", "must be integers separated by commas"))
    bbox = None
    if args.get("bbox"):
        try:
            bbox = tuple(float(v) for v in args["bbox"].split(","))
            if len(bbox) != 4:
                raise ValueError
        except ValueError:
            problems.append(Problem("bbox", "must be minx,miny,maxx,maxy (four numbers)"))
            bbox = None
        else:
            minx, miny, maxx, maxy = bbox
            if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
                problems.append(
                    Problem("bbox", "must lie within lon -180..180, lat -90..90 with min < max")
                )
                bbox = None
    overdue = None
    if args.get("overdue"):
        raw = args["overdue"].lower()
        if raw not in ("true", "false", "1", "0"):
            problems.append(Problem("overdue", "must be true or false"))
        overdue = raw in ("true", "1")
    flt = queries.CaseFilter(
        statuses=_list(args, "status", STATUSES, problems),
        categories=_list(args, "category", tuple(tax.by_slug), problems),
        subcategories=_list(args, "subcategory", tuple(tax.subcategories), problems),
        grid_ids=grid_ids,
        sources=_list(args, "source", SOURCES, problems),
        since=_moment(args, "since", problems),
        until=_moment(args, "until", problems),
        bbox=bbox,  # type: ignore[arg-type]
        overdue=overdue,
        min_escalation=_int(args, "min_escalation", 0, 3, problems),
    )
    page_max = get_settings().cases_page_max
    limit = _int(args, "limit", 1, page_max, problems) or 50
    offset = _int(args, "offset", 0, 10**9, problems) or 0
    if problems:
        raise CaseValidationError(problems)
    return flt, limit, offset


def case_detail(case_id: int) -> dict[str, Any]:
    """A case with its history and nearest online cameras (one connection)."""
    with engine().connect() as conn:
        out = case_json(queries.get_case(conn, case_id), taxonomy())
        out["history"] = [event_json(e) for e in queries.case_history(conn, case_id)]
        out["cameras"] = [camera_json(c) for c in nearest_cameras(conn, case_id)]
    return out


@blueprint.post("/cases")
def report_case():
    """Report a case. With an Idempotency-Key header a retry returns the same case (200)."""
    key = check_idempotency_key(request.headers.get("Idempotency-Key"))
    data = json_body()
    settings = get_settings()
    new = validate_case(data, taxonomy(), source="resident_app", tz=settings.cases_timezone)
    user = current_user()
    case_id, created = submit_case(
        engine(),
        new,
        idempotency_key=key,
        submitted_by=user.id if user else None,
        natural_key=key is None,  # a key-less retry answers the case it repeats
    )
    headers = {"Location": f"/api/v1/cases/{case_id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return json_response(stored_case_detail(case_id), 201 if created else 200, headers)


#: Tries, and seconds between them, to read a just-stored case back after the connection
#: dropped (a database restart takes a few seconds).
READ_BACK_WAITS = (0.2, 0.5, 1.0, 2.0)


def stored_case_detail(case_id: int) -> dict[str, Any]:
    """The detail of a case intake has just stored. The insert has committed, so the answer
    must say so even if the database drops now: the read is retried on fresh connections,
    and at worst the answer is the case's id (its Location header names where to read it)."""
    for wait in (*READ_BACK_WAITS, None):
        try:
            return case_detail(case_id)
        except OperationalError:
            if wait is None:
                break
            time.sleep(wait)
    return {
        "id": case_id,
        "message": "The case is stored; its details cannot be read just now (see Location).",
    }


@blueprint.get("/cases")
def list_cases():
    """Cases matching the filters, newest first, one page at a time."""
    flt, limit, offset = parse_filter(request.args)
    rows, total = queries.list_cases(engine(), flt, limit=limit, offset=offset)
    tax = taxonomy()
    return json_response(
        {
            "cases": [case_json(r, tax) for r in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None,
        }
    )


@blueprint.get("/cases/kpis")
def case_kpis():
    """Key figures of the cases matching the same filters as the listing."""
    args = request.args.copy()
    args.pop("limit", None)
    args.pop("offset", None)
    flt, _, _ = parse_filter(args)
    return json_response(queries.kpis(engine(), flt))


@blueprint.get("/cases/<int:case_id>")
def get_case(case_id: int):
    """One case with its event history and nearest online cameras (a view of personal
    data: audited)."""
    detail = case_detail(case_id)
    audit.record(audit.VIEW_PERSONAL, f"case:{case_id}")
    return json_response(detail)


@blueprint.get("/cases/<int:case_id>/history")
def get_history(case_id: int):
    """The case's append-only event history, oldest first."""
    queries.get_case(engine(), case_id)  # 404 for an unknown case
    return json_response([event_json(e) for e in queries.case_history(engine(), case_id)])


@blueprint.get("/cases/<int:case_id>/cameras")
def get_cameras(case_id: int):
    """Online cameras near the case, nearest first (radius_m and limit may be given)."""
    problems: list[Problem] = []
    radius = _int(request.args, "radius_m", 1, 5000, problems)
    limit = _int(request.args, "limit", 1, 50, problems)
    if problems:
        raise CaseValidationError(problems)
    queries.get_case(engine(), case_id)
    cams = nearest_cameras(engine(), case_id, radius_m=radius, limit=limit)
    return json_response([camera_json(c) for c in cams])


@blueprint.post("/cases/<int:case_id>/actions")
def act_on_case(case_id: int):
    """One workflow step: {"action": "dispatch", "actor": …, "grid_id": …, "note": …}."""
    req = parse_action(json_body())
    with scoped_connection(engine(), current_user()) as conn:
        queries.get_case(conn, case_id)  # 404 unless the user may see the case
    event = apply_action(engine(), case_id, req, taxonomy())
    return json_response({"event": event_json(event), "case": case_detail(case_id)})


@blueprint.get("/cases/workflow")
def workflow_table():
    """The transition table: each action, the statuses it applies to and where it leads."""
    return json_response(
        [
            {
                "action": t.action,
                "name_zh": t.zh,
                "from": sorted(t.sources),
                "to": t.target,
                "to_if_assigned": t.target_if_assigned,
                "needs": list(t.needs),
            }
            for t in TRANSITIONS
        ]
    )


@blueprint.get("/taxonomy")
def get_taxonomy_json():
    """Categories and subcategories with their names, priorities and time limits."""
    tax = taxonomy()
    return json_response(
        {
            "handling_types": {
                k: {"zh": zh, "en": en} for k, (zh, en) in tax.handling_names.items()
            },
            "categories": [
                {
                    "slug": c.slug,
                    "zh": c.zh,
                    "en": c.en,
                    "priority": c.priority,
                    "sla_hours": c.sla_hours,
                    "handling_type": c.handling_type,
                    "subcategories": [
                        {
                            "slug": s.slug,
                            "zh": s.zh,
                            "en": s.en,
                            "priority": s.priority,
                            "sla_hours": s.sla_hours,
                            "handling_type": s.handling_type,
                        }
                        for s in c.subcategories
                    ],
                }
                for c in tax.categories
            ],
        }
    )
