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

from gridmap.access import Role
from gridmap.access.pages import page
from gridmap.db.app import app_engine
from gridmap.errors import GridmapError
from gridmap.i18n import normalize_language, t
from gridmap.patrols import coverage, shifts
from gridmap.patrols.errors import PatrolNotFound
from gridmap.settings import get_settings
from gridmap.web.basemap import basemap_style
from gridmap.web.shell import header, page_language
from layers import LayerContext
from layers.params import PatrolWindow
from layers.patrol_coverage import PatrolCoverageLayer

PATH = "/patrols"
#: Who may open the patrols page (a grid lead or worker sees only their grids' shifts).
ROLES = frozenset({Role.ADMIN, Role.COMMAND, Role.GRID_LEAD, Role.GRID_WORKER})
WINDOWS = ("2h", "8h", "24h", "7d")
COVERAGE = PatrolCoverageLayer()
TRACK_COLOR = "#1d4ed8"
#: Track points the play button advances per tick.
PLAY_STEP = 6


def _shift_options() -> list[dict[str, Any]]:
    rows = shifts.list_shifts(app_engine(), limit=500)
    return [
        {
            "label": f"{r['device_id']} · {r['team'] or r['kind']} · "
            f"{r['started_at'].astimezone(UTC):%m-%d %H:%M}Z",
            "value": r["id"],
        }
        for r in rows
    ]


def layout(lang: str | None = None, shift: str | None = None, **_: Any) -> html.Div:
    lang = page_language(lang)
    try:
        options = _shift_options()
        error = None
    except GridmapError as exc:
        options, error = [], exc.message
    chosen = int(shift) if shift and shift.isdigit() else (options[0]["value"] if options else None)
    return html.Div(
        className="page page-patrols",
        children=[
            header(lang, PATH),
            dcc.Store(id="patrols-lang", data=lang),
            dcc.Store(id="patrols-track"),
            dcc.Interval(id="patrols-tick", interval=400, disabled=True),
            html.Div(
                className="patrols-controls",
                children=[
                    html.Label(t("patrols.device", lang), htmlFor="patrols-shift"),
                    dcc.Dropdown(
                        id="patrols-shift", options=options, value=chosen, clearable=False
                    ),
                    html.Label(t("patrols.window", lang)),
                    dcc.RadioItems(
                        id="patrols-window",
                        options=[{"label": w, "value": w} for w in WINDOWS],
                        value="8h",
                        inline=True,
                    ),
                    html.Button(t("patrols.play", lang), id="patrols-play", n_clicks=0),
                    html.Div(
                        dcc.RangeSlider(
                            id="patrols-range", min=0, max=1, step=1, value=[0, 1], marks=None
                        ),
                        className="patrols-range",
                    ),
                    html.Div(id="patrols-status", className="patrols-status", children=error or ""),
                ],
            ),
            dcc.Graph(
                id="patrols-graph",
                config={"scrollZoom": True, "displaylogo": False},
                style={"height": "70vh"},
            ),
            html.H2(t("patrols.gaps", lang)),
            html.Ol(id="patrols-gaps", className="patrols-gaps"),
        ],
    )


def load_track(shift_id: int | None):
    """The chosen shift's fixes → the store and the slider's range."""
    if shift_id is None:
        return None, 1, [0, 1]
    engine = app_engine()
    try:
        shift = shifts.get_shift(engine, int(shift_id))
    except PatrolNotFound:  # gone, or not the user's (row-level security): no track
        return None, 1, [0, 1]
    end = shift["ended_at"] or datetime.now(UTC)
    points = shifts.track(engine, shift["device_id"], shift["started_at"], end)
    data = {
        "device_id": shift["device_id"],
        "t": [p["at"].isoformat() for p in points],
        "lon": [round(p["lon"], 6) for p in points],
        "lat": [round(p["lat"], 6) for p in points],
    }
    last = max(len(points) - 1, 1)
    return data, last, [0, last]


def draw(track: dict | None, span: list[int], window: str, lang: str):
    """Coverage around the track as of the range's end, the track so far and its head."""
    lang = normalize_language(lang)
    pts = track or {"t": [], "lon": [], "lat": []}
    n = len(pts["t"])
    lo, hi = (span or [0, 0])[0], min((span or [0, 0])[1], max(n - 1, 0))
    if n:
        lons, lats = pts["lon"], pts["lat"]
        bbox = (min(lons) - 0.004, min(lats) - 0.004, max(lons) + 0.004, max(lats) + 0.004)
        center = {"lon": (bbox[0] + bbox[2]) / 2, "lat": (bbox[1] + bbox[3]) / 2}
        as_of = datetime.fromisoformat(pts["t"][hi])
        status = f"{pts['device_id']} · {pts['t'][lo][11:19]} – {pts['t'][hi][11:19]}"
    else:
        bbox, center, as_of = None, None, datetime.now(UTC)
        status = t("patrols.no_track", lang)
    length = coverage.parse_window(window)
    ctx = LayerContext(
        engine=app_engine(),
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
                text=[pts["t"][hi][11:19]],
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
    gaps = [
        html.Li(
            f"{r['name']} ({r['code']}) · {t('patrol.cases', lang)} {r['cases']} · "
            f"{t('patrol.patrolled', lang)} {100 * r['patrolled_share']:.0f} %",
            className="patrols-gap",
        )
        for r in coverage.risk_gap(app_engine(), coverage.Window(as_of - length, as_of), 10)
    ]
    return figure, status, gaps


def toggle_play(clicks: int, lang: str, span: list[int] | None, top: int):
    """Play/pause; playing from the end of the track starts again at the range's start."""
    playing = bool(clicks) and clicks % 2 == 1
    label = t("patrols.pause" if playing else "patrols.play", lang)
    restart = playing and span is not None and span[1] >= top
    return not playing, label, [span[0], span[0]] if restart else no_update


def advance(_: int, span: list[int], top: int):
    """One play step: move the range's end forward; stop at the last point."""
    lo, hi = span
    if hi >= top:
        return no_update, True
    return [lo, min(top, hi + PLAY_STEP)], False


def register(app: Dash) -> None:
    """Register the page and its callbacks on ``app``."""
    with page(app, __name__, path=PATH, roles=ROLES, nav="nav.patrols", order=3,
              name="patrols", title="gridmap · patrols", layout=layout):  # fmt: skip
        _callbacks(app)


def _callbacks(app: Dash) -> None:
    app.callback(
        Output("patrols-track", "data"),
        Output("patrols-range", "max"),
        Output("patrols-range", "value"),
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
        prevent_initial_call=True,
    )(toggle_play)
    app.callback(
        Output("patrols-range", "value", allow_duplicate=True),
        Output("patrols-tick", "disabled", allow_duplicate=True),
        Input("patrols-tick", "n_intervals"),
        State("patrols-range", "value"),
        State("patrols-range", "max"),
        prevent_initial_call=True,
    )(advance)


__all__ = ["PATH", "register"]
