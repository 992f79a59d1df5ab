"""The planning page (``/plan``): service circles of one kind and walking time on the map,
coverage figures (people, vulnerable groups, off-network buildings, least covered
communities), a what-if on the map (add a point at the map centre, move the chosen one
there, remove it; nothing is stored until saved), new-site suggestions, and the stored
results' status with a recompute button.

Callbacks stay thin over :mod:`gridmap.web.services.planning`. Component ids start with
``plan-``.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html, no_update
from flask import request

from gridmap.access import Role
from gridmap.access.pages import page
from gridmap.analytics.errors import AnalyticsError
from gridmap.analytics.params import SERVICE_KINDS, CircleParams
from gridmap.db.app import app_engine, read_engine
from gridmap.errors import GridmapError
from gridmap.i18n import t
from gridmap.settings import get_settings
from gridmap.web.basemap import basemap_style
from gridmap.web.components import export_panel, import_panel
from gridmap.web.components.legend import legend_list
from gridmap.web.components.plan_cards import toggle
from gridmap.web.services import map as overlays
from gridmap.web.services.planning import (
    coverage_figures,
    delta_text,
    map_traces,
    parse_edits,
    plan_key,
    point_options,
    recompute,
    status_text,
    suggestions,
    worst_covered,
)
from gridmap.web.shell import GRAPH_CONFIG, page_language, page_layout

PATH = "/plan"
#: Who may open planning (city-wide figures; its export and import panels too).
ROLES = frozenset({Role.ADMIN, Role.PLANNER})


#: The map legend (what-if changes only), top left over the map.
LEGEND = {"x": 0.01, "y": 0.99, "xanchor": "left", "yanchor": "top",
          "bgcolor": "rgba(255,255,255,0.9)", "bordercolor": "#cbd5e1", "borderwidth": 1,
          "font": {"size": 13}}  # fmt: skip


def _params() -> CircleParams:
    return CircleParams.from_settings()


def _pct(value: float) -> str:
    return f"{value:.1f}"


def layout(lang: str | None = None, kind: str | None = None, **_query: str) -> html.Div:
    """The page for ``?lang=`` and ``?kind=``."""
    settings = get_settings()
    lang = page_language(lang)
    params = _params()
    minutes_value, why = params.minutes[-1], ""
    if kind not in SERVICE_KINDS:
        kind = SERVICE_KINDS[0]
        try:
            worst = worst_covered(read_engine(), params)
        except GridmapError:
            worst = None
        if worst is not None:
            kind, minutes_value = worst.kind, worst.minutes
            why = t("plan.worst", lang, kind=t(f"service.{kind}", lang),
                    minutes=f"{worst.minutes:g}", pct=f"{worst.pct:.2f}")  # fmt: skip
    try:
        start = overlays.initial_view(read_engine(), settings.map_center)
        view = start.view
    except GridmapError:
        view = overlays.MapView.around(overlays.FALLBACK_CENTER, overlays.FALLBACK_ZOOM)
    figure = overlays.map_figure([], view, basemap_style(request.host_url, settings.basemap_tiles))
    kinds = [{"label": t(f"service.{k}", lang), "value": k} for k in SERVICE_KINDS]
    minutes = [
        {"label": t("plan.minutes_value", lang, minutes=f"{m:g}"), "value": m}
        for m in params.minutes
    ]
    button = "plan-button"
    return page_layout(
        lang,
        PATH,
        page_class="map-page plan-page",
        panel_class="map-panel plan-panel",
        panel=[
            html.H2(t("plan.title", lang), className="panel-title"),
            html.Label(t("plan.kind", lang), className="plan-label"),
            dcc.Dropdown(id="plan-kind", options=kinds, value=kind, clearable=False),
            html.Label(t("plan.minutes", lang), className="plan-label"),
            dcc.RadioItems(
                id="plan-minutes",
                options=minutes,
                value=minutes_value,
                inline=True,
            ),
            html.Div(why, id="plan-worst", className="plan-small plan-worst"),
            toggle("plan-euclid", t("plan.euclid", lang)),
            dcc.Loading(
                html.Div(
                    className="plan-card",
                    children=[
                        html.Div(t("plan.coverage", lang), className="kpi-label"),
                        html.Div(id="plan-coverage-pct", className="plan-big"),
                        html.Div(id="plan-coverage-detail"),
                        html.Div(id="plan-delta", className="plan-delta"),
                        html.Div(id="plan-vulnerable", className="plan-small"),
                        html.Div(id="plan-off-network", className="plan-small"),
                        html.Div(id="plan-elapsed", className="plan-small"),
                        html.H3(t("plan.communities", lang)),
                        html.Ul(id="plan-communities", className="plan-list"),
                    ],
                ),
                type="dot",
            ),
            html.H3(t("plan.whatif", lang)),
            dcc.Dropdown(id="plan-point", placeholder=t("plan.select_point", lang)),
            html.Div(
                className="plan-buttons",
                children=[
                    html.Button(t("plan.add_here", lang), id="plan-add", className=button),
                    html.Button(t("plan.move_here", lang), id="plan-move", className=button),
                    html.Button(t("plan.remove", lang), id="plan-remove", className=button),
                    html.Button(t("plan.reset", lang), id="plan-reset", className=button),
                    html.Button(
                        t("plan.save", lang),
                        id="plan-save",
                        className=button + " primary",
                    ),
                ],
            ),
            html.Div(id="plan-edits-count", className="plan-small"),
            html.Div(id="plan-message", className="plan-small"),
            html.H3(t("plan.suggest", lang)),
            html.Div(
                className="plan-buttons",
                children=[
                    html.Label(t("plan.k", lang)),
                    dcc.Input(
                        id="plan-k",
                        type="number",
                        min=1,
                        max=20,
                        value=3,
                        className="plan-k",
                    ),
                    dcc.RadioItems(
                        id="plan-candidates",
                        options=[
                            {
                                "label": t("plan.candidates_buildings", lang),
                                "value": "buildings",
                            },
                            {
                                "label": t("plan.candidates_nodes", lang),
                                "value": "nodes",
                            },
                        ],
                        value="buildings",
                        inline=True,
                    ),
                    html.Button(
                        t("plan.run_suggest", lang),
                        id="plan-suggest",
                        className=button,
                    ),
                ],
            ),
            dcc.Loading(html.Ul(id="plan-suggestions", className="plan-list"), type="dot"),
            html.Div(id="plan-status", className="plan-small"),
            html.Button(t("plan.recompute", lang), id="plan-recompute", className=button),
            dcc.Loading(
                html.Div(id="plan-recompute-message", className="plan-small"),
                type="circle",
            ),
            export_panel.layout(lang),
            import_panel.layout(lang),
        ],
        area=[
            dcc.Graph(
                id="plan-graph",
                figure=figure,
                config=GRAPH_CONFIG,
                className="map-graph",
            ),
            html.Div("+", className="plan-crosshair", title=t("plan.crosshair", lang)),
            html.Div(draw_key(kind, minutes_value, lang), id="plan-key", className="plan-key"),
        ],
        stores=[
            dcc.Store(id="plan-lang", data=lang),
            dcc.Store(id="plan-edits", data=[]),
            dcc.Store(id="plan-view", data=view.to_store()),
            dcc.Store(id="plan-suggested", data=[]),
            dcc.Store(id="plan-data-version", data=0),
        ],
    )


def redraw(
    kind: str,
    minutes: float,
    euclid: list[str],
    edits: list[dict[str, Any]],
    suggested: list[dict[str, Any]],
    _version: int,
    view: dict[str, Any],
    lang: str,
) -> tuple[Any, ...]:
    """Map and coverage card for the kind, minutes and the scenario."""
    engine, params = app_engine(), _params()
    try:
        scenario = parse_edits(edits)
        figs = coverage_figures(engine, kind, float(minutes), scenario, params)
        traces = map_traces(engine, kind, float(minutes), bool(euclid), scenario, params, lang,
                            view, suggested, figs)  # fmt: skip
        options = point_options(engine, kind, scenario, params, lang)
        status = status_text(engine, params, lang)
    except GridmapError as exc:
        return (no_update, exc.message, "", "", "", "", "", [], no_update, "")
    s, b = figs.result.scenario, figs.result.baseline
    patch = dash.Patch()
    patch["data"] = [tr.to_plotly_json() for tr in traces]
    patch["layout"]["showlegend"] = any(tr.showlegend for tr in traces)
    patch["layout"]["legend"] = LEGEND
    delta = delta_text(figs.result, lang) if edits else t("plan.unchanged", lang)
    communities = [
        html.Li(
            t(
                "plan.community_row",
                lang,
                name=c["name"],
                pct=_pct(c["pct"]),
                people=f"{c['people']:,}",
            )
        )
        for c in figs.communities
    ]
    return (
        patch,
        t("plan.coverage_value", lang, pct=f"{s['population_pct']:.2f}"),
        t(
            "plan.coverage_detail",
            lang,
            covered=f"{s['population_covered']:,}",
            total=f"{s['population']:,}",
            buildings=f"{s['buildings_covered']:,}",
        ),
        delta,
        t(
            "plan.vulnerable",
            lang,
            elderly=_pct(s["elderly_alone_pct"]),
            disabled=_pct(s["disabled_pct"]),
            low=_pct(s["low_income_pct"]),
        ),
        t(
            "plan.off_network",
            lang,
            count=f"{figs.off_network:,}",
            people=f"{figs.off_network_people:,}",
        )
        if figs.off_network
        else "",
        t("plan.elapsed", lang, ms=f"{figs.result.elapsed_s * 1000:.0f}")
        + (" · " + t("plan.today", lang, pct=f"{b['population_pct']:.2f}") if edits else ""),
        communities,
        options,
        status,
    )


def remember_view(relayout: dict[str, Any] | None, stored: dict[str, Any]) -> Any:
    """Keep the map's view (centre, zoom, bbox) for the what-if buttons."""
    view = overlays.MapView.from_store(stored)
    moved = view.updated(relayout)
    return moved.to_store() if moved != view else no_update


