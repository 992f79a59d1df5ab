"""The wall screen's service: its fixed view of the whole city on a dark basemap, the live
tick (new cases, case tiles, ticker and hottest grids, gated by the 1 s change probe of
:mod:`gridmap.web.services.live`) and the slow tick (patrol coverage per grid on the map, patrol
coverage now, cameras online, people inside the service circles).

The live tick is split in two so a slow re-read is never cancelled by the next second's
tick: :func:`probe_tick` runs every second (one indexed row) and asks for a re-read only
when the cases changed; :func:`live_tick` re-reads when asked (or when the view changed).

The map's traces are ``[patrol coverage per grid, *case traces]``: the live tick replaces
the case traces (the last :data:`~layers.cases.TRACE_COUNT`) and the slow tick only the
patrol shares (``z``) while the grids stay the same, so the grid outlines are sent once.
That first send is the wall's heaviest answer (10,000 city grids): the outlines are rounded
to a quarter of a screen pixel at the wall's zoom (4 decimals at zoom 10-12 instead of 6, as
every drawn layer: :func:`layers.base.coordinate_decimals`), go
out compressed (:mod:`gridmap.web.delivery`), and are kept per process while the ``grids``
table's change counter (migration 0022) stays the same, so a newly opened wall costs one
read of the shares, not a read and simplification of every outline.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from cachetools import LRUCache
from dash import Patch
from plotly import graph_objects as go
from plotly.basedatatypes import BaseTraceType
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gridmap.access.scope import request_cache_scope, request_scope_user
from gridmap.cases.filters import CaseChoice
from gridmap.i18n import t
from gridmap.patrols.coverage import grid_shares
from gridmap.settings import Settings, get_settings
from gridmap.web.services import live
from gridmap.web.services import map as overlays
from gridmap.web.services.dashboard import HotGrid, WallExtras, read_extras, read_hot_grids
from gridmap.web.services.map import MapView
from layers import LayerContext, get_layer
from layers.params import PatrolWindow
from layers.patrol_coverage import GRIDS_UID, PatrolCoverageLayer, share_outline

log = logging.getLogger(__name__)

PATROL = PatrolCoverageLayer(community_zoom=None)  # grids at every zoom
#: The wall draws patrol coverage per grid at every zoom (never single streets).
PATROL_MAX_ZOOM = PATROL.detail_zoom - 0.5
#: The grids the patrol trace draws for a view (the layer's own choice: outline meets bbox).
VIEW_GRIDS_SQL = (
    "SELECT id FROM grids WHERE CAST(:minx AS double precision) IS NULL "
    "OR geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326) ORDER BY id"
)
UIREVISION = "gridmap-wall"
#: The MapLibre layer the case hexagons are inserted below: the patrol outlines' fill.
HEAT_BELOW = f"plotly-trace-layer-{GRIDS_UID}-fill"
#: Opacity of the case hexagons on the wall: near opaque, so the heat keeps its yellow → red
#: on the dark basemap (the patrol coverage is drawn as outlines above them, not under).
HEX_OPACITY = 0.88
BACKGROUND = "#0b1220"
#: Paint over the (already dark) basemap on the wall: its background matches the page's.
DARK_PAINT: dict[str, dict[str, Any]] = {"background": {"background-color": BACKGROUND}}


def wall_choice(settings: Settings | None = None) -> CaseChoice:
    """The wall's case filter: every case of the configured window."""
    return CaseChoice(window=(settings or get_settings()).wall_window)


def dark_style(style: dict[str, Any]) -> dict[str, Any]:
    """The basemap style repainted for the dark wall (a raster basemap is dimmed)."""
    out = copy.deepcopy(style)
    for layer in out["layers"]:
        if layer["type"] == "raster":
            layer.setdefault("paint", {})["raster-brightness-max"] = 0.35
        layer.setdefault("paint", {}).update(DARK_PAINT.get(layer["id"], {}))
    return out


# -- the view --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WallView:
    """The whole city (or an area-scoped centre's area): the grids' extent (None: no grids
    or no database) and the view fitted to it (its bbox is the extent, so every layer reads
    all the wall shows)."""

    view: MapView
    extent: tuple[float, float, float, float] | None
    error: bool = False


def wall_view(engine: Engine, center: tuple[float, float] | None) -> WallView:
    """The view of all grids the request's user sees (the configured centre when set): the
    whole city, or an area-scoped command centre's own area (its grids, read through its
    scope, fitted without the city's configured centre)."""
    if request_scope_user() is not None:
        center = None
    try:
        extent = overlays.grids_extent(engine)
    except SQLAlchemyError as exc:
        log.warning("wall view: %s", exc)
        fallback = MapView.around(center or overlays.FALLBACK_CENTER, overlays.FALLBACK_ZOOM)
        return WallView(fallback, None, error=True)
    if extent is None:
        return WallView(MapView.around(center or overlays.FALLBACK_CENTER, 11.0), None)
    fitted = MapView.fit(extent)
    return WallView(MapView(center or fitted.center, fitted.zoom, extent), extent)


