"""The wall screen (``/wall``): full screen, dark, readable from across the room, nothing to
click. KPI tiles along the top; the whole city's case heatmap over patrol coverage per grid;
the hottest grids and a ticker of new cases beside it; a clock that turns into "data as of
HH:MM:SS" while the database is unreachable.

Thin callbacks over :mod:`gridmap.web.services.wall`: a 1 s probe that asks for a re-read when the
cases changed (a clientside twin shows the stale notice when the server stops answering
altogether); the re-read (case traces, case tiles, ticker, hottest grids); a slow tick 2 s
after the page opened (after its first paint) and then every ``wall_slow_refresh_s`` (patrol
coverage on the map and in a tile, cameras online, people inside the service circles); and
the zoom the browser fitted the city to (``assets/wall.js``), which moves the map and
redraws the heatmap for it.
Component ids start with ``wall-``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update
from flask import Response, request
from plotly.io.json import to_json_plotly
from sqlalchemy.exc import SQLAlchemyError

from gridmap.access import Role, current_user
from gridmap.access.pages import page
from gridmap.access.policy import Access, allow
from gridmap.cases.filters import case_timezone
from gridmap.db.app import primary_lost, read_engine
from gridmap.errors import GridmapError
from gridmap.i18n import t
from gridmap.settings import get_settings
from gridmap.web.basemap import basemap_style
from gridmap.web.components.hot_grids import hot_grid_items
from gridmap.web.components.ticker import ticker_items
from gridmap.web.components.wall_tiles import case_tiles, extra_tiles
from gridmap.web.delivery import kept_by_browsers
from gridmap.web.services import live, wall
from gridmap.web.services.map import MapView
from gridmap.web.shell import graph_config, header, page_language
from layers.cases import HEAT_SCALE
from layers.patrol_coverage import SHARE_CLASSES, PatrolCoverageLayer

PATH = "/wall"
#: How often the wall asks whether the cases changed (milliseconds).
LIVE_INTERVAL_MS = 1000
#: When the first slow tick runs after the page opened (ms): after the first paint.
SLOW_START_MS = 2000
#: Ticker lines the wall shows (large type: fewer lines than the map page).
TICKER_LINES = 5
#: Who may watch the wall: it shows the whole city (grid leads see only their grids,
#: planners no single cases), so the page and its callbacks refuse everyone else.
ROLES = frozenset({Role.ADMIN, Role.COMMAND})
#: Nothing to click on the wall: no mode bar, no zoom, no tips.
GRAPH_CONFIG = graph_config(
    displayModeBar=False, scrollZoom=False, doubleClick=False, showTips=False
)


def _gradient(scale: Any) -> str:
    stops = ", ".join(f"{color} {100 * at:.0f}%" for at, color in scale)
    return f"linear-gradient(90deg, {stops})"


def _legend(lang: str) -> html.Div:
    """Always-visible legend on the map (nothing on the wall needs hovering): the case
    heat's ramp, then the grid outlines by patrolled share (one line per class)."""
    outlines = [
        html.Div(
            [
                html.Span(
                    className="wall-outline",
                    style={"--c": entry.color, "--w": f"{width}"},
                ),
                html.Span(entry.label),
            ],
            className="wall-legend-row",
        )
        for entry, (_, _, width) in zip(
            PatrolCoverageLayer.share_legend(lang, dark=True), SHARE_CLASSES, strict=True
        )
    ]
    return html.Div(
        className="wall-legend",
        children=[
            html.Div(
                [
                    html.Span(className="wall-ramp", style={"background": _gradient(HEAT_SCALE)}),
                    html.Span(t("wall.legend_heat", lang)),
                ],
                className="wall-legend-row",
            ),
            html.Div(t("legend.patrol_grids", lang), className="wall-legend-heading"),
            *outlines,
        ],
    )


def title(lang: str) -> str:
    """The wall's title; an area-scoped command centre's names its area."""
    user = current_user()
    area = user.area if user is not None else None
    return t("wall.title", lang) + (f" · {area.name}" if area is not None else "")


