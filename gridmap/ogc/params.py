"""Query parameters of the OGC API items requests, parsed or refused with a clear 400."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gridmap.ogc.errors import OgcError
from gridmap.text_bounds import range_problem

#: The only CRS served (lon/lat, WGS 84), for bbox-crs and the collections' crs lists.
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: Query parameters the items request takes; any other is refused (400).
ITEMS_PARAMS = frozenset({"f", "lang", "bbox", "bbox-crs", "limit", "offset", "datetime"})
#: Parameters every other request takes.
COMMON_PARAMS = frozenset({"f", "lang"})
#: Largest offset of a page (a client walking further has lost its way).
MAX_OFFSET = 1_000_000_000
#: Open ends of a datetime interval.
OPEN = ("", "..")


def check_known(args: dict[str, str], known: frozenset[str]) -> None:
    """Refuse query parameters the API does not define."""
    unknown = sorted(set(args) - known)
    if unknown:
        raise OgcError(
            f"Unknown query parameter {', '.join(unknown)}; this request takes "
            f"{', '.join(sorted(known))}."
        )


def parse_bbox(value: str | None, crs: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` (or the 6-number 3D form) in CRS84, or None."""
    if crs not in (None, "", CRS84):
        raise OgcError(f"bbox-crs {crs!r} is not supported; use {CRS84}.")
    if value is None:
        return None
    parts = value.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 6) or any(n != n for n in numbers):  # n != n: NaN
        raise OgcError(
            f"bbox {value!r} is not 4 (or 6) comma-separated numbers: minlon,minlat,maxlon,maxlat."
        )
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    minx, miny, maxx, maxy = numbers
    if not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        raise OgcError(f"bbox {value!r} lies outside -180..180 longitude, -90..90 latitude.")
    if not -90 <= maxy <= 90:
        raise OgcError(f"bbox {value!r} lies outside -180..180 longitude, -90..90 latitude.")
    if miny > maxy:
        raise OgcError(f"bbox {value!r} has its southern edge north of its northern edge.")
    if minx > maxx:
        raise OgcError(f"bbox {value!r} crosses the antimeridian, which is not supported.")
    return minx, miny, maxx, maxy


def parse_count(
    name: str, value: str | None, default: int, *, low: int, high: int, clamp: bool = False
) -> int:
    """A whole-number parameter: ``default`` when absent; refused below ``low``; above
    ``high`` clamped to it with ``clamp`` (``limit``: the page size caps it), else refused."""
    if value is None:
        return default
    text = value.strip()
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else None
    too_big = number is None and text.isascii() and text.isdigit()
    if clamp and (too_big or (number is not None and number > high)):
        return high
    if number is None or not low <= number <= high:
        raise OgcError(f"{name} {value[:40]!r} is not a whole number from {low} to {high:,}.")
    return number


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
        raise OgcError(
            f"datetime {text[:40]!r} is not an RFC 3339 date-time (e.g. 2026-11-20T08:00:00Z) "
            "or date (2026-11-20)."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    why = range_problem(moment)
    if why:
        raise OgcError(f"datetime {text[:40]!r} {why}.")
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
        raise OgcError(f"datetime {value!r} is not an instant or a start/end interval.")
    since = None if start in OPEN else _moment(start, tz, end=False)
    until = None if stop in OPEN else _moment(stop, tz, end=True)
    if since and until and since >= until:
        raise OgcError(f"datetime {value!r} ends before it starts.")
    return since, until
