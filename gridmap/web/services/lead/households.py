"""The grid lead's households: one grid's overdue households (masked and audited as the
API does), its share visited within cadence, the visit kinds, the buildings and
ten-household units a visit may name, the overdue-visits map trace of its buildings, and
recording a visit through the API's own service
(:func:`gridmap.households.visits.record_visit`: idempotent, the same rules).

The visit form is checked as the phone app's POST /api/v1/visits is: the form's values
become the API's body and :class:`gridmap.api.household_schemas.VisitIn` validates it (the
same ranges, lengths and taxonomy); a case it opens goes through intake's
``validate_case``, located at the fix, else at the building. Every problem names the
form's field (:attr:`Problem.field`: the API's names, ``target`` for "what was visited",
``case_category`` / ``case_description`` for the case) and whether it is missing or wrong
(:attr:`Problem.message`: ``missing`` or ``invalid``), so the page words it per language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gridmap.access import User, audit
from gridmap.access.masking import mask_household
from gridmap.access.scope import unscoped
from gridmap.api.contract import check
from gridmap.api.household_schemas import VisitIn
from gridmap.cases.intake import MAX_LEN, validate_case
from gridmap.cases.taxonomy import get_taxonomy
from gridmap.errors import InvalidInput, Problem
from gridmap.households import cadence, visits
from gridmap.households.errors import HouseholdNotFound
from gridmap.settings import get_settings
from gridmap.web.services.lead.scope import (
    GridReadError,
    narrow,
    user_connection,
    visible_grid_ids,
)
from layers.base import LayerContext
from layers.overdue_visits import OverdueVisitsLayer, today

#: Most overdue households the panel lists (the most days overdue first).
MAX_LISTED = 50
#: Longest note the form takes (as the API: household_schemas.MAX_NOTE).
MAX_NOTE = 2000
#: Longest description of a case opened from the form (intake's limit).
MAX_CASE_DESCRIPTION = MAX_LEN["description"]
#: Characters of the description a case opened from the form takes as its title.
CASE_TITLE_CHARS = 60
#: Most buildings the form offers (a grid's residential buildings, by address).
MAX_BUILDINGS = 300
#: A visit's targets: the form's field, the API's field and the table it names.
TARGETS = (
    ("household_id", "households"),
    ("building_id", "buildings"),
    ("unit_id", "ten_household_units"),
)
MISSING, INVALID = "missing", "invalid"
#: The overdue-visits trace's fixed uid on the lead's map.
OVERDUE_UID = "lead_overdue_visits"


@dataclass(frozen=True)
class GridHouseholds:
    """One grid's visit figures and its overdue households (masked for the user)."""

    grid_id: int
    as_of: date
    households: int
    visited: int
    overdue: int
    vulnerable_overdue: int
    share: float | None
    listed: list[dict[str, Any]]


def _tz() -> str:
    return get_settings().cases_timezone


def grid_households(
    engine: Engine, user: User | None, grid_id: int, *, as_of: date | None = None
) -> GridHouseholds | None:
    """Grid ``grid_id``'s share visited and its overdue households (None: the user may
    not see the grid). Reading the list is a view of personal data: audited."""
    ids = narrow(visible_grid_ids(user), [grid_id])
    if not ids:
        return None
    day = as_of or today(_tz())
    with user_connection(engine, user) as conn:
        shares = cadence.visit_shares(conn, day, _tz(), grid_ids=ids)
        rows = cadence.overdue_households(conn, day, _tz(), grid_ids=ids, limit=MAX_LISTED)
    share = shares[0] if shares else {}
    _audit(user, engine, grid_id, len(rows))
    return GridHouseholds(
        grid_id=grid_id,
        as_of=day,
        households=int(share.get("households", 0)),
        visited=int(share.get("visited", 0)),
        overdue=int(share.get("overdue", 0)),
        vulnerable_overdue=int(share.get("vulnerable_overdue", 0)),
        share=share.get("share"),
        listed=[mask_household(r, user) for r in rows],
    )


def _audit(user: User | None, engine: Engine, grid_id: int, count: int) -> None:
    try:
        audit.record(
            audit.VIEW_PERSONAL,
            "households:overdue",
            {"grid_id": grid_id, "n": count, "page": "/lead"},
            user=user,
            engine=engine,
        )
    except SQLAlchemyError as exc:
        raise GridReadError("The audit log could not be written.") from exc


def visit_kinds(engine: Engine) -> list[dict[str, Any]]:
    """The configured visit kinds, in order."""
    try:
        with engine.connect() as conn:
            return visits.visit_kinds(conn)
    except SQLAlchemyError as exc:
        raise GridReadError("The visit kinds could not be read.") from exc


