"""The patrol API's contract: request and response models of ``/api/v1/patrols…`` (see
:mod:`gridmap.api.contract`).

The same models check pings given to :func:`gridmap.patrols.ingest.parse_pings` outside
HTTP, so the document, the API and the library refuse the same values. What needs the
database (a shift's user and grid must exist) stays in :mod:`gridmap.patrols.shifts`.

Bounds: device ids 1–64 characters without control characters; times from
:data:`gridmap.bounds.EARLIEST` to :data:`~gridmap.bounds.LATEST` (a ping dated later than
the server's clock allows is still a refused fix, stored with its reason; a shift's start
and end may not lie in the future); lon/lat finite numbers (outside ±180/±90: a refused
fix); accuracy 0–100,000 m (worse than the patrol_max_accuracy_m setting: a refused fix).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gridmap import bounds
from gridmap.api.contract import PATTERN_MESSAGES, BodyModel, QueryModel
from gridmap.api.contract import ResponseModel as Out
from gridmap.api.moments import Moment, PastMoment
from gridmap.patrols.coverage import WINDOW_PATTERN
from gridmap.patrols.shifts import KINDS
from gridmap.settings import get_settings

M = TypeVar("M", bound=BaseModel)
#: Longest device id (characters).
MAX_DEVICE = 64
#: Largest accuracy radius (m) a fix may name at all; worse than the patrol_max_accuracy_m
#: setting is a refused fix (stored with its reason), beyond this it is no number for a fix.
MAX_ACCURACY_M = 100_000
#: Largest value of an integer / bigint id column.
MAX_INT = 2**31 - 1
MAX_BIGINT = 2**63 - 1
#: Text without control characters (a NUL cannot be stored; ids are one line).
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
PATTERN_MESSAGES.update(
    {
        NO_CONTROL: "must not contain control characters",
        WINDOW_PATTERN: "must look like 90m, 2h, 8h, 24h or 7d (1–9999 of m, h or d)",
    }
)


def _text(max_len: int, min_len: int = 1) -> Any:
    return Annotated[
        str,
        Strict(),
        StringConstraints(
            strip_whitespace=True, min_length=min_len, max_length=max_len, pattern=NO_CONTROL
        ),
    ]


DeviceId = _text(MAX_DEVICE)
Coordinate = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Window = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=WINDOW_PATTERN)
]


def validated(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or an InvalidInput naming every problem (for callers
    outside HTTP; the API's contract checks the same models before its views run)."""
    from gridmap.api.contract import check
    from gridmap.errors import Problem
    from gridmap.patrols.errors import invalid_input

    found, problems = check(model, data)
    if problems:
        raise invalid_input([Problem(p.field, p.message) for p in problems])
    return found


# -- requests --------------------------------------------------------------------------------


class PingIn(BodyModel):
    """One GPS fix."""

    device_id: DeviceId
    at: Moment = Field(
        description="When the fix was taken (naive: the case time zone); from "
        f"{bounds.EARLIEST.date()} to {bounds.LATEST.date()}. Later than the server's clock "
        "allows (patrol_future_s): a refused fix."
    )
    lon: Coordinate = Field(description="Longitude (outside -180..180: a refused fix).")
    lat: Coordinate = Field(description="Latitude (outside -90..90: a refused fix).")
    accuracy_m: (
        Annotated[float, Strict(), Field(ge=0, le=MAX_ACCURACY_M, allow_inf_nan=False)] | None
    ) = Field(
        None,
        validation_alias=AliasChoices("accuracy_m", "accuracy"),
        description="Accuracy radius (m); worse than patrol_max_accuracy_m: a refused fix.",
    )


def _batch_size(pings: list[PingIn]) -> list[PingIn]:
    most = get_settings().patrol_max_batch
    if len(pings) > most:
        raise ValueError(f"has {len(pings):,} pings; at most {most:,} (patrol_max_batch)")
    return pings


