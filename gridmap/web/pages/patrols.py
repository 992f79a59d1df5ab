"""The patrols page (``/patrols``): pick a shift, replay its track over a time range on the
patrol coverage layer (streets by time since their last patrol), and see the grids where
patrols are most needed. Component ids start with ``patrols-``; callbacks stay thin and
call :mod:`gridmap.patrols`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from flask import request
from plotly import graph_objects as go

from gridmap.access import Role, current_user
from gridmap.access.pages import page
from gridmap.cases.filters import case_timezone
from gridmap.db.app import read_engine
from gridmap.errors import GridmapError
from gridmap.i18n import normalize_language, t
from gridmap.patrols import coverage, shifts
from gridmap.patrols.errors import PatrolNotFound
from gridmap.settings import get_settings
from gridmap.web.basemap import basemap_style
from gridmap.web.components.legend import legend_list
from gridmap.web.services import patrols as service
from gridmap.web.shell import header, localize_dropdowns, page_language
from layers import LayerContext, LegendEntry
from layers.params import PatrolWindow
from layers.patrol_coverage import PatrolCoverageLayer

PATH = "/patrols"
#: Who may open the patrols page (a grid lead or worker sees only their grids' shifts).
ROLES = frozenset({Role.ADMIN, Role.COMMAND, Role.GRID_LEAD, Role.GRID_WORKER})
WINDOWS = ("2h", "8h", "24h", "7d")
COVERAGE = PatrolCoverageLayer()
TRACK_COLOR = "#1d4ed8"


def _shift_options() -> list[dict[str, Any]]:
    tz = case_timezone()
    rows = shifts.list_shifts(read_engine(), limit=500)
    return [{"label": service.shift_label(r, tz), "value": r["id"]} for r in rows]


def layout(lang: str | None = None, shift: str | None = None, **_: Any) -> html.Div:
    lang = page_language(lang)
    try:
        options = _shift_options()
        error = None
    except GridmapError as exc:
        options, error = [], exc.message
    chosen = int(shift) if shift and shift.isdigit() else (options[0]["value"] if options else None)
    page = html.Div(
        className="page page-patrols",
        children=[
            header(lang, PATH),
            dcc.Store(id="patrols-lang", data=lang),
            dcc.Store(id="patrols-track"),
            dcc.Interval(id="patrols-tick", interval=service.TICK_MS, disabled=True),
            html.Div(
                className="patrols-controls",
                children=[
                    html.Label(t("patrols.device", lang), htmlFor="patrols-shift"),
                    dcc.Dropdown(
                        id="patrols-shift",
                        options=options,
                        value=chosen,
                        clearable=False,
                    ),
                    html.Label(t("patrols.window", lang)),
                    dcc.RadioItems(
                        id="patrols-window",
                        options=[
                            {"label": t(f"patrols.window_{w}", lang), "value": w} for w in WINDOWS
                        ],
                        value="8h",
                        inline=True,
                    ),
                    html.Button(
                        t("patrols.play", lang),
                        id="patrols-play",
                        n_clicks=0,
                        className="plan-button primary patrols-play",
                    ),
                    html.Div(
                        className="patrols-replay",
                        children=[
                            html.Label(t("patrols.replay", lang)),
                            dcc.RadioItems(
                                id="patrols-speed",
                                options=service.replay_options(lang),
                                value=service.DEFAULT_REPLAY,
                                inline=True,
                            ),
                        ],
                    ),
                    html.Div(
                        dcc.RangeSlider(
                            id="patrols-range",
                            min=0,
                            max=1,
                            step=1,
                            value=[0, 1],
                            marks={},
                            allowCross=False,
                            allow_direct_input=False,
                            tooltip={"transform": "gridmapClock", "placement": "bottom"},
                        ),
                        className="patrols-range",
                    ),
                    html.Div(id="patrols-status", className="patrols-status", children=error or ""),
                ],
            ),
            html.Div(
                className="patrols-body",
                children=[
                    dcc.Graph(
                        id="patrols-graph",
                        config={"scrollZoom": True, "displaylogo": False},
                        className="patrols-graph",
                    ),
                    html.Section(
                        className="patrols-side",
                        children=[
                            html.H2(t("legend.title", lang)),
                            legend_list(_legend(lang), "legend patrols-legend"),
                            html.H2(t("patrols.gaps", lang)),
                            html.Div(id="patrols-gaps", className="patrols-gaps"),
                        ],
                    ),
                ],
            ),
        ],
    )
    localize_dropdowns([page], lang)  # the shell's: Dash's own words in the page's language
    return page


def _legend(lang: str) -> list[LegendEntry]:
    """The map's key: the coverage layer's classes (streets by last visit, grids by
    patrolled share) and the track."""
    return [*COVERAGE.legend(lang), LegendEntry(t("patrols.track", lang), TRACK_COLOR, "line")]


def load_track(shift_id: int | None):
    """The chosen shift's fixes → the store and the slider (local seconds of the day, see
    :func:`service.day_seconds`): its bounds, range and clock marks."""
    if shift_id is None:
        return None, 0, 1, [0, 1], {}
    engine = read_engine()
    try:
        shift = shifts.get_shift(engine, int(shift_id))
    except PatrolNotFound:  # gone, or not the user's (row-level security): no track
        return None, 0, 1, [0, 1], {}
    end = shift["ended_at"] or datetime.now(UTC)
    points = shifts.track(engine, shift["device_id"], shift["started_at"], end)
    data = {
        "device_id": shift["device_id"],
        "t": [p["at"].isoformat() for p in points],
        "lon": [round(p["lon"], 6) for p in points],
        "lat": [round(p["lat"], 6) for p in points],
    }
    seconds = service.day_seconds(data["t"], case_timezone())
    data["s"] = seconds
    if not seconds:
        return data, 0, 1, [0, 1], {}
    first, last = seconds[0], max(seconds[-1], seconds[0] + 1)
    return data, first, last, [first, last], service.slider_marks(seconds)


def draw(track: dict | None, span: list[int], window: str, lang: str):
    """Coverage around the track as of the range's end, the track so far and its head."""
    lang = normalize_language(lang)
    tz = case_timezone()
    pts = track or {"t": [], "lon": [], "lat": [], "s": []}
    n = len(pts["t"])
    lo, hi = service.index_span(pts.get("s") or [], span)
    if n:
        lons, lats = pts["lon"], pts["lat"]
        bbox = (min(lons) - 0.004, min(lats) - 0.004, max(lons) + 0.004, max(lats) + 0.004)
        center = {"lon": (bbox[0] + bbox[2]) / 2, "lat": (bbox[1] + bbox[3]) / 2}
        as_of = datetime.fromisoformat(pts["t"][hi])
        status = (
            f"{pts['device_id']} · {service.clock(pts['t'][lo], tz, '%H:%M:%S')} – "
            f"{service.clock(pts['t'][hi], tz, '%H:%M:%S')}"
        )
    else:
        bbox, center, as_of = None, None, datetime.now(UTC)
        status = t("patrols.no_track", lang)
    length = coverage.parse_window(window)
    ctx = LayerContext(
        engine=read_engine(),
        bbox=bbox,
        zoom=15.0 if n else 11.0,
        params=(PatrolWindow(since=as_of - length, until=as_of),),
        language=lang,
    )
    traces = COVERAGE.traces(COVERAGE.query(ctx), lang)
    if n:
        traces.append(
            go.Scattermap(
                lon=pts["lon"][lo : hi + 1],
                lat=pts["lat"][lo : hi + 1],
                mode="lines",
                line={"color": TRACK_COLOR, "width": 4},
                name=t("patrols.track", lang),
                meta={"layer": "patrol_track"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
        traces.append(
            go.Scattermap(
                lon=[pts["lon"][hi]],
                lat=[pts["lat"][hi]],
                mode="markers",
                marker={"size": 14, "color": TRACK_COLOR},
                name=t("patrols.position", lang),
                text=[service.clock(pts["t"][hi], tz, "%H:%M:%S")],
                hoverinfo="text",
                meta={"layer": "patrol_position", "index": hi},
                showlegend=False,
            )
        )
    view = {
        "style": basemap_style(request.host_url, get_settings().basemap_tiles),
        "zoom": 15 if n else 11,
        "uirevision": str(pts.get("device_id")),
    }
    if center:
        view["center"] = center
    figure = go.Figure(
        data=traces,
        layout={
            "map": view,
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "showlegend": False,
            "uirevision": str(pts.get("device_id")),
        },
    )
    return figure, status, _gaps(as_of - length, as_of, tz, lang)


def _gaps(since: datetime, until: datetime, tz: str, lang: str) -> list[Any]:
    """The grids where patrols are most needed in the window, or why there are none."""
    engine = read_engine()
    rows = coverage.risk_gap(engine, coverage.Window(since, until), 10)
    span = service.span_label(since, until, tz)
    if not rows:
        user = current_user()
        reason = service.gaps_empty_reason(
            engine, since, until, tz, lang, user.role if user else None
        )
        return [html.P(reason, className="patrols-empty")]
    items = [
        html.Li(
            f"{r['name']} ({r['code']}) · {t('patrol.cases', lang)} {r['cases']} · "
            f"{t('patrol.patrolled', lang)} {100 * r['patrolled_share']:.0f} %",
            className="patrols-gap",
        )
        for r in rows
    ]
    return [html.P(t("patrols.gaps_window", lang, span=span), className="patrols-note"),
            html.Ol(items)]  # fmt: skip


def toggle_play(_: int, lang: str, span: list[int] | None, top: int, stopped: bool | None):
    """Play when stopped, pause when playing; playing from the end of the track starts
    again at the range's start."""
    playing = stopped is not False
    label = t("patrols.pause" if playing else "patrols.play", lang)
    restart = playing and span is not None and span[1] >= top
    return not playing, label, [span[0], span[0]] if restart else no_update


def advance(_: int, span: list[int], bottom: int, top: int, seconds: int | None, lang: str):
    """One play step (the whole track replays in about ``seconds``); at the last point
    the replay stops and the button reads "play" again."""
    lo, hi = span
    step = service.replay_step(top - bottom, seconds)
    end = min(top, hi + step)
    if end >= top:
        return [lo, top], True, t("patrols.play", lang)
    return [lo, end], False, no_update


def register(app: Dash) -> None:
    """Register the page and its callbacks on ``app``."""
    with page(app, __name__, path=PATH, roles=ROLES, nav="nav.patrols", order=3,
              name="patrols", title="gridmap · patrols", layout=layout):  # fmt: skip
        _callbacks(app)


def _callbacks(app: Dash) -> None:
    app.callback(
        Output("patrols-track", "data"),
        Output("patrols-range", "min"),
        Output("patrols-range", "max"),
        Output("patrols-range", "value"),
        Output("patrols-range", "marks"),
        Input("patrols-shift", "value"),
    )(load_track)
    app.callback(
        Output("patrols-graph", "figure"),
        Output("patrols-status", "children"),
        Output("patrols-gaps", "children"),
        Input("patrols-track", "data"),
        Input("patrols-range", "value"),
        Input("patrols-window", "value"),
        State("patrols-lang", "data"),
    )(draw)
    app.callback(
        Output("patrols-tick", "disabled"),
        Output("patrols-play", "children"),
        Output("patrols-range", "value", allow_duplicate=True),
        Input("patrols-play", "n_clicks"),
        State("patrols-lang", "data"),
        State("patrols-range", "value"),
        State("patrols-range", "max"),
        State("patrols-tick", "disabled"),
        prevent_initial_call=True,
    )(toggle_play)
    app.callback(
        Output("patrols-range", "value", allow_duplicate=True),
        Output("patrols-tick", "disabled", allow_duplicate=True),
        Output("patrols-play", "children", allow_duplicate=True),
        Input("patrols-tick", "n_intervals"),
        State("patrols-range", "value"),
        State("patrols-range", "min"),
        State("patrols-range", "max"),
        State("patrols-speed", "value"),
        State("patrols-lang", "data"),
        prevent_initial_call=True,
    )(advance)


__all__ = ["PATH", "register"]