def zoomed(view: MapView, zoom: float | None, center: tuple[float, float] | None = None) -> MapView:
    """``view`` at the zoom (and centre) the screen fitted it to; the bbox stays the whole
    city. The same object when nothing moved."""
    if zoom is None:
        return view
    center = center or view.center
    if abs(zoom - view.zoom) < 1e-6 and center == tuple(view.center):
        return view
    return MapView(center, float(zoom), view.bbox)


def view_patch(view: MapView) -> Patch:
    """A figure patch moving the map to ``view``."""
    patch = Patch()
    patch["layout"]["map"]["zoom"] = view.zoom
    patch["layout"]["map"]["center"] = {"lon": view.center[0], "lat": view.center[1]}
    return patch


def wall_figure(traces: list[BaseTraceType], view: MapView, style: dict[str, Any]) -> go.Figure:
    """The map figure on the dark basemap; no hover needed to read it."""
    figure = overlays.map_figure(traces, view, dark_style(style))
    figure.update_layout(
        paper_bgcolor=BACKGROUND,
        font={"color": "#e2e8f0"},
        uirevision=UIREVISION,
        map={"uirevision": UIREVISION},
        hoverlabel={"bgcolor": "rgba(15,23,42,0.95)", "font": {"color": "#f8fafc"}},
    )
    return figure


def empty_traces(lang: str) -> list[BaseTraceType]:
    """The figure's traces before any data: an empty patrol choropleth, empty case traces."""
    patrol = go.Choroplethmap(
        uid=GRIDS_UID,  # the case heat goes under its layers (case_patch)
        geojson={"type": "FeatureCollection", "features": []},
        locations=[],
        z=[],
        name=t(PATROL.title, lang),
        meta={"layer": PATROL.id, "detail": "aggregated"},
        showscale=False,
        showlegend=False,
        hoverinfo="skip",
    )
    return [patrol, *get_layer("cases").empty_traces(lang)]


# -- the live tick ---------------------------------------------------------------------------


@dataclass
class WallUpdate:
    """The live tick's changes (None fields stay as they are) and the notice to show."""

    live: live.LiveUpdate
    hot: list[HotGrid] | None = None
    notice: str = ""
    notice_class: str = "wall-notice live"
    fresh: set[int] = field(default_factory=set)

    @property
    def stale(self) -> bool:
        return self.live.state.stale


def notice(state: live.LiveState, now: datetime, lang: str) -> tuple[str, str]:
    """Live: the clock; stale: "data as of HH:MM:SS" of the last good read."""
    if state.stale:
        as_of = t("wall.as_of", lang, time=live.clock(state.refreshed_at) or "—")
        return f"{as_of} · {t('live.stale', lang)}", "wall-notice stale"
    return t("wall.live", lang, time=live.clock(now)), "wall-notice live"


#: A refresh asked for and not answered within this long is asked for again.
REFRESH_RETRY = timedelta(seconds=10)


@dataclass
class Probe:
    """The 1 s probe: ``request`` (the ``wall-refresh`` store's new value) when the wall
    must re-read its data, the state when only its stale flag changed, and the notice."""

    request: dict[str, Any] | None
    state: live.LiveState | None
    notice: str
    notice_class: str


def probe_tick(
    engine: Engine,
    state: live.LiveState,
    requested: dict[str, Any] | None,
    lang: str,
    now: datetime,
) -> Probe:
    """One probe (a single indexed row). A re-read is requested when the cases changed
    since what the wall drew (or it is older than :data:`live.MAX_AGE`), unless the same
    version was requested less than :data:`REFRESH_RETRY` ago: a slow re-read is never
    cancelled by the next probe."""
    try:
        version = live.probe(engine)
    except live.LiveError as exc:
        log.warning("wall probe: %s", exc)
        stale = replace(state, stale=True)
        return Probe(None, stale if not state.stale else None, *notice(stale, now, lang))
    request = None
    if live.needs_refresh(state, version, now, forced=False):
        requested = requested or {}
        asked_at = requested.get("at")
        if (
            requested.get("version") != version.version
            or asked_at is None
            or now - datetime.fromisoformat(asked_at) > REFRESH_RETRY
        ):
            request = {"version": version.version, "at": now.isoformat()}
    fresh = replace(state, stale=False)
    return Probe(request, fresh if state.stale else None, *notice(fresh, now, lang))


