"""The case API's contract: request and response models of ``/api/v1/cases…`` (see
:mod:`gridmap.api.contract`).

Every limit comes from where the domain keeps it — text lengths from
:data:`gridmap.cases.intake.MAX_LEN`, sources and statuses from ``intake``, time bounds from
:mod:`gridmap.bounds`, categories from the live taxonomy — so the document, this validation
and the domain checks of ``validate_case`` (shared with Open311 and file imports) name the
same figures. What the models cannot say (a subcategory must belong to its category, lon
needs lat, a taxonomy's defaults) stays in ``validate_case``, which runs after the model.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from gridmap import bounds
from gridmap.api.contract import (
    PATTERN_MESSAGES,
    BodyModel,
    Choice,
    CommaList,
    HeaderModel,
    QueryModel,
)
from gridmap.api.contract import ResponseModel as Out
from gridmap.api.moments import Moment, PastMoment
from gridmap.cases.filters import SOURCES, STATUSES
from gridmap.cases.intake import IDEMPOTENCY_KEY, MAX_LEN, PHONE, RANGES
from gridmap.cases.taxonomy import HANDLING_TYPES, get_taxonomy
from gridmap.cases.workflow import BY_ACTION
from gridmap.settings import get_settings

#: Text without NUL characters (PostgreSQL text cannot hold them).
NO_NUL = r"^[^\x00]*$"
PATTERN_MESSAGES.update(
    {
        NO_NUL: "must not contain NUL characters",
        PHONE.pattern: "must be digits, spaces, +, - or parentheses",
        IDEMPOTENCY_KEY.pattern: "must be 1–200 printable ASCII characters, no spaces",
    }
)
MAX_ID = 2**31 - 1


def text(field: str) -> Any:
    """A trimmed string of at most MAX_LEN[field] characters, no NUL."""
    return Annotated[
        str,
        Strict(),
        StringConstraints(strip_whitespace=True, max_length=MAX_LEN[field], pattern=NO_NUL),
    ]


def _iso_text(value: Any) -> Any:
    """Moments come as ISO 8601 text (as documented), not as numbers of seconds."""
    if not isinstance(value, str):
        raise PydanticCustomError(
            "datetime_type", "must be an ISO 8601 date-time string", {"error": "not text"}
        )
    return value


Reported = Annotated[PastMoment, BeforeValidator(_iso_text)]
Lon = Annotated[
    float, Strict(), Field(ge=RANGES["lon"][0], le=RANGES["lon"][1], allow_inf_nan=False)
]
Lat = Annotated[
    float, Strict(), Field(ge=RANGES["lat"][0], le=RANGES["lat"][1], allow_inf_nan=False)
]
Id = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]


def _categories() -> Collection[str]:
    return get_taxonomy().by_slug.keys()


def _subcategories() -> Collection[str]:
    return get_taxonomy().subcategories.keys()


def _names(items: Any) -> list[str]:
    return [name for item in items for name in (item.zh, item.en)]


Category = Annotated[str, Choice("category", _categories)]
Subcategory = Annotated[str, Choice("subcategory", _subcategories)]
#: A category or subcategory of a report: its slug, Chinese or English name.
CategoryName = Annotated[
    str,
    Choice(
        "category",
        _categories,
        aliases=lambda: _names(get_taxonomy().categories),
        accepts=lambda v: get_taxonomy().category(v) is not None,
    ),
]
SubcategoryName = Annotated[
    str,
    Choice(
        "subcategory",
        _subcategories,
        aliases=lambda: _names(get_taxonomy().subcategories.values()),
        accepts=lambda v: get_taxonomy().subcategory(v) is not None,
    ),
]
Status = Annotated[str, Choice("value", lambda: STATUSES)]
Source = Annotated[str, Choice("value", lambda: SOURCES)]


# -- requests --------------------------------------------------------------------------------


class IdempotencyHeaders(HeaderModel):
    idempotency_key: Annotated[
        str | None,
        Field(
            alias="Idempotency-Key",
            pattern=IDEMPOTENCY_KEY.pattern,
            description="Retry key: the same key from the same account returns the case it "
            "first created (200, Idempotent-Replayed: true). Keys are scoped to the caller.",
        ),
    ] = None


class CaseIn(BodyModel):
    """A case report (the taxonomy fills priority, handling type and time limit)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "title": "路灯不亮",
                "subcategory": "street_light",
                "lon": 120.005,
                "lat": 30.005,
                "address": "幸福路1号",
                "reporter_name": "张三",
                "reporter_phone": "13812345678",
            }
        }
    )

    title: Annotated[text("title"), Field(min_length=1)]
    description: text("description") | None = None
    category: CategoryName | None = Field(
        None, description="A category's slug or name (or give subcategory)"
    )
    subcategory: SubcategoryName | None = None
    source: Annotated[str, Choice("source", lambda: SOURCES)] | None = None
    priority: (
        Annotated[int, Strict(), Field(ge=RANGES["priority"][0], le=RANGES["priority"][1])] | None
    ) = None
    handling_type: Annotated[str, Choice("handling_type", lambda: HANDLING_TYPES)] | None = None
    lon: Lon | None = None
    lat: Lat | None = None
    address: text("address") | None = None
    reporter_name: text("reporter_name") | None = None
    reporter_phone: (
        Annotated[str, Strict(), Field(max_length=MAX_LEN["reporter_phone"], pattern=PHONE.pattern)]
        | None
    ) = None
    external_id: text("external_id") | None = None
    reported_at: Reported | None = Field(
        None,
        description=f"When it was reported (default: now); from "
        f"{bounds.EARLIEST.date().isoformat()} to "
        f"{int(bounds.FUTURE_SLACK.total_seconds() // 60)} minutes ahead of the server's clock.",
    )


