"""The grid lead's map: the chosen grids, their cases as points, the grid shown in the
detail panel outlined, the case picked in the table ringed, the overdue-visits layer's
buildings of that grid, and the day's walking route (its line, then its stops numbered in
walking order) — seven traces in that order, so a selection patches only the last ones.
Each trace has a fixed ``uid`` and the point and line traces ``below: ""`` (plotly then
redraws the visible ones on top, in this order, on every update); the route's traces are
never empty (:data:`BLANK`), so its numbered stops lie over the overdue-visits markers
and the grid fill.

Traces and the figure are plain plotly JSON dicts: the page redraws them on every filter
change, and building validated ``graph_objects`` for thousands of points costs more than
the database reads (measured at city scale, see benchmarks/bench_lead.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import shapely
from dash import Patch, html

from gridmap.cases.filters import CLOSED_STATUSES
from gridmap.i18n import t
from gridmap.web.components.legend import legend_list
from gridmap.web.services.map import FONT_STACK, MapView
from layers.base import feature_collection
from layers.grids import GRID_LINE, PALETTE
from layers.overdue_visits import OverdueVisitsLayer
from layers.specs import LegendEntry

Trace = dict[str, Any]
CASE_COLOR = "#dc2626"
OPEN_COLOR = "#f97316"
CLOSED_COLOR = "#64748b"
SELECTED_GRID = "#1d4ed8"
PICKED_CASE = "#111827"
ROUTE_COLOR = "#7c3aed"
FINISHED = frozenset(CLOSED_STATUSES)
OVERDUE_LAYER = OverdueVisitsLayer()
#: The coordinates of a route trace with nothing to draw: one point without a place.
#: plotly hides a trace with no points and, when it gets some, leaves its map layers where
#: they were made (under the grid fill); a trace never empty is redrawn on top, in trace
#: order, on every update (with ``below: ""``), so the route lies over everything else.
BLANK: list[None] = [None]
#: Trace positions in the figure.
GRIDS, CASES, GRID_OUTLINE, CASE_RING, OVERDUE, ROUTE_LINE, ROUTE_STOPS = range(7)


def grid_trace(shapes: gpd.GeoDataFrame, lang: str) -> Trace:
    """Grid polygons, filled by community colour; hover shows grid and community."""
    return {
        "type": "choroplethmap",
        "geojson": feature_collection(shapes),
        "locations": shapes["id"].astype(int).tolist(),
        "z": (shapes["community_id"] % len(PALETTE)).astype(int).tolist(),
        "zmin": 0,
        "zmax": len(PALETTE),
        "colorscale": [[i / (len(PALETTE) - 1), c] for i, c in enumerate(PALETTE)],
        "showscale": False,
        "marker": {"opacity": 0.35, "line": {"color": GRID_LINE, "width": 1.2}},
        "unselected": {"marker": {"opacity": 0.35}},  # a drawn area filters; it never dims
        "customdata": [list(p) for p in zip(shapes["name"], shapes["community_name"], strict=True)],
        "hovertemplate": (
            "<b>%{customdata[0]}</b><br>"
            f"{t('field.community', lang)}: %{{customdata[1]}}<extra></extra>"
        ),
        "name": t("layer.grids", lang),
        "meta": {"layer": "lead_grids"},
        "uid": "lead_grids",
        "showlegend": False,
    }


def case_trace(rows: Sequence[dict[str, Any]], lang: str) -> Trace:
    """Case points (open ones orange, overdue red, finished grey); ``customdata`` holds
    the case id for clicks and selections, the hover its code and status."""
    status = {s: t(f"case.status.{s}", lang) for s in {r["status"] for r in rows}}
    return {
        "type": "scattermap",
        "lon": [round(r["lon"], 6) for r in rows],
        "lat": [round(r["lat"], 6) for r in rows],
        "mode": "markers",
        "marker": {
            "size": 9,
            "opacity": 0.9,
            "color": [
                CASE_COLOR
                if r["overdue"]
                else CLOSED_COLOR
                if r["status"] in FINISHED
                else OPEN_COLOR
                for r in rows
            ],
        },
        "unselected": {"marker": {"opacity": 0.9}},
        "customdata": [[int(r["id"])] for r in rows],
        "text": [f"{r['code']} · {status[r['status']]}" for r in rows],
        "hovertemplate": "%{text}<extra></extra>",
        "name": t("lead.cases", lang),
        "meta": {"layer": "lead_cases"},
        "uid": "lead_cases",
        "below": "",
        "showlegend": False,
    }


def outline_trace(shape: shapely.Geometry | None, lang: str) -> Trace:
    """The grid shown in the detail panel, outlined (empty when none)."""
    lon: list[float | None] = []
    lat: list[float | None] = []
    if shape is not None:
        for poly in getattr(shape, "geoms", [shape]):
            xy = shapely.get_coordinates(poly.exterior)
            lon += [round(float(x), 6) for x in xy[:, 0]] + [None]
            lat += [round(float(y), 6) for y in xy[:, 1]] + [None]
    return {
        "type": "scattermap",
        "lon": lon,
        "lat": lat,
        "mode": "lines",
        "line": {"color": SELECTED_GRID, "width": 4},
        "hoverinfo": "skip",
        "name": t("lead.selected_grid", lang),
        "meta": {"layer": "lead_grid_outline"},
        "uid": "lead_grid_outline",
        "below": "",
        "showlegend": False,
    }


def ring_trace(lon: float | None, lat: float | None, lang: str) -> Trace:
    """A ring around the case picked in the table (empty when none)."""
    return {
        "type": "scattermap",
        "lon": [] if lon is None else [round(lon, 6)],
        "lat": [] if lat is None else [round(lat, 6)],
        "mode": "markers",
        "marker": {"size": 22, "color": PICKED_CASE, "opacity": 0.55},
        "hoverinfo": "skip",
        "name": t("lead.picked_case", lang),
        "meta": {"layer": "lead_case_ring"},
        "uid": "lead_case_ring",
        "below": "",
        "showlegend": False,
    }


def route_line_trace(coordinates: Sequence[Sequence[float]], lang: str) -> Trace:
    """The day route's walk over the walking network (lon/lat pairs; none: one blank
    point, see :data:`BLANK`)."""
    return {
        "type": "scattermap",
        "lon": [round(float(c[0]), 6) for c in coordinates] or BLANK,
        "lat": [round(float(c[1]), 6) for c in coordinates] or BLANK,
        "mode": "lines",
        "line": {"color": ROUTE_COLOR, "width": 4},
        "opacity": 0.85,
        "hoverinfo": "skip",
        "name": t("lead.route_line", lang),
        "meta": {"layer": "lead_route_line"},
        "uid": "lead_route_line",
        "below": "",
        "showlegend": False,
    }


def route_stops_trace(stops: Sequence[dict[str, Any]], lang: str) -> Trace:
    """The day route's stops: large markers numbered in walking order (white on the
    route's colour); the hover names the address and the households due (none: one blank
    point, see :data:`BLANK`)."""
    return {
        "type": "scattermap",
        "lon": [round(float(s["lon"]), 6) for s in stops] or BLANK,
        "lat": [round(float(s["lat"]), 6) for s in stops] or BLANK,
        "mode": "markers+text",
        "marker": {"size": 26, "color": ROUTE_COLOR, "opacity": 1},
        "text": [str(s["seq"]) for s in stops] or [""],
        "textposition": "middle center",
        "textfont": {"color": "#ffffff", "size": 15, "weight": "bold"},
        "customdata": [
            [int(s["seq"]), s["address"], len(s["households"]), int(s["building_id"])]
            for s in stops
        ],
        "hovertemplate": (
            "<b>%{customdata[0]}. %{customdata[1]}</b><br>"
            + t("lead.route_hover", lang, count="%{customdata[2]}")
            + "<extra></extra>"
        ),
        "name": t("lead.route_stops", lang),
        "meta": {"layer": "lead_route_stops"},
        "uid": "lead_route_stops",
        "below": "",
        "showlegend": False,
    }


def lead_figure(
    traces: list[Trace], view: MapView, style: dict[str, Any], revision: str
) -> dict[str, Any]:
    """The map figure; a new ``revision`` re-frames the map to ``view``, the same one keeps
    the user's pan and zoom."""
    return {
        "data": traces,
        "layout": {
            "map": {
                "style": style,
                "center": {"lon": view.center[0], "lat": view.center[1]},
                "zoom": view.zoom,
                "uirevision": revision,
            },
            "uirevision": revision,
            "dragmode": "pan",
            "clickmode": "event",
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "paper_bgcolor": "#eef1f5",
            "showlegend": False,
            "hovermode": "closest",
            "font": {"family": FONT_STACK, "color": "#1e293b"},
            "hoverlabel": {"font": {"family": FONT_STACK, "size": 13}},
        },
    }


