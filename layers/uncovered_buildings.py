"""Uncovered buildings: building units not within N minutes' walk of any service point of
a kind in the latest coverage run (off the network included), from zoom 13, capped.

Filters: ``circle_kind`` (default party_service_center), ``circle_minutes`` (default 15).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
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

COLOR = "#dc2626"
OFF_NETWORK_COLOR = "#111827"
COLUMNS = ["id", "code", "address", "population", "snap_m", "walk_m", "grid_id"]
SQL = (
    "SELECT * FROM gridmap_layer_uncovered_buildings("
    ":minx, :miny, :maxx, :maxy, :kind, :minutes, :max_rows)"
)
DEFAULT_KIND = "party_service_center"
DEFAULT_MINUTES = 15.0


@dataclass(frozen=True)
class UncoveredBuildingsLayer(Layer):
    """Buildings outside the circle, in the view, the ``max_features`` nearest its centre."""

    id: str = "uncovered_buildings"
    title: str = "layer.uncovered_buildings"
    min_zoom: float = 13.0
    default_visible: bool = False
    max_features: int = 3000

    def _params(self, ctx: LayerContext) -> dict[str, object]:
        minutes = ctx.filters.get("circle_minutes") or DEFAULT_MINUTES
        return {"kind": ctx.filters.get("circle_kind") or DEFAULT_KIND, "minutes": float(minutes)}

    def query(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        if not self.visible_at(ctx.zoom):
            return hidden(COLUMNS)
        frame = read_frame(
            ctx, SQL, **ctx.bounds, **self._params(ctx), max_rows=self.max_features + 1
        )
        frame, capped = take_capped(frame, self.max_features)
        return mark(frame, Detail.FEATURES, capped=capped)

    def export(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        frame = read_frame(ctx, SQL, **ctx.bounds, **self._params(ctx), max_rows=None)
        return mark(frame, Detail.FEATURES)

    def traces(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        if detail_of(data) is Detail.HIDDEN or data.empty:
            return [placeholder(self, lang)]
        lon, lat = lonlat(data)
        off = data["snap_m"].isna().to_numpy()
        walk = [
            t("uncovered.off_network", lang)
            if o
            else (t("uncovered.too_far", lang) if np.isnan(w) else f"{w:,.0f} m")
            for o, w in zip(off, data["walk_m"].astype(float).fillna(np.nan), strict=True)
        ]
        custom = list(zip(data["address"], data["population"], walk, strict=True))
        return [
            go.Scattermap(
                lon=lon,
                lat=lat,
                mode="markers",
                marker={
                    "size": 8,
                    "color": [OFF_NETWORK_COLOR if o else COLOR for o in off],
                    "opacity": 0.85,
                },
                customdata=custom,
                hovertemplate=(
                    "<b>%{customdata[0]}</b><br>"
                    f"{t('field.population', lang)}: %{{customdata[1]}}<br>"
                    f"{t('uncovered.walk', lang)}: %{{customdata[2]}}<extra></extra>"
                ),
                name=t(self.title, lang),
                meta={"layer": self.id, "detail": str(Detail.FEATURES)},
                showlegend=False,
            )
        ]

    def legend(self, lang: str) -> list[LegendEntry]:
        return [
            LegendEntry(t("uncovered.legend", lang), COLOR),
            LegendEntry(t("uncovered.off_network", lang), OFF_NETWORK_COLOR),
        ]
