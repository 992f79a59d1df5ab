"""Print maps: the chosen layers over the project's own roads as a PNG or PDF page (A4/A3,
landscape or portrait) with title, legend (from each layer's ``legend(lang)``), scale bar,
north arrow, date, data source and CJK text — the coverage map a planner takes to a meeting.

Drawn with matplotlib (no pyplot, so no global state; safe in a web worker's thread) in the
local UTM zone, so the scale bar measures true metres and north is up. The CJK font is Noto
Sans CJK from the system (fonts-noto-cjk), found with fontconfig's ``fc-match``; nothing is
downloaded. The layers are read through their ``export(ctx)``, so filters and the user's
access rules apply as in file exports.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib import font_manager
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrow, Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib_scalebar.scalebar import ScaleBar
from sqlalchemy import Engine

from gridmap.i18n import t
from gridmap.io.export import (
    ExportError,
    ExportRequest,
    Progress,
    _quiet,
    layer_frame,
    local_stamp,
)
from layers import get_layer
from layers.base import LayerContext, LegendEntry, read_frame
from layers.specs import Style

#: Paper sizes in millimetres, landscape (width, height).
PAPER_MM = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}
DPI = {"png": 200, "pdf": 150}  # pdf: resolution of rasterised dense point layers
#: Above this many features a layer's marks are rasterised inside the PDF (small file).
RASTER_OVER = 20_000
ROAD_STYLE = {  # kind: (colour, width in points)
    "primary": ("#9ca3af", 1.6),
    "secondary": ("#b6bcc6", 1.1),
    "residential": ("#d1d5db", 0.6),
    "alley": ("#e5e7eb", 0.35),
    "footway": ("#e5e7eb", 0.3),
}
ROADS_SQL = "SELECT * FROM gridmap_print_roads(:minx, :miny, :maxx, :maxy, :tolerance, :minor)"
EXTENT_SQL = "SELECT * FROM gridmap_grids_extent()"
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK", "Noto Sans SC")


class PrintMapError(ExportError):
    """A print map could not be drawn (no CJK font, nothing to draw)."""


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """The family name of the system's Noto Sans CJK SC, registered with matplotlib."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        raise PrintMapError(
            "fontconfig's fc-match is not installed, so no CJK font can be found.",
            hint="apt-get install fontconfig fonts-noto-cjk",
        )
    out = subprocess.run(
        [fc_match, "-f", "%{file}", f"{CJK_FAMILIES[0]}:lang=zh-cn"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not out or "NotoSansCJK" not in Path(out).name.replace("-", ""):
        raise PrintMapError(
            "The Noto Sans CJK font is not installed; print maps need it for Chinese text.",
            hint="apt-get install fonts-noto-cjk",
        )
    font_manager.fontManager.addfont(out)
    return CJK_FAMILIES[0]


# -- styles ----------------------------------------------------------------------------------


def feature_colors(layer_id: str) -> Callable[[gpd.GeoDataFrame], list[str]] | None:
    """Per-feature colours of a layer that colours by a value (its style's colour channel,
    the same colours its traces use); None: it draws in its legend's first colour."""
    style = get_layer(layer_id).style
    return style.color.colors if style is not None and style.color is not None else None


def _fill_opacity(layer_id: str) -> float:
    style = get_layer(layer_id).style
    return style.fill_opacity if style is not None else Style().fill_opacity


def _kind(frame: gpd.GeoDataFrame) -> str:
    types = set(frame.geometry.dropna().geom_type)
    if types <= {"Polygon", "MultiPolygon"}:
        return "fill"
    if types <= {"LineString", "MultiLineString"}:
        return "line"
    return "circle"


def legend_entries(layer_id: str, frame: gpd.GeoDataFrame, colors: list[str], lang: str):
    """The layer's legend entries that this print shows: those of the drawn geometry kind
    (a polygon layer keeps its outline entries) and, where colours vary per feature, of a
    colour actually drawn; never the screen's zoomed-out marks (a print has one scale)."""
    kind = _kind(frame) if not frame.empty else None
    entries = [e for e in get_layer(layer_id).legend(lang) if not e.zoomed_out]
    shapes = {"fill": {"fill", "line"}, "line": {"line"}, "circle": {"circle"}}.get(kind or "")
    kept = [e for e in entries if shapes is None or e.shape in shapes]
    used = {c.lower() for c in colors}
    style = get_layer(layer_id).style
    channel = style.color if style is not None else None
    if channel is not None and channel.filters_legend and used:
        kept = [e for e in kept if e.color.lower() in used]
    return kept or entries[:1]


# -- drawing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintResult:
    """What a print map shows: features per layer, extent (lon/lat), CRS of the drawing."""

    counts: dict[str, int]
    extent: tuple[float, float, float, float]
    crs: str


def _extent(engine_ctx: LayerContext, frames: dict[str, gpd.GeoDataFrame]):
    if engine_ctx.bbox is not None:
        return engine_ctx.bbox
    boxes = [f.total_bounds for f in frames.values() if not f.empty]
    if boxes:
        b = np.array(boxes)
        return (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
    extent = pd.DataFrame(read_frame_plain(engine_ctx, EXTENT_SQL))
    if extent.empty or extent.isna().any(axis=None):
        raise PrintMapError("There is nothing to draw: no features and no grids in the database.")
    return tuple(float(v) for v in extent.iloc[0])


def read_frame_plain(ctx: LayerContext, sql: str) -> pd.DataFrame:
    """A plain (no geometry) read on the layer context's engine."""
    from sqlalchemy import text

    with ctx.engine.connect() as conn:
        return pd.read_sql(text(sql), conn)


def _pad(extent, share: float = 0.03):
    minx, miny, maxx, maxy = extent
    dx, dy = max(maxx - minx, 1e-4), max(maxy - miny, 1e-4)
    padded = (minx - dx * share, miny - dy * share, maxx + dx * share, maxy + dy * share)
    return tuple(float(v) for v in padded)


def _path(geoms: np.ndarray, *, rings: bool) -> MplPath:
    """All lines (or polygon rings, exteriors counter-clockwise and holes clockwise so the
    nonzero fill leaves holes open) as ONE matplotlib path: a PDF gets one path object per
    colour instead of one per feature."""
    parts = shapely.get_parts(geoms)
    if rings:
        parts = shapely.get_rings(shapely.orient_polygons(parts))
    coords, index = shapely.get_coordinates(parts, return_index=True)
    if len(coords) == 0:
        return MplPath(np.empty((0, 2)))
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[np.r_[0, np.flatnonzero(np.diff(index)) + 1]] = MplPath.MOVETO
    return MplPath(coords, codes)


def _by_colour(colors: list[str]) -> dict[str, np.ndarray]:
    """Row positions per distinct colour."""
    keys = pd.Series(colors, dtype="string")
    return {colour: np.flatnonzero(keys == colour) for colour in keys.unique()}


def _draw_layer(ax, layer_id: str, frame: gpd.GeoDataFrame, colors: list[str], lw: float):
    """Draw one projected layer frame in its colours (dense point layers rasterised).
    Patches go in with ``add_artist``: ``add_patch`` would walk every vertex to update data
    limits, which the print sets itself."""
    if frame.empty:
        return
    kind = _kind(frame)
    geoms = np.asarray(frame.geometry.values)
    if kind == "fill":
        alpha = _fill_opacity(layer_id)
        lines = [e.color for e in get_layer(layer_id).legend("en") if e.shape == "line"]
        for colour, rows in _by_colour(colors).items():
            path = _path(geoms[rows], rings=True)
            ax.add_artist(PathPatch(path, facecolor=colour, alpha=alpha, linewidth=0, zorder=2))
            if not lines:
                ax.add_artist(PathPatch(path, fill=False, edgecolor=colour, linewidth=lw, zorder=3))
        if lines:
            outline = _path(geoms, rings=True)
            ax.add_artist(
                PathPatch(outline, fill=False, edgecolor=lines[0], linewidth=lw, zorder=3)
            )
    elif kind == "line":
        for colour, rows in _by_colour(colors).items():
            path = _path(geoms[rows], rings=False)
            ax.add_artist(
                PathPatch(path, fill=False, edgecolor=colour, linewidth=lw * 2.2, zorder=3)
            )
    else:
        size = 2.0 if len(frame) > 5000 else 9.0 if len(frame) > 500 else 22.0
        xy = shapely.get_coordinates(shapely.centroid(geoms))
        lookup = {c: to_rgba(c) for c in set(colors)}
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=size,
            c=[lookup[c] for c in colors],
            edgecolors="white" if size > 5 else "none",
            linewidths=0.3,
            zorder=4,
            rasterized=len(frame) > RASTER_OVER,
        )


def _frame_view(ax, box: gpd.GeoSeries, fig: Figure, map_box: list[float]) -> None:
    """Limit the map to ``box`` (projected corners), widened to the axes' shape so one
    metre is as long across as up (true scale both ways)."""
    (x0, y0), (x1, y1) = box.get_coordinates().to_numpy()
    width_in, height_in = fig.get_size_inches()
    shape = (map_box[2] * width_in) / (map_box[3] * height_in)
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    if w / h < shape:
        w = h * shape
    else:
        h = w / shape
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")


def _legend_handles(entries: list[LegendEntry]) -> list[Any]:
    handles: list[Any] = []
    for e in entries:
        if e.shape == "fill":
            handles.append(Patch(facecolor=e.color, edgecolor="#1f2a44", alpha=0.6, label=e.label))
        elif e.shape == "line":
            handles.append(Line2D([], [], color=e.color, linewidth=2.2, label=e.label))
        else:
            handles.append(
                Line2D([], [], marker="o", linestyle="", color=e.color, markersize=7, label=e.label)
            )
    return handles


def _north_arrow(ax, label: str, family: str) -> None:
    """A north arrow in the map's top-right corner (the drawing's y axis points north)."""
    x, y = 0.955, 0.84
    ax.add_artist(
        FancyArrow(
            x,
            y,
            0,
            0.09,
            width=0.012,
            head_width=0.035,
            head_length=0.045,
            length_includes_head=True,
            transform=ax.transAxes,
            color="#111827",
            zorder=10,
        )
    )
    ax.text(
        x,
        y - 0.012,
        label,
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=11,
        family=family,
        weight="bold",
        zorder=10,
    )


def render_print_map(
    engine: Engine,
    request: ExportRequest,
    target: Path,
    *,
    user: Any = None,
    source: str = "gridmap · PostGIS",
    progress: Progress = _quiet,
    at: datetime | None = None,
) -> PrintResult:
    """Draw the request's layers as a print map into ``target`` (PNG or PDF), dated ``at``
    (None: now) in the case time zone."""
    if not request.is_print:
        raise PrintMapError("A print map is a png or pdf.")
    family = cjk_font()
    lang = request.language
    ctx = request.context(engine, user)
    frames: dict[str, gpd.GeoDataFrame] = {}
    for i, layer_id in enumerate(request.layers):
        progress(0.5 * i / len(request.layers), f"{layer_id}: reading")
        frames[layer_id] = layer_frame(ctx, layer_id)
    extent = _pad(_extent(ctx, frames))
    progress(0.5, "roads")
    box = gpd.GeoSeries.from_xy([extent[0], extent[2]], [extent[1], extent[3]], crs=4326)
    utm = box.estimate_utm_crs()
    width_mm, height_mm = PAPER_MM[request.paper]
    if request.orientation == "portrait":
        width_mm, height_mm = height_mm, width_mm
    span_deg = max(extent[2] - extent[0], extent[3] - extent[1])
    tolerance = span_deg / (max(width_mm, height_mm) / 25.4 * DPI["png"]) / 2
    road_ctx = LayerContext(engine=engine, user=user)
    roads = read_frame(
        road_ctx,
        ROADS_SQL,
        minx=extent[0],
        miny=extent[1],
        maxx=extent[2],
        maxy=extent[3],
        tolerance=float(tolerance),
        minor=bool(span_deg < 0.08),
    )

    fig = Figure(figsize=(width_mm / 25.4, height_mm / 25.4))
    landscape = request.orientation == "landscape"
    # map, legend panel, title band and footer, in figure fractions
    map_box = [0.03, 0.08, 0.72, 0.80] if landscape else [0.05, 0.25, 0.90, 0.65]
    ax = fig.add_axes(map_box)
    ax.set_facecolor("#f8fafc")
    lw = 0.5 if request.paper == "A4" else 0.6
    projected_box = box.to_crs(utm)
    for kind, part in roads.groupby("kind") if not roads.empty else []:
        colour, width = ROAD_STYLE.get(kind, ROAD_STYLE["residential"])
        path = _path(np.asarray(part.to_crs(utm).geometry.values), rings=False)
        ax.add_artist(PathPatch(path, fill=False, edgecolor=colour, linewidth=width, zorder=1))
    legend_handles: list[Any] = []
    headings: set[str] = set()
    counts: dict[str, int] = {}
    for i, (layer_id, frame) in enumerate(frames.items()):
        progress(0.6 + 0.3 * i / len(frames), f"{layer_id}: drawing")
        counts[layer_id] = len(frame)
        colour_of = feature_colors(layer_id)
        legend = get_layer(layer_id).legend(lang)
        default = next((e.color for e in legend if e.shape == _kind(frame)), legend[0].color)
        colors = colour_of(frame) if (colour_of and not frame.empty) else [default] * len(frame)
        thin = min(1.0, max(0.3, (1000 / max(len(frame), 1)) ** 0.5))  # dense layers: thinner
        _draw_layer(ax, layer_id, frame.to_crs(utm), colors, lw * thin)
        title = t(get_layer(layer_id).title, lang)
        heading = f"{title} · {len(frame):,}"
        headings.add(heading)
        legend_handles.append(Patch(visible=False, label=heading))
        legend_handles += _legend_handles(legend_entries(layer_id, frame, colors, lang))
    _frame_view(ax, projected_box, fig, map_box)
    for spine in ax.spines.values():
        spine.set_color("#334155")
    ax.add_artist(
        ScaleBar(
            1.0,
            units="m",
            location="lower left",
            box_alpha=0.8,
            font_properties={"family": family, "size": 9},
        )
    )
    _north_arrow(ax, t("print.north", lang), family)

    title = request.title or t("print.default_title", lang)
    fig.text(
        0.03 if landscape else 0.05,
        0.95,
        title,
        fontsize=20 if request.paper == "A3" else 17,
        weight="bold",
        family=family,
        va="center",
        color="#0f172a",
    )
    legend_box = (0.77, 0.88) if landscape else (0.05, 0.22)
    legend = fig.legend(
        handles=legend_handles,
        loc="upper left",
        bbox_to_anchor=legend_box,
        frameon=False,
        title=t("print.legend", lang),
        title_fontproperties=FontProperties(family=family, size=12, weight="bold"),
        prop=FontProperties(family=family, size=9),
        ncols=1 if landscape else 2,
        alignment="left",
    )
    for label in legend.get_texts():  # each layer's heading line in bold
        if label.get_text() in headings:
            label.set_fontweight("bold")
    now = local_stamp(at)
    footer = "    ".join(
        [
            t("print.date", lang, date=now.strftime("%Y-%m-%d %H:%M")),
            t("print.source", lang, source=source),
            t("print.crs", lang, crs=utm.name),
        ]
    )
    fig.text(
        0.03 if landscape else 0.05,
        0.035,
        footer,
        fontsize=8,
        family=family,
        color="#334155",
        va="center",
    )
    progress(0.92, "writing")
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=".print-", suffix=f".{request.format}", delete=False
    ) as tmp:
        work = Path(tmp.name)
    try:
        fig.savefig(
            work,
            format=request.format,
            dpi=DPI[request.format],
            facecolor="white",
            metadata={"Title": title} if request.format == "pdf" else None,
        )
        work.replace(target)
    except (OSError, ValueError) as exc:
        raise PrintMapError(f"The print map could not be written: {exc}") from exc
    finally:
        work.unlink(missing_ok=True)
    progress(1.0, "done")
    return PrintResult(counts, tuple(float(v) for v in extent), utm.name)


__all__ = ["PrintMapError", "PrintResult", "cjk_font", "render_print_map"]
