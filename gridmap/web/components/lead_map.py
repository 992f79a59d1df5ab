"""The grid lead's map: the chosen grids, their cases as points, the grid shown in the
detail panel outlined and the case picked in the table ringed — four traces in that order,
so a selection patches only the last two."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import shapely
from dash import Patch
from plotly import graph_objects as go

from gridmap.i18n import t
from gridmap.web.overlays import FONT_STACK, MapView
from layers.base import feature_collection
from layers.cases import category_label
from layers.grids import GRID_LINE, PALETTE

CASE_COLOR = "#dc2626"
OPEN_COLOR = "#f97316"
CLOSED_COLOR = "#64748b"
SELECTED_GRID = "#1d4ed8"
PICKED_CASE = "#111827"
#: Trace positions in the figure.
GRIDS, CASES, GRID_OUTLINE, CASE_RING = range(4)


def grid_trace(shapes: gpd.GeoDataFrame, lang: str) -> go.Choroplethmap:
    """Grid polygons, filled by community colour; hover shows grid and community."""
    return go.Choroplethmap(
        geojson=feature_collection(shapes),
        locations=shapes["id"].astype(int).tolist(),
        z=(shapes["community_id"] % len(PALETTE)).astype(int).tolist(),
        zmin=0,
        zmax=len(PALETTE),
        colorscale=[[i / (len(PALETTE) - 1), c] for i, c in enumerate(PALETTE)],
        showscale=False,
        marker={"opacity": 0.35, "line": {"color": GRID_LINE, "width": 1.2}},
        unselected={"marker": {"opacity": 0.35}},
        customdata=list(zip(shapes["name"], shapes["community_name"], strict=True)),
        hovertemplate=(
            "<b>%{customdata[0]}</b><br>"
            f"{t('field.community', lang)}: %{{customdata[1]}}<extra></extra>"
        ),
        name=t("layer.grids", lang),
        meta={"layer": "lead_grids"},
        showlegend=False,
    )


def case_trace(rows: Sequence[dict[str, Any]], lang: str) -> go.Scattermap:
    """Case points (open ones orange, overdue red, finished grey); ``customdata`` holds
    the case id for clicks and selections."""
    colors = [
        CASE_COLOR if r["overdue"] else OPEN_COLOR if r["status"] not in FINISHED else CLOSED_COLOR
        for r in rows
    ]
    return go.Scattermap(
        lon=[round(r["lon"], 6) for r in rows],
        lat=[round(r["lat"], 6) for r in rows],
        mode="markers",
        marker={"size": 9, "color": colors, "opacity": 0.9},
        unselected={"marker": {"opacity": 0.9}},  # a drawn area filters; it never dims
        customdata=[[int(r["id"])] for r in rows],
        text=[
            f"{r['code']} · {category_label(r['category'], lang)} · "
            f"{t('case.status.' + r['status'], lang)}"
            for r in rows
        ],
        hovertemplate="%{text}<extra></extra>",
        name=t("lead.cases", lang),
        meta={"layer": "lead_cases"},
        showlegend=False,
    )


FINISHED = frozenset({"resolved", "closed", "rejected"})


def outline_trace(shape: shapely.Geometry | None, lang: str) -> go.Scattermap:
    """The grid shown in the detail panel, outlined (empty when none)."""
    lon: list[float | None] = []
    lat: list[float | None] = []
    if shape is not None:
        for poly in getattr(shape, "geoms", [shape]):
            xy = shapely.get_coordinates(poly.exterior)
            lon += [round(float(x), 6) for x in xy[:, 0]] + [None]
            lat += [round(float(y), 6) for y in xy[:, 1]] + [None]
    return go.Scattermap(
        lon=lon,
        lat=lat,
        mode="lines",
        line={"color": SELECTED_GRID, "width": 4},
        hoverinfo="skip",
        name=t("lead.selected_grid", lang),
        meta={"layer": "lead_grid_outline"},
        showlegend=False,
    )


def ring_trace(lon: float | None, lat: float | None, lang: str) -> go.Scattermap:
    """A ring around the case picked in the table (empty when none)."""
    return go.Scattermap(
        lon=[] if lon is None else [round(lon, 6)],
        lat=[] if lat is None else [round(lat, 6)],
        mode="markers",
        marker={"size": 22, "color": PICKED_CASE, "opacity": 0.55},
        hoverinfo="skip",
        name=t("lead.picked_case", lang),
        meta={"layer": "lead_case_ring"},
        showlegend=False,
    )


def lead_figure(
    traces: list[Any], view: MapView, style: dict[str, Any], revision: str
) -> go.Figure:
    """The map figure; a new ``revision`` re-frames the map to ``view``, the same one keeps
    the user's pan and zoom."""
    return go.Figure(
        data=traces,
        layout={
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
    )


def outline_patch(shape: shapely.Geometry | None, lang: str) -> Patch:
    """A figure Patch outlining another grid."""
    patch = Patch()
    patch["data"][GRID_OUTLINE] = outline_trace(shape, lang).to_plotly_json()
    return patch


def ring_patch(lon: float, lat: float, lang: str, zoom: float) -> Patch:
    """A figure Patch ringing a case and panning the map to it."""
    patch = Patch()
    patch["data"][CASE_RING] = ring_trace(lon, lat, lang).to_plotly_json()
    patch["layout"]["map"]["center"] = {"lon": round(lon, 6), "lat": round(lat, 6)}
    patch["layout"]["map"]["zoom"] = zoom
    patch["layout"]["map"]["uirevision"] = f"case-{lon:.6f},{lat:.6f}"
    return patch
