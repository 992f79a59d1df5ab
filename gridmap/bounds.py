"""The bounds every stored value keeps, checked at every door (HTTP APIs, Open311, imports,
pings, shifts) and again by CHECK constraints in the schema, so no stored row can break a
read (psycopg2 cannot read a year-1-BC date back; a 5,000-digit number is no coordinate).

The doors name these bounds in their error messages; the constraints use the same figures.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: Earliest moment any record may carry (no grid-management record is older).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
#: Latest moment the schema accepts at all (a far-future sentinel, never a real time).
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
#: How far ahead of the server's clock a reported moment may lie (clients' clock skew).
FUTURE_SLACK = timedelta(minutes=5)
#: Longest single-line name or title accepted anywhere (characters).
MAX_NAME = 200
#: Longest free text (descriptions, notes) accepted anywhere (characters).
MAX_TEXT = 5000


def latest_allowed(now: datetime | None = None) -> datetime:
    """The latest moment a submission may name now: the server's clock plus the slack."""
    return (now or datetime.now(UTC)) + FUTURE_SLACK


def moment_problem(value: datetime, now: datetime | None = None) -> str | None:
    """Why ``value`` (timezone-aware) is out of bounds, or None when it is fine."""
    if value < EARLIEST:
        return f"must not be before {EARLIEST.date().isoformat()}"
    if value > latest_allowed(now):
        minutes = int(FUTURE_SLACK.total_seconds() // 60)
        return f"must not be more than {minutes} minutes in the future"
    return None


def range_problem(value: datetime) -> str | None:
    """Why ``value`` (timezone-aware) lies outside what the schema stores, or None: the
    bound of moments that may lie ahead (query windows; pings, whose future is judged as a
    refused fix). The CHECK constraints say the same: EARLIEST <= t < LATEST."""
    if not EARLIEST <= value < LATEST:
        return f"must lie between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()}"
    return None