class PingBatchIn(BodyModel):
    """A batch of fixes, in any order, repeats allowed (each device and instant is judged
    once, so the same batch again changes nothing)."""

    pings: Annotated[list[PingIn], Field(min_length=1), AfterValidator(_batch_size)] = Field(
        description="At most the patrol_max_batch setting (10,000 by default)."
    )


class ShiftIn(BodyModel):
    """A shift starting (or one that happened: with ended_at)."""

    device_id: DeviceId
    kind: Literal[KINDS]  # type: ignore[valid-type]
    started_at: PastMoment
    ended_at: PastMoment | None = None
    worker_id: Annotated[int, Strict(), Field(ge=1, le=MAX_INT)] | None = None
    team: _text(bounds.MAX_NAME) | None = None
    grid_id: Annotated[int, Strict(), Field(ge=1, le=MAX_INT)] | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> ShiftIn:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class ShiftEndIn(BodyModel):
    ended_at: PastMoment | None = Field(None, description="Default: now.")


class ShiftsQuery(QueryModel):
    since: Moment | None = None
    until: Moment | None = None
    limit: Annotated[int, Field(ge=1, le=5000)] = 500


class TrackQuery(QueryModel):
    """A device and a time span (from, to), or a shift (its device and times)."""

    shift_id: Annotated[int, Field(ge=1, le=MAX_BIGINT)] | None = None
    device_id: DeviceId | None = Field(None, validate_default=True)
    from_: Moment | None = Field(None, alias="from")
    to: Moment | None = Field(None, validate_default=True)

    @field_validator("device_id")
    @classmethod
    def _device_or_shift(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("shift_id") is None:
            raise ValueError("is required (or shift_id)")
        return value

    @field_validator("to")
    @classmethod
    def _span(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if info.data.get("shift_id") is None and (value is None or info.data.get("from_") is None):
            raise ValueError("from and to are required with device_id")
        return value


class WindowQuery(QueryModel):
    window: Window = Field("8h", description="Length of the window ending at end.")
    end: Moment | None = Field(None, description="End of the window (default: now).")


class RiskGapQuery(WindowQuery):
    limit: Annotated[int, Field(ge=1, le=1000)] = 20


class UnvisitedQuery(QueryModel):
    limit: Annotated[int, Field(ge=1, le=500)] = 10


# -- responses -------------------------------------------------------------------------------


class RejectedPing(Out):
    index: int
    device_id: str
    at: datetime
    reason: Literal["accuracy", "speed", "coordinates", "future"]
    detail: str


class IngestOut(Out):
    received: int
    accepted: int
    duplicates: int
    rejected_count: int
    rejected: list[RejectedPing]
    edges_touched: int


class ShiftOut(Out):
    id: int
    worker_id: int | None
    device_id: str
    kind: str
    team: str | None
    grid_id: int | None
    started_at: datetime
    ended_at: datetime | None


class ShiftList(Out):
    shifts: list[ShiftOut]


class TrackPoint(Out):
    at: datetime
    lon: float
    lat: float
    accuracy_m: float | None


class TrackOut(Out):
    device_id: str
    from_: datetime = Field(alias="from")
    to: datetime
    points: list[TrackPoint]


class GridCoverage(Out):
    """Street metres of a grid, and how much of them patrols and online cameras covered."""

    grid_id: int
    code: str
    name: str
    street_m: float
    patrolled_m: float
    seen_m: float
    watched_m: float
    patrolled_share: float | None
    watched_share: float | None


class CoverageOut(Out):
    from_: datetime = Field(alias="from")
    to: datetime
    grids: list[GridCoverage]


class UnvisitedStreet(Out):
    edge_id: int
    name: str | None
    kind: str | None
    length_m: float
    last_at: datetime | None


class UnvisitedOut(Out):
    grid_id: int
    streets: list[UnvisitedStreet]


class RiskGapGrid(Out):
    """A grid's case density (cases per street km) times its unpatrolled share."""

    rank: int
    grid_id: int
    code: str
    name: str
    cases: int
    street_km: float
    case_density: float
    patrolled_share: float | None
    need: float


class RiskGapOut(Out):
    from_: datetime = Field(alias="from")
    to: datetime
    grids: list[RiskGapGrid]
