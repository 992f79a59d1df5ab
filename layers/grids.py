"""Grids (网格): polygons coloured by community; community outlines when zoomed out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import geopandas as gpd
from plotly.basedatatypes import BaseTraceType

from gridmap.i18n import t
from layers.base import (
    Detail,
    FeatureLayer,
    LayerContext,
    area_trace,
    detail_of,
    hover_template,
    read_frame,
    simplify_tolerance,
)
from layers.specs import (
    MAX_ZOOM,
    CollectionSpec,
    ColorByPalette,
    LegendEntry,
    Style,
    TileSpec,
)

#: Fill colours, one per community (community id modulo the palette).
PALETTE = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B",
    "#B279A2", "#FF9DA6", "#9D755D", "#79706E", "#6B9AC4", "#8CD17D",
)  # fmt: skip
GRID_LINE = "#24324f"
COMMUNITY_LINE = "#1f2a44"
GRID_OPACITY = 0.38
COMMUNITY_OPACITY = 0.30

GRID_SQL = "SELECT * FROM gridmap_layer_grids(:minx, :miny, :maxx, :maxy, :tolerance)"
COMMUNITY_SQL = "SELECT * FROM gridmap_layer_communities(:minx, :miny, :maxx, :maxy, :tolerance)"
TILES = TileSpec(
    function="gridmap_tile_grids",
    minzoom=0,
    vector_layers={
        "grids": ({"code": "String", "name": "String", "community_id": "Number"}, 12, MAX_ZOOM),
        "communities": ({"code": "String", "name": "String", "street_id": "Number"}, 0, 11),
    },
    description="Grid polygons from zoom 12; community outlines below it.",
)


def _colorscale() -> list[tuple[float, str]]:
    """A stepped colour scale mapping palette index i (z = i) to PALETTE[i]."""
    n = len(PALETTE)
    steps: list[tuple[float, str]] = []
    for i, color in enumerate(PALETTE):
        steps += [(i / n, color), ((i + 1) / n, color)]
    return steps


@dataclass(frozen=True)
class GridsLayer(FeatureLayer):
    """Grid polygons from ``detail_zoom``; simplified community outlines below it."""

    id: str = "grids"
    title: str = "layer.grids"
    detail_zoom: float = 12.0

    sql: ClassVar[str] = GRID_SQL
    simplified: ClassVar[bool] = True
    style: ClassVar[Style | None] = Style(
        ColorByPalette("community_id", PALETTE), shape="fill", fill_opacity=GRID_OPACITY
    )
    tiles: ClassVar[TileSpec | None] = TILES
    collection: ClassVar[CollectionSpec | None] = CollectionSpec(GRID_SQL, {"tolerance": 0.0})

    def read_groups(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        return read_frame(ctx, COMMUNITY_SQL, **ctx.bounds, tolerance=simplify_tolerance(ctx))

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        aggregated = detail_of(data) is Detail.AGGREGATED
        unknown = t("unknown", lang)
        if aggregated:
            z = data["id"] % len(PALETTE)
            custom = data[["name", "street_name", "grid_count"]].to_numpy().tolist()
            template = hover_template(lang, "field.street", "field.grids")
        else:
            z = data["community_id"] % len(PALETTE)
            leads = data["lead_name"].fillna(unknown)
            custom = list(zip(data["name"], data["community_name"], leads, strict=True))
            template = hover_template(lang, "field.community", "field.lead")
        marker = {
            "opacity": COMMUNITY_OPACITY if aggregated else GRID_OPACITY,
            "line": {
                "color": COMMUNITY_LINE if aggregated else GRID_LINE,
                "width": 2.2 if aggregated else 0.9,
            },
        }
        trace = area_trace(self, data, z.astype(int).tolist(), scale=_colorscale(),
                           zmax=len(PALETTE), marker=marker, customdata=custom,
                           hovertemplate=template, lang=lang)  # fmt: skip
        return [trace]

    def legend(self, lang: str) -> list[LegendEntry]:
        return [
            LegendEntry(t("legend.grid_fill", lang), PALETTE[0], "fill"),
            LegendEntry(t("legend.grid_line", lang), GRID_LINE, "line"),
            LegendEntry(t("legend.community", lang), COMMUNITY_LINE, "line", zoomed_out=True),
        ]

    def note(self, data: gpd.GeoDataFrame, lang: str) -> str:
        if detail_of(data) is Detail.AGGREGATED:
            return t("note.grids_aggregated", lang, count=len(data), zoom=f"{self.detail_zoom:g}")
        return super().note(data, lang)
