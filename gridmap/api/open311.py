"""Open311 GeoReport v2 at ``/open311/v2``: discovery, services (one per subcategory, its
slug the service_code), service definitions, requests (GET/POST), one request, tokens; in
JSON and XML. gridmap's statuses map onto open/closed; the richer status goes into
status_notes. Intake goes through the same validation as the JSON API."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, request
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from gridmap.access.masking import mask_text
from gridmap.api import open311_schemas as o
from gridmap.api.case_schemas import IdempotencyHeaders
from gridmap.api.cases import READ_BACK_WAITS
from gridmap.api.context import engine, limit_body, submit_as_caller, taxonomy
from gridmap.api.contract import OPEN311_ERRORS, Reply, contract
from gridmap.api.errors import handle_api_error
from gridmap.api.open311_render import render
from gridmap.api.serialize import iso
from gridmap.cases import queries
from gridmap.cases.errors import CaseError, CaseNotFound
from gridmap.cases.filters import CLOSED_STATUSES, OPEN_STATUSES, status_label
from gridmap.cases.intake import validate_case
from gridmap.cases.taxonomy import Category, Subcategory, Taxonomy
from gridmap.errors import InvalidInput, Problem
from gridmap.settings import get_settings

blueprint = Blueprint("open311", __name__, url_prefix="/open311/v2")
blueprint.before_request(limit_body)
blueprint.register_error_handler(Exception, handle_api_error)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = "<any(json, xml):fmt>"
#: Longest window GET requests may span, and most requests it returns (as the spec says).
MAX_SPAN = timedelta(days=90)
MAX_REQUESTS = 1000
TOKEN_SOURCE = "open311"
STORED_REQUEST = text("SELECT code, idempotency_key FROM cases WHERE id = :id")


class Open311Error(CaseError):
    """A GeoReport request the spec does not allow."""


class JurisdictionNotFound(Open311Error):
    """The jurisdiction_id is not this server's."""

    http_status = 404


def open311_status(status: str) -> str:
    """gridmap status → Open311 open/closed (resolved, closed and rejected are closed)."""
    return "closed" if status in CLOSED_STATUSES else "open"


def _check_jurisdiction(given: str | None) -> None:
    wanted = get_settings().open311_jurisdiction_id
    if wanted and given and given != wanted:
        raise JurisdictionNotFound(f"jurisdiction_id {given[:40]!r} not found")


def _name(item: Category | Subcategory) -> str:
    return item.en if get_settings().language == "en" else item.zh


def service_json(sub: Subcategory, tax: Taxonomy) -> dict[str, Any]:
    """One subcategory as an Open311 service."""
    cat = tax.by_slug[sub.category]
    zh, en = tax.handling_names[sub.handling_type]
    return {
        "service_code": sub.slug,
        "service_name": _name(sub),
        "description": f"{sub.zh} / {sub.en}: {zh} ({en}); "
        f"time limit {sub.sla_hours:g} h; priority {sub.priority}",
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join([sub.zh, sub.en, cat.zh, cat.en]),
        "group": _name(cat),
    }


def request_json(row: dict[str, Any], tax: Taxonomy, note: str | None) -> dict[str, Any]:
    """A case as an Open311 service request."""
    service = tax.subcategories.get(row["subcategory"] or "") or tax.by_slug.get(row["category"])
    notes = f"{status_label(row['status'], get_settings().language)} ({row['status']})"
    if note:
        notes += f": {note}"
    agency = row["department"] or (
        f"{row['grid_name']} ({row['grid_code']})" if row["grid_code"] else None
    )
    return {
        "service_request_id": row["code"],
        "status": open311_status(row["status"]),
        "status_notes": notes,
        "service_name": _name(service) if service else None,
        "service_code": row["subcategory"] or row["category"],
        "description": mask_text(row["description"], row["reporter_name"]),
        "agency_responsible": agency,
        "service_notice": (
            f"time limit {service.sla_hours:g} h (处置时限 {service.sla_hours:g} 小时)"
            if service
            else None
        ),
        "requested_datetime": iso(row["reported_at"]),
        "updated_datetime": iso(row["updated_at"]),
        "expected_datetime": iso(row["due_at"]),
        "address": row["address"],
        "address_id": None,
        "zipcode": None,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": None,
    }


