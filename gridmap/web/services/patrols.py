"""What the patrols page (``/patrols``) shows beyond its layout: shifts and track times in
the case time zone, the replay slider's marks, the replay speed and why the "where patrols
are most needed" list is empty."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Engine

from gridmap.access import Role
from gridmap.i18n import t

#: The play button's tick (ms) and the replay lengths offered (seconds for a whole track).
TICK_MS = 500
REPLAY_SECONDS = (15, 30, 120)
DEFAULT_REPLAY = 30
#: About this many marks under the replay slider.
MARKS = 8
MARK_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180)


def clock(stamp: datetime | str, tz: str, fmt: str = "%H:%M") -> str:
    """``stamp`` (a datetime or ISO text) as a wall-clock time in ``tz``."""
    value = datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


def span_label(start: datetime, end: datetime | None, tz: str) -> str:
    """``12-06 16:00–24:00`` in ``tz``: an end at the next midnight reads 24:00, another
    day's end carries its date, an open shift ends in ``…``."""
    zone = ZoneInfo(tz)
    first = start.astimezone(zone)
    head = f"{first:%m-%d %H:%M}"
    if end is None:
        return f"{head}–…"
    last = end.astimezone(zone)
    if last.date() == first.date():
        return f"{head}–{last:%H:%M}"
    if last.date() == first.date() + timedelta(days=1) and (last.hour, last.minute) == (0, 0):
        return f"{head}–24:00"
    return f"{head}–{last:%m-%d %H:%M}"


def shift_label(row: dict[str, Any], tz: str) -> str:
    """A shift in the picker: device · team · local span."""
    span = span_label(row["started_at"], row["ended_at"], tz)
    return f"{row['device_id']} · {row['team'] or row['kind']} · {span}"


def day_seconds(times: list[str], tz: str) -> list[int]:
    """Each fix as seconds since local midnight (in ``tz``) of the first fix's day: the
    replay slider's values, so that its tooltip reads them as a clock (past midnight they
    run on beyond 86,400)."""
    if not times:
        return []
    zone = ZoneInfo(tz)
    stamps = [datetime.fromisoformat(s).astimezone(zone) for s in times]
    midnight = stamps[0].replace(hour=0, minute=0, second=0, microsecond=0)
    return [round((s - midnight).total_seconds()) for s in stamps]


def slider_marks(seconds: list[int]) -> dict[int, str]:
    """Marks at round clock times (every minute … 3 h, at most :data:`MARKS` + 1) between
    the first and last of ``seconds`` (see :func:`day_seconds`) → ``HH:MM``."""
    if not seconds:
        return {}
    first, last = seconds[0], seconds[-1]
    every = 60 * next((m for m in MARK_MINUTES if (last - first) / 60 / m <= MARKS), 180)
    at = -(-first // every) * every
    marks: dict[int, str] = {}
    while at <= last:
        hours, rest = divmod(at, 3600)
        marks[at] = "24:00" if at == 86400 else f"{hours % 24:02d}:{rest // 60:02d}"
        at += every
    return marks


def index_span(seconds: list[int], span: list[int] | None) -> tuple[int, int]:
    """The first and last fix (indices) inside the slider range ``span``."""
    if not seconds:
        return 0, 0
    lo_s, hi_s = span or [seconds[0], seconds[-1]]
    hi = max(0, min(len(seconds) - 1, bisect_right(seconds, hi_s) - 1))
    lo = min(hi, bisect_left(seconds, lo_s))
    return lo, hi


def replay_step(length: int, seconds: int | None) -> int:
    """Slider units (track seconds) per tick so that ``length`` replays in about
    ``seconds``."""
    ticks = max(1, (seconds or DEFAULT_REPLAY) * 1000 // TICK_MS)
    return max(1, math.ceil(length / ticks))


def replay_options(lang: str) -> list[dict[str, Any]]:
    """The replay lengths as radio options (``15 s`` … ``2 min``)."""
    return [
        {
            "label": t("patrols.minutes", lang, n=s // 60)
            if s >= 60
            else t("patrols.seconds", lang, n=s),
            "value": s,
        }
        for s in REPLAY_SECONDS
    ]


def coverage_computed(engine: Engine) -> bool:
    """Whether the street pieces per grid (``gridmap patrols refresh``) exist."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT EXISTS (SELECT 1 FROM edge_grid)")).scalar_one()


def gaps_empty_reason(
    engine: Engine, since: datetime, until: datetime, tz: str, lang: str, role: Role | None
) -> str:
    """Why no grid is listed as needing patrols in [since, until]."""
    if not coverage_computed(engine):
        key = "patrols.gaps_no_coverage_admin" if role is Role.ADMIN else "patrols.gaps_no_coverage"
        return t(key, lang)
    return t("patrols.gaps_no_cases", lang, span=span_label(since, until, tz))


__all__ = [
    "DEFAULT_REPLAY",
    "TICK_MS",
    "clock",
    "day_seconds",
    "gaps_empty_reason",
    "index_span",
    "replay_options",
    "replay_step",
    "shift_label",
    "slider_marks",
    "span_label",
]
