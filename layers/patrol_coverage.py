"""Patrol coverage: streets coloured by time since their last patrol from ``detail_zoom``;
grids outlined by the share of their street length patrolled in the window below it, and
communities (the share of their grids' streets) below ``community_zoom``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import shapely
from plotly import graph_objects as go
from plotly.basedatatypes import BaseTraceType

from gridmap.cases.filters import case_timezone, local_time
from gridmap.i18n import t
from layers.base import (
    Detail,
    FeatureLayer,
    LayerContext,
    area_trace,
    detail_of,
    hover_template,
    mark,
    placeholder,
    read_frame,
    simplify_tolerance,
)
from layers.grids import GRID_SQL
from layers.params import PatrolWindow
from layers.specs import ColorByFunction, ColorClass, LegendEntry, Style

#: Recency classes: (label key, upper bound of hours since the last visit, colour).
RECENCY = (
    ("patrol.recent_2h", 2.0, "#16a34a"),
    ("patrol.recent_8h", 8.0, "#84cc16"),
    ("patrol.recent_24h", 24.0, "#f59e0b"),
    ("patrol.recent_7d", 24.0 * 7, "#f97316"),
    ("patrol.stale", float("inf"), "#dc2626"),
)
#: Grids by the share of their street length patrolled, drawn as outlines (never fills, so
#: the case heat under them keeps its colours): (upper bound of the share, outline colour,
#: outline width in px). Ink greys, apart from every hue the other layers use (the case heat's
#: yellow → red, the service kinds): the less patrolled, the darker and wider the outline.
SHARE_CLASSES = (
    (0.5, "#0f172a", 4.5),
    (0.8, "#64748b", 2.5),
    (float("inf"), "#cbd5e1", 1.2),
)
#: The outline colours on a dark basemap (the wall, no service kinds on it): blues, the less
#: patrolled the brighter.
SHARE_COLORS_DARK = ("#38bdf8", "#2563eb", "#1e3a8a")
#: The same classes as a stepped colour scale from 0 to 1 (the wall's legend bar).
SHARE_SCALE = [
    (at, color)
    for low, (high, color, _) in zip(
        (0.0, *(c[0] for c in SHARE_CLASSES[:-1])), SHARE_CLASSES, strict=True
    )
    for at in (low, min(high, 1.0))
]
#: Plotly uid of the grid outlines' trace (its MapLibre layers: plotly-trace-layer-<uid>-…).
GRIDS_UID = "patrol_coverage-grids"
#: Fill of the grids under the outlines: all but transparent (hover still finds the grid).
SHARE_FILL = "rgba(148,163,184,0.04)"
STREETS_SQL = (
    "SELECT * FROM gridmap_layer_patrol_streets(:minx, :miny, :maxx, :maxy, :t1, :max_rows)"
)
GRIDS_SQL = (
    "SELECT * FROM gridmap_layer_patrol_grids(:minx, :miny, :maxx, :maxy, :t0, :t1, :tolerance)"
)
COMMUNITIES_SQL = (
    "SELECT * FROM gridmap_layer_patrol_communities("
    ":minx, :miny, :maxx, :maxy, :t0, :t1, :tolerance)"
)
COLUMNS = ["edge_id", "grid_id", "name", "length_m", "seen_m", "last_at"]


def window_of(ctx: LayerContext) -> tuple[datetime, datetime]:
    """The context's patrol window (:class:`~layers.params.PatrolWindow`): [since, until],
    else its hours (default 8) ending at until or now."""
    return ctx.param(PatrolWindow).bounds()


def share_class(shares: list[float] | np.ndarray) -> np.ndarray:
    """Index into :data:`SHARE_CLASSES` per patrolled share (None or NaN: the lowest)."""
    values = np.nan_to_num(np.asarray(shares, dtype=float), nan=0.0)
    return np.searchsorted(np.array([c[0] for c in SHARE_CLASSES]), values, side="right")


def share_colors(dark: bool = False) -> tuple[str, ...]:
    """The outline colour of each share class, on a light basemap or a ``dark`` one."""
    return SHARE_COLORS_DARK if dark else tuple(c[1] for c in SHARE_CLASSES)


def share_outline(shares: list[float] | np.ndarray, dark: bool = False) -> dict[str, Any]:
    """The grid outlines' ``marker.line`` (a colour and a width per grid) for ``shares``,
    on a light basemap or a ``dark`` one."""
    classes = share_class(shares)
    colors = share_colors(dark)
    return {
        "color": [colors[k] for k in classes],
        "width": [SHARE_CLASSES[k][2] for k in classes],
    }


def share_label(k: int, lang: str) -> str:
    """The legend line of share class ``k`` ("under 50 %", "50–80 %", "80 % and more")."""
    low = 0.0 if k == 0 else SHARE_CLASSES[k - 1][0]
    high = SHARE_CLASSES[k][0]
    if k == 0:
        return t("legend.patrol_share_below", lang, pct=f"{high * 100:g}")
    if high == float("inf"):
        return t("legend.patrol_share_above", lang, pct=f"{low * 100:g}")
    return t("legend.patrol_share_between", lang, low=f"{low * 100:g}", high=f"{high * 100:g}")


def recency_class(last_at: list, now: datetime) -> np.ndarray:
    """Index into :data:`RECENCY` per street (never visited: the last class)."""
    bounds = np.array([b for _, b, _ in RECENCY])
    hours = np.array(
        [np.inf if v is None or v != v else (now - v).total_seconds() / 3600 for v in last_at]
    )
    return np.searchsorted(bounds, np.maximum(hours, 0), side="left")


def recency_colors(frame: gpd.GeoDataFrame) -> list[str]:
    """The recency colour of each street, as of now."""
    return [RECENCY[i][2] for i in recency_class(list(frame["last_at"]), datetime.now(UTC))]


STYLE = Style(
    ColorByFunction(recency_colors, tuple(ColorClass(key, color) for key, _, color in RECENCY)),
    shape="line",
)


def _gapped(values: np.ndarray, gaps: np.ndarray) -> list:
    """``values`` as a list with None (a gap in a plotly line) inserted before ``gaps``."""
    return np.insert(values.astype(object), gaps, None).tolist()


def line_traces(
    data: gpd.GeoDataFrame, classes: np.ndarray, styles, layer_id: str, name: str, hover: list
) -> list[BaseTraceType]:
    """One Scattermap line trace per class, features (each line of them) separated by gaps."""
    parts, owner = shapely.get_parts(data.geometry.values, return_index=True)
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    coords = np.round(coords, 6)
    vertex_class = np.asarray(classes)[owner[part_of]]
    hover_of = np.asarray(hover, dtype=object)
    traces: list[BaseTraceType] = []
    for k, (label, color) in enumerate(styles):
        idx = np.nonzero(vertex_class == k)[0]
        if len(idx) == 0:
            continue
        # a gap after each line's last vertex
        gaps = np.append(np.nonzero(np.diff(part_of[idx]))[0] + 1, len(idx))
        traces.append(
            go.Scattermap(
                lon=_gapped(coords[idx, 0], gaps),
                lat=_gapped(coords[idx, 1], gaps),
                mode="lines",
                line={"color": color, "width": 3},
                name=f"{name}: {label}",
                text=_gapped(hover_of[owner[part_of[idx]]], gaps),
                hoverinfo="text",
                meta={"layer": layer_id, "class": k},
                showlegend=False,
            )
        )
    return traces


@dataclass(frozen=True)
class PatrolCoverageLayer(FeatureLayer):
    """Streets by recency from ``detail_zoom`` (at most ``max_features``); grids by the
    patrolled share of their streets below it; communities below ``community_zoom`` (None:
    grids at every zoom, as the wall shows them)."""

    id: str = "patrol_coverage"
    title: str = "layer.patrol_coverage"
    default_visible: bool = False
    detail_zoom: float = 14.0
    max_features: int | None = 6000
    community_zoom: float | None = 12.0

    sql: ClassVar[str] = STREETS_SQL
    columns: ClassVar[tuple[str, ...]] = tuple(COLUMNS)
    reads: ClassVar[tuple[type, ...]] = (PatrolWindow,)
    style: ClassVar[Style | None] = STYLE

    def sql_args(self, ctx: LayerContext) -> dict[str, Any]:
        return {"t1": window_of(ctx)[1]}

    def finish(self, frame: gpd.GeoDataFrame, args: Mapping[str, Any]) -> gpd.GeoDataFrame:
        frame.attrs["now"] = args["t1"]
        return frame

    def communities(self, zoom: float | None) -> bool:
        """Whether a view at ``zoom`` shows communities (far out), not grids."""
        return self.community_zoom is not None and zoom is not None and zoom < self.community_zoom

    def read_groups(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        t0, t1 = window_of(ctx)
        far = self.communities(ctx.zoom)
        sql = COMMUNITIES_SQL if far else GRIDS_SQL
        frame = read_frame(ctx, sql, **ctx.bounds, t0=t0, t1=t1, tolerance=simplify_tolerance(ctx))
        frame.attrs["now"] = t1
        frame.attrs["communities"] = far
        return frame

    def outlines(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        """The view's grids as :meth:`query` draws them zoomed out, their shares unread (0):
        for a screen that sends the shares apart (the wall), no coverage computed twice."""
        frame = read_frame(ctx, GRID_SQL, **ctx.bounds, tolerance=simplify_tolerance(ctx))
        frame = frame.assign(street_m=0.0, patrolled_share=0.0, watched_share=0.0)
        frame.attrs["decimals"] = ctx.coordinate_decimals()
        return mark(frame, Detail.AGGREGATED)

    def note(self, data: gpd.GeoDataFrame, lang: str) -> str:
        if data.attrs.get("communities"):
            zoom = f"{self.community_zoom:g}"
            return t("note.patrol_communities", lang, count=f"{len(data):,}", zoom=zoom)
        return super().note(data, lang)

    def legend(self, lang: str) -> list[LegendEntry]:
        """Streets by last visit (zoomed in), then grids by patrolled share (zoomed out)."""
        return [*super().legend(lang), *self.share_legend(lang)]

    @staticmethod
    def share_legend(lang: str, dark: bool = False) -> list[LegendEntry]:
        """The grid outlines by patrolled share (zoomed out), least patrolled first."""
        return [
            LegendEntry(share_label(k, lang), color, "line")
            for k, color in enumerate(share_colors(dark))
        ]

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        name = t(self.title, lang)
        if detail_of(data) is Detail.AGGREGATED:
            pct = (100 * data["patrolled_share"]).round(1)
            custom = list(
                zip(data["name"], pct, (100 * data["watched_share"]).round(1), strict=True)
            )
            hover = hover_template(lang, ("patrol.patrolled", " %"), ("patrol.watched", " %"))
            shares = data["patrolled_share"].astype(float)
            z = shares.tolist()
            marker = {"opacity": 1.0, "line": share_outline(shares)}
            scale = [(0.0, SHARE_FILL), (1.0, SHARE_FILL)]
            trace = area_trace(self, data, z, scale=scale, zmax=1, marker=marker,
                               customdata=custom, hovertemplate=hover, lang=lang)  # fmt: skip
            # A fixed id: the wall lays its case heat under these outlines by it.
            trace.update(uid=GRIDS_UID)
            return [trace]
        now = data.attrs.get("now") or datetime.now(UTC)
        classes = recency_class(list(data["last_at"]), now)
        never = t("patrol.never", lang)
        tz = case_timezone()
        hover = [
            f"{n or ''} · {t('patrol.last_visit', lang)}: "
            + (never if v is None or v != v else local_time(v, tz))
            for n, v in zip(data["name"], data["last_at"], strict=True)
        ]
        styles = [(t(key, lang), color) for key, _, color in RECENCY]
        return line_traces(data, classes, styles, self.id, name, hover) or [placeholder(self, lang)]