class ActionIn(BodyModel):
    """One workflow step."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"action": "dispatch", "actor": "社区", "grid_id": 1}}
    )

    action: Annotated[str, Choice("action", lambda: list(BY_ACTION))]
    actor: Annotated[text("actor"), Field(min_length=1)]
    note: text("note") | None = None
    grid_id: Id | None = None
    department: text("department") | None = None
    satisfaction: (
        Annotated[int, Strict(), Field(ge=RANGES["satisfaction"][0], le=RANGES["satisfaction"][1])]
        | None
    ) = None
    expected_status: Status | None = None


def _box(box: list[float]) -> list[float]:
    minx, miny, maxx, maxy = box
    if not (minx < maxx and -90 <= miny < maxy <= 90):
        raise ValueError("must lie within lon -180..180, lat -90..90 with min < max")
    return box


QueryId = Annotated[int, Field(ge=1, le=MAX_ID)]
Bbox = Annotated[
    CommaList[Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]],
    Field(min_length=4, max_length=4),
    AfterValidator(_box),
]


class KpiQuery(QueryModel):
    """Filters of the listing and the KPIs (lists are comma-separated)."""

    status: CommaList[Status] | None = None
    category: CommaList[Annotated[str, Choice("value", _categories)]] | None = None
    subcategory: CommaList[Annotated[str, Choice("value", _subcategories)]] | None = None
    grid_id: CommaList[QueryId] | None = None
    source: CommaList[Source] | None = None
    since: Moment | None = None
    until: Moment | None = None
    bbox: Bbox | None = Field(None, description="minx,miny,maxx,maxy in lon/lat")
    overdue: bool | None = None
    min_escalation: Annotated[int, Field(ge=0, le=3)] | None = None


@functools.cache
def _list_query(page_max: int) -> type[QueryModel]:
    class CaseListQuery(KpiQuery):
        limit: Annotated[int, Field(ge=1, le=page_max)] = 50
        offset: Annotated[int, Field(ge=0, le=10**9)] = 0

    return CaseListQuery


def list_query() -> type[QueryModel]:
    """The listing's query model (its largest page is the cases_page_max setting)."""
    return _list_query(get_settings().cases_page_max)


class CamerasQuery(QueryModel):
    radius_m: Annotated[int, Field(ge=1, le=5000)] | None = None
    limit: Annotated[int, Field(ge=1, le=50)] | None = None


# -- responses -------------------------------------------------------------------------------


class Names(Out):
    zh: str
    en: str


class Location(Out):
    lon: float
    lat: float


class GridRef(Out):
    id: int
    code: str | None
    name: str | None


class CaseOut(Out):
    """A case as the API shows it (personal data masked for the caller's role)."""

    id: int
    code: str
    title: str
    description: str | None
    category: str
    category_name: Names | None
    subcategory: str | None
    subcategory_name: Names | None
    source: str
    status: str
    allowed_actions: list[str]
    priority: int
    handling_type: str | None
    reported_at: datetime
    due_at: datetime | None
    dispatched_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime | None
    overdue: bool
    escalation_level: int
    escalation_unit: str
    department: str | None
    satisfaction: int | None
    reporter_name: str | None
    reporter_phone: str | None
    address: str | None
    external_id: str | None
    location: Location | None
    grid: GridRef | None


class EventOut(Out):
    """One history entry (an import entry has no id); actors and notes masked like the
    reporter."""

    id: int | None
    at: datetime
    actor: str | None
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None


class CameraOut(Out):
    id: int
    code: str
    name: str | None
    kind: str | None
    status: str
    distance_m: float
    location: Location
    grid_id: int | None


class CaseDetail(CaseOut):
    history: list[EventOut]
    cameras: list[CameraOut]
    visit_id: int | None = Field(None, description="The door-to-door visit that opened the case")


class CaseStored(Out):
    """A stored case whose details could not be read back just then (see Location)."""

    id: int
    message: str


class CasePage(Out):
    cases: list[CaseOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class Kpis(Out):
    total: int
    open: int
    overdue_open: int
    escalated: int
    resolved: int
    resolved_on_time: int
    unassigned: int
    mean_satisfaction: float | None
    on_time_rate: float | None
    by_status: dict[str, int] | None
    by_category: dict[str, int] | None


class ActionOut(Out):
    event: EventOut
    case: CaseDetail


class WorkflowStep(Out):
    action: str
    name_zh: str
    to: str
    to_if_assigned: str | None
    needs: list[str]
    from_: list[str] = Field(alias="from")


class SubcategoryOut(Out):
    slug: str
    zh: str
    en: str
    priority: int
    sla_hours: float
    handling_type: str


class CategoryOut(SubcategoryOut):
    subcategories: list[SubcategoryOut]


class TaxonomyOut(Out):
    handling_types: dict[str, Names]
    categories: list[CategoryOut]
