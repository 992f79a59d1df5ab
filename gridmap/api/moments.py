"""Moments at the API doors: naive ones are in the cases_timezone setting; each is checked
against :mod:`gridmap.bounds` and passed on in UTC (PostgreSQL takes no UTC offset beyond
±15:59, Python reads up to ±23:59; a moment is converted only once it is in bounds, since a
year-1 moment has no UTC form)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator

from gridmap import bounds
from gridmap.settings import get_settings


def _bounded(problem: Callable[[datetime], str | None]) -> AfterValidator:
    def check(value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(get_settings().cases_timezone))
        why = problem(value)
        if why:
            raise ValueError(why)
        return value.astimezone(UTC)

    return AfterValidator(check)


#: A moment the schema can store, and a filter or window may name: EARLIEST <= t < LATEST.
Moment = Annotated[datetime, _bounded(bounds.range_problem)]
#: A moment that happened: EARLIEST .. the server's clock plus FUTURE_SLACK.
PastMoment = Annotated[datetime, _bounded(bounds.moment_problem)]
