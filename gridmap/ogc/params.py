"""Values of the OGC API's query parameters (bbox, datetime) as the query models of
:mod:`gridmap.ogc.schemas` read them: parsed, or a ValueError saying what is wrong."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gridmap.bounds import range_problem

#: The only CRS served (lon/lat, WGS 84), for bbox-crs and the collections' crs lists.
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: Largest offset of a page (a client walking further has lost its way).
MAX_OFFSET = 1_000_000_000
#: Open ends of a datetime interval.
OPEN = ("", "..")


def check_bbox(numbers: list[float]) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` (or the 6-number 3D form) as a 2D box, or a
    ValueError saying what is wrong with it."""
    if len(numbers) not in (4, 6):
        raise ValueError("must be 4 (or 6) comma-separated numbers: minlon,minlat,maxlon,maxlat")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    minx, miny, maxx, maxy = numbers
    if not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        raise ValueError("lies outside -180..180 longitude, -90..90 latitude")
    if miny > maxy:
        raise ValueError("has its southern edge north of its northern edge")
    if minx > maxx:
        raise ValueError("crosses the antimeridian, which is not supported")
    return minx, miny, maxx, maxy


def _moment(text: str, tz: ZoneInfo, *, end: bool) -> datetime:
    """An RFC 3339 date-time (or a date: its local day's start, or the next day's for ``end``)."""
    day = None
    try:
        if "T" not in text.upper() and len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time(), tzinfo=tz)
        else:
            moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text[:40]!r} is not an RFC 3339 date-time (e.g. 2026-11-20T08:00:00Z) "
            "or date (2026-11-20)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    why = range_problem(moment)
    if why:
        raise ValueError(f"{text[:40]!r} {why}")
    moment = moment.astimezone(UTC)  # PostgreSQL takes no offset beyond ±15:59
    if day is not None:
        return moment + timedelta(days=1) if end else moment
    return moment + timedelta(microseconds=1) if end else moment


def parse_datetime(value: str | None, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """An instant or interval (``a/b``, ``../b``, ``a/..``) as ``[since, until)`` bounds.

    Intervals are closed, so ``until`` lies just after the given end; a bare date means its
    whole day in the case time zone ``tz``."""
    if value is None:
        return None, None
    text = value.strip()
    if "/" not in text:
        return _moment(text, tz, end=False), _moment(text, tz, end=True)
    start, _, stop = text.partition("/")
    if "/" in stop or (start in OPEN and stop in OPEN):
        raise ValueError(f"{value[:80]!r} is not an instant or a start/end interval")
    since = None if start in OPEN else _moment(start, tz, end=False)
    until = None if stop in OPEN else _moment(stop, tz, end=True)
    if since and until and since >= until:
        raise ValueError(f"{value[:80]!r} ends before it starts")
    return since, until
