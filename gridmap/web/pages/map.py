"""The map page (``/``): case filters and layer toggles (with the service circles' kind
chooser) beside a MapLibre map of the overlays, with a floating legend of the layers drawn,
KPI tiles, a ticker of the latest cases and a live-data notice.

The page comes with its first view drawn. Callbacks stay thin: one redraws the overlays and
the floating legend when the toggles, the map view or the service kind change (only the
layers a toggle changes; :mod:`gridmap.web.services.map`); one keeps the case filter's store;
one ticks every second and, only when the cases changed (:mod:`gridmap.web.services.live`), patches
the case layer's traces, the tiles and the ticker in place. Component ids start with
``map-``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from dash import ALL, ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate
from flask import request

from gridmap.access import Role
from gridmap.access.pages import page
from gridmap.analytics.params import SERVICE_KINDS
from gridmap.cases.filters import CUSTOM_WINDOW, CaseChoice
from gridmap.db.app import primary_lost, read_engine
from gridmap.errors import GridmapError
from gridmap.i18n import t
from gridmap.settings import get_settings
from gridmap.web.basemap import basemap_style
from gridmap.web.components.case_filters import CONTROLS, control_inputs, filter_panel
from gridmap.web.components.kpis import kpi_tiles
from gridmap.web.components.legend import legend_list
from gridmap.web.components.ticker import ticker_items, ticker_panel
from gridmap.web.services import live
from gridmap.web.services import map as overlays
from gridmap.web.shell import graph_config, page_language, page_layout, triggered_ids
from gridmap.web.tile_overlays import tile_styles, with_tile_layers
from layers import LAYERS, Layer, LegendEntry, get_layer
from layers.cases import BREAK_COUNT, HEAT_SCALE, CasesLayer
from layers.params import CircleFilter
from layers.patrol_coverage import PatrolCoverageLayer
from layers.service_circles import kind_legend
from layers.service_points import KIND_COLORS

PATH = "/"
#: What assets/case-filter.js makes the filter store of: the controls' names, in order.
CASE_FIELDS = {"names": list(CONTROLS), "custom": CUSTOM_WINDOW}
#: Who may open the city map (every signed-in person; a planner sees case counts only).
ROLES = frozenset({Role.ADMIN, Role.COMMAND, Role.GRID_LEAD, Role.GRID_WORKER, Role.PLANNER})
PREFIX = "map"
TOGGLE = "map-layer-toggle"
NOTE = "map-layer-note"
#: The service circles show one kind at a time (one colour, no smear of six kinds).
CIRCLE_KIND = "map-circle-kind"
DEFAULT_CIRCLE_KIND = SERVICE_KINDS[0]
#: From this zoom the case layer draws single cases (below it, hexagons with a colour bar).
CASE_DETAIL_ZOOM = CasesLayer.detail_zoom
#: How often open dashboards ask whether the cases changed (milliseconds).
LIVE_INTERVAL_MS = 1000
GRAPH_CONFIG = graph_config(
    displayModeBar=True, modeBarButtonsToRemove=["select2d", "lasso2d", "toImage"]
)


def _style(visible: Iterable[str] = ()) -> dict[str, Any]:
    """The basemap, plus the vector-tile layers of the visible map layers."""
    style = basemap_style(request.host_url, get_settings().basemap_tiles)
    return with_tile_layers(style, request.host_url, visible)


def _layer_card(layer: Layer, lang: str, note: Any = "") -> html.Div:
    """A layer's toggle and ``note`` (its legend floats on the map while it is drawn); the
    service circles add their kind chooser, whose swatches are the kinds' colours."""
    return html.Div(
        className="layer-card",
        children=[
            dcc.Checklist(
                id={"type": TOGGLE, "layer": layer.id},
                options=[{"label": t(layer.title, lang), "value": "on"}],
                value=["on"] if layer.default_visible else [],
                className="layer-toggle",
                inputClassName="switch",
                labelClassName="layer-title",
            ),
            *([_kind_chooser(lang)] if layer.id == "service_circles" else []),
            html.Div(note, id={"type": NOTE, "layer": layer.id}, className="layer-note"),
        ],
    )


def _circle_minutes() -> float:
    """The one walk the map's service circles show: the longest configured (15 minutes)."""
    return float(max(get_settings().circles_minutes))


