"""Service circles (15分钟服务圈): the stored walking isochrones of service points, coloured
by kind, lighter for longer walks; optionally the plain Euclidean circle of the same reach
beside each for comparison.

Parameters (:class:`~layers.params.CircleFilter`): ``kind`` (one kind; all when unset),
``minutes`` (one circle; all when unset), ``euclid`` (True: also draw the Euclidean circles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import shapely
from plotly import graph_objects as go
from plotly.basedatatypes import BaseTraceType

from gridmap.cases.filters import case_timezone, local_time
from gridmap.i18n import t
from layers.base import FeatureLayer, LayerContext
from layers.params import CircleFilter
from layers.service_points import KIND_COLORS
from layers.specs import OTHER_COLOR, CollectionSpec, ColorBy, LegendEntry, Style

SQL = (
    "SELECT * FROM gridmap_layer_service_circles("
    ":minx, :miny, :maxx, :maxy, :kind, :minutes, :tolerance)"
)
#: Fill opacity of the smallest circle; larger ones get lighter (light fills under clear
#: outlines: the layers under them still read through).
FILL_OPACITY = 0.1
#: Outline width (px) of the circles.
LINE_WIDTH = 2.0
EUCLID_COLOR = "#475569"
#: Points on a drawn Euclidean circle.
CIRCLE_STEPS = 48
STYLE = Style(
    ColorBy.each(
        "kind",
        KIND_COLORS,
        lambda kind, lang: t("circles.legend_kind", lang, kind=t(f"service.{kind}", lang)),
    ),
    shape="fill",
)


def kind_legend(
    kind: str, lang: str, minutes: tuple[float, ...] = (5.0, 10.0, 15.0)
) -> list[LegendEntry]:
    """The legend of one kind's circles (the map shows one kind at a time): its colour,
    the walking minutes drawn."""
    name = t("circles.legend_kind", lang, kind=t(f"service.{kind}", lang))
    walk = t("circles.legend_minutes", lang, minutes=" / ".join(f"{m:g}" for m in minutes))
    return [LegendEntry(f"{name} · {walk}", KIND_COLORS.get(kind, OTHER_COLOR), "fill")]


def euclid_ring(lon: float, lat: float, radius_m: float) -> tuple[list[float], list[float]]:
    """Lon/lat of a circle of ``radius_m`` metres around a point (local approximation)."""
    angles = np.linspace(0, 2 * math.pi, CIRCLE_STEPS + 1)
    dlat = radius_m / 110_574.0
    dlon = radius_m / (111_320.0 * math.cos(math.radians(lat)))
    return (
        np.round(lon + dlon * np.cos(angles), 6).tolist(),
        np.round(lat + dlat * np.sin(angles), 6).tolist(),
    )


def polygon_rings(geoms: np.ndarray) -> tuple[list[float | None], list[float | None]]:
    """Exterior rings of (multi)polygons as one lon/lat list with None between rings."""
    lon: list[float | None] = []
    lat: list[float | None] = []
    parts = shapely.get_parts(geoms)
    for ring in shapely.get_exterior_ring(parts):
        xy = np.round(shapely.get_coordinates(ring), 6)
        lon.extend([*xy[:, 0].tolist(), None])
        lat.extend([*xy[:, 1].tolist(), None])
    return lon, lat


@dataclass(frozen=True)
class ServiceCirclesLayer(FeatureLayer):
    """Walking isochrones of the latest stored run, in the view."""

    id: str = "service_circles"
    title: str = "layer.service_circles"
    default_visible: bool = False

    sql: ClassVar[str] = SQL
    simplified: ClassVar[bool] = True
    reads: ClassVar[tuple[type, ...]] = (CircleFilter,)
    style: ClassVar[Style | None] = STYLE
    collection: ClassVar[CollectionSpec | None] = CollectionSpec(
        SQL,
        {"kind": None, "minutes": None, "tolerance": 0.0},
        id="isochrones",
        fid="f.service_point_id || '-' || f.minutes",
        numeric_fid=False,
    )

    def sql_args(self, ctx: LayerContext) -> dict[str, Any]:
        circles = self.param(ctx, CircleFilter)
        minutes = circles.minutes
        return {"kind": circles.kind, "minutes": None if minutes is None else float(minutes)}

    def read(
        self, ctx: LayerContext, max_rows: int | None, *, exact: bool = False
    ) -> gpd.GeoDataFrame:
        frame = super().read(ctx, max_rows, exact=exact)
        frame.attrs["euclid"] = bool(self.param(ctx, CircleFilter).euclid)
        return frame

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        out: list[BaseTraceType] = []
        all_minutes = sorted(data["minutes"].unique(), reverse=True)
        for rank, minutes in enumerate(all_minutes):
            opacity = FILL_OPACITY * (0.5 + 0.5 * (len(all_minutes) - rank) / len(all_minutes))
            for kind, group in data[data["minutes"] == minutes].groupby("kind", sort=True):
                lon, lat = polygon_rings(group.geometry.values)
                color = KIND_COLORS.get(kind, "#64748b")
                label = t(
                    "circles.hover", lang, kind=t(f"service.{kind}", lang), minutes=f"{minutes:g}"
                )
                out.append(
                    go.Scattermap(
                        lon=lon,
                        lat=lat,
                        mode="lines",
                        fill="toself",
                        fillcolor=_rgba(color, opacity),
                        line={"width": LINE_WIDTH, "color": color},
                        hoverinfo="text",
                        text=label,
                        name=f"{t(f'service.{kind}', lang)} {minutes:g}",
                        meta={"layer": self.id, "kind": kind, "minutes": float(minutes)},
                        showlegend=False,
                    )
                )
        if data.attrs.get("euclid"):
            lon: list[float | None] = []
            lat: list[float | None] = []
            for row in data.itertuples():
                x, y = euclid_ring(row.point_lon, row.point_lat, row.reach_m)
                lon.extend([*x, None])
                lat.extend([*y, None])
            out.append(
                go.Scattermap(
                    lon=lon,
                    lat=lat,
                    mode="lines",
                    line={"width": 1.5, "color": EUCLID_COLOR},
                    hoverinfo="skip",
                    name=t("circles.euclid", lang),
                    meta={"layer": self.id, "role": "euclid"},
                    showlegend=False,
                )
            )
        return out

    def legend(self, lang: str) -> list[LegendEntry]:
        return [*super().legend(lang), LegendEntry(t("circles.euclid", lang), EUCLID_COLOR, "line")]

    def note(self, data: gpd.GeoDataFrame, lang: str) -> str:
        if data.empty:
            return t("circles.none", lang)
        at = local_time(data["computed_at"].iloc[0], case_timezone(), "%Y-%m-%d %H:%M")
        return t("circles.note", lang, count=f"{len(data):,}", at=at)


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:.3f})"
