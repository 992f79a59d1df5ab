"""Case intake: the one validation every channel (JSON API, Open311, bulk import) goes
through, and the idempotent insert of a validated case.

Where the limits live: :data:`MAX_LEN`, :data:`RANGES`, :data:`PHONE`, :data:`SOURCES`,
:data:`STATUSES`, :mod:`gridmap.bounds` and the taxonomy. The HTTP doors' pydantic models
(:mod:`gridmap.api.case_schemas`, :mod:`gridmap.api.open311_schemas`) are built from these
same constants, so the OpenAPI document, the doors' validation and this module name the
same figures (tests/gridmap/api/test_case_schemas.py holds them together).
:func:`validate_case` is the domain check every channel runs: taxonomy membership and
defaults, a subcategory within its category, lon with lat, times in order. Its field reader
(``_Checker``) is lenient about spreadsheet cells (numbers as text, Excel dates) and stays
hand-written because a file import reads every row through it: it checks a row about three
times as fast as the doors' pydantic model (~95k vs ~32k rows/s on one core), and the
import's validation runs beside its COPY, so it must not become the slower half. The HTTP
doors hand it only what their model has already accepted."""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gridmap.bounds import EARLIEST, latest_allowed, moment_problem
from gridmap.cases.errors import CaseError, IdempotencyConflict
from gridmap.cases.filters import RESOLVED_STATUSES, SOURCES, STATUSES
from gridmap.cases.taxonomy import HANDLING_TYPES, Taxonomy
from gridmap.errors import InvalidInput, Problem, type_name

#: Longest accepted text per field (characters).
MAX_LEN = {
    "title": 200,
    "description": 5000,
    "address": 500,
    "reporter_name": 100,
    "reporter_phone": 32,
    "external_id": 100,
    "department": 100,
    "actor": 100,
    "note": 2000,
}
#: Smallest and largest accepted value per numeric field.
RANGES: dict[str, tuple[int, int]] = {
    "priority": (1, 4),
    "satisfaction": (1, 5),
    "lon": (-180, 180),
    "lat": (-90, 90),
}
PHONE = re.compile(r"^[0-9+()\- ]{3,32}$")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
#: A key-less report that repeats one the same account made this recently is a retry.
DUPLICATE_WINDOW = timedelta(minutes=10)

#: Fields a channel may send for a new case.
NEW_FIELDS = (
    "title",
    "description",
    "category",
    "subcategory",
    "source",
    "priority",
    "handling_type",
    "lon",
    "lat",
    "address",
    "reporter_name",
    "reporter_phone",
    "external_id",
    "reported_at",
)
#: Extra fields a historical import may carry.
HISTORY_FIELDS = (
    "status",
    "department",
    "dispatched_at",
    "resolved_at",
    "closed_at",
    "satisfaction",
)


class DuplicateCase(CaseError):
    """A case with this source and external id already exists."""

    http_status = 409


@dataclass(frozen=True)
class NewCase:
    """A validated case, ready to insert (column names as in the ``cases`` table)."""

    title: str
    description: str | None
    category: str
    subcategory: str | None
    source: str
    priority: int
    handling_type: str
    lon: float | None
    lat: float | None
    address: str | None
    reporter_name: str | None
    reporter_phone: str | None
    external_id: str | None
    reported_at: datetime
    due_at: datetime
    status: str = "reported"
    department: str | None = None
    dispatched_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    satisfaction: int | None = None

    def params(self) -> dict[str, Any]:
        """Bind parameters for the insert."""
        return asdict(self)


