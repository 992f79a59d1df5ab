"""The visit API's contract: request and response models of ``/api/v1/visits…``,
``/api/v1/households…`` and the lists they use (see :mod:`gridmap.api.contract`).

A visit's kind is checked against the live list (``visit_kinds``) by the service, which
names the known kinds; the outcome is a fixed list (:data:`gridmap.households.visits.OUTCOMES`).
A case opened by a visit goes through intake's own checks (``validate_case``)."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, Strict, StringConstraints

from gridmap.api.case_schemas import (
    MAX_ID,
    CategoryName,
    Id,
    IdempotencyHeaders,
    Lat,
    Lon,
    Reported,
    SubcategoryName,
    text,
)
from gridmap.api.contract import BodyModel, QueryModel
from gridmap.api.contract import ResponseModel as Out
from gridmap.api.patrol_schemas import MAX_BIGINT, NO_CONTROL

__all__ = ["IdempotencyHeaders"]

#: Longest visit note (characters).
MAX_NOTE = 2000
#: An id in a query string (text, so not strict: '7' is 7).
QueryId = Annotated[int, Field(ge=1, le=MAX_ID)]
BigId = Annotated[int, Strict(), Field(ge=1, le=MAX_BIGINT)]
Slug = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=40,
                                     pattern=NO_CONTROL)
]  # fmt: skip
Note = Annotated[
    str, Strict(), StringConstraints(strip_whitespace=True, max_length=MAX_NOTE, pattern=NO_CONTROL)
]
Outcome = Literal["met", "not_home", "follow_up"]


class CaseFromVisit(BodyModel):
    """A case the visit opens (located at the visit's fix, else at the building)."""

    title: Annotated[text("title"), Field(min_length=1)]
    description: text("description") | None = None
    category: CategoryName | None = Field(
        None, description="A category's slug or name (or give subcategory)"
    )
    subcategory: SubcategoryName | None = None
    priority: Annotated[int, Strict(), Field(ge=1, le=4)] | None = None


class VisitIn(BodyModel):
    """A visit: which household (or building, or ten-household unit), when, what, how it
    went; optionally a GPS fix and a case to open."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "household_id": 1,
                "kind": "care",
                "outcome": "met",
                "note": "老人身体状况良好",
                "lon": 120.005,
                "lat": 30.005,
                "accuracy_m": 8,
            }
        }
    )

    household_id: BigId | None = None
    building_id: BigId | None = None
    unit_id: Id | None = Field(None, description="A ten-household unit (联户单元)")
    visited_at: Reported | None = Field(None, description="When (default: now)")
    kind: Slug = Field(description="A visit kind's slug (GET /api/v1/visit-kinds)")
    outcome: Outcome = Field(
        description="met; not_home (not counted as seen); follow_up (needs another visit)"
    )
    note: Note | None = None
    lon: Lon | None = None
    lat: Lat | None = None
    accuracy_m: Annotated[float, Strict(), Field(ge=0, le=100_000, allow_inf_nan=False)] | None = (
        None
    )
    open_case: CaseFromVisit | None = None


class VisitOut(Out):
    id: int
    household_id: int | None
    building_id: int | None
    unit_id: int | None
    grid_id: int | None
    worker_id: int | None
    worker_name: str | None
    visited_at: datetime
    kind: str
    kind_zh: str
    outcome: str
    note: str | None
    lon: float | None
    lat: float | None
    accuracy_m: float | None
    distance_m: float | None = Field(description="Metres from the fix to the building")
    far_fix: bool = Field(description="The fix lies farther than visit_far_fix_m: not counted")
    case_id: int | None
    case_code: str | None
    created_at: datetime


class VisitList(Out):
    visits: list[VisitOut]


class HouseholdOut(Out):
    id: int
    code: str
    building_id: int
    building_code: str
    address: str
    unit: str | None
    floor: int | None
    room: str | None
    head_name: str | None
    head_phone: str | None
    members: int
    tags: list[str]
    unit_id: int | None
    unit_name: str | None
    grid_id: int | None
    compound_id: int | None
    registered_on: date
    last_visited_at: datetime | None
    cadence_days: int | None


class HistoryQuery(QueryModel):
    limit: Annotated[int, Field(ge=1, le=1000)] = 200


class KindOut(Out):
    slug: str
    name_zh: str
    name_en: str


class TagOut(Out):
    slug: str
    name_zh: str
    name_en: str
    vulnerable: bool
    cadence_days: int | None


class TagsOut(Out):
    tags: list[TagOut]
    every_household_days: int | None


class StatusQuery(QueryModel):
    as_of: date | None = Field(None, description="Local day (default: today)")
    grid_id: QueryId | None = None


class SharesQuery(StatusQuery):
    by: Literal["grid", "unit"] = "grid"


class ShareOut(Out):
    id: int
    households: int
    visited: int
    overdue: int
    vulnerable_overdue: int
    share: float


class SharesOut(Out):
    as_of: date
    by: str
    groups: list[ShareOut]


class OverdueQuery(StatusQuery):
    unit_id: QueryId | None = None
    vulnerable: bool = Field(False, description="Only households with a vulnerable tag")
    limit: Annotated[int, Field(ge=1, le=5000)] = 500


class PlanHouseholdOut(Out):
    household_id: int
    code: str
    building_id: int
    grid_id: int | None
    ten_household_unit_id: int | None
    unit: str | None
    floor: int | None
    room: str | None
    head_name: str | None
    head_phone: str | None
    tags: list[str]
    cadence_days: int
    last_seen_on: date | None
    due_on: date
    days_overdue: int
    vulnerable: bool


class OverdueOut(PlanHouseholdOut):
    """An overdue household (as on a day plan) with its building's address."""

    address: str


class OverdueList(Out):
    as_of: date
    households: list[OverdueOut]


class DayPlanQuery(QueryModel):
    worker: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80,
                               pattern=NO_CONTROL)
    ] | None = Field(
        None,
        description="A worker's username (default: the caller); the plan covers their grids "
        "(for a grid lead or worker: only those of the caller's own grids)",
    )  # fmt: skip
    date: dt.date | None = Field(None, description="Local day (default: today)")
    grid_id: QueryId | None = Field(None, description="Only this grid")
    max_stops: Annotated[int, Field(ge=1, le=60)] = Field(
        40, description="Most buildings on the route (the most urgent first)"
    )
    start_lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] | None = Field(
        None, description="Where the walk starts (with start_lat)"
    )
    start_lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)] | None = None


class StopOut(Out):
    seq: int = Field(description="Place on the route, from 1")
    building_id: int
    address: str
    lon: float
    lat: float
    walk_m: float = Field(description="Metres walked from the start of the route")
    snap_m: float = Field(description="Metres from the building to the walking network")
    households: list[PlanHouseholdOut]


class DayPlanOut(Out):
    date: dt.date
    worker: str | None
    grid_ids: list[int] | None
    households: int = Field(description="Households on the route")
    left_out: int = Field(description="Due households beyond max_stops buildings")
    length_m: float = Field(description="Length of the route (m, over the walking network)")
    nearest_neighbour_m: float = Field(description="Length of the nearest-neighbour order")
    method: str = Field(description="How the order was found")
    stops: list[StopOut]
    route: dict = Field(description="The route as a GeoJSON LineString (lon/lat)")
