"""Unwatched streets: street pieces neither patrolled in the window nor mostly in view of
an online camera (seen less than half their length)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
from plotly.basedatatypes import BaseTraceType

from gridmap.i18n import t
from layers.base import FeatureLayer, LayerContext
from layers.params import PatrolWindow
from layers.patrol_coverage import line_traces, window_of
from layers.specs import LegendEntry

COLOR = "#b91c1c"
#: Share of a piece's length cameras must see for it to count as watched.
SEEN_SHARE = 0.5
#: The view's streets are read once; the visited ones are looked up among them only (the
#: edge ids pushed into gridmap_patrol_visited, by index) rather than every street the city
#: patrolled in the window hashed to test the view's few (z16.5: 121 -> 22 ms).
SQL = """
WITH s AS MATERIALIZED (
    SELECT * FROM gridmap_layer_patrol_streets(:minx, :miny, :maxx, :maxy, :t1, NULL) s
    WHERE s.seen_m < :seen_share * s.length_m
)
SELECT s.* FROM s
WHERE NOT EXISTS (SELECT 1 FROM gridmap_patrol_visited(:t0, :t1) v
                  WHERE v.edge_id = s.edge_id AND v.edge_id = ANY (ARRAY(SELECT edge_id FROM s)))
ORDER BY s.edge_id, s.grid_id
LIMIT :max_rows
"""
COLUMNS = ["edge_id", "grid_id", "name", "length_m", "seen_m", "last_at"]


@dataclass(frozen=True)
class UnwatchedStreetsLayer(FeatureLayer):
    """Streets nobody watched in the window, from ``min_zoom`` (at most ``max_features``)."""

    id: str = "unwatched_streets"
    title: str = "layer.unwatched_streets"
    min_zoom: float = 14.0
    default_visible: bool = False
    max_features: int | None = 6000

    sql: ClassVar[str] = SQL
    columns: ClassVar[tuple[str, ...]] = tuple(COLUMNS)
    reads: ClassVar[tuple[type, ...]] = (PatrolWindow,)

    def sql_args(self, ctx: LayerContext) -> dict[str, Any]:
        t0, t1 = window_of(ctx)
        return {"t0": t0, "t1": t1, "seen_share": SEEN_SHARE}

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        name = t(self.title, lang)
        hover = [
            f"{n or ''} · {m:.0f} m" for n, m in zip(data["name"], data["length_m"], strict=True)
        ]
        classes = np.zeros(len(data), dtype=int)
        return line_traces(data, classes, [(name, COLOR)], self.id, name, hover)

    def legend(self, lang: str) -> list[LegendEntry]:
        return [LegendEntry(t("legend.unwatched", lang), COLOR, "line")]