def live_tick(
    engine: Engine,
    state: live.LiveState,
    view: MapView,
    lang: str,
    now: datetime,
    *,
    forced: bool = False,
    settings: Settings | None = None,
) -> WallUpdate:
    """One live tick: when the cases changed (or ``forced``, or the view is not the one the
    state drew: the view moved), the case traces for the whole city, the case tiles, the
    ticker (new lines fresh) and the hottest grids. Database trouble makes the update stale,
    never an error."""
    settings = settings or get_settings()
    choice = wall_choice(settings)
    update = live.refresh(
        engine,
        state,
        choice,
        bbox=view.bbox,
        zoom=view.zoom,
        lang=lang,
        now=now,
        forced=forced,
        same_selection=True,  # the wall's cases are always the whole city's
        drawn_for=view.to_store(),
    )
    hot = None
    if update.tiles is not None:
        try:
            cases = choice.resolve(now)
            hot = read_hot_grids(engine, cases, choice.day_start(now), settings.wall_hot_grids)
        except SQLAlchemyError as exc:
            log.warning("wall hot grids: %s", exc)
            update = replace(
                update, state=replace(update.state, stale=True), traces=None, tiles=None,
                ticker=None, changed=True,
            )  # fmt: skip
    text_, css = notice(update.state, now, lang)
    return WallUpdate(update, hot, text_, css, update.fresh)


def case_patch(update: WallUpdate) -> Patch | None:
    """The figure patch replacing the case traces (None: unchanged)."""
    traces = update.live.traces
    if not traces:
        return None
    # Under the patrol outlines' layers (the heat's fill never covers them).
    traces[0].update(marker_opacity=HEX_OPACITY, below=HEAT_BELOW)
    return overlays.case_traces_patch(traces)


# -- the slow tick ---------------------------------------------------------------------------


@dataclass
class SlowUpdate:
    """The slow tick: the heavier tiles' figures and the patrol trace (a full trace when
    the grids changed, else only its shares) with the key of its grids."""

    extras: WallExtras
    patch: Patch
    patrol_key: str
    full: bool


def patrol_key(ids: list[int]) -> str:
    """A short digest of the grid ids the patrol trace draws (in order)."""
    return hashlib.sha1(",".join(map(str, ids)).encode()).hexdigest()[:16]


#: Kept patrol traces (outlines without shares) per process: views of a few walls.
_OUTLINES: LRUCache[tuple, dict[str, Any]] = LRUCache(8)
_OUTLINES_LOCK = threading.Lock()
#: The wall's grid outlines as GeoJSON (:func:`outlines_url`).
OUTLINES_PATH = "/wall/outlines.json"
GRIDS_VERSION_SQL = "SELECT version FROM gridmap_data_version WHERE table_name = 'grids'"


def _patrol_context(
    engine: Engine, view: MapView, t0: datetime, now: datetime, lang: str
) -> LayerContext:
    """The patrol layer's context for the wall's view (grid outlines at any wall zoom)."""
    return LayerContext(
        engine,
        bbox=view.bbox,
        zoom=min(view.zoom, PATROL_MAX_ZOOM),
        params=(PatrolWindow(since=t0, until=now),),
        language=lang,
    )


def _view_grids(ctx: LayerContext) -> list[int]:
    """The ids of the grids in the context's view, as the patrol trace draws them."""
    with ctx.engine.connect() as conn:
        return list(conn.execute(text(VIEW_GRIDS_SQL), ctx.bounds).scalars().all())


#: The outlines' URL names the wall's view snapped outward to this many degrees and its
#: zoom floored to this step: a wall whose map came out a pixel wider or narrower (zoom
#: 10.46 instead of 10.47) asks for the same URL, so its browser reuses what it kept.
OUTLINES_SNAP_DEG = 0.01
OUTLINES_ZOOM_STEP = 0.25


