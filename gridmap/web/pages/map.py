"""The map page (``/``): layer toggles with legends beside a MapLibre map of the overlays.

One callback redraws every overlay from the toggles, the map view and the language; it
only calls :mod:`gridmap.web.overlays`. Component ids start with ``map-``.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Dash, Input, Output, State, dcc, html
from flask import request

from gridmap.errors import GridmapError
from gridmap.i18n import normalize_language, t
from gridmap.settings import get_settings
from gridmap.web import overlays
from gridmap.web.basemap import basemap_style
from gridmap.web.database import app_engine
from gridmap.web.shell import header
from layers import LAYERS, Layer

PATH = "/"
TOGGLE = "map-layer-toggle"
NOTE = "map-layer-note"
GRAPH_CONFIG = {
    "scrollZoom": True,
    "displaylogo": False,
    "displayModeBar": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "toImage"],
    "responsive": True,
}


def _style() -> dict[str, Any]:
    return basemap_style(request.host_url, get_settings().basemap_tiles)


def _layer_card(layer: Layer, lang: str) -> html.Div:
    legend = [
        html.Li(
            [
                html.Span(className=f"swatch swatch-{entry.shape}", style={"--c": entry.color}),
                html.Span(entry.label),
            ]
        )
        for entry in layer.legend(lang)
    ]
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
            html.Ul(legend, className="legend"),
            html.Div(id={"type": NOTE, "layer": layer.id}, className="layer-note"),
        ],
    )


def layout(lang: str | None = None, **_query: str) -> html.Div:
    """The page for ``?lang=`` (zh-CN by default)."""
    settings = get_settings()
    lang = normalize_language(lang or settings.language)
    message, message_class = "", "map-message hidden"
    try:
        start = overlays.initial_view(app_engine(), settings.map_center)
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
    figure = overlays.map_figure([], start.view, _style())
    return html.Div(
        className="app",
        lang=lang,
        children=[
            header(lang, PATH),
            html.Main(
                className="map-page",
                children=[
                    html.Aside(
                        className="map-panel",
                        children=[
                            html.H2(t("map.layers", lang), className="panel-title"),
                            *[_layer_card(layer, lang) for layer in LAYERS],
                        ],
                    ),
                    html.Section(
                        className="map-area",
                        children=[
                            dcc.Graph(
                                id="map-graph",
                                figure=figure,
                                config=GRAPH_CONFIG,
                                className="map-graph",
                            ),
                            html.Div(message, id="map-message", className=message_class),
                            html.Div(id="map-status", className="map-status"),
                        ],
                    ),
                ],
            ),
            dcc.Store(id="map-view", data=start.view.to_store()),
            dcc.Store(id="map-lang", data=lang),
            dcc.Store(id="map-start-message", data=[message, message_class]),
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
) -> tuple[Any, list[str], dict[str, Any], str, str, str]:
    """Redraw the overlays for the toggles, the view and the language."""
    view = overlays.MapView.from_store(stored_view).updated(relayout)
    visible = overlays.visible_layers(toggles, toggle_ids)
    try:
        drawn = overlays.draw_overlays(app_engine(), visible, view, lang)
    except GridmapError:
        drawn = overlays.Overlays(error=t("map.error", lang))
    figure = overlays.map_figure(drawn.traces, view, _style())
    notes = [drawn.notes.get(i["layer"], "") for i in note_ids]
    message, message_class = start_message
    if drawn.error:
        message, message_class = drawn.error, "map-message error"
    status = t("map.view", lang, zoom=f"{view.zoom:.1f}")
    return figure, notes, view.to_store(), message, message_class, status


def register(app: Dash) -> None:
    """Register the page and its callback on ``app``."""
    dash.register_page(
        __name__, path=PATH, name="map", title=t("app.title", "zh-CN"), layout=layout
    )
    app.callback(
        Output("map-graph", "figure"),
        Output({"type": NOTE, "layer": ALL}, "children"),
        Output("map-view", "data"),
        Output("map-message", "children"),
        Output("map-message", "className"),
        Output("map-status", "children"),
        Input({"type": TOGGLE, "layer": ALL}, "value"),
        Input("map-graph", "relayoutData"),
        State({"type": TOGGLE, "layer": ALL}, "id"),
        State({"type": NOTE, "layer": ALL}, "id"),
        State("map-view", "data"),
        State("map-lang", "data"),
        State("map-start-message", "data"),
    )(redraw)