class _Checker:
    """Collects problems while reading fields of one submission."""

    def __init__(self, data: Mapping[str, Any], tz: ZoneInfo, row: int | None) -> None:
        self.data = data
        self.tz = tz
        self.row = row
        self.problems: list[Problem] = []

    @property
    def latest(self) -> datetime:
        """The latest moment a submission may name (gridmap.bounds: now plus the slack), in
        the checker's zone: moments in the same zone compare without offset lookups."""
        return _latest_in(self.tz)

    @property
    def earliest(self) -> datetime:
        """gridmap.bounds.EARLIEST in the checker's zone."""
        return _earliest_in(self.tz)

    def fail(self, field: str, message: str) -> None:
        self.problems.append(Problem(field, message, self.row))

    def text(self, field: str, *, required: bool = False) -> str | None:
        value = self.data.get(field)
        if isinstance(value, str):
            value = value.strip()
        elif (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and field in ("external_id", "reporter_phone")
        ):
            value = str(int(value)) if float(value).is_integer() else str(value)
        elif value is not None:
            self.fail(field, f"must be a string, not {type_name(value)}")
            return None
        if not value:
            if required:
                self.fail(field, "is required")
            return None
        if "\x00" in value:
            self.fail(field, "must not contain NUL characters")
            return None
        limit = MAX_LEN.get(field, 200)
        if len(value) > limit:
            self.fail(field, f"is too long ({len(value)} characters; at most {limit})")
            return None
        return value

    def integer(self, field: str, low: int, high: int) -> int | None:
        value = self.data.get(field)
        if value is None or value == "":
            return None
        if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(field, f"must be an integer {low}–{high}, not {type_name(value)}")
            return None
        if not low <= value <= high:
            self.fail(field, f"must be between {low} and {high} (got {value})")
            return None
        return value

    def number(self, field: str, low: float, high: float) -> float | None:
        value = self.data.get(field)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                self.fail(field, f"must be a number (got {value[:40]!r})")
                return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.fail(field, f"must be a number, not {type_name(value)}")
            return None
        value = float(value)
        if not math.isfinite(value) or not low <= value <= high:
            self.fail(field, f"must be between {low:g} and {high:g} (got {value:g})")
            return None
        return value

    def moment(self, field: str) -> datetime | None:
        value = self.data.get(field)
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                self.fail(field, f"must be an ISO 8601 date-time (got {value[:40]!r})")
                return None
        else:
            self.fail(field, f"must be an ISO 8601 date-time string, not {type_name(value)}")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        if not self.earliest <= moment <= self.latest:
            self.fail(field, moment_problem(moment) or "lies out of bounds")
            return None
        return moment.astimezone(UTC)  # PostgreSQL takes no offset beyond ±15:59


@functools.cache
def _earliest_in(tz: ZoneInfo) -> datetime:
    return EARLIEST.astimezone(tz)


_LATEST: dict[ZoneInfo, tuple[float, datetime]] = {}


def _latest_in(tz: ZoneInfo) -> datetime:
    """gridmap.bounds.latest_allowed() in ``tz``, worked out at most once a second (an
    import checks hundreds of thousands of moments against it)."""
    now = time.monotonic()
    found = _LATEST.get(tz)
    if found is None or now - found[0] > 1.0:
        found = _LATEST[tz] = (now, latest_allowed().astimezone(tz))
    return found[1]


