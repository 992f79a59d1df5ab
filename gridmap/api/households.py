"""``/api/v1/visits`` and ``/api/v1/households``: record a door-to-door visit from a
worker's phone (idempotent; a far-away fix is kept but flagged; a visit may open a case),
read a visit, a household and its visit history, the shares visited within cadence and
the overdue households; a worker's day plan (JSON, or a one-page PDF); plus the visit kinds
and household tags with their cadences.

Reads are scoped by row-level security (a grid lead or worker sees their grids only);
a visit is written only for a household, building or unit the caller can see. Personal
data are masked (:func:`gridmap.access.masking.mask_household`) and every read of them is
audited."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app
from sqlalchemy import text

from gridmap.access import User, audit, current_user
from gridmap.access.masking import mask_household
from gridmap.access.policy import Access, allow
from gridmap.access.scope import scoped_connection, unscoped
from gridmap.analytics.errors import NetworkError
from gridmap.analytics.network import WalkGraph
from gridmap.api import household_schemas as s
from gridmap.api.context import engine, json_response, limit_body, taxonomy
from gridmap.api.contract import ErrorOut, Reply, contract
from gridmap.api.errors import handle_api_error
from gridmap.api.serialize import jsonable
from gridmap.cases.intake import validate_case
from gridmap.db.app import URL_KEY
from gridmap.households import cadence, dayplan, visits
from gridmap.households.errors import HouseholdError, HouseholdNotFound
from gridmap.settings import get_settings

blueprint = Blueprint("visits_api", __name__, url_prefix="/api/v1")
blueprint.before_request(limit_body)
blueprint.register_error_handler(Exception, handle_api_error)

VISIT = Reply("The visit.", s.VisitOut)


def _ok(payload: Any, status: int = 200, headers: dict[str, str] | None = None):
    return json_response(jsonable(payload), status, headers)


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
            location = visits.building_place(conn, body.building_id, body.household_id)
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


def _walk_graph() -> WalkGraph | None:
    """The app database's walking graph (kept per process until road_edges change); None
    when no roads are imported (the plan then goes by straight lines and says so)."""
    engine()  # sets the app's database URL when unset
    try:
        with unscoped():  # the road network is not anyone's grid data
            return dayplan.walk_graph(current_app.config[URL_KEY])
    except NetworkError:
        return None


def _plan_grids(query: s.DayPlanQuery, user: User | None) -> tuple[str | None, list[int] | None]:
    """The worker a day plan is for and the grids it covers (None: all the caller sees).

    A grid lead or worker plans within their own grids (row-level security), for
    themselves or, naming a worker, for that worker's grids among their own; others name
    a worker or a grid."""
    worker = query.worker
    if worker is None and user is not None and user.grid_scoped:
        worker = user.username
    grids: list[int] | None = None
    if worker is not None and (user is None or worker != user.username):
        with unscoped(), engine().connect() as conn:
            found = conn.execute(
                text(
                    "SELECT coalesce(array_agg(ug.grid_id ORDER BY ug.grid_id) FILTER "
                    "(WHERE ug.grid_id IS NOT NULL), '{}') FROM users u LEFT JOIN user_grids "
                    "ug ON ug.user_id = u.id WHERE u.username = :w GROUP BY u.id"
                ),
                {"w": worker},
            ).scalar()
        if found is not None and user is not None and user.grid_scoped:
            found = [g for g in found if g in user.grid_ids] or None
        if found is None:  # unknown, or sharing no grid with a scoped caller: the same
            raise HouseholdNotFound(f"There is no worker {worker!r} in your grids.")
        grids = list(found)
    elif worker is not None and user is not None:
        grids = sorted(user.grid_ids) if user.grid_scoped else None
    if query.grid_id is not None:
        grids = [query.grid_id] if grids is None or query.grid_id in grids else []
    if grids is None and (user is None or not user.grid_scoped):
        raise HouseholdError(
            "Name a worker or a grid_id: a day plan covers one worker's grids.",
            hint="GET /api/v1/day-plan?worker=USERNAME or ?grid_id=ID",
        )
    return worker, grids


def _day_plan(
    query: s.DayPlanQuery,
) -> tuple[dict[str, Any], dayplan.DayPlan, WalkGraph | None]:
    """The caller's (or the named worker's) day plan, masked, as JSON and as computed."""
    if (query.start_lon is None) != (query.start_lat is None):
        raise HouseholdError("Give both start_lon and start_lat, or neither.")
    user = current_user()
    worker, grids = _plan_grids(query, user)
    as_of = query.date or _today()
    start = (query.start_lon, query.start_lat) if query.start_lon is not None else None
    with engine().connect() as conn:
        rows = dayplan.due_households(conn, as_of, _tz(), grids)
    graph = _walk_graph() if rows else None
    plan = dayplan.plan_route(graph, rows, as_of, start=start, max_stops=query.max_stops)
    for stop in plan.stops:
        stop["households"] = [mask_household(h, user) for h in stop["households"]]
    audit.record(
        audit.VIEW_PERSONAL, "households:day-plan", {"worker": worker, "n": plan.households}
    )
    body = {
        "date": as_of,
        "worker": worker,
        "grid_ids": grids,
        "households": plan.households,
        "left_out": plan.left_out,
        "length_m": plan.length_m,
        "nearest_neighbour_m": plan.nearest_neighbour_m,
        "method": plan.method,
        "stops": plan.stops,
        "route": {"type": "LineString", "coordinates": plan.line},
    }
    return body, plan, graph


@blueprint.get("/day-plan")
@allow(Access.PERSONAL)
@contract(
    query=s.DayPlanQuery,
    responses={
        200: Reply("The day plan.", s.DayPlanOut),
        404: Reply("No such worker (in the caller's grids).", ErrorOut),
    },
)
def get_day_plan(query: s.DayPlanQuery):
    """A worker's day plan: the households due or overdue that day in their grids (the
    vulnerable and the longest overdue first, at most max_stops buildings), grouped by
    building and ordered into a walking route over the walking network (personal data:
    masked, audited)."""
    body, _plan, _graph = _day_plan(query)
    return _ok(body)


@blueprint.get("/day-plan.pdf")
@allow(Access.PERSONAL)
@contract(
    query=s.DayPlanQuery,
    responses={
        200: Reply(
            "The day plan as a one-page A4 PDF (list and small map).",
            {"type": "string", "format": "binary"},
            media="application/pdf",
        ),
        404: Reply("No such worker (in the caller's grids).", ErrorOut),
    },
)
def get_day_plan_pdf(query: s.DayPlanQuery):
    """The day plan printed: one A4 page with the route on a small map and the list."""
    from gridmap.households.dayplan_print import render_day_plan

    body, plan, graph = _day_plan(query)
    with engine().connect() as conn:
        names = dict(conn.execute(text("SELECT slug, name_zh FROM household_tags")).all())
    pdf = render_day_plan(body, plan, graph, names)
    name = f"day-plan-{body['date'].isoformat()}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )
