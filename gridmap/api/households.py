"""``/api/v1/visits`` and ``/api/v1/households``: record a door-to-door visit from a
worker's phone (idempotent; a far-away fix is kept but flagged; a visit may open a case),
read a visit, a household and its visit history, the shares visited within cadence and
the overdue households; plus the visit kinds and household tags with their cadences.

Reads are scoped by row-level security (a grid lead or worker sees their grids only);
a visit is written only for a household, building or unit the caller can see. Personal
data are masked (:func:`gridmap.access.masking.mask_household`) and every read of them is
audited."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint
from sqlalchemy import text

from gridmap.access import audit, current_user
from gridmap.access.masking import mask_household
from gridmap.access.policy import Access, allow
from gridmap.access.scope import scoped_connection
from gridmap.api import household_schemas as s
from gridmap.api.context import engine, json_response, limit_body, taxonomy
from gridmap.api.contract import ErrorOut, Reply, contract
from gridmap.api.errors import handle_api_error
from gridmap.cases.intake import validate_case
from gridmap.households import cadence, visits
from gridmap.households.errors import HouseholdNotFound
from gridmap.settings import get_settings

blueprint = Blueprint("visits_api", __name__, url_prefix="/api/v1")
blueprint.before_request(limit_body)
blueprint.register_error_handler(Exception, handle_api_error)

VISIT = Reply("The visit.", s.VisitOut)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _ok(payload: Any, status: int = 200, headers: dict[str, str] | None = None):
    return json_response(_jsonable(payload), status, headers)


def _tz() -> str:
    return get_settings().cases_timezone


def _today() -> date:
    return datetime.now(ZoneInfo(_tz())).date()


def _visit_json(row: dict[str, Any]) -> dict[str, Any]:
    return mask_household(row)


def _case_of(body: s.VisitIn, location: tuple[float, float] | None):
    """The case a visit opens, validated by intake (source grid_worker)."""
    if body.open_case is None:
        return None
    data = body.open_case.model_dump(exclude_none=True)
    if location is not None:
        data["lon"], data["lat"] = location
    return validate_case(data, taxonomy(), source="grid_worker", tz=_tz())


@blueprint.post("/visits")
@allow(Access.PERSONAL)
@contract(
    headers=s.IdempotencyHeaders,
    body=s.VisitIn,
    responses={
        201: Reply("Recorded.", s.VisitOut, headers={"Location": "The visit's URL."}),
        200: Reply(
            "A retry (the same Idempotency-Key from the same account): the visit it first "
            "recorded.",
            s.VisitOut,
            headers={"Location": "The visit's URL.", "Idempotent-Replayed": "true"},
        ),
        404: Reply("No such household, building or unit (in the caller's grids).", ErrorOut),
        422: Reply("The Idempotency-Key was used by this account for another visit.", ErrorOut),
    },
)
def post_visit(headers: s.IdempotencyHeaders, body: s.VisitIn):
    """Record a visit. A far-away GPS fix (over visit_far_fix_m from the building) is kept
    and flagged (far_fix), and does not count as seeing the household."""
    user = current_user()
    location = None
    with scoped_connection(engine(), user) as conn:  # 404 unless the caller may see them
        for table, row_id in (
            ("households", body.household_id),
            ("buildings", body.building_id),
            ("ten_household_units", body.unit_id),
        ):
            if row_id is not None and not visits.visible(conn, table, row_id):
                what = table.rstrip("s").replace("_", " ")
                raise HouseholdNotFound(f"There is no {what} {row_id}.")
        if body.open_case is not None and body.lon is None:
            location = conn.execute(
                text(
                    "SELECT ST_X(b.geom), ST_Y(b.geom) FROM buildings b WHERE b.id = "
                    "coalesce(CAST(:b AS bigint), (SELECT building_id FROM households "
                    "WHERE id = :h))"
                ),
                {"b": body.building_id, "h": body.household_id},
            ).first()
    if body.lon is not None and body.lat is not None:
        location = (body.lon, body.lat)
    new = visits.NewVisit(
        visited_at=body.visited_at or datetime.now(UTC),
        visited_at_given=body.visited_at is not None,
        kind=body.kind,
        outcome=body.outcome,
        household_id=body.household_id,
        building_id=body.building_id,
        unit_id=body.unit_id,
        note=body.note,
        lon=body.lon,
        lat=body.lat,
        accuracy_m=body.accuracy_m,
        case=_case_of(body, tuple(location) if location else None),
    )
    visit_id, created = visits.record_visit(
        engine(),
        new,
        far_m=get_settings().visit_far_fix_m,
        idempotency_key=headers.idempotency_key,
        worker_id=user.id if user else None,
        worker_name=user.display_name if user else None,
    )
    headers_out = {"Location": f"/api/v1/visits/{visit_id}"}
    if not created:
        headers_out["Idempotent-Replayed"] = "true"
    with engine().connect() as conn:
        row = visits.get_visit(conn, visit_id)
    return _ok(_visit_json(row), 201 if created else 200, headers_out)


@blueprint.get("/visits/<int(max=9223372036854775807):visit_id>")
@allow(Access.PERSONAL)
@contract(responses={200: VISIT})
def get_visit(visit_id: int):
    """One visit (a view of personal data: audited)."""
    with engine().connect() as conn:
        row = visits.get_visit(conn, visit_id)
    audit.record(audit.VIEW_PERSONAL, f"visit:{visit_id}")
    return _ok(_visit_json(row))


@blueprint.get("/households/<int(max=9223372036854775807):household_id>")
@allow(Access.PERSONAL)
@contract(responses={200: Reply("The household.", s.HouseholdOut)})
def get_household(household_id: int):
    """One household with its tags and cadence (personal data: masked, audited)."""
    with engine().connect() as conn:
        row = visits.get_household(conn, household_id)
    audit.record(audit.VIEW_PERSONAL, f"household:{household_id}")
    return _ok(mask_household(row))


@blueprint.get("/households/<int(max=9223372036854775807):household_id>/visits")
@allow(Access.PERSONAL)
@contract(query=s.HistoryQuery, responses={200: Reply("Visits, newest first.", s.VisitList)})
def get_household_visits(household_id: int, query: s.HistoryQuery):
    """A household's visit history, newest first (audited)."""
    with engine().connect() as conn:
        visits.get_household(conn, household_id)  # 404 unless the caller may see it
        rows = visits.household_visits(conn, household_id, query.limit)
    audit.record(audit.VIEW_PERSONAL, f"household:{household_id}:visits")
    return _ok({"visits": [_visit_json(r) for r in rows]})