def overdue_trace(
    engine: Engine, user: User | None, grid_id: int | None, lang: str, *, as_of: date | None = None
) -> dict[str, Any]:
    """The overdue-visits layer's trace of grid ``grid_id``'s buildings (None: empty), a
    plotly JSON dict for the lead's map."""
    layer = OverdueVisitsLayer(as_of=as_of, grid_ids=None if grid_id is None else (int(grid_id),))
    if grid_id is None or not narrow(visible_grid_ids(user), [int(grid_id)]):
        trace = layer.empty_traces(lang)[0].to_plotly_json()
    else:
        data = layer.export(LayerContext(engine, user=user))
        trace = layer.traces(data, lang)[0].to_plotly_json()
    return trace | {"uid": OVERDUE_UID, "below": ""}  # drawn in trace order (see lead_map)


BUILDINGS = text(
    """
    SELECT b.id, b.code, b.address, count(h.id) AS households
    FROM buildings b JOIN households h ON h.building_id = b.id
    WHERE b.grid_id = :grid
    GROUP BY b.id ORDER BY b.address, b.code LIMIT :limit
    """
)
UNITS = text(
    """
    SELECT u.id, u.code, u.name, count(h.id) AS households
    FROM ten_household_units u LEFT JOIN households h ON h.ten_household_unit_id = u.id
    WHERE u.grid_id = :grid
    GROUP BY u.id ORDER BY u.code
    """
)


@dataclass(frozen=True)
class Targets:
    """What a visit in one grid may name besides a household: its buildings with
    households (by address, at most :data:`MAX_BUILDINGS`) and its ten-household units."""

    buildings: list[dict[str, Any]]
    units: list[dict[str, Any]]


def grid_targets(engine: Engine, user: User | None, grid_id: int) -> Targets:
    """Grid ``grid_id``'s buildings and units as the user sees them (none: not theirs)."""
    if not narrow(visible_grid_ids(user), [grid_id]):
        return Targets([], [])
    with user_connection(engine, user) as conn:
        buildings = conn.execute(BUILDINGS, {"grid": grid_id, "limit": MAX_BUILDINGS}).mappings()
        units = conn.execute(UNITS, {"grid": grid_id}).mappings()
        return Targets([dict(r) for r in buildings], [dict(r) for r in units])


def case_categories() -> list[dict[str, str]]:
    """The case taxonomy's categories (slug, zh, en) a visit may open a case in."""
    return [{"slug": c.slug, "zh": c.zh, "en": c.en} for c in get_taxonomy().categories]


@dataclass(frozen=True)
class VisitForm:
    """The visit form's values as the browser sent them (anything; checked by
    :func:`record`)."""

    kind: Any = None
    outcome: Any = None
    household_id: Any = None
    building_id: Any = None
    unit_id: Any = None
    note: Any = None
    lon: Any = None
    lat: Any = None
    open_case: bool = False
    case_category: Any = None
    case_description: Any = None


@dataclass(frozen=True)
class Recorded:
    """A visit stored (or the one a retry names): the far-fix flag and distance, and the
    case it opened."""

    id: int
    created: bool
    far_fix: bool
    distance_m: float | None
    case_id: int | None
    case_code: str | None


class TargetNotFound(HouseholdNotFound):
    """The household, building or unit named is not one the user may see."""

    def __init__(self, field: str, row_id: int) -> None:
        super().__init__(f"There is no {field.removesuffix('_id')} {row_id} in your grids.")
        self.field = field


