"""Cases (事件): a heatmap of hexagons counted in the database below street zoom; single
cases coloured by status (sized by priority) from ``detail_zoom``.

The filter is a :class:`~gridmap.cases.filters.CaseFilter` (the vocabulary, windows and
time zone live in :mod:`gridmap.cases.filters`), read from the layer context by
:func:`case_filter`.

The layer always draws exactly :data:`TRACE_COUNT` traces (hexagons, then points with their
halo; either side empty), so the live dashboard can replace them in place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from plotly import graph_objects as go
from plotly.basedatatypes import BaseTraceType
from sqlalchemy import text

from gridmap.access.masking import mask_phones
from gridmap.access.policy import sees_single_cases
from gridmap.cases.filters import (
    FILTER_PARAMS,
    CaseFilter,
    case_timezone,
    category_label,
)
from gridmap.i18n import t
from layers.base import (
    Detail,
    FeatureLayer,
    LayerContext,
    LayerError,
    count_note,
    database_read,
    detail_of,
    hover_template,
    lonlat,
    read_frame,
)
from layers.specs import ColorBy, ColorClass, LegendEntry, Style

#: Point colour per status bucket (legend order); each status falls in one bucket.
STATUS_BUCKETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pending": ("#dc2626", ("reported", "returned")),
    "handling": ("#f59e0b", ("dispatched", "accepted", "in_progress")),
    "done": ("#0891b2", ("resolved", "closed")),
    "rejected": ("#78716c", ("rejected",)),
}
STATUS_COLORS = {s: color for color, statuses in STATUS_BUCKETS.values() for s in statuses}
STYLE = Style(
    ColorBy(
        "status",
        tuple(
            ColorClass(f"legend.case_{bucket}", color, statuses)
            for bucket, (color, statuses) in STATUS_BUCKETS.items()
        ),
    )
)
#: Marker diameter per priority (1 urgent … 4 low).
PRIORITY_SIZES = {1: 16, 2: 13, 3: 11, 4: 9}
#: Calm → hot colour scale of the hexagon counts.
HEAT_SCALE = (
    (0.0, "#fff7bc"),
    (0.25, "#fec44f"),
    (0.5, "#fb8c3c"),
    (0.75, "#e34a33"),
    (1.0, "#99000d"),
)
HEX_OPACITY = 0.72
#: How many value breaks the hexagons' colour bar shows (0, ¼, ½, ¾ and the top).
BREAK_COUNT = 5
HEX_LINE = "rgba(255,255,255,0.85)"
HALO_COLOR = "#ffffff"
#: Traces the layer always draws: [hexagons, a white halo under the points, points].
TRACE_COUNT = 3
#: Circumference of the Web Mercator world (metres), the span of MapLibre's zoom 0.
MERCATOR_WORLD = 2 * math.pi * 6378137.0
#: Hexagon edge in screen pixels at its level's zoom (SQL gridmap_case_hex_size says the same).
HEX_PIXELS = 22.0
#: Heatmap levels the database rolls cells up for (case_heat_days); other zooms clamp.
MIN_LEVEL, MAX_LEVEL = 9, 14

COLUMNS = [
    "id", "code", "title", "category", "status", "priority", "source", "reported_at",
    "updated_at", "grid_id", "grid_code", "grid_name",
]  # fmt: skip
FILTERS = FILTER_PARAMS
HEX_SQL = f"SELECT * FROM gridmap_layer_case_hexes(:minx, :miny, :maxx, :maxy, {FILTERS}, :level)"
REFRESH_SQL = "SELECT gridmap_case_heat_refresh(:level, :since, :until)"
POINT_SQL = (
    f"SELECT * FROM gridmap_layer_cases(:minx, :miny, :maxx, :maxy, {FILTERS}, "
    ":located_only, :max_rows)"
)


# -- filters ---------------------------------------------------------------------------------


def case_filter(ctx: LayerContext) -> CaseFilter:
    """The case filter of a layer context (no limit when none was given)."""
    return ctx.param(CaseFilter)


def context_args(cases: CaseFilter) -> dict[str, Any]:
    """The LayerContext keywords (``params``) of a case filter."""
    return {"params": (cases,)}


def filter_args(ctx: LayerContext) -> dict[str, Any]:
    """SQL parameters of the context's case filter (None = no limit)."""
    return case_filter(ctx).sql_args()