def lead_legend(lang: str) -> html.Div:
    """The key floating over the lead's map: the traces' marks (the overdue-visits
    layer's levels apart)."""
    entries = [
        LegendEntry(t("legend.grid_fill", lang), PALETTE[0], "fill"),
        LegendEntry(t("lead.selected_grid", lang), SELECTED_GRID, "line"),
        LegendEntry(t("lead.case_open", lang), OPEN_COLOR),
        LegendEntry(t("lead.case_overdue", lang), CASE_COLOR),
        LegendEntry(t("lead.case_finished", lang), CLOSED_COLOR),
        LegendEntry(t("lead.picked_case", lang), PICKED_CASE),
        LegendEntry(t("lead.route_line", lang), ROUTE_COLOR, "line"),
        LegendEntry(t("lead.route_stops", lang), ROUTE_COLOR),
    ]
    return html.Div(
        [
            html.Div(t("legend.title", lang), className="map-legend-heading"),
            html.Div(legend_list(entries), className="map-legend-section"),
            html.Div(t(OVERDUE_LAYER.title, lang), className="map-legend-heading"),
            html.Div(legend_list(OVERDUE_LAYER.legend(lang)), className="map-legend-section"),
        ],
        id="lead-legend",
        className="map-legend lead-legend",
    )