def _id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _coordinate(value: Any) -> float | str | None:
    """A form's number as a float, None when left empty, ``INVALID`` otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return INVALID
    try:
        number = float(value)
    except (TypeError, ValueError):
        return INVALID
    return number if number == number and abs(number) != float("inf") else INVALID


def _form_problems(form: VisitForm) -> tuple[dict[str, Any], list[Problem]]:
    """The API body the form says, and what the form itself lacks (a target, kind,
    outcome; a fix half given; a case without category or description)."""
    problems: list[Problem] = []
    body: dict[str, Any] = {}
    named = [(f, getattr(form, f)) for f, _ in TARGETS if getattr(form, f) is not None]
    if not named:
        problems.append(Problem("target", MISSING))
    elif len(named) > 1 or not all(_id(v) for _, v in named):
        problems.append(Problem("target", INVALID))
    else:
        body[named[0][0]] = named[0][1]
    for field in ("kind", "outcome"):
        value = getattr(form, field)
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(field, MISSING))
        else:
            body[field] = value
    if isinstance(form.note, str) and form.note.strip():
        body["note"] = form.note
    elif form.note is not None and not isinstance(form.note, str):
        problems.append(Problem("note", INVALID))
    lon, lat = _coordinate(form.lon), _coordinate(form.lat)
    for field, value, other in (("lon", lon, lat), ("lat", lat, lon)):
        if value == INVALID:
            problems.append(Problem(field, INVALID))
        elif value is None and other is not None:
            problems.append(Problem(field, MISSING))
        elif value is not None:
            body[field] = value
    if form.open_case:
        description = form.case_description
        if not isinstance(form.case_category, str) or not form.case_category:
            problems.append(Problem("case_category", MISSING))
        if not isinstance(description, str) or not description.strip():
            problems.append(Problem("case_description", MISSING))
        elif len(description.strip()) > MAX_CASE_DESCRIPTION:
            problems.append(Problem("case_description", INVALID))
        else:
            title = description.strip().splitlines()[0][:CASE_TITLE_CHARS]
            body["open_case"] = {
                "title": title,
                "description": description.strip(),
                "category": form.case_category,
            }
    return body, problems


#: The API's field names (VisitIn) as the form's.
_API_FIELDS = {
    "open_case.category": "case_category",
    "open_case.description": "case_description",
    "open_case.title": "case_description",
    "open_case": "case_category",
    "household_id": "target",
    "building_id": "target",
    "unit_id": "target",
}


def check_form(form: VisitForm) -> VisitIn:
    """The form as the API's validated body, or InvalidInput naming each form field that
    is missing or wrong (the API's own checks: VisitIn)."""
    body, problems = _form_problems(form)
    if problems:
        raise InvalidInput(problems)
    model, api_problems = check(VisitIn, body)
    if api_problems:
        fields = dict.fromkeys(_API_FIELDS.get(p.field, p.field) for p in api_problems)
        raise InvalidInput([Problem(f, INVALID) for f in fields])
    return model


def _located_case(conn: Any, body: VisitIn) -> Any:
    """The case the visit opens, validated by intake: at the fix, else at the building
    (the household's), else without a place (a unit's visit without a fix)."""
    if body.open_case is None:
        return None
    data = body.open_case.model_dump(exclude_none=True)
    if body.lon is not None and body.lat is not None:
        data["lon"], data["lat"] = body.lon, body.lat
    elif body.household_id is not None or body.building_id is not None:
        place = visits.building_place(conn, body.building_id, body.household_id)
        if place is not None:
            data["lon"], data["lat"] = place
    try:
        return validate_case(data, get_taxonomy(), source="grid_worker", tz=_tz())
    except InvalidInput as exc:
        fields = dict.fromkeys(_API_FIELDS.get(f"open_case.{p.field}", "case_category")
                               for p in exc.problems)  # fmt: skip
        raise InvalidInput([Problem(f, INVALID) for f in fields]) from exc


def record(engine: Engine, user: User | None, form: VisitForm, *, key: str | None) -> Recorded:
    """Record the form's visit by ``user`` to a household, building or ten-household unit
    they may see (TargetNotFound otherwise; InvalidInput naming the form's fields), with
    its optional fix (kept, flagged when far from the building) and the case it opens
    (linked both ways); ``key``: the form's idempotency key (a double click records one)."""
    body = check_form(form)
    with user_connection(engine, user) as conn:
        for field, table in TARGETS:
            row_id = getattr(body, field)
            if row_id is not None and (user is None or not visits.visible(conn, table, row_id)):
                raise TargetNotFound(field, row_id)
        case = _located_case(conn, body)
    new = visits.NewVisit(
        visited_at=datetime.now(UTC),
        visited_at_given=False,
        kind=body.kind,
        outcome=body.outcome,
        household_id=body.household_id,
        building_id=body.building_id,
        unit_id=body.unit_id,
        note=body.note or None,
        lon=body.lon,
        lat=body.lat,
        case=case,
    )
    try:
        with unscoped():  # the app writes it (the grid reader cannot), as the API does
            visit_id, created = visits.record_visit(
                engine,
                new,
                far_m=get_settings().visit_far_fix_m,
                idempotency_key=key,
                worker_id=user.id,
                worker_name=user.display_name,
            )
            with engine.connect() as conn:  # the row just written (its case may lie
                row = visits.get_visit(conn, visit_id)  # outside the user's grids)
    except SQLAlchemyError as exc:
        raise GridReadError(
            "The visit could not be recorded.", hint=type(exc.orig or exc).__name__
        ) from exc
    return Recorded(
        id=visit_id,
        created=created,
        far_fix=bool(row["far_fix"]),
        distance_m=row["distance_m"],
        case_id=row["case_id"],
        case_code=row["case_code"],
    )
