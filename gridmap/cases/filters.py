"""The case vocabulary and filter: one home for what "open cases in the last 24 h" means.

- :data:`STATUSES` (workflow order) and their groups :data:`STATUS_GROUPS` ("open",
  "closed"; the SQL function ``gridmap_case_is_open`` says the same, a test checks it);
  :data:`SOURCES`. Labels come from i18n only (``case.status.<slug>``,
  ``case.source.<slug>``).
- :data:`WINDOWS` and :func:`time_window`: the dashboard's relative windows and custom
  date ranges, in the case time zone (:func:`case_timezone`).
- :class:`CaseFilter`: a resolved filter (a time range and sets of categories, statuses,
  sources), the parameters of the one SQL predicate ``gridmap_case_matches``; what the case
  API's ``since``/``until``/``category``/``status``/``source`` mean.
- :class:`CaseChoice`: what a dashboard's filter panel holds (a window key, a status
  group …), resolved into a :class:`CaseFilter` at a moment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gridmap.cases.taxonomy import get_taxonomy
from gridmap.errors import GridmapError, InvalidInput, Problem
from gridmap.i18n import t
from gridmap.settings import get_settings

#: Every case status, in workflow order.
STATUSES = (
    "reported",
    "dispatched",
    "accepted",
    "in_progress",
    "resolved",
    "closed",
    "returned",
    "rejected",
)
#: Statuses in which a case is still being handled, and finished ones.
OPEN_STATUSES = ("reported", "dispatched", "accepted", "in_progress", "returned")
CLOSED_STATUSES = ("resolved", "closed", "rejected")
STATUS_GROUPS: dict[str, tuple[str, ...]] = {"open": OPEN_STATUSES, "closed": CLOSED_STATUSES}
#: Finished statuses in which the case was handled (办结: it has a resolved_at), unlike
#: "rejected"; the KPI tiles' resolution rate counts these.
RESOLVED_STATUSES = ("resolved", "closed")
#: Where a case came from.
SOURCES = (
    "hotline_12345",
    "grid_worker",
    "resident_app",
    "video_patrol",
    "walk_in",
    "open311",
    "import",
)
#: Older spellings of status labels, still read in imported files (the labels themselves
#: are i18n's ``case.status.<slug>``: 已结案 and 不予受理, the terms of 12345 hotlines).
STATUS_LABEL_ALIASES: dict[str, str] = {"已回访结案": "closed", "已驳回": "rejected"}
#: Status by its Chinese label or an older spelling of it (what case files hold).
STATUS_BY_LABEL: dict[str, str] = {
    t(f"case.status.{s}", "zh-CN"): s for s in STATUSES
} | STATUS_LABEL_ALIASES
#: Relative time windows (key → length); "custom" takes a date range.
WINDOWS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
CUSTOM_WINDOW = "custom"
DEFAULT_WINDOW = "30d"

assert set(OPEN_STATUSES + CLOSED_STATUSES) == set(STATUSES), "every status is in one group"


def status_label(status: str, lang: str) -> str:
    """The status's name in ``lang`` (i18n ``case.status.<slug>``)."""
    return t(f"case.status.{status}", lang)


def case_timezone() -> str:
    """The time zone cases are shown and counted in (setting ``cases_timezone``)."""
    return get_settings().cases_timezone


def local_time(value: Any, tz: str, fmt: str = "%m-%d %H:%M") -> str:
    """A timestamp shown in ``tz`` (empty for a missing one)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    stamp = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return stamp.astimezone(ZoneInfo(tz)).strftime(fmt)


def category_label(slug: str, lang: str) -> str:
    """The category's name in ``lang`` from the taxonomy (the slug when unknown)."""
    try:
        category = get_taxonomy().by_slug.get(slug)
    except GridmapError:
        category = None
    if category is None:
        return slug
    return category.en if lang == "en" else category.zh


