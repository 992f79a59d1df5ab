"""Building units (楼栋/住户单元): points from zoom 15, in the view, at most a cap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import geopandas as gpd
from plotly.basedatatypes import BaseTraceType

from gridmap.i18n import t
from layers.base import FeatureLayer, hover_template, point_trace
from layers.specs import MAX_ZOOM, CollectionSpec, LegendEntry, TileSpec

COLOR = "#334155"
COLUMNS = ["id", "code", "address", "kind", "floors", "households", "population", "grid_id"]
SQL = "SELECT * FROM gridmap_layer_buildings(:minx, :miny, :maxx, :maxy, :max_rows)"
#: Tiles: single buildings from zoom 14, counts per cell at 12 and 13; the map draws them
#: below the plotly markers' zoom (15), where a city view holds too many for markers.
TILES = TileSpec(
    function="gridmap_tile_buildings",
    minzoom=12,
    vector_layers={
        "buildings": (
            {
                "kind": "String",
                "floors": "Number",
                "households": "Number",
                "population": "Number",
                "grid_id": "Number",
            },
            14,
            MAX_ZOOM,
        ),
        "building_cells": (
            {"buildings": "Number", "households": "Number", "population": "Number"},
            12,
            13,
        ),
    },
    description="Building units from zoom 14; counts per cell at zooms 12 and 13.",
    source_zooms=(12, 14),
    style_layers=(
        {
            "id": "tiles-building-cells",
            "type": "circle",
            "source-layer": "building_cells",
            "minzoom": 12,
            "maxzoom": 14,
            "paint": {
                "circle-color": COLOR,
                "circle-opacity": 0.45,
                "circle-radius": [
                    "interpolate", ["linear"], ["sqrt", ["get", "buildings"]],
                    1, 2, 10, 6, 40, 14,
                ],
            },
        },
        {
            "id": "tiles-buildings",
            "type": "circle",
            "source-layer": "buildings",
            "minzoom": 14,
            "maxzoom": 15,
            "paint": {"circle-color": COLOR, "circle-opacity": 0.7, "circle-radius": 2.5},
        },
    ),
)  # fmt: skip


@dataclass(frozen=True)
class BuildingsLayer(FeatureLayer):
    """Building points in the view from ``min_zoom``, the ``max_features`` nearest its centre."""

    id: str = "buildings"
    title: str = "layer.buildings"
    min_zoom: float = 15.0
    max_features: int | None = 4000

    sql: ClassVar[str] = SQL
    columns: ClassVar[tuple[str, ...]] = tuple(COLUMNS)
    tiles: ClassVar[TileSpec | None] = TILES
    collection: ClassVar[CollectionSpec | None] = CollectionSpec(SQL, {"max_rows": None})

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        kinds = [t(f"building.{k}", lang) for k in data["kind"]]
        custom = list(
            zip(data["address"], kinds, data["households"], data["population"], strict=True)
        )
        hover = hover_template(lang, "field.kind", "field.households", "field.population")
        marker = {"size": 7, "color": COLOR, "opacity": 0.85}
        return [
            point_trace(self, data, lang, marker=marker, customdata=custom, hovertemplate=hover)
        ]

    def legend(self, lang: str) -> list[LegendEntry]:
        return [LegendEntry(t("legend.building", lang), COLOR, "circle")]
