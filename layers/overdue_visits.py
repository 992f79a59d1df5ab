"""Overdue care visits: buildings coloured by their households' overdue visits (issue 15),
as of today (local day of ``cases_timezone``), from zoom 14, capped, vulnerable first.

A building is drawn when it has households a visit cadence tracks (in the asker's grids:
row-level security). Its level: a vulnerable household overdue; 3 or more overdue; 1-2
overdue; none overdue (the rule: :mod:`gridmap.households.cadence`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import geopandas as gpd
from plotly.basedatatypes import BaseTraceType

from gridmap.i18n import t
from gridmap.settings import get_settings
from layers.base import FeatureLayer, LayerContext, hover_template, point_trace
from layers.specs import ColorBy, Style

COLUMNS = (
    "id", "code", "address", "grid_id", "households", "overdue", "vulnerable_overdue",
    "max_days_overdue", "level",
)  # fmt: skip
SQL = (
    "SELECT * FROM gridmap_layer_overdue_visits("
    ":minx, :miny, :maxx, :maxy, :as_of, :tz, :max_rows, :grid_ids)"
)
#: Level -> colour, in legend order (the most pressing first).
LEVEL_COLORS = {
    "vulnerable": "#7c3aed",
    "many": "#dc2626",
    "few": "#f59e0b",
    "none": "#16a34a",
}
STYLE = Style(ColorBy.each("level", LEVEL_COLORS, "overdue_visits.{}"))
#: Marker size per level (a vulnerable household overdue stands out).
SIZES = {"vulnerable": 12, "many": 10, "few": 9, "none": 7}


def today(tz: str) -> date:
    """The local day in ``tz`` now."""
    return datetime.now(ZoneInfo(tz)).date()


@dataclass(frozen=True)
class OverdueVisitsLayer(FeatureLayer):
    """Buildings with tracked households in the view, the ``max_features`` most pressing.

    ``as_of`` fixes the day (None: today); ``grid_ids`` keeps to those grids (None: all the
    asker may see) — the lead page draws one grid's buildings."""

    id: str = "overdue_visits"
    title: str = "layer.overdue_visits"
    min_zoom: float = 14.0
    default_visible: bool = False
    max_features: int | None = 3000
    as_of: date | None = None
    grid_ids: tuple[int, ...] | None = None

    sql: ClassVar[str] = SQL
    columns: ClassVar[tuple[str, ...]] = COLUMNS
    style: ClassVar[Style | None] = STYLE

    def sql_args(self, ctx: LayerContext) -> dict[str, Any]:
        tz = get_settings().cases_timezone
        grids = None if self.grid_ids is None else list(self.grid_ids)
        return {"as_of": self.as_of or today(tz), "tz": tz, "grid_ids": grids}

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        levels = data["level"].tolist()
        custom = list(
            zip(
                data["address"],
                data["households"].astype(int),
                data["overdue"].astype(int),
                data["vulnerable_overdue"].astype(int),
                data["max_days_overdue"].astype(int),
                strict=True,
            )
        )
        hover = hover_template(
            lang,
            "overdue_visits.households",
            "overdue_visits.overdue",
            "overdue_visits.vulnerable_overdue",
            ("overdue_visits.max_days", t("overdue_visits.days_unit", lang)),
        )
        marker = {
            "size": [SIZES.get(v, 8) for v in levels],
            "color": STYLE.color.colors(data) if STYLE.color else None,
            "opacity": 0.9,
        }
        return [
            point_trace(self, data, lang, marker=marker, customdata=custom, hovertemplate=hover)
        ]
