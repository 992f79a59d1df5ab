"""Risk gap: the grids where patrols are most needed in the window (case density per km of
street times the unpatrolled share), ranked, filled by need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import geopandas as gpd
from plotly.basedatatypes import BaseTraceType

from gridmap.i18n import t
from layers.base import FeatureLayer, LayerContext, area_trace, hover_template
from layers.params import PatrolWindow, RiskGapParams
from layers.patrol_coverage import window_of
from layers.specs import LegendEntry

SQL = "SELECT * FROM gridmap_layer_risk_gap(:t0, :t1, :max_rows, :tolerance)"
COLUMNS = ["id", "rank", "code", "name", "cases", "case_density", "patrolled_share", "need"]
SCALE = [(0.0, "#fde68a"), (1.0, "#b91c1c")]


@dataclass(frozen=True)
class RiskGapLayer(FeatureLayer):
    """The ``top`` grids by need anywhere in the city (the view does not filter them)."""

    id: str = "risk_gap"
    title: str = "layer.risk_gap"
    default_visible: bool = False
    top: int = 20

    sql: ClassVar[str] = SQL
    columns: ClassVar[tuple[str, ...]] = tuple(COLUMNS)
    simplified: ClassVar[bool] = True
    #: The same grids at every zoom and place: exact outlines, not redrawn on a move.
    follows_view: ClassVar[bool] = False
    reads: ClassVar[tuple[type, ...]] = (PatrolWindow, RiskGapParams)

    def sql_args(self, ctx: LayerContext) -> dict[str, Any]:
        t0, t1 = window_of(ctx)
        return {"t0": t0, "t1": t1, "max_rows": int(self.param(ctx, RiskGapParams).top or self.top)}

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
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
        heading = "<b>#%{customdata[0]} %{customdata[1]}</b>"
        hover = hover_template(lang, "patrol.cases", ("patrol.patrolled", " %"), heading=heading)
        z = (data["need"] / top).astype(float).tolist()
        marker = {"opacity": 0.7, "line": {"color": "#7f1d1d", "width": 2}}
        trace = area_trace(self, data, z, scale=SCALE, zmax=1, marker=marker,
                           customdata=custom, hovertemplate=hover, lang=lang)  # fmt: skip
        return [trace]

    def legend(self, lang: str) -> list[LegendEntry]:
        return [LegendEntry(t("legend.risk_gap", lang), "#b91c1c", "fill")]
