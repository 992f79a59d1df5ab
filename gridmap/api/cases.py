"""``/api/v1/cases``: report (idempotent), list with filters, read one with its history and
nearest cameras, act on it through the workflow; plus the taxonomy, workflow and KPIs."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint
from sqlalchemy import text as sql_text
from sqlalchemy.exc import OperationalError

from gridmap.access import audit, current_user
from gridmap.access.masking import mask_event
from gridmap.access.scope import scoped_connection
from gridmap.api import case_schemas as s
from gridmap.api.context import engine, json_response, limit_body, submit_as_caller, taxonomy
from gridmap.api.contract import ErrorOut, Reply, contract
from gridmap.api.errors import handle_api_error
from gridmap.api.serialize import camera_json, case_json, event_json
from gridmap.cases import queries
from gridmap.cases.cameras import nearest_cameras
from gridmap.cases.intake import validate_case
from gridmap.cases.workflow import TRANSITIONS, ActionRequest, apply_action
from gridmap.settings import get_settings

blueprint = Blueprint("cases_api", __name__, url_prefix="/api/v1")
blueprint.before_request(limit_body)
blueprint.register_error_handler(Exception, handle_api_error)

CASE_DETAIL = Reply("The case with its history and nearest online cameras.", s.CaseDetail)


def case_filter(query: s.KpiQuery) -> queries.CaseFilter:
    """The CaseFilter a validated listing/KPI query names."""
    return queries.CaseFilter(
        statuses=query.status,
        categories=query.category,
        subcategories=query.subcategory,
        grid_ids=query.grid_id,
        sources=query.source,
        since=query.since,
        until=query.until,
        bbox=tuple(query.bbox) if query.bbox else None,  # type: ignore[arg-type]
        overdue=query.overdue,
        min_escalation=query.min_escalation,
    )


def history_json(events: list[dict[str, Any]], reporter_name: str | None) -> list[dict]:
    """History entries with the reporter masked for the caller (gridmap.access.masking)."""
    return [mask_event(event_json(e), reporter_name) for e in events]


def case_detail(case_id: int) -> dict[str, Any]:
    """A case with its history and nearest online cameras (one connection)."""
    with engine().connect() as conn:
        row = queries.get_case(conn, case_id)
        out = case_json(row, taxonomy())
        out["history"] = history_json(queries.case_history(conn, case_id), row["reporter_name"])
        out["cameras"] = [camera_json(c) for c in nearest_cameras(conn, case_id)]
        out["visit_id"] = conn.execute(  # the visit that opened it (visits.case_id)
            sql_text("SELECT id FROM visits WHERE case_id = :id"), {"id": case_id}
        ).scalar()
    return out


@blueprint.post("/cases")
@contract(
    headers=s.IdempotencyHeaders,
    body=s.CaseIn,
    responses={
        201: Reply(
            "Created (the id alone when the stored case cannot be read back just then).",
            s.CaseDetail | s.CaseStored,
            headers={"Location": "The case's URL."},
        ),
        200: Reply(
            "A retry (the same Idempotency-Key, or without one the same report from the same "
            "account within 10 minutes): the case it first created.",
            s.CaseDetail,
            headers={"Location": "The case's URL.", "Idempotent-Replayed": "true"},
        ),
        409: Reply("A case with this source and external_id exists already.", ErrorOut),
        422: Reply("The Idempotency-Key was used by this account for another case.", ErrorOut),
    },
)
def report_case(headers: s.IdempotencyHeaders, body: s.CaseIn):
    """Report a case. A retry returns the same case (200): with an Idempotency-Key header,
    the case the key first created; without one, the same report from the same account
    within 10 minutes."""
    key = headers.idempotency_key
    settings = get_settings()
    new = validate_case(
        body.model_dump(exclude_none=True),
        taxonomy(),
        source="resident_app",
        tz=settings.cases_timezone,
    )
    case_id, created = submit_as_caller(new, key)
    headers_out = {"Location": f"/api/v1/cases/{case_id}"}
    if not created:
        headers_out["Idempotent-Replayed"] = "true"
    return json_response(stored_case_detail(case_id), 201 if created else 200, headers_out)


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
@contract(query=s.list_query, responses={200: Reply("One page of cases.", s.CasePage)})
def list_cases(query: Any):
    """Cases matching the filters, newest first, one page at a time."""
    rows, total = queries.list_cases(
        engine(), case_filter(query), limit=query.limit, offset=query.offset
    )
    tax = taxonomy()
    limit, offset = query.limit, query.offset
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
@contract(query=s.KpiQuery, responses={200: Reply("Key figures.", s.Kpis)})
def case_kpis(query: s.KpiQuery):
    """Key figures of the cases matching the same filters as the listing."""
    return json_response(queries.kpis(engine(), case_filter(query)))


@blueprint.get("/cases/<int:case_id>")
@contract(responses={200: CASE_DETAIL})
def get_case(case_id: int):
    """One case with its event history and nearest online cameras (a view of personal
    data: audited)."""
    detail = case_detail(case_id)
    audit.record(audit.VIEW_PERSONAL, f"case:{case_id}")
    return json_response(detail)


@blueprint.get("/cases/<int:case_id>/history")
@contract(responses={200: Reply("History entries, oldest first.", list[s.EventOut])})
def get_history(case_id: int):
    """The case's append-only event history, oldest first."""
    with engine().connect() as conn:
        row = queries.get_case(conn, case_id)  # 404 for an unknown case
        events = queries.case_history(conn, case_id)
    return json_response(history_json(events, row["reporter_name"]))


@blueprint.get("/cases/<int:case_id>/cameras")
@contract(
    query=s.CamerasQuery,
    responses={200: Reply("Online cameras, nearest first.", list[s.CameraOut])},
)
def get_cameras(case_id: int, query: s.CamerasQuery):
    """Online cameras near the case, nearest first (radius_m and limit may be given)."""
    queries.get_case(engine(), case_id)
    cams = nearest_cameras(engine(), case_id, radius_m=query.radius_m, limit=query.limit)
    return json_response([camera_json(c) for c in cams])


@blueprint.post("/cases/<int:case_id>/actions")
@contract(
    body=s.ActionIn,
    responses={
        200: Reply("The step was taken: its event and the case now.", s.ActionOut),
        409: Reply("The action does not apply to the case's status now.", ErrorOut),
    },
)
def act_on_case(case_id: int, body: s.ActionIn):
    """One workflow step: {"action": "dispatch", "actor": …, "grid_id": …, "note": …}."""
    req = ActionRequest(**body.model_dump())
    with scoped_connection(engine(), current_user()) as conn:
        queries.get_case(conn, case_id)  # 404 unless the user may see the case
    event = apply_action(engine(), case_id, req, taxonomy())
    detail = case_detail(case_id)
    reporter = queries.get_case(engine(), case_id)["reporter_name"]
    return json_response({"event": history_json([event], reporter)[0], "case": detail})


@blueprint.get("/cases/workflow")
@contract(responses={200: Reply("The transition table.", list[s.WorkflowStep])})
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
@contract(responses={200: Reply("The case taxonomy.", s.TaxonomyOut)})
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