def _requests_payload(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tax = taxonomy()
    notes = queries.latest_notes(engine(), [r["id"] for r in rows])
    return [  # a note may quote the reporter: masked like the case (gridmap.access.masking)
        request_json(r, tax, mask_text(notes.get(r["id"]), r["reporter_name"])) for r in rows
    ]


# -- endpoints -------------------------------------------------------------------------------

FORMATS_TOO = ("text/xml",)


def _reply(text: str, body: Any) -> Reply:
    return Reply(text, body, alternatives=FORMATS_TOO)


#: The 404 of an endpoint given a ``jurisdiction_id`` that is not this server's.
WRONG_JURISDICTION = _reply("Not this server's jurisdiction_id.", OPEN311_ERRORS)


@blueprint.get(f"/discovery.{FORMATS}")
@contract(query=o.Open311Query, responses={200: _reply("Service discovery.", o.Discovery)})
def discovery(fmt: str, query: o.Open311Query):
    """Service discovery: where the endpoint is and what it speaks."""
    settings = get_settings()
    changeset = datetime.fromtimestamp(settings.cases_taxonomy.stat().st_mtime, UTC).isoformat(
        timespec="seconds"
    )
    payload = {
        "changeset": changeset,
        "contact": settings.open311_contact,
        "key_service": "API keys are not required",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": request.url_root.rstrip("/") + blueprint.url_prefix,
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(fmt, payload, "discovery")


@blueprint.get(f"/services.{FORMATS}")
@contract(
    query=o.Open311Query,
    responses={
        200: _reply("One service per subcategory.", list[o.Service]),
        404: WRONG_JURISDICTION,
    },
)
def services(fmt: str, query: o.Open311Query):
    """The service list: one service per subcategory, grouped by category."""
    _check_jurisdiction(query.jurisdiction_id)
    tax = taxonomy()
    items = [service_json(s, tax) for s in tax.subcategories.values()]
    return render(fmt, items, "services", "service")


@blueprint.get(f"/services/<code>.{FORMATS}")
@contract(
    query=o.Open311Query,
    responses={200: _reply("The service definition.", o.ServiceDefinition)},
)
def service_definition(code: str, fmt: str, query: o.Open311Query):
    """A service definition (gridmap services have no extra attributes)."""
    _check_jurisdiction(query.jurisdiction_id)
    if code not in taxonomy().subcategories:
        raise CaseNotFound(f"service_code {code[:60]!r} not found")
    return render(fmt, {"service_code": code, "attributes": []}, "service_definition")


@blueprint.post(f"/requests.{FORMATS}")
@contract(
    headers=IdempotencyHeaders,
    body=o.RequestIn,
    form=True,
    responses={
        200: _reply("Created (or, with the same Idempotency-Key, the same).", list[o.Posted]),
        404: WRONG_JURISDICTION,
        409: _reply("A case with this source and external id exists already.", OPEN311_ERRORS),
        422: _reply("The Idempotency-Key was used for another request.", OPEN311_ERRORS),
    },
)
def post_request(fmt: str, headers: IdempotencyHeaders, body: o.RequestIn):
    """Create a service request; returns its service_request_id and a token."""
    _check_jurisdiction(body.jurisdiction_id)
    key = headers.idempotency_key
    tax = taxonomy()
    if not (
        (body.lat is not None and body.long is not None) or body.address_string or body.address_id
    ):
        raise InvalidInput(
            [Problem("long", "a location is required: lat and long, address_string or address_id")]
        )
    code = body.service_code
    description = body.description
    service = tax.subcategories.get(code) or tax.by_slug[code]
    first_line = (
        description.strip().splitlines()[0][:60] if description and description.strip() else ""
    )
    title = first_line or _name(service)
    name = " ".join(n for n in (body.first_name, body.last_name) if n) or None
    address = body.address_string or (f"address_id {body.address_id}" if body.address_id else None)
    if description and body.media_url:
        description += f"\nmedia: {body.media_url}"
    data = {
        "title": title,
        "description": description,
        ("subcategory" if code in tax.subcategories else "category"): code,
        "lon": body.long,
        "lat": body.lat,
        "address": address,
        "reporter_name": name,
        "reporter_phone": body.phone,
    }
    new = validate_case(data, tax, source="open311", tz=get_settings().cases_timezone, strict=False)
    token = key or f"o311-{uuid.uuid4().hex}"
    case_id, created = submit_as_caller(new, key, stored_key=token)
    code, token = _stored_request(case_id, token, replayed=not created and key is None)
    sla = service.sla_hours
    answer = {"service_request_id": code, "token": token} if code else {"token": token}
    answer["service_notice"] = f"time limit {sla:g} h (处置时限 {sla:g} 小时)"
    answer["account_id"] = None
    return render(fmt, [answer], "service_requests", "request")


def _stored_request(case_id: int, token: str, *, replayed: bool) -> tuple[str | None, str]:
    """(service_request_id, token) of a case intake has just stored; a repeated key-less
    report answers the first one's token. The insert has committed, so when the database
    drops now the answer is the token alone, as GeoReport v2 allows (GET tokens/{token}
    gives the id later). A repeat whose first token cannot be read is a 503 (retry)."""
    for wait in (*READ_BACK_WAITS, None):
        try:
            with engine().connect() as conn:
                row = conn.execute(STORED_REQUEST, {"id": case_id}).one()
            return row.code, (row.idempotency_key or token) if replayed else token
        except OperationalError:
            if wait is None and replayed:
                raise
            if wait is None:
                break
            time.sleep(wait)
    return None, token


@blueprint.get(f"/requests.{FORMATS}")
@contract(
    query=o.RequestsQuery,
    responses={
        200: _reply("Matching requests, newest first (at most 1000).", list[o.ServiceRequest]),
        404: WRONG_JURISDICTION,
    },
)
def get_requests(fmt: str, query: o.RequestsQuery):
    """Requests by id list, or by service_code, status and a window of at most 90 days
    (default: the last 90 days); at most 1000, newest first."""
    _check_jurisdiction(query.jurisdiction_id)
    if query.service_request_id:
        flt = queries.CaseFilter(codes=query.service_request_id)
    else:
        tax = taxonomy()
        problems: list[Problem] = []
        codes = query.service_code or []
        subs = [c for c in codes if c in tax.subcategories] or None
        cats = [c for c in codes if c in tax.by_slug] or None
        if subs and cats:
            problems.append(Problem("service_code", "give subcategory or category codes"))
        statuses = None
        if query.status:
            wanted = set(query.status)
            statuses = [s for s in OPEN_STATUSES if "open" in wanted] + [
                s for s in CLOSED_STATUSES if "closed" in wanted
            ]
        end = query.end_date or datetime.now(UTC)
        start = query.start_date or end - MAX_SPAN
        if end - start > MAX_SPAN:
            problems.append(Problem("start_date", "the window may span at most 90 days"))
        if problems:
            raise InvalidInput(problems)
        flt = queries.CaseFilter(
            statuses=statuses,
            subcategories=subs,
            categories=cats,
            since=start,
            until=end + timedelta(microseconds=1),
        )
    rows, _ = queries.list_cases(engine(), flt, limit=MAX_REQUESTS)
    return render(fmt, _requests_payload(rows), "service_requests", "request")


@blueprint.get(f"/requests/<request_id>.{FORMATS}")
@contract(
    query=o.Open311Query,
    responses={200: _reply("The request (a list of one).", list[o.ServiceRequest])},
)
def get_request(request_id: str, fmt: str, query: o.Open311Query):
    """One service request by its service_request_id."""
    _check_jurisdiction(query.jurisdiction_id)
    case_id = queries.case_id_for_code(engine(), request_id)
    if case_id is None:
        raise CaseNotFound(f"service_request_id {request_id[:60]!r} not found")
    row = queries.get_case(engine(), case_id)
    return render(fmt, _requests_payload([row]), "service_requests", "request")


@blueprint.get(f"/tokens/<token>.{FORMATS}")
@contract(
    query=o.Open311Query,
    responses={200: _reply("The request the token stands for.", list[o.TokenOut])},
)
def get_token(token: str, fmt: str, query: o.Open311Query):
    """The service_request_id a POST's token stands for."""
    _check_jurisdiction(query.jurisdiction_id)
    case_id = queries.case_id_for_key(engine(), token, TOKEN_SOURCE)
    if case_id is None:
        raise CaseNotFound(f"token {token[:60]!r} not found")
    row = queries.get_case(engine(), case_id)
    payload = [{"service_request_id": row["code"], "token": token}]
    return render(fmt, payload, "service_requests", "request")