def _kind_chooser(lang: str) -> html.Div:
    """One service kind at a time, each option a swatch of its colour."""
    options = [
        {
            "label": html.Span(
                [
                    html.Span(className="swatch swatch-fill", style={"--c": KIND_COLORS[k]}),
                    html.Span(t(f"service.{k}", lang)),
                ],
                className="kind-option",
            ),
            "value": k,
        }
        for k in SERVICE_KINDS
    ]
    return html.Div(
        className="circle-kinds",
        children=[
            html.Div(t("circles.kind", lang), className="circle-kinds-title"),
            dcc.RadioItems(
                id=CIRCLE_KIND, options=options, value=DEFAULT_CIRCLE_KIND, className="kind-list"
            ),
        ],
    )


def legend_entries(layer: Layer, lang: str, zoom: float, circle_kind: str) -> list[LegendEntry]:
    """What ``layer`` draws at ``zoom``, for the floating legend (the case hexagons have
    their colour bar; the service circles show the chosen kind only); nothing below the
    layer's min_zoom."""
    if not layer.visible_at(zoom):
        return []
    if layer.id == "service_circles":
        return kind_legend(circle_kind, lang, (_circle_minutes(),))
    if isinstance(layer, PatrolCoverageLayer):
        if zoom < layer.detail_zoom:
            return layer.share_legend(lang)
        return layer.style.legend(lang) if layer.style is not None else []
    if layer.id == "cases":
        return get_layer("cases").style.legend(lang) if zoom >= CASE_DETAIL_ZOOM else []
    return layer.legend(lang)


def legend_sections(visible: Iterable[str], lang: str, zoom: float, circle_kind: str) -> list:
    """The floating legend's sections of the visible layers but the cases (whose section
    keeps its colour bar in the page), in drawing order, top layer first."""
    shown = set(visible)
    sections = []
    for layer in reversed(LAYERS):
        if layer.id not in shown or layer.id == "cases":
            continue
        entries = legend_entries(layer, lang, zoom, circle_kind)
        if entries:
            sections.append(
                html.Div(
                    [html.Div(t(layer.title, lang), className="map-legend-title"),
                     legend_list(entries)],
                    className="map-legend-section",
                    id=f"map-legend-{layer.id}",
                )
            )  # fmt: skip
    return sections


def _case_legend_classes(visible: Iterable[str], zoom: float) -> tuple[str, str]:
    """Class names of the floating legend's case section and of its single-case key."""
    on = "cases" in set(visible)
    section = "map-legend-section" + ("" if on else " hidden")
    points = "map-legend-points" + ("" if zoom >= CASE_DETAIL_ZOOM else " hidden")
    return section, points


def floating_legend(visible: Iterable[str], lang: str, zoom: float) -> html.Div:
    """The legend floating over the map: the visible layers' keys, the case heat's colour
    bar (kept in step with the drawn hexagons by :data:`HEAT_SCALE_JS`) at the bottom."""
    cases = get_layer("cases")
    section, points = _case_legend_classes(visible, zoom)
    return html.Div(
        id="map-legend",
        className="map-legend",
        children=[
            html.Div(t("legend.title", lang), className="map-legend-heading"),
            html.Div(
                legend_sections(visible, lang, zoom, DEFAULT_CIRCLE_KIND), id="map-legend-layers"
            ),
            html.Div(
                id="map-legend-cases",
                className=section,
                children=[
                    html.Div(t(cases.title, lang), className="map-legend-title"),
                    _heat_scale(lang),
                    html.Div(
                        legend_list(cases.style.legend(lang) if cases.style else []),
                        id="map-legend-case-points",
                        className=points,
                    ),
                ],
            ),
        ],
    )


def _heat_scale(lang: str) -> html.Div:
    """The case hexagons' colour bar; its value breaks come from the drawn hexagon trace
    (:data:`HEAT_SCALE_JS`), hidden while no hexagon is drawn."""
    stops = ", ".join(f"{color} {share * 100:g}%" for share, color in HEAT_SCALE)
    return html.Div(
        id="map-case-scale",
        className="heat-scale hidden",
        children=[
            html.Div(
                className="heat-bar", style={"background": f"linear-gradient(to right, {stops})"}
            ),
            html.Div(
                [html.Span(id=f"map-case-break-{k}") for k in range(BREAK_COUNT)],
                className="heat-breaks",
            ),
            html.Div(t("legend.case_heat_unit", lang), className="heat-unit"),
        ],
    )