def edit(
    _add: int | None,
    _move: int | None,
    _remove: int | None,
    _reset: int | None,
    point: int | None,
    kind: str,
    view: dict[str, Any],
    edits: list[dict[str, Any]],
    lang: str,
) -> tuple[Any, str, str]:
    """Add a point at the map centre, move the chosen one there, remove it, or undo all."""
    which = dash.callback_context.triggered_id
    lon, lat = view["center"]
    edits = list(edits or [])
    change: dict[str, Any] | None = None
    if which == "plan-reset":
        edits = []
    elif which == "plan-add":
        change = {"op": "add", "kind": kind, "lon": lon, "lat": lat}
    elif which in ("plan-move", "plan-remove") and point is not None:
        op = "move" if which == "plan-move" else "remove"
        change = {"op": op, "point_id": point, "lon": lon, "lat": lat}
    if change:
        try:
            parse_edits([change])
        except AnalyticsError as exc:
            return no_update, "", exc.message
        edits.append(change)
    return edits, t("plan.edits", lang, count=len(edits)), ""


def choose_point(click: dict[str, Any] | None) -> Any:
    """Clicking a service point on the map chooses it."""
    for p in (click or {}).get("points", []):
        data = p.get("customdata")
        if isinstance(data, list) and data and isinstance(data[0], int):
            return data[0]
    return no_update