@blueprint.get("/visits/shares")
@allow(Access.SIGNED_IN)
@contract(query=s.SharesQuery, responses={200: Reply("Shares per group.", s.SharesOut)})
def get_shares(query: s.SharesQuery):
    """Per grid (by=grid) or ten-household unit (by=unit): households, visited within
    their cadence, overdue, vulnerable overdue and the share visited, as of a local day."""
    as_of = query.as_of or _today()
    grid_ids = [query.grid_id] if query.grid_id is not None else None
    with engine().connect() as conn:
        rows = cadence.visit_shares(
            conn, as_of, _tz(), by_unit=query.by == "unit", grid_ids=grid_ids
        )
    return _ok({"as_of": as_of, "by": query.by, "groups": rows})


@blueprint.get("/visits/overdue")
@allow(Access.PERSONAL)
@contract(query=s.OverdueQuery, responses={200: Reply("Overdue households.", s.OverdueList)})
def get_overdue(query: s.OverdueQuery):
    """The overdue households, most days overdue first (personal data: masked, audited)."""
    as_of = query.as_of or _today()
    with engine().connect() as conn:
        rows = cadence.overdue_households(
            conn,
            as_of,
            _tz(),
            grid_ids=[query.grid_id] if query.grid_id is not None else None,
            unit_ids=[query.unit_id] if query.unit_id is not None else None,
            limit=query.limit,
            vulnerable_only=query.vulnerable,
        )
    audit.record(
        audit.VIEW_PERSONAL, "households:overdue", {"grid_id": query.grid_id, "n": len(rows)}
    )
    return _ok({"as_of": as_of, "households": [mask_household(r) for r in rows]})


@blueprint.get("/visit-kinds")
@allow(Access.SIGNED_IN)
@contract(responses={200: Reply("The visit kinds.", list[s.KindOut])})
def get_visit_kinds():
    """The configured visit kinds, in order."""
    with engine().connect() as conn:
        return _ok(visits.visit_kinds(conn))


@blueprint.get("/household-tags")
@allow(Access.SIGNED_IN)
@contract(responses={200: Reply("Tags and cadences.", s.TagsOut)})
def get_household_tags():
    """The household tags with their visit cadences (days), and every household's."""
    with engine().connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.slug, t.name_zh, t.name_en, t.vulnerable, c.days AS cadence_days "
                "FROM household_tags t LEFT JOIN visit_cadences c ON c.tag = t.slug "
                "ORDER BY t.sort, t.slug"
            )
        ).mappings()
        tags = [dict(r) for r in rows]
        every = conn.execute(text("SELECT days FROM visit_cadences WHERE tag IS NULL")).scalar()
    return _ok({"tags": tags, "every_household_days": every})
