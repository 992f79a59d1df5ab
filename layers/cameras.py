"""Cameras (雪亮工程): points coloured by status from zoom 13; counted per area below."""

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
    count_note,
    detail_of,
    hover_template,
    marker_size,
    point_trace,
    read_frame,
)
from layers.specs import MAX_ZOOM, CollectionSpec, ColorBy, LegendEntry, Style, TileSpec

#: Marker colour per camera status, in legend order.
STATUS_COLORS = {"online": "#16a34a", "offline": "#94a3b8", "fault": "#dc2626"}
CLUSTER_COLOR = "#2563eb"
COLUMNS = ["id", "code", "name", "kind", "status", "last_seen", "grid_id"]
SQL = "SELECT * FROM gridmap_layer_cameras(:minx, :miny, :maxx, :maxy, :max_rows)"
CLUSTER_SQL = "SELECT * FROM gridmap_layer_camera_clusters(:minx, :miny, :maxx, :maxy, :cell)"
STYLE = Style(ColorBy.each("status", STATUS_COLORS, "camera.{}"))
TILES = TileSpec(
    function="gridmap_tile_cameras",
    minzoom=8,
    vector_layers={
        "cameras": (
            {"code": "String", "kind": "String", "status": "String", "grid_id": "Number"},
            13,
            MAX_ZOOM,
        ),
        "camera_cells": (
            {"cameras": "Number", "online": "Number", "offline": "Number", "fault": "Number"},
            8,
            12,
        ),
    },
    description="Cameras from zoom 13; counts per cell and status from zoom 8 to 12.",
)


@dataclass(frozen=True)
class CamerasLayer(FeatureLayer):
    """Single cameras from ``detail_zoom`` (at most ``max_features``); groups of cameras in
    square cells of ``cluster_pixels`` screen pixels below it."""

    id: str = "cameras"
    title: str = "layer.cameras"
    detail_zoom: float = 13.0
    max_features: int | None = 5000
    cluster_pixels: float = 64.0

    sql: ClassVar[str] = SQL
    columns: ClassVar[tuple[str, ...]] = tuple(COLUMNS)
    style: ClassVar[Style | None] = STYLE
    tiles: ClassVar[TileSpec | None] = TILES
    collection: ClassVar[CollectionSpec | None] = CollectionSpec(SQL, {"max_rows": None})

    def read_groups(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        cell = self.cluster_pixels * ctx.degrees_per_pixel()
        return read_frame(ctx, CLUSTER_SQL, **ctx.bounds, cell=cell)

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        if detail_of(data) is Detail.AGGREGATED:
            sizes = [marker_size(n) for n in data["cameras"]]
            marker = {"size": sizes, "color": CLUSTER_COLOR, "opacity": 0.55}
            custom = data[["cameras", "online", "offline", "fault"]].to_numpy().tolist()
            hover = (
                f"<b>{t('field.cameras', lang)}: %{{customdata[0]}}</b><br>"
                f"{t('camera.online', lang)} %{{customdata[1]}} · "
                f"{t('camera.offline', lang)} %{{customdata[2]}} · "
                f"{t('camera.fault', lang)} %{{customdata[3]}}<extra></extra>"
            )
            return [
                point_trace(self, data, lang, marker=marker, customdata=custom, hovertemplate=hover)
            ]
        custom = list(
            zip(
                data["name"],
                [t(f"camera.{k}", lang) for k in data["kind"]],
                [t(f"camera.{s}", lang) for s in data["status"]],
                strict=True,
            )
        )
        marker = {"size": 9, "color": [STATUS_COLORS[s] for s in data["status"]]}
        hover = hover_template(lang, "field.kind", "field.status")
        return [
            point_trace(self, data, lang, marker=marker, customdata=custom, hovertemplate=hover)
        ]

    def legend(self, lang: str) -> list[LegendEntry]:
        cluster = LegendEntry(t("legend.camera_cluster", lang), CLUSTER_COLOR, zoomed_out=True)
        return [*super().legend(lang), cluster]

    def note(self, data: gpd.GeoDataFrame, lang: str) -> str:
        if detail_of(data) is Detail.AGGREGATED:
            key = "note.cameras_aggregated"
            return count_note(key, data, "cameras", self.detail_zoom, lang)
        return super().note(data, lang)