#: The breaks of the drawn hexagon trace (its meta, see :func:`layers.cases.heat_breaks`)
#: into the colour bar: also after a live patch of the case traces, which changes no note.
HEAT_SCALE_JS = """
function (figure) {
    var traces = (figure && figure.data) || [];
    var hex = traces.find(function (tr) {
        return tr.meta && tr.meta.layer === "cases" && tr.meta.role === "hexagons";
    });
    var breaks = (hex && hex.meta.breaks) || [];
    var out = [breaks.length ? "heat-scale" : "heat-scale hidden"];
    for (var k = 0; k < BREAK_COUNT; k++) {
        var v = breaks[k];
        out.push(v === undefined ? "" : (k === breaks.length - 1 ? "≥" : "") + String(v));
    }
    return out;
}
""".replace("BREAK_COUNT", str(BREAK_COUNT))


def with_uids(traces: list) -> list:
    """``traces`` each with a plotly ``uid``: its layer, type and place in the layer. Plotly
    otherwise gives a trace the uid of the one at its index before (toggling a layer then
    recycled another type's MapLibre layers); with its own uid a trace keeps its MapLibre
    layers across redraws, and only its data is handed on (``assets/map-updates.js`` keeps
    the layers in drawing order as traces come and go)."""
    seen: dict[str, int] = {}
    for trace in traces:
        key = f"{(trace.meta or {}).get('layer', 'trace')}-{trace.type}"
        trace.uid = f"{key}-{seen.get(key, 0)}"
        seen[key] = seen.get(key, 0) + 1
    return traces


def layout(lang: str | None = None, **_query: str) -> html.Div:
    """The page for ``?lang=`` (zh-CN by default)."""
    settings = get_settings()
    lang = page_language(lang)
    message, message_class = "", "map-message hidden"
    try:
        start = overlays.initial_view(read_engine(), settings.map_center)
    except GridmapError:
        start = overlays.InitialView(
            overlays.MapView.around(overlays.FALLBACK_CENTER, overlays.FALLBACK_ZOOM),
            False,
            "database",
        )
    if start.error:
        message, message_class = t("map.error", lang), "map-message error"
    elif not start.has_data:
        message, message_class = t("map.empty", lang), "map-message empty"
    shown = [layer.id for layer in LAYERS if layer.default_visible]
    # The page comes with its first view drawn (no callback round trip before the map shows
    # anything); the redraw callback answers the toggles and moves that follow.
    first = redraw(
        [["on"] if layer.id in shown else [] for layer in LAYERS],
        None,
        [{"type": TOGGLE, "layer": layer.id} for layer in LAYERS],
        [{"type": NOTE, "layer": layer.id} for layer in LAYERS],
        start.view.to_store(),
        lang,
        [message, message_class],
    )
    figure, notes, _view, message, message_class, status, _sections, _cases, _points, drawn = first
    legend = floating_legend(shown, lang, start.view.zoom)
    return page_layout(
        lang,
        PATH,
        page_class="map-page",
        panel_class="map-panel",
        panel=[
            filter_panel(PREFIX, lang),
            html.H2(t("map.layers", lang), className="panel-title"),
            *[_layer_card(layer, lang, note) for layer, note in zip(LAYERS, notes, strict=True)],
        ],
        area=[
            dcc.Graph(id="map-graph", figure=figure, config=GRAPH_CONFIG, className="map-graph"),
            legend,
            html.Div(message, id="map-message", className=message_class),
            html.Div(kpi_tiles(None, lang), id="map-kpis", className="kpi-strip"),
            ticker_panel(PREFIX, lang),
            html.Div(id="map-live-notice", className="live-notice"),
            html.Div(status, id="map-status", className="map-status"),
        ],
        stores=[
            dcc.Store(id="map-view", data=start.view.to_store()),
            # what the figure holds: layers on, service kind, [layer, trace count] in order
            dcc.Store(id="map-drawn", data=drawn),
            dcc.Store(id="map-lang", data=lang),
            dcc.Store(id="map-start-message", data=[message, message_class]),
            dcc.Store(id="map-case-filter", data=CaseChoice().to_store()),
            dcc.Store(id="map-case-fields", data=CASE_FIELDS),
            dcc.Store(id="map-live", data=live.LiveState().to_store()),
            # starts once the first read has answered (a tick during it would read again)
            dcc.Interval(id="map-live-tick", interval=LIVE_INTERVAL_MS, disabled=True),
        ],
    )