def validate_case(
    data: Mapping[str, Any],
    taxonomy: Taxonomy,
    *,
    source: str,
    history: bool = False,
    tz: str = "Asia/Shanghai",
    row: int | None = None,
    strict: bool = True,
) -> NewCase:
    """Check one submission and fill in the taxonomy's defaults; raise InvalidInput
    naming every bad field. ``history`` admits the fields of a historical import (status,
    timestamps, satisfaction); ``strict`` refuses unknown fields."""
    if not isinstance(data, Mapping):
        raise InvalidInput([Problem("body", "must be a JSON object", row)])
    c = _Checker(data, ZoneInfo(tz), row)
    allowed = NEW_FIELDS + (HISTORY_FIELDS if history else ())
    if strict:
        for key in data:
            if key not in allowed:
                c.fail(str(key)[:40], "is not a known field (known: " + ", ".join(allowed) + ")")

    title = c.text("title", required=True)
    description = c.text("description")
    cat_key = c.text("category")
    sub_key = c.text("subcategory")
    category = taxonomy.category(cat_key) if cat_key else None
    subcategory = taxonomy.subcategory(sub_key) if sub_key else None
    if cat_key and category is None:
        c.fail("category", f"unknown category {cat_key!r} (known: {', '.join(taxonomy.by_slug)})")
    if sub_key and subcategory is None:
        c.fail("subcategory", f"unknown subcategory {sub_key!r}")
    if subcategory and category and subcategory.category != category.slug:
        c.fail("subcategory", f"{subcategory.slug!r} is not in category {category.slug!r}")
    if subcategory and not cat_key:
        category = taxonomy.by_slug[subcategory.category]
    if not cat_key and not sub_key:
        c.fail("category", "is required (a category or subcategory slug)")

    src = c.text("source") or source
    if src not in SOURCES:
        c.fail("source", f"must be one of {', '.join(SOURCES)} (got {src[:40]!r})")
    priority = c.integer("priority", *RANGES["priority"])
    handling = c.text("handling_type")
    if handling and handling not in HANDLING_TYPES:
        c.fail("handling_type", f"must be one of {', '.join(HANDLING_TYPES)}")
    lon = c.number("lon", *RANGES["lon"])
    lat = c.number("lat", *RANGES["lat"])
    for field, other in (("lon", "lat"), ("lat", "lon")):
        if data.get(field) not in (None, "") and data.get(other) in (None, ""):
            c.fail(other, f"is required with {field}")
    address = c.text("address")
    reporter_name = c.text("reporter_name")
    phone = c.text("reporter_phone")
    if phone and not PHONE.match(phone):
        c.fail("reporter_phone", "must be digits, spaces, +, - or parentheses")
    external_id = c.text("external_id")
    reported_at = c.moment("reported_at") or datetime.now(UTC)

    status, department, satisfaction = "reported", None, None
    dispatched_at = resolved_at = closed_at = None
    if history:
        status = c.text("status") or "reported"
        if status not in STATUSES:
            c.fail("status", f"must be one of {', '.join(STATUSES)} (got {status[:40]!r})")
        department = c.text("department")
        dispatched_at = c.moment("dispatched_at")
        resolved_at = c.moment("resolved_at")
        closed_at = c.moment("closed_at")
        satisfaction = c.integer("satisfaction", *RANGES["satisfaction"])
        for field, moment in (
            ("dispatched_at", dispatched_at),
            ("resolved_at", resolved_at),
            ("closed_at", closed_at),
        ):
            if moment is not None and moment < reported_at:
                c.fail(field, "lies before reported_at")
        if status == "closed" and closed_at is None:
            closed_at = resolved_at or reported_at
        if status in RESOLVED_STATUSES and resolved_at is None:
            resolved_at = closed_at or reported_at

    if c.problems:
        raise InvalidInput(c.problems)
    assert category is not None and title is not None
    rule = subcategory or category
    return NewCase(
        title=title,
        description=description,
        category=category.slug,
        subcategory=subcategory.slug if subcategory else None,
        source=src,
        priority=priority or rule.priority,
        handling_type=handling or rule.handling_type,
        lon=lon,
        lat=lat,
        address=address,
        reporter_name=reporter_name,
        reporter_phone=phone,
        external_id=external_id,
        reported_at=reported_at,
        due_at=reported_at + timedelta(hours=rule.sla_hours),
        status=status,
        department=department,
        dispatched_at=dispatched_at,
        resolved_at=resolved_at,
        closed_at=closed_at,
        satisfaction=satisfaction,
    )


INSERT_CASE = text(
    """
    INSERT INTO cases (title, description, category, subcategory, source, priority,
                       handling_type, address, reporter_name, reporter_phone, external_id,
                       reported_at, due_at, status, department, dispatched_at, resolved_at,
                       closed_at, satisfaction, idempotency_key, submitted_by, submitted_at,
                       geom)
    VALUES (:title, :description, :category, :subcategory, :source, :priority,
            :handling_type, :address, :reporter_name, :reporter_phone, :external_id,
            :reported_at, :due_at, :status, :department, :dispatched_at, :resolved_at,
            :closed_at, :satisfaction, :idempotency_key, :submitted_by,
            CASE WHEN CAST(:submitted_by AS integer) IS NULL THEN NULL ELSE now() END,
            CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                 ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END)
    ON CONFLICT (submitted_by, idempotency_key) WHERE idempotency_key IS NOT NULL
    DO NOTHING
    RETURNING id
    """
)
INSERT_REPORT_EVENT = text(
    "INSERT INTO case_events (case_id, at, actor, action, from_status, to_status, note) "
    "VALUES (:id, now(), :actor, 'report', NULL, :status, :note)"
)
SAME_KEY = text(
    "SELECT id, title, description, category, subcategory, ST_X(geom) AS lon, "
    "ST_Y(geom) AS lat FROM cases WHERE idempotency_key = :key "
    "AND submitted_by IS NOT DISTINCT FROM CAST(:submitted_by AS integer)"
)
#: One key-less submission of an account and title at a time (the twin check, then insert).
LOCK_TWINS = text("SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0))")
#: The case a key-less report repeats (see :func:`submit_case`).
RECENT_TWIN = text(
    """
    SELECT id FROM cases
     WHERE submitted_by = :submitted_by
       AND submitted_at >= now() - make_interval(secs => :window)
       AND abs(extract(epoch FROM reported_at - CAST(:reported_at AS timestamptz))) <= :window
       AND source = :source AND title = :title
       AND description IS NOT DISTINCT FROM :description
       AND category = :category AND subcategory IS NOT DISTINCT FROM :subcategory
       AND address IS NOT DISTINCT FROM :address
       AND reporter_name IS NOT DISTINCT FROM :reporter_name
       AND reporter_phone IS NOT DISTINCT FROM :reporter_phone
       AND external_id IS NOT DISTINCT FROM :external_id
       AND CASE WHEN CAST(:lon AS float8) IS NULL THEN geom IS NULL
                ELSE ST_X(geom) = :lon AND ST_Y(geom) = :lat END
     ORDER BY id DESC
     LIMIT 1
    """
)