def save(_n: int | None, edits: list[dict[str, Any]], version: int, lang: str) -> tuple:
    """Write the scenario into the database."""
    from gridmap.analytics.whatif import save_edits
    from gridmap.web.services.planning import engine_url

    if not edits:
        return no_update, no_update, no_update
    try:
        save_edits(engine_url(app_engine()), parse_edits(edits))
    except GridmapError as exc:
        return no_update, exc.message, no_update
    return [], t("plan.saved", lang, count=len(edits)), (version or 0) + 1


def run_recompute(_n: int | None, version: int, lang: str) -> tuple[str, int]:
    """Recompute and store coverage and isochrones (spinner while it runs)."""
    try:
        count, seconds = recompute(app_engine(), _params())
    except GridmapError as exc:
        return exc.message, no_update
    return t("plan.recomputed", lang, count=f"{count:,}", seconds=f"{seconds:.1f}"), version + 1


def suggest(
    _n: int | None,
    kind: str,
    minutes: float,
    k: int | None,
    candidates: str,
    edits: list[dict[str, Any]],
    lang: str,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """k new sites for the scenario."""
    try:
        result = suggestions(app_engine(), kind, float(minutes), int(k or 1), candidates,
                             parse_edits(edits), _params())  # fmt: skip
    except GridmapError as exc:
        return [html.Li(exc.message)], []
    items = [
        html.Li(t("plan.suggestion", lang, rank=s.rank, people=f"{s.gain_population:,}",
                  vulnerable=f"{s.gain_vulnerable:,}", pct=f"{s.covered_pct_after:.2f}"))
        for s in result.suggestions
    ]  # fmt: skip
    if result.sampled:
        items.append(html.Li(t("plan.suggest_sampled", lang, count=f"{result.candidates:,}",
                               total=f"{result.candidates_total:,}")))  # fmt: skip
    points = [{"rank": s.rank, "lon": s.lon, "lat": s.lat} for s in result.suggestions]
    return items, points


def register(app: Dash) -> None:
    """Register the page and its callbacks on ``app``."""
    with page(app, __name__, path=PATH, roles=ROLES, nav="nav.plan", order=2, name="plan",
              title=t("plan.title", "zh-CN"), layout=layout):  # fmt: skip
        _callbacks(app)
        export_panel.register(app)
        import_panel.register(app)


def draw_key(kind: str, minutes: float, lang: str) -> html.Ul:
    """The map's key for the kind and minutes (:func:`plan_key`)."""
    return legend_list(plan_key(kind, float(minutes), lang))


def _callbacks(app: Dash) -> None:
    app.callback(
        Output("plan-key", "children"),
        Input("plan-kind", "value"),
        Input("plan-minutes", "value"),
        State("plan-lang", "data"),
        prevent_initial_call=True,
    )(draw_key)
    app.callback(
        Output("plan-graph", "figure"),
        Output("plan-coverage-pct", "children"),
        Output("plan-coverage-detail", "children"),
        Output("plan-delta", "children"),
        Output("plan-vulnerable", "children"),
        Output("plan-off-network", "children"),
        Output("plan-elapsed", "children"),
        Output("plan-communities", "children"),
        Output("plan-point", "options"),
        Output("plan-status", "children"),
        Input("plan-kind", "value"),
        Input("plan-minutes", "value"),
        Input("plan-euclid", "value"),
        Input("plan-edits", "data"),
        Input("plan-suggested", "data"),
        Input("plan-data-version", "data"),
        State("plan-view", "data"),
        State("plan-lang", "data"),
    )(redraw)
    app.callback(
        Output("plan-view", "data"),
        Input("plan-graph", "relayoutData"),
        State("plan-view", "data"),
        prevent_initial_call=True,
    )(remember_view)
    app.callback(
        Output("plan-edits", "data"),
        Output("plan-edits-count", "children"),
        Output("plan-message", "children"),
        Input("plan-add", "n_clicks"),
        Input("plan-move", "n_clicks"),
        Input("plan-remove", "n_clicks"),
        Input("plan-reset", "n_clicks"),
        State("plan-point", "value"),
        State("plan-kind", "value"),
        State("plan-view", "data"),
        State("plan-edits", "data"),
        State("plan-lang", "data"),
        prevent_initial_call=True,
    )(edit)
    app.callback(
        Output("plan-point", "value"),
        Input("plan-graph", "clickData"),
        prevent_initial_call=True,
    )(choose_point)
    app.callback(
        Output("plan-edits", "data", allow_duplicate=True),
        Output("plan-message", "children", allow_duplicate=True),
        Output("plan-data-version", "data", allow_duplicate=True),
        Input("plan-save", "n_clicks"),
        State("plan-edits", "data"),
        State("plan-data-version", "data"),
        State("plan-lang", "data"),
        prevent_initial_call=True,
    )(save)
    app.callback(
        Output("plan-recompute-message", "children"),
        Output("plan-data-version", "data"),
        Input("plan-recompute", "n_clicks"),
        State("plan-data-version", "data"),
        State("plan-lang", "data"),
        prevent_initial_call=True,
    )(run_recompute)
    app.callback(
        Output("plan-suggestions", "children"),
        Output("plan-suggested", "data"),
        Input("plan-suggest", "n_clicks"),
        State("plan-kind", "value"),
        State("plan-minutes", "value"),
        State("plan-k", "value"),
        State("plan-candidates", "value"),
        State("plan-edits", "data"),
        State("plan-lang", "data"),
        prevent_initial_call=True,
    )(suggest)