def redraw(
    toggles: list[list[str]],
    relayout: dict[str, Any] | None,
    toggle_ids: list[dict[str, str]],
    note_ids: list[dict[str, str]],
    stored_view: dict[str, Any],
    lang: str,
    start_message: list[str],
    case_filter: dict[str, Any] | None = None,
    circle_kind: str | None = None,
    drawn: dict[str, Any] | None = None,
    shown_notes: list[Any] | None = None,
) -> tuple[Any, ...]:
    """Redraw the overlays and the floating legend for the toggles, the view, the case
    filter, the service kind and the language. A move of the map that stays inside what is
    drawn at the same zoom redraws nothing (the map's first report of its real size); when
    ``drawn`` (the ``map-drawn`` store) says what the figure holds, a move redraws only the
    layers that follow the view, and a toggle or another service kind only the layers it
    changes (a figure Patch)."""
    fired = triggered_ids()
    trigger = fired[0] if len(fired) == 1 else None  # several at once: redraw every layer
    drawn_view = overlays.MapView.from_store(stored_view)
    view = drawn_view.updated(relayout)
    moved = trigger == "map-graph"
    if moved and drawn_view.covers(view):
        raise PreventUpdate
    visible = overlays.visible_layers(toggles, toggle_ids)
    choice = CaseChoice.from_store(case_filter)
    kind = circle_kind if circle_kind in SERVICE_KINDS else DEFAULT_CIRCLE_KIND
    circles = CircleFilter(kind=kind, minutes=_circle_minutes())
    only = _changed_layers(trigger, visible, kind, drawn)
    if only is not None and not only:
        raise PreventUpdate
    try:
        out = overlays.draw_overlays(
            read_engine(), visible, view, lang, choice, circles=circles, only=only
        )
    except GridmapError:
        out = overlays.Overlays(error=t("map.error", lang))
    traces = with_uids(out.traces)
    message, message_class = start_message
    if out.error:
        message, message_class = out.error, "map-message error"
    legend = legend_sections(visible, lang, view.zoom, kind)
    section, points = _case_legend_classes(visible, view.zoom)
    state = {"visible": visible, "kind": kind}
    status = t("map.view", lang, zoom=f"{view.zoom:.1f}")
    if only is None or drawn is None or shown_notes is None:
        figure = overlays.map_figure_json(traces, view, _style(visible))
        notes = [out.notes.get(i["layer"], "") for i in note_ids]
        stored = {**state, "layers": out.drawn}
        return (figure, notes, view.to_store(), message, message_class, status, legend,
                section, points, stored)  # fmt: skip
    figure, layers = overlays.swap_layers(drawn["layers"], out)
    if set(only) & set(tile_styles()) and not moved:
        figure["layout"]["map"]["style"] = _style(visible)
    notes = [out.notes.get(i["layer"], note) for i, note in zip(note_ids, shown_notes, strict=True)]
    view_store, status = (view.to_store(), status) if moved else (no_update, no_update)
    return (figure, notes, view_store, message, message_class, status, legend, section,
            points, {**state, "layers": layers})  # fmt: skip


def _changed_layers(
    trigger: Any, visible: list[str], kind: str, drawn: dict[str, Any] | None
) -> list[str] | None:
    """The layers a toggle or another service kind changes, or a move of the map (those that
    follow the view), when the figure's layers are known (``drawn``); None: redraw every
    layer (the page opened, the language or filter changed)."""
    if not drawn or not isinstance(trigger, dict | str):
        return None
    if trigger == "map-graph":
        return [layer.id for layer in LAYERS if layer.follows_view]
    if isinstance(trigger, str) and trigger != CIRCLE_KIND:
        return None
    before = set(drawn.get("visible", []))
    changed = before ^ set(visible)
    if drawn.get("kind") != kind:
        changed |= {i for i in visible if CircleFilter in get_layer(i).reads}
    return [layer.id for layer in LAYERS if layer.id in changed]


