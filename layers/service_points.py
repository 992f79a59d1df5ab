"""Service points (党群服务中心, 便民服务站, …): points coloured by kind, at every zoom."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import geopandas as gpd
from plotly.basedatatypes import BaseTraceType

from gridmap.i18n import t
from layers.base import FeatureLayer, hover_template, point_trace
from layers.specs import CollectionSpec, ColorBy, Style

#: Marker colour per service point kind, in legend order: six hues apart from each other and
#: from the alarm reds and oranges of the case heat and of the buildings outside the circle.
KIND_COLORS = {
    "party_service_center": "#9333ea",
    "convenience_station": "#0d9488",
    "governance_center": "#ca8a04",
    "police_office": "#1d4ed8",
    "health_station": "#15803d",
    "elderly_care": "#db2777",
}
#: A white ring under each point sets service points apart from the smaller camera dots.
HALO_COLOR = "#ffffff"
SQL = "SELECT * FROM gridmap_layer_service_points(:minx, :miny, :maxx, :maxy)"
STYLE = Style(ColorBy.each("kind", KIND_COLORS, "service.{}"))


@dataclass(frozen=True)
class ServicePointsLayer(FeatureLayer):
    """All service points in the view from zoom 13 (a city has ~1,500: no cap). Further
    out they covered the case hexagons and community outlines of the city view with dots
    (and cost ~300 ms of its first paint); /plan shows a kind's points at every zoom."""

    id: str = "service_points"
    title: str = "layer.service_points"
    min_zoom: float = 13.0

    sql: ClassVar[str] = SQL
    columns: ClassVar[tuple[str, ...]] = ("id", "name", "kind", "address", "opening_hours", "phone")
    style: ClassVar[Style | None] = STYLE
    collection: ClassVar[CollectionSpec | None] = CollectionSpec(SQL)

    def traces(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        """Its two traces always (empty ones where it is hidden or the view has none): a
        zoom across 13 changes their data, not the map's layers."""
        return self.draw(data, lang)

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        unknown = t("unknown", lang)
        custom = list(
            zip(
                data["name"],
                [t(f"service.{k}", lang) for k in data["kind"]],
                data["address"].fillna(unknown),
                data["opening_hours"].fillna(unknown),
                data["phone"].fillna(unknown),
                strict=True,
            )
        )
        halo = {"size": 19, "color": HALO_COLOR, "opacity": 0.95}
        marker = {"size": 13, "color": [KIND_COLORS[k] for k in data["kind"]]}
        hover = hover_template(lang, "field.kind", "field.address", "field.hours", "field.phone")
        return [
            point_trace(self, data, lang, "halo", marker=halo, hoverinfo="skip"),
            point_trace(self, data, lang, marker=marker, customdata=custom, hovertemplate=hover),
        ]