def outlines_view(view: MapView) -> MapView:
    """The view the outlines are drawn for: ``view``'s box snapped outward to
    :data:`OUTLINES_SNAP_DEG` (it covers ``view``), its zoom floored to
    :data:`OUTLINES_ZOOM_STEP` (outlines simplified for at most that zoom)."""
    step = OUTLINES_SNAP_DEG
    minx, miny, maxx, maxy = view.bbox
    bbox = (
        round(math.floor(minx / step) * step, 6),
        round(math.floor(miny / step) * step, 6),
        round(math.ceil(maxx / step) * step, 6),
        round(math.ceil(maxy / step) * step, 6),
    )
    zoom = math.floor(view.zoom / OUTLINES_ZOOM_STEP) * OUTLINES_ZOOM_STEP
    return MapView(((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2), zoom, bbox)


def outlines_url(view: MapView, version: int | None) -> str:
    """Where the browser fetches the grid outlines of the wall's ``view`` (plotly loads a
    choropleth's ``geojson`` given as a URL): those of :func:`outlines_view`, a superset
    of the view's. The URL names the grids' change counter, so the browser keeps the
    answer until the grids change: a wall opened again downloads only the shares."""
    drawn = outlines_view(view)
    query = {
        "bbox": ",".join(f"{v:.6f}" for v in drawn.bbox),
        "zoom": f"{drawn.zoom:g}",
        "v": str(version if version is not None else "none"),
    }
    return f"{OUTLINES_PATH}?{urlencode(query)}"


def outlines(engine: Engine, view: MapView, now: datetime) -> dict[str, Any]:
    """The GeoJSON of the grid outlines the wall's patrol trace draws for ``view`` (kept
    per process with the trace, see :func:`_patrol_trace`). Raises SQLAlchemyError or
    GridmapError."""
    lang = get_settings().language
    ctx = _patrol_context(engine, view, now, now, lang)
    return _patrol_trace(ctx, _view_grids(ctx), lang)["geojson"]


def _grids_version(engine: Engine) -> int | None:
    """The grids table's change counter (None: unknown, so nothing is kept)."""
    try:
        with engine.connect() as conn:
            return conn.execute(text(GRIDS_VERSION_SQL)).scalar()
    except SQLAlchemyError:
        return None


def _patrol_trace(ctx: LayerContext, ids: list[int], lang: str) -> dict[str, Any]:
    """The patrol choropleth of grids ``ids`` without its shares (``z``): kept per
    database, reader scope, grids, zoom and language while the grids are unchanged."""
    version = _grids_version(ctx.engine)
    key = (
        ctx.engine.url.render_as_string(hide_password=False),
        request_cache_scope(),
        patrol_key(ids),
        round(ctx.zoom or 0.0, 2),
        lang,
        version,
    )
    if version is not None:
        with _OUTLINES_LOCK:
            kept = _OUTLINES.get(key)
        if kept is not None:
            return kept
    # the outlines, rounded for the wall's zoom (the shares come apart: grid_shares)
    data = PATROL.outlines(ctx)
    trace = PATROL.traces(data, lang)[0]
    # Nothing on the wall needs hovering: no per-grid hover text, so the shares (z) are
    # all a later tick has to send.
    plain = trace.to_plotly_json()
    for prop in ("customdata", "hovertemplate", "z"):
        plain.pop(prop, None)
    plain["hoverinfo"] = "skip"
    if version is not None:
        with _OUTLINES_LOCK:
            _OUTLINES[key] = plain
    return plain


def slow_tick(
    engine: Engine,
    view: MapView,
    lang: str,
    now: datetime,
    drawn_key: str | None,
    settings: Settings | None = None,
) -> SlowUpdate:
    """The heavier figures and the patrol coverage per grid in the last
    ``wall_patrol_hours``. Raises GridmapError or SQLAlchemyError (the live tick says
    the data is stale)."""
    settings = settings or get_settings()
    extras = read_extras(
        engine,
        now,
        patrol_hours=settings.wall_patrol_hours,
        circle_minutes=settings.wall_circle_minutes,
        circle_kinds=settings.wall_circle_kinds,
        patrol=False,  # the city's totals are the sums of the per-grid figures read below
    )
    t0 = now - timedelta(hours=settings.wall_patrol_hours)
    ctx = _patrol_context(engine, view, t0, now, lang)
    ids = _view_grids(ctx)
    # The shares alone first (cached street pieces, no outlines): all a later tick sends.
    shares = grid_shares(engine, ids, t0, now)
    street = shares["street_m"]
    if street.sum() > 0:  # street pieces computed
        patrolled = float((street * shares["patrolled_share"]).sum())
        extras = replace(extras, street_m=float(street.sum()), patrolled_m=patrolled)
    # Street pieces never computed: no coverage to show (not "0 % everywhere").
    ids = ids if extras.street_m is not None else []
    key = patrol_key(ids)
    patch = Patch()
    if key == drawn_key:
        patch["data"][0]["z"] = shares["patrolled_share"].round(4).tolist()
        # The outlines' colours and widths encode the shares (the fill stays clear).
        patch["data"][0]["marker"]["line"] = share_outline(shares["patrolled_share"], dark=True)
        return SlowUpdate(extras, patch, key, full=False)
    if ids:
        trace = {**_patrol_trace(ctx, list(ids), lang)}
        # The browser fetches (and keeps) the outlines from their own URL: see outlines().
        trace["geojson"] = outlines_url(view, _grids_version(engine))
        share = dict(zip(ids, shares["patrolled_share"].round(4).tolist(), strict=True))
        trace["z"] = [share.get(int(gid), 0.0) for gid in trace["locations"]]
        # The outlines' colours and widths encode the shares (the fill stays clear).
        trace["marker"] = {**trace.get("marker", {}), "line": share_outline(trace["z"], dark=True)}
    else:
        trace = empty_traces(lang)[0].to_plotly_json()
    patch["data"][0] = trace
    return SlowUpdate(extras, patch, key, full=True)