def live_update(
    _tick: int | None,
    case_filter: dict[str, Any] | None,
    stored_live: dict[str, Any] | None,
    stored_view: dict[str, Any],
    lang: str,
    toggles: list[list[str]],
    toggle_ids: list[dict[str, str]],
) -> tuple[Any, Any, Any, str, str, Any, bool]:
    """Every tick: when the cases changed (or the filter did), patch the case traces, the
    tiles and the ticker; always say whether the data is live or stale. The page's first
    call fills the tiles and the ticker only (the map's own first draw has the cases) and
    starts the ticking."""
    choice = CaseChoice.from_store(case_filter)
    view = overlays.MapView.from_store(stored_view)
    state = live.LiveState.from_store(stored_live)
    shown = overlays.visible_layers(toggles, toggle_ids)
    update = live.refresh(
        read_engine(),
        state,
        choice,
        bbox=view.bbox,
        zoom=view.zoom,
        lang=lang,
        now=datetime.now(UTC),
        draw_layer="cases" in shown and state.version is not None,
        drawn_for=choice.to_store(),  # a new filter is read whichever input fired
    )
    figure = no_update
    if update.traces:  # with the uids they were drawn with: plotly updates them in place
        traces = with_uids(update.traces)
        figure = overlays.case_traces_patch(traces)
    tiles = kpi_tiles(update.tiles, lang) if update.tiles else no_update
    ticker = (
        ticker_items(update.ticker, lang, update.fresh) if update.ticker is not None else no_update
    )
    stored = update.state.to_store() if update.changed else no_update
    text_, css = live.with_read_only(update.notice, update.notice_class, lang, primary_lost())
    return figure, tiles, ticker, text_, css, stored, False


def register(app: Dash) -> None:
    """Register the page and its callbacks on ``app``."""
    with page(app, __name__, path=PATH, roles=ROLES, nav="nav.map", order=0, name="map",
              title=t("app.title", "zh-CN"), layout=layout):  # fmt: skip
        _callbacks(app)


def _callbacks(app: Dash) -> None:
    app.callback(
        Output("map-graph", "figure"),
        Output({"type": NOTE, "layer": ALL}, "children"),
        Output("map-view", "data"),
        Output("map-message", "children"),
        Output("map-message", "className"),
        Output("map-status", "children"),
        Output("map-legend-layers", "children"),
        Output("map-legend-cases", "className"),
        Output("map-legend-case-points", "className"),
        Output("map-drawn", "data"),
        Input({"type": TOGGLE, "layer": ALL}, "value"),
        Input("map-graph", "relayoutData"),
        State({"type": TOGGLE, "layer": ALL}, "id"),
        State({"type": NOTE, "layer": ALL}, "id"),
        State("map-view", "data"),
        State("map-lang", "data"),
        State("map-start-message", "data"),
        State("map-case-filter", "data"),
        Input(CIRCLE_KIND, "value"),
        State("map-drawn", "data"),
        State({"type": NOTE, "layer": ALL}, "children"),
        prevent_initial_call=True,  # the page comes drawn (layout)
    )(redraw)
    # made in the browser (assets/case-filter.js): no server round trip before the cases
    app.clientside_callback(
        ClientsideFunction("caseFilter", "choose"),
        Output("map-case-filter", "data"),
        Output("map-case-dates-row", "className"),
        *[Input(component, prop) for component, prop in control_inputs(PREFIX)],
        State("map-case-fields", "data"),
        prevent_initial_call=True,
    )
    app.callback(
        Output("map-graph", "figure", allow_duplicate=True),
        Output("map-kpis", "children"),
        Output("map-ticker", "children"),
        Output("map-live-notice", "children"),
        Output("map-live-notice", "className"),
        Output("map-live", "data"),
        Output("map-live-tick", "disabled"),
        Input("map-live-tick", "n_intervals"),
        Input("map-case-filter", "data"),
        State("map-live", "data"),
        State("map-view", "data"),
        State("map-lang", "data"),
        State({"type": TOGGLE, "layer": ALL}, "value"),
        State({"type": TOGGLE, "layer": ALL}, "id"),
        prevent_initial_call="initial_duplicate",
    )(live_update)
    app.clientside_callback(
        HEAT_SCALE_JS,
        Output("map-case-scale", "className"),
        *[Output(f"map-case-break-{k}", "children") for k in range(BREAK_COUNT)],
        Input("map-graph", "figure"),
    )