def time_window(
    window: str,
    now: datetime,
    tz: str,
    start: date | str | None = None,
    end: date | str | None = None,
) -> tuple[datetime | None, datetime | None]:
    """``(since, until)`` of a dashboard window.

    A relative window ("1h", "24h", "7d", "30d") starts that long before ``now`` and stays
    open at the end (cases reported from now on still fall in it). "custom" covers whole
    local days ``start`` … ``end`` (both included) in ``tz``: from ``start`` 00:00 to the
    midnight after ``end``; a missing end leaves it open, a missing start too.
    """
    if window in WINDOWS:
        return now - WINDOWS[window], None
    if window != CUSTOM_WINDOW:
        message = f"Unknown time window {window!r} (known: {', '.join(WINDOWS)}, custom)."
        raise InvalidInput([Problem("window", message)], message)
    zone = ZoneInfo(tz)
    first = _day(start)
    last = _day(end)
    if first and last and last < first:
        first, last = last, first
    since = datetime.combine(first, time(0), zone) if first else None
    until = datetime.combine(last + timedelta(days=1), time(0), zone) if last else None
    return since, until


def _day(value: date | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        message = f"{value!r} is not a date (YYYY-MM-DD)."
        raise InvalidInput([Problem("date", message)], message) from None


def expand_statuses(group: str | None, statuses: Iterable[str] | None = None) -> list[str] | None:
    """The statuses a dashboard choice means: the chosen statuses (within the group when one
    is chosen too), else the group's ("open", "closed"), else None (any)."""
    chosen = [s for s in (statuses or []) if s in STATUSES]
    if group in STATUS_GROUPS:
        members = STATUS_GROUPS[group]
        return [s for s in chosen if s in members] if chosen else list(members)
    return chosen or None


def _some(values: Iterable[str] | None) -> tuple[str, ...] | None:
    chosen = tuple(values or ())
    return chosen or None


@dataclass(frozen=True)
class CaseFilter:
    """Which cases: reported in ``[since, until)`` (None leaves that end open) with a
    category, status and source among the given ones (None: any)."""

    since: datetime | None = None
    until: datetime | None = None
    categories: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("categories", "statuses", "sources"):
            object.__setattr__(self, name, _some(getattr(self, name)))

    def sql_args(self) -> dict[str, Any]:
        """The parameters ``:since, :until, :categories, :statuses, :sources`` of the case
        predicate (lists; None = no limit)."""
        return {
            "since": self.since,
            "until": self.until,
            "categories": list(self.categories) if self.categories else None,
            "statuses": list(self.statuses) if self.statuses else None,
            "sources": list(self.sources) if self.sources else None,
        }


#: The SQL parameter list of the case predicate, in the order the SQL functions take it.
FILTER_PARAMS = ":since, :until, :categories, :statuses, :sources"


@dataclass(frozen=True)
class CaseChoice:
    """What a filter panel shows: a window key (+ dates for "custom"), categories, a status
    group ("all", "open", "closed") with exact statuses, and sources."""

    window: str = DEFAULT_WINDOW
    start: str | None = None
    end: str | None = None
    categories: tuple[str, ...] = ()
    group: str = "all"
    statuses: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=())

    @classmethod
    def from_store(cls, data: Mapping[str, Any] | None) -> CaseChoice:
        """A choice from its stored dict (unknown values dropped; None: the default)."""
        data = data or {}
        window = data.get("window") or DEFAULT_WINDOW
        if window not in WINDOWS and window != CUSTOM_WINDOW:
            window = DEFAULT_WINDOW
        group = data.get("group") if data.get("group") in STATUS_GROUPS else "all"
        return cls(
            window=window,
            start=(data.get("start") or None),
            end=(data.get("end") or None),
            categories=tuple(str(c) for c in data.get("categories") or ()),
            group=group,
            statuses=tuple(s for s in data.get("statuses") or () if s in STATUSES),
            sources=tuple(s for s in data.get("sources") or () if s in SOURCES),
        )

    def to_store(self) -> dict[str, Any]:
        return asdict(self)

    def resolve(self, now: datetime) -> CaseFilter:
        """The filter this choice means at ``now``."""
        since, until = time_window(self.window, now, case_timezone(), self.start, self.end)
        return CaseFilter(
            since=since,
            until=until,
            categories=self.categories,
            statuses=tuple(expand_statuses(self.group, self.statuses) or ()),
            sources=self.sources,
        )

    def day_start(self, now: datetime) -> datetime:
        """Today's local midnight (for "new today")."""
        local = now.astimezone(ZoneInfo(case_timezone()))
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
