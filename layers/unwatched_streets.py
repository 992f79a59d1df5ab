"""Unwatched streets: street pieces neither patrolled in the window nor mostly in view of
an online camera (seen less than half their length)."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from plotly.basedatatypes import BaseTraceType

from gridmap.i18n import t
from layers.base import (
    Detail,
    Layer,
    LayerContext,
    LegendEntry,
    detail_of,
    hidden,
    mark,
    placeholder,
    read_frame,
    take_capped,
)
from layers.patrol_coverage import line_traces, window_of

COLOR = "#b91c1c"
#: Share of a piece's length cameras must see for it to count as watched.
SEEN_SHARE = 0.5
SQL = """
SELECT s.* FROM gridmap_layer_patrol_streets(:minx, :miny, :maxx, :maxy, :t1, NULL) s
WHERE s.seen_m < :seen_share * s.length_m
  AND NOT EXISTS (SELECT 1 FROM gridmap_patrol_visited(:t0, :t1) v WHERE v.edge_id = s.edge_id)
ORDER BY s.edge_id, s.grid_id
LIMIT :max_rows
"""
COLUMNS = ["edge_id", "grid_id", "name", "length_m", "seen_m", "last_at"]


@dataclass(frozen=True)
class UnwatchedStreetsLayer(Layer):
    """Streets nobody watched in the window, from ``min_zoom`` (at most ``max_features``)."""

    id: str = "unwatched_streets"
    title: str = "layer.unwatched_streets"
    min_zoom: float = 14.0
    default_visible: bool = False
    max_features: int = 6000

    def _read(self, ctx: LayerContext, cap: int | None) -> gpd.GeoDataFrame:
        t0, t1 = window_of(ctx)
        return read_frame(ctx, SQL, **ctx.bounds, t0=t0, t1=t1, seen_share=SEEN_SHARE, max_rows=cap)

    def query(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        if not self.visible_at(ctx.zoom):
            return hidden(COLUMNS)
        frame, capped = take_capped(self._read(ctx, self.max_features + 1), self.max_features)
        return mark(frame, Detail.FEATURES, capped=capped)

    def export(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        return mark(self._read(ctx, None), Detail.FEATURES)

    def traces(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        if detail_of(data) is Detail.HIDDEN or data.empty:
            return [placeholder(self, lang)]
        name = t(self.title, lang)
        hover = [
            f"{n or ''} · {m:.0f} m" for n, m in zip(data["name"], data["length_m"], strict=True)
        ]
        classes = np.zeros(len(data), dtype=int)
        return line_traces(data, classes, [(name, COLOR)], self.id, name, hover)

    def legend(self, lang: str) -> list[LegendEntry]:
        return [LegendEntry(t("legend.unwatched", lang), COLOR, "line")]
