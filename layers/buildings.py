"""Building units (楼栋/住户单元): points from zoom 15, in the view, at most a cap."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
from plotly import graph_objects as go
from plotly.basedatatypes import BaseTraceType

from gridmap.i18n import t
from layers.base import (
    Detail,
    Layer,
    LayerContext,
    LegendEntry,
    detail_of,
    hidden,
    lonlat,
    mark,
    placeholder,
    read_frame,
    take_capped,
)

COLOR = "#334155"
COLUMNS = ["id", "code", "address", "kind", "floors", "households", "population", "grid_id"]
SQL = "SELECT * FROM gridmap_layer_buildings(:minx, :miny, :maxx, :maxy, :max_rows)"


@dataclass(frozen=True)
class BuildingsLayer(Layer):
    """Building points in the view from ``min_zoom``, the ``max_features`` nearest its centre."""

    id: str = "buildings"
    title: str = "layer.buildings"
    min_zoom: float = 15.0
    default_visible: bool = True
    max_features: int = 4000

    def query(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        if not self.visible_at(ctx.zoom):
            return hidden(COLUMNS)
        frame = read_frame(ctx, SQL, **ctx.bounds, max_rows=self.max_features + 1)
        frame, capped = take_capped(frame, self.max_features)
        return mark(frame, Detail.FEATURES, capped=capped)

    def export(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        return mark(read_frame(ctx, SQL, **ctx.bounds, max_rows=None), Detail.FEATURES)

    def traces(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        if detail_of(data) is Detail.HIDDEN or data.empty:
            return [placeholder(self, lang)]
        lon, lat = lonlat(data)
        kinds = [t(f"building.{k}", lang) for k in data["kind"]]
        custom = list(
            zip(data["address"], kinds, data["households"], data["population"], strict=True)
        )
        return [
            go.Scattermap(
                lon=lon,
                lat=lat,
                mode="markers",
                marker={"size": 7, "color": COLOR, "opacity": 0.85},
                customdata=custom,
                hovertemplate=(
                    "<b>%{customdata[0]}</b><br>"
                    f"{t('field.kind', lang)}: %{{customdata[1]}}<br>"
                    f"{t('field.households', lang)}: %{{customdata[2]}}<br>"
                    f"{t('field.population', lang)}: %{{customdata[3]}}<extra></extra>"
                ),
                name=t(self.title, lang),
                meta={"layer": self.id, "detail": str(Detail.FEATURES)},
                showlegend=False,
            )
        ]

    def legend(self, lang: str) -> list[LegendEntry]:
        return [LegendEntry(t("legend.building", lang), COLOR, "circle")]