def masked_titles(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` with the phone numbers residents wrote into titles masked (every role)."""
    if "title" in frame and len(frame):
        frame["title"] = frame["title"].map(mask_phones)
    return frame


def hex_level(zoom: float) -> int:
    """The heatmap level of a view: the whole zoom level below ``zoom`` (so cells stay put
    while zooming within a level), clamped to the indexed levels 9–14."""
    return max(MIN_LEVEL, min(MAX_LEVEL, math.floor(zoom)))


def hex_size(level: int) -> float:
    """Hexagon edge (Web Mercator metres) of a heatmap level: :data:`HEX_PIXELS` screen
    pixels at that zoom."""
    return HEX_PIXELS * MERCATOR_WORLD / (512.0 * 2.0**level)


def refresh_heat(ctx: LayerContext, level: int) -> None:
    """Recount the rollup's stale whole days of the context's window at ``level`` (committed,
    so the next dashboards find them counted). Optional for correctness: the hexagon read
    counts stale days from the cases themselves."""
    cases = case_filter(ctx)
    with database_read(), ctx.engine.begin() as conn:
        conn.execute(
            text(REFRESH_SQL), {"level": level, "since": cases.since, "until": cases.until}
        )


def hexagon_collection(data: gpd.GeoDataFrame) -> dict[str, Any]:
    """The hexagons of ``data`` as a compact GeoJSON FeatureCollection (feature id = row
    number, coordinates to 5 decimals ≈ 1 m), built from one coordinate array."""
    coords = np.round(shapely.get_coordinates(data.geometry.values), 5)
    rings = np.split(coords, np.cumsum(shapely.get_num_coordinates(data.geometry.values))[:-1])
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": i,
                "geometry": {"type": "Polygon", "coordinates": [r.tolist()]},
            }
            for i, r in enumerate(rings)
        ],
    }


# -- the layer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CasesLayer(FeatureLayer):
    """Case counts per hexagon (:func:`hex_level`, :func:`hex_size`) below ``detail_zoom``;
    single cases (newest first, at most ``max_features``) from it."""

    id: str = "cases"
    title: str = "layer.cases"
    detail_zoom: float = 15.0
    max_features: int | None = 3000

    sql: ClassVar[str] = POINT_SQL
    columns: ClassVar[tuple[str, ...]] = tuple(COLUMNS)
    reads: ClassVar[tuple[type, ...]] = (CaseFilter,)
    style: ClassVar[Style | None] = STYLE
    keeps_place: ClassVar[bool] = True

    def counts_only(self, ctx: LayerContext) -> bool:
        """Whether the asker sees case counts only, never single cases (a planner)."""
        return not sees_single_cases(ctx.asker)

    def sql_args(self, ctx: LayerContext) -> dict[str, Any]:
        return {**filter_args(ctx), "located_only": True}

    def finish(self, frame: gpd.GeoDataFrame, args: Mapping[str, Any]) -> gpd.GeoDataFrame:
        return masked_titles(frame)

    def aggregated(self, ctx: LayerContext) -> bool:
        """Hexagons below ``detail_zoom``, and at every zoom for who sees counts only."""
        return super().aggregated(ctx) or self.counts_only(ctx)

    def read_groups(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        level = hex_level(ctx.zoom if ctx.zoom is not None else MAX_LEVEL)
        if not ctx.scoped:  # a grid-scoped read counts its own cases, not the rollup
            refresh_heat(ctx, level)
        frame = read_frame(ctx, HEX_SQL, **ctx.bounds, **filter_args(ctx), level=level)
        frame.attrs["hex_level"] = level
        return frame

    def export(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        if self.counts_only(ctx):
            raise LayerError(
                "This account sees case counts only, not single cases: export the "
                "case_aggregates collection of the OGC API instead."
            )
        return super().export(ctx)

    def traces(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        """Always the :data:`TRACE_COUNT` traces (either side empty, also when hidden), so
        the live dashboard can replace them in place."""
        return self.draw(data, lang)

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        detail = detail_of(data)
        hexes = self._hex_trace(data if detail is Detail.AGGREGATED else None, lang)
        return [hexes, *self._point_traces(data if detail is Detail.FEATURES else None, lang)]

    def empty_traces(self, lang: str) -> list[BaseTraceType]:
        """The layer's traces drawing nothing (the layer switched off): they keep its place
        at the end of the figure."""
        return [self._hex_trace(None, lang), *self._point_traces(None, lang)]

    def _hex_trace(self, data: gpd.GeoDataFrame | None, lang: str) -> BaseTraceType:
        meta = {"layer": self.id, "detail": str(Detail.AGGREGATED), "role": "hexagons"}
        if data is None or data.empty:
            return go.Choroplethmap(
                geojson={"type": "FeatureCollection", "features": []},
                locations=[],
                z=[],
                name=t(self.title, lang),
                meta=meta | {"total": 0, "breaks": []},
                showscale=False,
                showlegend=False,
                hoverinfo="skip",
            )
        ids = list(range(len(data)))
        counts = data["cases"].astype(int).tolist()
        top = max(float(np.quantile(counts, 0.95)), 1.0)
        return go.Choroplethmap(
            geojson=hexagon_collection(data),
            locations=ids,
            z=counts,
            zmin=0,
            zmax=top,
            colorscale=[list(step) for step in HEAT_SCALE],
            showscale=False,
            marker={"opacity": HEX_OPACITY, "line": {"color": HEX_LINE, "width": 0.6}},
            customdata=data[["cases", "open"]].astype(int).to_numpy().tolist(),
            hovertemplate=(
                f"<b>{t('case.hex_count', lang, count='%{customdata[0]}')}</b><br>"
                f"{t('case.hex_open', lang, count='%{customdata[1]}')}<extra></extra>"
            ),
            name=t(self.title, lang),
            meta=meta | {"total": int(sum(counts)), "breaks": heat_breaks(top)},
            showlegend=False,
        )

    def _point_traces(self, data: gpd.GeoDataFrame | None, lang: str) -> list[BaseTraceType]:
        meta = {"layer": self.id, "detail": str(Detail.FEATURES), "role": "points"}
        halo_meta = meta | {"role": "halo"}
        common = {
            "mode": "markers",
            "name": t(self.title, lang),
            "showlegend": False,
        }
        if data is None or data.empty:
            return [
                go.Scattermap(lon=[], lat=[], meta=halo_meta, hoverinfo="skip", **common),
                go.Scattermap(lon=[], lat=[], meta=meta | {"total": 0}, hoverinfo="skip", **common),
            ]
        lon, lat = lonlat(data)
        sizes = [PRIORITY_SIZES.get(int(p), 10) for p in data["priority"]]
        halo = go.Scattermap(
            lon=lon,
            lat=lat,
            marker={"size": [s + 5 for s in sizes], "color": HALO_COLOR, "opacity": 0.95},
            meta=halo_meta,
            hoverinfo="skip",
            **common,
        )
        unknown = t("unknown", lang)
        grids = [
            f"{name} ({code})" if isinstance(name, str) else unknown
            for name, code in zip(data["grid_name"], data["grid_code"], strict=True)
        ]
        # labels looked up once per category and status, times converted as one column
        categories = {c: category_label(c, lang) for c in set(data["category"])}
        statuses = {s: t(f"case.status.{s}", lang) for s in set(data["status"])}
        reported = pd.to_datetime(data["reported_at"], utc=True).dt.tz_convert(case_timezone())
        custom = list(
            zip(
                data["code"],
                data["title"],
                [categories[c] for c in data["category"]],
                [statuses[s] for s in data["status"]],
                reported.dt.strftime("%Y-%m-%d %H:%M").fillna(""),
                grids,
                strict=True,
            )
        )
        return [
            halo,
            go.Scattermap(
                lon=lon,
                lat=lat,
                marker={
                    "size": sizes,
                    "color": [STATUS_COLORS.get(s, "#64748b") for s in data["status"]],
                    "opacity": 0.95,
                },
                customdata=custom,
                hovertemplate=hover_template(
                    lang,
                    "field.category",
                    "field.status",
                    "field.reported_at",
                    "field.grid",
                    heading="<b>%{customdata[0]}</b> %{customdata[1]}",
                ),
                meta=meta | {"total": len(data)},
                **common,
            ),
        ]

    def legend(self, lang: str) -> list[LegendEntry]:
        heat = [
            LegendEntry(t("legend.case_heat_low", lang), HEAT_SCALE[0][1], "fill"),
            LegendEntry(t("legend.case_heat_mid", lang), HEAT_SCALE[2][1], "fill"),
            LegendEntry(t("legend.case_heat_high", lang), HEAT_SCALE[-1][1], "fill"),
        ]
        return heat + super().legend(lang)

    def note(self, data: gpd.GeoDataFrame, lang: str) -> str:
        if detail_of(data) is Detail.AGGREGATED:
            return count_note("note.cases_aggregated", data, "cases", self.detail_zoom, lang)
        return super().note(data, lang)


def heat_breaks(top: float) -> list[float]:
    """The hexagons' colour bar: cases per hexagon at 0, ¼, ½, ¾ and all of the colour
    scale running from 0 to ``top`` (one decimal; counts above ``top`` take its colour)."""
    return [round(top * k / (BREAK_COUNT - 1), 1) for k in range(BREAK_COUNT)]


def trace_totals(traces: Sequence[BaseTraceType]) -> dict[str, int]:
    """Cases drawn per role ("hexagons": summed counts, "points": markers) of the traces."""
    return {
        tr.meta["role"]: int(tr.meta["total"])
        for tr in traces
        if isinstance(tr.meta, Mapping) and "total" in tr.meta
    }
