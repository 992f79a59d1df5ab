"""Risk gap: the grids where patrols are most needed in the window (case density per km of
street times the unpatrolled share), ranked, filled by need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import geopandas as gpd
from plotly.basedatatypes import BaseTraceType

from gridmap.i18n import t
from layers.base import (
    Detail,
    Layer,
    LayerContext,
    area_trace,
    detail_of,
    hidden,
    mark,
    placeholder,
    read_frame,
    simplify_tolerance,
)
from layers.params import PatrolWindow, RiskGapParams
from layers.patrol_coverage import window_of
from layers.specs import LegendEntry

SQL = "SELECT * FROM gridmap_layer_risk_gap(:t0, :t1, :max_rows, :tolerance)"
COLUMNS = ["id", "rank", "code", "name", "cases", "case_density", "patrolled_share", "need"]
SCALE = [(0.0, "#fde68a"), (1.0, "#b91c1c")]


@dataclass(frozen=True)
class RiskGapLayer(Layer):
    """The ``top`` grids by need anywhere in the city (the view does not filter them)."""

    id: str = "risk_gap"
    title: str = "layer.risk_gap"
    min_zoom: float = 0.0
    default_visible: bool = False
    top: int = 20

    reads: ClassVar[tuple[type, ...]] = (PatrolWindow, RiskGapParams)

    def _read(self, ctx: LayerContext, tolerance: float) -> gpd.GeoDataFrame:
        t0, t1 = window_of(ctx)
        top = int(self.param(ctx, RiskGapParams).top or self.top)
        return read_frame(ctx, SQL, t0=t0, t1=t1, max_rows=top, tolerance=tolerance)

    def query(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        if not self.visible_at(ctx.zoom):
            return hidden(COLUMNS)
        return mark(self._read(ctx, simplify_tolerance(ctx)), Detail.FEATURES)

    def export(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        return mark(self._read(ctx, 0.0), Detail.FEATURES)

    def traces(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        if detail_of(data) is Detail.HIDDEN or data.empty:
            return [placeholder(self, lang)]
        custom = list(
            zip(
                data["rank"].astype(int),
                data["name"],
                data["cases"].astype(int),
                (100 * data["patrolled_share"]).round(1),
                strict=True,
            )
        )
        top = float(data["need"].max()) or 1.0
        hover = (
            "<b>#%{customdata[0]} %{customdata[1]}</b><br>"
            f"{t('patrol.cases', lang)}: %{{customdata[2]}}<br>"
            f"{t('patrol.patrolled', lang)}: %{{customdata[3]}} %<extra></extra>"
        )
        z = (data["need"] / top).astype(float).tolist()
        marker = {"opacity": 0.7, "line": {"color": "#7f1d1d", "width": 2}}
        trace = area_trace(self, data, z, scale=SCALE, zmax=1, marker=marker,
                           customdata=custom, hovertemplate=hover, lang=lang)  # fmt: skip
        return [trace]

    def legend(self, lang: str) -> list[LegendEntry]:
        return [LegendEntry(t("legend.risk_gap", lang), "#b91c1c", "fill")]
