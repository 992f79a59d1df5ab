"""Uncovered buildings: building units not within N minutes' walk of any service point of
a kind in the latest coverage run (off the network included), from zoom 13, capped.

Parameters (:class:`~layers.params.CircleFilter`): ``kind`` (default party_service_center),
``minutes`` (default 15).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
from plotly.basedatatypes import BaseTraceType

from gridmap.i18n import t
from layers.base import FeatureLayer, LayerContext, hover_template, point_trace
from layers.params import CircleFilter
from layers.specs import LegendEntry

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
class UncoveredBuildingsLayer(FeatureLayer):
    """Buildings outside the circle, in the view, the ``max_features`` nearest its centre."""

    id: str = "uncovered_buildings"
    title: str = "layer.uncovered_buildings"
    min_zoom: float = 13.0
    default_visible: bool = False
    max_features: int | None = 3000

    sql: ClassVar[str] = SQL
    columns: ClassVar[tuple[str, ...]] = tuple(COLUMNS)
    reads: ClassVar[tuple[type, ...]] = (CircleFilter,)

    def sql_args(self, ctx: LayerContext) -> dict[str, Any]:
        circles = self.param(ctx, CircleFilter)
        minutes = circles.minutes or DEFAULT_MINUTES
        return {"kind": circles.kind or DEFAULT_KIND, "minutes": float(minutes)}

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        off = data["snap_m"].isna().to_numpy()
        walk = [
            t("uncovered.off_network", lang)
            if o
            else (t("uncovered.too_far", lang) if np.isnan(w) else f"{w:,.0f} m")
            for o, w in zip(off, data["walk_m"].astype(float).fillna(np.nan), strict=True)
        ]
        custom = list(zip(data["address"], data["population"], walk, strict=True))
        colors = [OFF_NETWORK_COLOR if o else COLOR for o in off]
        marker = {"size": 8, "color": colors, "opacity": 0.85}
        hover = hover_template(lang, "field.population", "uncovered.walk")
        return [
            point_trace(self, data, lang, marker=marker, customdata=custom, hovertemplate=hover)
        ]

    def legend(self, lang: str) -> list[LegendEntry]:
        return [
            LegendEntry(t("uncovered.legend", lang), COLOR),
            LegendEntry(t("uncovered.off_network", lang), OFF_NETWORK_COLOR),
        ]