def layout(lang: str | None = None, **_query: str) -> html.Div:
    """The wall for ``?lang=`` (zh-CN by default)."""
    settings = get_settings()
    lang = page_language(lang)
    start = wall.wall_view(read_engine(), settings.map_center)
    style = basemap_style(request.host_url, settings.basemap_tiles, theme="dark")
    figure = wall.wall_figure(wall.empty_traces(lang), start.view, style)
    extent = json.dumps(start.extent) if start.extent else ""
    return html.Div(
        className="wall",
        lang=lang,
        children=[
            html.Div(
                className="wall-top",
                children=[
                    header(lang, PATH),
                    html.H2(title(lang), className="wall-title"),
                    html.Div(id="wall-notice", className="wall-notice"),
                ],
            ),
            html.Div(
                className="wall-tiles",
                children=[
                    html.Div(
                        case_tiles(None, lang, settings.wall_window),
                        id="wall-case-tiles",
                        className="wall-tile-group",
                    ),
                    html.Div(
                        extra_tiles(None, lang), id="wall-extra-tiles", className="wall-tile-group"
                    ),
                ],
            ),
            html.Section(
                className="wall-map",
                id="wall-map",
                **{"data-extent": extent},
                children=[
                    dcc.Graph(
                        id="wall-graph", figure=figure, config=GRAPH_CONFIG, className="wall-graph"
                    ),
                    html.Div(t("wall.map_title", lang), className="wall-map-title"),
                    _legend(lang),
                ],
            ),
            html.Aside(
                className="wall-side",
                children=[
                    html.Section(
                        className="wall-hot",
                        children=[
                            html.H3(t("wall.hot_title", lang), className="wall-heading"),
                            html.Ol(id="wall-hot", className="hot-list"),
                        ],
                    ),
                    html.Section(
                        className="wall-ticker ticker",
                        children=[
                            html.H3(t("ticker.title", lang), className="wall-heading"),
                            html.Ul(id="wall-ticker", className="ticker-list"),
                        ],
                    ),
                ],
            ),
            dcc.Store(id="wall-lang", data=lang),
            dcc.Store(id="wall-view", data=start.view.to_store()),
            dcc.Store(id="wall-live", data=live.LiveState().to_store()),
            dcc.Store(id="wall-patrol-key", data=None),
            dcc.Store(id="wall-fit", data=None),
            dcc.Store(id="wall-beat", data=None),
            dcc.Store(id="wall-refresh", data=None),
            dcc.Store(
                id="wall-texts",
                data={
                    "as_of": t("wall.as_of", lang),
                    "stale": t("live.stale", lang),
                    "tz": case_timezone(),
                },
            ),
            dcc.Interval(id="wall-tick", interval=LIVE_INTERVAL_MS),
            dcc.Interval(id="wall-slow-tick", interval=int(settings.wall_slow_refresh_s * 1000)),
            # the first slow tick, once the city's cases are drawn (its reads, seconds on a
            # fresh server process, would otherwise compete with the first paint)
            dcc.Interval(id="wall-slow-start", interval=SLOW_START_MS, max_intervals=1),
        ],
    )


def probe_update(
    tick: int | None,
    stored_live: dict[str, Any] | None,
    requested: dict[str, Any] | None,
    lang: str,
) -> tuple[Any, ...]:
    """Every second: ask the database whether the cases changed (one row); when they did,
    request a re-read (``wall-refresh``). Always the clock or the stale notice, and the tick
    answered (``wall-beat``: the browser shows the stale notice itself when answers stop
    coming)."""
    probe = wall.probe_tick(
        read_engine(), live.LiveState.from_store(stored_live), requested, lang, datetime.now(UTC)
    )
    text_, css = live.with_read_only(probe.notice, probe.notice_class, lang, primary_lost())
    return (
        probe.request if probe.request is not None else no_update,
        text_,
        css,
        tick or 0,
        probe.state.to_store() if probe.state is not None else no_update,
    )


def live_update(
    _requested: dict[str, Any] | None,
    stored_view: dict[str, Any],
    stored_live: dict[str, Any] | None,
    lang: str,
) -> tuple[Any, ...]:
    """When the probe asked (or the view changed): the case traces, the case tiles, the
    ticker (new cases highlighted) and the hottest grids."""
    update = wall.live_tick(
        read_engine(),
        live.LiveState.from_store(stored_live),
        MapView.from_store(stored_view),
        lang,
        datetime.now(UTC),
    )
    patch = wall.case_patch(update)
    result = update.live
    tiles = (
        case_tiles(result.tiles, lang, get_settings().wall_window) if result.tiles else no_update
    )
    ticker = (
        ticker_items(result.ticker[:TICKER_LINES], lang, update.fresh)
        if result.ticker is not None
        else no_update
    )
    hot = hot_grid_items(update.hot, lang) if update.hot is not None else no_update
    state = result.state.to_store() if result.changed else no_update
    return (
        patch if patch is not None else no_update,
        tiles,
        ticker,
        hot,
        *live.with_read_only(update.notice, update.notice_class, lang, primary_lost()),
        state,
    )


def slow_update(
    _tick: int | None,
    stored_view: dict[str, Any],
    drawn_key: str | None,
    lang: str,
    stored_live: dict[str, Any] | None = None,
    notice_class: str | None = None,
    _start: int | None = None,
) -> tuple[Any, Any, Any]:
    """:data:`SLOW_START_MS` after the page opened, then every ``wall_slow_refresh_s``:
    patrol coverage on the map and the heavier tiles
    (unchanged while the database is unreachable, and while the banner says the data is as
    of an earlier time, whether the server said so or the browser did (``notice_class``,
    no answer for a few seconds): no tile moves under a stale banner)."""
    if live.LiveState.from_store(stored_live).stale or "stale" in (notice_class or "").split():
        return no_update, no_update, no_update
    try:
        update = wall.slow_tick(
            read_engine(), MapView.from_store(stored_view), lang, datetime.now(UTC), drawn_key
        )
    except (GridmapError, SQLAlchemyError) as exc:
        wall.log.warning("wall slow tick: %s", exc)
        return no_update, no_update, no_update
    return extra_tiles(update.extras, lang), update.patch, update.patrol_key