def outline_patch(shape: shapely.Geometry | None, lang: str) -> Patch:
    """A figure Patch outlining another grid."""
    patch = Patch()
    patch["data"][GRID_OUTLINE] = outline_trace(shape, lang)
    return patch


def ring_patch(lon: float, lat: float, lang: str, zoom: float) -> Patch:
    """A figure Patch ringing a case and panning the map to it."""
    patch = Patch()
    patch["data"][CASE_RING] = ring_trace(lon, lat, lang)
    patch["layout"]["map"]["center"] = {"lon": round(lon, 6), "lat": round(lat, 6)}
    patch["layout"]["map"]["zoom"] = zoom
    patch["layout"]["map"]["uirevision"] = f"case-{lon:.6f},{lat:.6f}"
    return patch


def overdue_patch(trace: Trace) -> Patch:
    """A figure Patch drawing another overdue-visits trace (one grid's buildings)."""
    patch = Patch()
    patch["data"][OVERDUE] = trace
    return patch


def route_patch(
    stops: Sequence[dict[str, Any]], line: Sequence[Sequence[float]], lang: str
) -> Patch:
    """A figure Patch drawing the day route (empty ``stops``: clearing it)."""
    patch = Patch()
    patch["data"][ROUTE_LINE] = route_line_trace(line, lang)
    patch["data"][ROUTE_STOPS] = route_stops_trace(stops, lang)
    return patch