def submit_case(
    engine: Engine,
    case: NewCase,
    *,
    idempotency_key: str | None = None,
    actor: str | None = None,
    submitted_by: int | None = None,
    natural_key: bool = False,
) -> tuple[int, bool]:
    """Insert a validated case and its 'report' event; return (case id, created).

    With an idempotency key, a retry returns the case the key first created (created=False),
    also when retries race: the unique constraint decides, never a check-then-insert. A key
    reused for a different case is an IdempotencyConflict. Keys belong to the account that
    sent them (``submitted_by``; None for none): another account's key is a new key.

    ``submitted_by`` (the account submitting through the API or Open311) is stored with
    the case. ``natural_key`` (the client sent no Idempotency-Key) makes a report that
    repeats one the same account submitted within DUPLICATE_WINDOW a retry: the same
    source, title, description, category, subcategory, location (lon/lat, or none),
    address, reporter name and phone and external id, and a reported_at at most the window
    apart (the server's clock when the client gives none). It answers that case
    (created=False) instead of storing a second one.

    When the connection drops before the commit is confirmed and the case has a key, the
    key is looked up on a fresh connection: a stored case is answered (created=False), so
    a committed insert never becomes an error."""
    params = case.params() | {"idempotency_key": idempotency_key, "submitted_by": submitted_by}
    try:
        with engine.begin() as conn:
            if natural_key and submitted_by is not None:
                conn.execute(LOCK_TWINS, {"lock": f"gridmap-intake:{submitted_by}:{case.title}"})
                twin = conn.execute(
                    RECENT_TWIN, params | {"window": DUPLICATE_WINDOW.total_seconds()}
                ).scalar()
                if twin is not None:
                    return int(twin), False
            new_id = conn.execute(INSERT_CASE, params).scalar()
            if new_id is not None:
                conn.execute(
                    INSERT_REPORT_EVENT,
                    {
                        "id": new_id,
                        "actor": (actor or case.reporter_name or case.source)[:100],
                        "status": case.status,
                        "note": f"reported via {case.source}",
                    },
                )
                return int(new_id), True
            # The key exists (committed, or committed while we waited on its lock).
            row = (
                conn.execute(SAME_KEY, {"key": idempotency_key, "submitted_by": submitted_by})
                .mappings()
                .one()
            )
    except IntegrityError as exc:
        if "cases_source_external_id" in str(exc.orig):
            raise DuplicateCase(
                f"A case from {case.source} with external_id {case.external_id!r} exists already",
                hint="an external id identifies one case per source",
            ) from exc
        raise
    except DBAPIError as exc:
        stored = (
            _stored_under_key(engine, idempotency_key, submitted_by)
            if exc.connection_invalidated
            else None
        )
        if stored is None:
            raise
        row = stored
    same = (
        row["title"] == case.title
        and row["description"] == case.description
        and row["category"] == case.category
        and row["subcategory"] == case.subcategory
        and row["lon"] == case.lon
        and row["lat"] == case.lat
    )
    if not same:
        raise IdempotencyConflict(
            f"Idempotency-Key {idempotency_key!r} was used for a different case (id {row['id']})",
            hint="use a new key for a new case; reuse a key only to retry the same request",
        )
    return int(row["id"]), False


def _stored_under_key(engine: Engine, key: str | None, submitted_by: int | None) -> Any:
    """The case ``submitted_by`` stored under ``key``, read on a fresh connection (None: none,
    or no answer)."""
    if key is None:
        return None
    try:
        with engine.connect() as conn:
            return (
                conn.execute(SAME_KEY, {"key": key, "submitted_by": submitted_by})
                .mappings()
                .first()
            )
    except DBAPIError:
        return None
