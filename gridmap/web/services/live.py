"""Live case data for open dashboards: a cheap change probe and the refresh it gates.

Every second each dashboard asks :func:`probe` for the case change counter (one row of
``gridmap_meta``, bumped by statement triggers on ``cases``; see migration 0003). Only when
it moved since the version the dashboard drew — or the filter changed, or the last refresh
is older than :data:`MAX_AGE` (relative windows slide) — does :func:`refresh` read the case
layer for the view, the KPI tiles and the ticker. When the database does not answer, the
dashboard keeps what it shows, marked stale with the time of the last good read, and the
next probe that answers brings it back.

With read replicas (:func:`gridmap.db.app.read_engine`: one server per request) the probe
and the read it gates run on the same server, so a dashboard records a version only with
data at least that new; a probe answered by a replica behind what the dashboard drew sees
an older version, which asks for a re-read, never hides a change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from plotly.basedatatypes import BaseTraceType
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gridmap.cases.filters import CaseChoice, case_timezone
from gridmap.errors import GridmapError
from gridmap.i18n import t
from gridmap.web.services.dashboard import CaseTiles, TickerItem, read_latest, read_tiles
from gridmap.web.services.side_by_side import side_by_side
from layers import LayerContext, get_layer
from layers.cases import context_args

log = logging.getLogger(__name__)

#: A refresh older than this is redone even without changes (relative windows slide).
MAX_AGE = timedelta(seconds=60)
VERSION_SQL = "SELECT version, changed_at FROM gridmap_case_version()"


class LiveError(GridmapError):
    """The live case data could not be read (database unreachable, query failed)."""


@dataclass(frozen=True)
class Version:
    """The case change counter and when it last moved."""

    version: int
    changed_at: datetime | None


def probe(engine: Engine) -> Version:
    """The current case version (one indexed row; LiveError when the database fails)."""
    try:
        with engine.connect() as conn:
            row = conn.execute(text(VERSION_SQL)).one()
    except SQLAlchemyError as exc:
        raise LiveError(
            "The case data could not be checked for changes.", hint=type(exc).__name__
        ) from exc
    return Version(int(row.version), row.changed_at)


@dataclass(frozen=True)
class LiveState:
    """What a dashboard drew: the version, when it last read data successfully (ISO), the
    ticker's case ids, whether it is showing stale data now, and what its data was read for
    (``drawn_for``: the filter or the view, see :func:`refresh`)."""

    version: int | None = None
    refreshed_at: str | None = None
    ticker: tuple[int, ...] | None = None
    stale: bool = False
    drawn_for: Any = None

    @classmethod
    def from_store(cls, data: Mapping[str, Any] | None) -> LiveState:
        data = data or {}
        ticker = data.get("ticker")
        return cls(
            version=data.get("version"),
            refreshed_at=data.get("refreshed_at"),
            ticker=tuple(ticker) if ticker is not None else None,
            stale=bool(data.get("stale")),
            drawn_for=data.get("drawn_for"),
        )

    def to_store(self) -> dict[str, Any]:
        out = asdict(self)
        out["ticker"] = list(self.ticker) if self.ticker is not None else None
        return out


def needs_refresh(state: LiveState, version: Version, now: datetime, *, forced: bool) -> bool:
    """Whether the dashboard must re-read its data: forced (filter or view changed), never
    read, the version moved, or the last read is older than :data:`MAX_AGE`."""
    if forced or state.version is None or state.refreshed_at is None:
        return True
    if version.version != state.version:
        return True
    return now - datetime.fromisoformat(state.refreshed_at) > MAX_AGE


@dataclass
class LiveUpdate:
    """What to change on the dashboard. None fields stay as they are."""

    state: LiveState
    notice: str
    notice_class: str
    traces: list[BaseTraceType] | None = None
    tiles: CaseTiles | None = None
    ticker: list[TickerItem] | None = None
    fresh: set[int] = field(default_factory=set)
    changed: bool = False


def clock(moment: datetime | str | None) -> str:
    """``HH:MM:SS`` of a moment in the cases' time zone (empty when None)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(ZoneInfo(case_timezone())).strftime("%H:%M:%S")


def live_notice(now: datetime, lang: str) -> tuple[str, str]:
    return t("live.live", lang, time=clock(now)), "live-notice live"


def with_read_only(notice: str, css: str, lang: str, read_only: bool) -> tuple[str, str]:
    """The notice and its class, saying "read-only" while the primary database is lost
    (the data shown comes from a read replica; nothing can be saved)."""
    if not read_only:
        return notice, css
    return f"{notice} · {t('live.read_only', lang)}", f"{css} read-only"


def stale_notice(state: LiveState, lang: str) -> tuple[str, str]:
    as_of = t("live.as_of", lang, time=clock(state.refreshed_at) or "—")
    return f"{as_of} · {t('live.stale', lang)}", "live-notice stale"


def refresh(
    engine: Engine,
    state: LiveState,
    choice: CaseChoice,
    *,
    bbox: tuple[float, float, float, float] | None,
    zoom: float | None,
    lang: str,
    now: datetime,
    forced: bool = False,
    draw_layer: bool = True,
    same_selection: bool = False,
    drawn_for: Any = None,
) -> LiveUpdate:
    """One tick: probe, and when needed re-read the case layer (if ``draw_layer``), the
    tiles and the ticker. Ticker lines new since the last read are ``fresh``, except after a
    forced read for a new selection (unless ``same_selection``: a redraw of the same cases,
    e.g. the view moved). Never raises for database trouble: the update is then stale.

    ``drawn_for`` is what the data is for (the filter's store, or the wall's view; JSON): a
    read for another one than the state's is forced, whichever input fired the call (a
    filter chosen as the timer ticks fires one call for both; in the browser a tick sent
    while a filter's call is under way supersedes that call, its answer dropped)."""
    key = json.loads(json.dumps(drawn_for))  # as the browser stores it (tuples as lists)
    forced = forced or key != state.drawn_for
    try:
        version = probe(engine)
    except LiveError as exc:
        log.warning("live probe: %s", exc)
        return LiveUpdate(replace(state, stale=True), *stale_notice(state, lang), changed=True)
    if not needs_refresh(state, version, now, forced=forced):
        notice = live_notice(now, lang)
        if state.stale:
            return LiveUpdate(replace(state, stale=False), *notice, changed=True)
        return LiveUpdate(state, *notice)
    cases = choice.resolve(now)
    ctx = LayerContext(engine, bbox=bbox, zoom=zoom, language=lang, **context_args(cases))
    ctx = replace(ctx, user=ctx.asker)  # who asks, known here (not in the readers' threads)
    layer = get_layer("cases")
    try:
        reads = side_by_side([
            lambda: layer.traces(layer.query(ctx), lang) if draw_layer else None,
            lambda: read_tiles(engine, cases, now, choice.day_start(now)),
            lambda: read_latest(engine, cases, ctx.user),
        ])  # fmt: skip
        traces, tiles, latest = (read.result() for read in reads)
    except (GridmapError, SQLAlchemyError) as exc:
        log.warning("live refresh: %s", exc)
        return LiveUpdate(replace(state, stale=True), *stale_notice(state, lang), changed=True)
    ids = tuple(item.id for item in latest)
    known = state.ticker if state.ticker is not None and (same_selection or not forced) else None
    fresh = set(ids) - set(known) if known is not None else set()
    new_state = LiveState(version.version, now.isoformat(), ids, stale=False, drawn_for=key)
    return LiveUpdate(
        new_state,
        *live_notice(now, lang),
        traces=traces,
        tiles=tiles,
        ticker=latest,
        fresh=fresh,
        changed=True,
    )