def fit_view(fit: dict[str, Any] | None, stored_view: dict[str, Any]) -> tuple[Any, Any]:
    """The zoom and centre the browser fitted the city to (``assets/wall.js``): the view
    store (the bbox stays the whole city) and the figure moved there."""
    view = MapView.from_store(stored_view)
    if not fit or fit.get("zoom") is None:
        return no_update, no_update
    fitted = wall.zoomed(view, float(fit["zoom"]), (float(fit["lon"]), float(fit["lat"])))
    if fitted is view:
        return no_update, no_update
    return fitted.to_store(), wall.view_patch(fitted)


@allow(Access.SIGNED_IN)
@kept_by_browsers
def outlines() -> Response:
    """``GET /wall/outlines.json?bbox=&zoom=&v=``: the grid outlines the wall's map draws
    (the patrol trace's GeoJSON), for the wall's roles only. ``v`` (the grids' change
    counter) only makes the URL new when the grids change, so the browser may keep the
    answer for good."""
    user = current_user()
    if user is None or user.role not in ROLES:
        return _json_error(f"Only {', '.join(sorted(ROLES))} may read the wall's outlines.", 403)
    try:
        bbox = tuple(float(v) for v in request.args.get("bbox", "").split(","))
        zoom = float(request.args.get("zoom", ""))
        if len(bbox) != 4 or not all(math.isfinite(v) for v in (*bbox, zoom)):
            raise ValueError
    except ValueError:
        return _json_error("bbox=minx,miny,maxx,maxy and zoom=<number> are needed.", 400)
    view = MapView(((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2), zoom, bbox)
    try:
        geojson = wall.outlines(read_engine(), view, datetime.now(UTC))
    except (SQLAlchemyError, GridmapError):
        return _json_error("The database is not available; try again shortly.", 503)
    # plotly's encoder: the rings are numeric arrays (layers.base.feature_collection)
    response = Response(to_json_plotly(geojson), mimetype="application/geo+json")
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


def _json_error(message: str, status: int) -> Response:
    response = Response(json.dumps({"error": {"message": message}}), status=status,
                        mimetype="application/json")  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: Dash) -> None:
    """Register the page, its callbacks and its outlines' URL on ``app``."""
    with page(app, __name__, path=PATH, roles=ROLES, nav="nav.wall", order=4, name="wall",
              title=t("wall.title", "zh-CN"), layout=layout):  # fmt: skip
        _callbacks(app)
    app.server.add_url_rule(wall.OUTLINES_PATH, "wall.outlines", outlines, methods=["GET"])


def _callbacks(app: Dash) -> None:
    app.callback(
        Output("wall-refresh", "data"),
        Output("wall-notice", "children", allow_duplicate=True),
        Output("wall-notice", "className", allow_duplicate=True),
        Output("wall-beat", "data"),
        Output("wall-live", "data", allow_duplicate=True),
        Input("wall-tick", "n_intervals"),
        State("wall-live", "data"),
        State("wall-refresh", "data"),
        State("wall-lang", "data"),
        prevent_initial_call=True,
    )(probe_update)
    app.callback(
        Output("wall-graph", "figure"),
        Output("wall-case-tiles", "children"),
        Output("wall-ticker", "children"),
        Output("wall-hot", "children"),
        Output("wall-notice", "children"),
        Output("wall-notice", "className"),
        Output("wall-live", "data"),
        Input("wall-refresh", "data"),
        Input("wall-view", "data"),
        State("wall-live", "data"),
        State("wall-lang", "data"),
    )(live_update)
    app.callback(
        Output("wall-extra-tiles", "children"),
        Output("wall-graph", "figure", allow_duplicate=True),
        Output("wall-patrol-key", "data"),
        Input("wall-slow-tick", "n_intervals"),
        State("wall-view", "data"),
        State("wall-patrol-key", "data"),
        State("wall-lang", "data"),
        State("wall-live", "data"),
        State("wall-notice", "className"),
        Input("wall-slow-start", "n_intervals"),
        prevent_initial_call=True,
    )(slow_update)
    app.clientside_callback(
        ClientsideFunction("wall", "staleNotice"),
        Output("wall-notice", "children", allow_duplicate=True),
        Output("wall-notice", "className", allow_duplicate=True),
        Input("wall-tick", "n_intervals"),
        State("wall-beat", "data"),
        State("wall-live", "data"),
        State("wall-texts", "data"),
        prevent_initial_call=True,
    )
    app.callback(
        Output("wall-view", "data"),
        Output("wall-graph", "figure", allow_duplicate=True),
        Input("wall-fit", "data"),
        State("wall-view", "data"),
        prevent_initial_call=True,
    )(fit_view)
