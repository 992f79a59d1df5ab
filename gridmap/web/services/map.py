"""The map page's service over the layers: the view (bbox + zoom) from plotly's
relayoutData, the initial view, and the overlays (traces + notes) for a view."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from dash import Patch
from plotly import graph_objects as go
from plotly.basedatatypes import BaseTraceType
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gridmap.cases.filters import CaseChoice
from gridmap.errors import GridmapError
from gridmap.i18n import t
from gridmap.web.services.side_by_side import side_by_side
from layers import LAYERS, Layer, LayerContext, get_layer
from layers.base import WORLD_PIXELS
from layers.cases import TRACE_COUNT
from layers.params import CircleFilter, PatrolWindow

log = logging.getLogger(__name__)

#: Centre and zoom when there is neither a configured centre nor any grid (Beijing).
FALLBACK_CENTER = (116.397, 39.909)
FALLBACK_ZOOM = 10.0
#: Map size (pixels) assumed before the browser reports the real view: a large screen,
#: so the first draw covers at least what is visible.
ASSUMED_SIZE = (1600, 1000)
#: Map size (pixels) an initial extent is fitted into.
FIT_SIZE = (1000, 760)


@dataclass(frozen=True)
class MapView:
    """What the map shows: centre (lon, lat), zoom and the lon/lat bbox."""

    center: tuple[float, float]
    zoom: float
    bbox: tuple[float, float, float, float]

    @classmethod
    def around(cls, center: tuple[float, float], zoom: float) -> MapView:
        """The view of an assumed-size map centred at ``center``."""
        lon, lat = center
        deg = 360.0 / (WORLD_PIXELS * 2.0**zoom)
        half_w = ASSUMED_SIZE[0] / 2 * deg
        half_h = ASSUMED_SIZE[1] / 2 * deg * math.cos(math.radians(lat))
        bbox = (
            max(-180.0, lon - half_w),
            max(-85.0, lat - half_h),
            min(180.0, lon + half_w),
            min(85.0, lat + half_h),
        )
        return cls((lon, lat), zoom, bbox)

    @classmethod
    def fit(cls, extent: tuple[float, float, float, float]) -> MapView:
        """The view showing a lon/lat extent whole."""
        minx, miny, maxx, maxy = extent
        center = ((minx + maxx) / 2, (miny + maxy) / 2)
        dx = max(maxx - minx, 1e-4)
        dy = max(maxy - miny, 1e-4) / max(math.cos(math.radians(center[1])), 0.1)
        zoom = min(
            math.log2(FIT_SIZE[0] * 360 / (WORLD_PIXELS * dx)),
            math.log2(FIT_SIZE[1] * 360 / (WORLD_PIXELS * dy)),
        )
        return cls.around(center, math.floor(min(max(zoom, 3.0), 17.0) * 10) / 10)

    def updated(self, relayout: Mapping[str, Any] | None) -> MapView:
        """This view moved as plotly's ``relayoutData`` says (unchanged when it says nothing
        about the map, e.g. ``{"autosize": true}``)."""
        if not relayout:
            return self
        zoom = relayout.get("map.zoom", self.zoom)
        center = relayout.get("map.center")
        center = (center["lon"], center["lat"]) if center else self.center
        derived = relayout.get("map._derived") or {}
        corners = derived.get("coordinates")
        if corners:
            lons = [c[0] for c in corners]
            lats = [c[1] for c in corners]
            bbox = (min(lons), min(lats), max(lons), max(lats))
            return MapView((float(center[0]), float(center[1])), float(zoom), bbox)
        if "map.zoom" in relayout or "map.center" in relayout:
            return MapView.around((float(center[0]), float(center[1])), float(zoom))
        return self

    def covers(self, other: MapView) -> bool:
        """Whether what was drawn for this view already shows ``other``: the same zoom (so
        the same detail) and ``other``'s box inside this one (e.g. the map's first report
        of its real size, smaller than the assumed one)."""
        minx, miny, maxx, maxy = self.bbox
        ominx, ominy, omaxx, omaxy = other.bbox
        inside = minx <= ominx and miny <= ominy and omaxx <= maxx and omaxy <= maxy
        return abs(self.zoom - other.zoom) < 1e-6 and inside

    def to_store(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_store(cls, data: Mapping[str, Any]) -> MapView:
        return cls(tuple(data["center"]), float(data["zoom"]), tuple(data["bbox"]))


@dataclass(frozen=True)
class InitialView:
    """The page's first view and whether there is anything to show."""

    view: MapView
    has_data: bool
    error: str | None = None


def grids_extent(engine: Engine) -> tuple[float, float, float, float] | None:
    """The lon/lat box of all grids (None: no grids). Raises SQLAlchemyError."""
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM gridmap_grids_extent()")).first()
    if row is None or row[0] is None:
        return None
    minx, miny, maxx, maxy = (float(v) for v in row)
    return minx, miny, maxx, maxy


def initial_view(engine: Engine, center: tuple[float, float] | None) -> InitialView:
    """The configured centre (or the grids' centre) at a zoom showing all grids."""
    try:
        extent = grids_extent(engine)
    except SQLAlchemyError as exc:
        log.warning("initial view: %s", exc)
        fallback = MapView.around(center or FALLBACK_CENTER, FALLBACK_ZOOM)
        return InitialView(fallback, False, "database")
    if extent is None:
        return InitialView(MapView.around(center or FALLBACK_CENTER, FALLBACK_ZOOM), False)
    fitted = MapView.fit(extent)
    if center:
        fitted = MapView.around(center, fitted.zoom)
    return InitialView(fitted, True)


@dataclass
class Overlays:
    """The traces of the visible layers, a note per layer and a user-facing error;
    ``drawn`` says which layer drew how many of the traces, in order."""

    traces: list[BaseTraceType] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    drawn: list[tuple[str, int]] = field(default_factory=list)


def draw_overlays(
    engine: Engine,
    visible: Iterable[str],
    view: MapView,
    lang: str,
    cases: CaseChoice | None = None,
    now: datetime | None = None,
    circles: CircleFilter | None = None,
    only: Iterable[str] | None = None,
) -> Overlays:
    """Query each visible layer for the view and turn it into traces, in drawing order.

    ``cases`` is the case filter (the default choice when None) at ``now``; ``circles``
    which service circles (and buildings outside them) to draw (None: each layer's default);
    ``only`` the layers to draw (None: all; the others are left out, notes too).
    A layer that fails leaves its note and the error message set; the others still draw.
    The case layer always ends the traces (empty ones when it is switched off or failed), so
    the live update can replace the last :data:`~layers.cases.TRACE_COUNT` traces in place.
    """
    wanted = set(visible)
    chosen = None if only is None else set(only)
    out = Overlays()
    choice = (cases or CaseChoice()).resolve(now or datetime.now(UTC))
    ctx = LayerContext(
        engine,
        bbox=view.bbox,
        zoom=view.zoom,
        language=lang,
        # The patrol layers show the case window (the last 8 h when it has no start).
        params=(
            choice,
            PatrolWindow(since=choice.since, until=choice.until),
            *([circles] if circles is not None else []),
        ),
    )
    layers = [layer for layer in LAYERS if chosen is None or layer.id in chosen]
    read = read_layers(ctx, [layer for layer in layers if layer.id in wanted])
    for layer in layers:
        before = len(out.traces)
        drawn = False
        if layer.id not in wanted:
            out.notes[layer.id] = ""
        else:
            try:
                data = read[layer.id].result()
            except GridmapError as exc:
                log.warning("layer %s: %s", layer.id, exc)
                out.notes[layer.id] = ""
                out.error = t("map.error", lang)
            else:
                out.traces.extend(layer.traces(data, lang))
                out.notes[layer.id] = layer.note(data, lang)
                drawn = True
        if layer.keeps_place and not drawn:
            out.traces.extend(layer.empty_traces(lang))
        if len(out.traces) > before:
            out.drawn.append((layer.id, len(out.traces) - before))
    return out


#: Layer reads run side by side per redraw, each on its own pooled connection.
READERS = 4


def read_layers(ctx: LayerContext, layers: Sequence[Layer]) -> dict[str, Future]:
    """Each layer's :meth:`~layers.base.Layer.query` for ``ctx``, run side by side (the
    slowest layer, not the sum of them, sets a redraw's time): a future per layer id, its
    result the layer's data or its GridmapError.

    Each read runs in a copy of the caller's context (the request, its signed-in user),
    and reads as that user explicitly, so row-level security scopes it as in the request."""
    ctx = replace(ctx, user=ctx.asker)
    futures = side_by_side([partial(layer.query, ctx) for layer in layers], READERS)
    return {layer.id: future for layer, future in zip(layers, futures, strict=True)}


def swap_layers(
    drawn: Sequence[Sequence[Any]], redrawn: Overlays
) -> tuple[Patch, list[tuple[str, int]]]:
    """A figure Patch replacing, in place, the traces of the layers ``redrawn`` drew
    (:func:`draw_overlays` with ``only``) in a figure whose traces ``drawn`` lists per
    layer (``[layer id, trace count]`` in figure order), and the figure's new list.

    Toggling one layer then sends and reads that layer only, not every layer anew."""
    before = {str(lid): int(n) for lid, n in drawn}
    counts = dict(redrawn.drawn)
    traces = iter(redrawn.traces)
    patch = Patch()
    after: list[tuple[str, int]] = []
    index = 0
    for layer in LAYERS:
        n = before.get(layer.id, 0)
        if layer.id in counts or layer.id in redrawn.notes:
            for _ in range(n):
                del patch["data"][index]
            n = counts.get(layer.id, 0)
            for k in range(n):
                patch["data"].insert(index + k, plain(next(traces)))
        if n:
            after.append((layer.id, n))
        index += n
    return patch, after


def case_traces_patch(traces: Sequence[BaseTraceType]) -> Patch:
    """A figure Patch replacing the case layer's traces (the figure's last ones) only."""
    if len(traces) != TRACE_COUNT:
        raise ValueError(f"the case layer draws {TRACE_COUNT} traces, got {len(traces)}")
    patch = Patch()
    for offset, trace in enumerate(traces):
        patch["data"][offset - TRACE_COUNT] = plain(trace)
    return patch


def visible_layers(values: Iterable[Any], ids: Iterable[Mapping[str, str]]) -> list[str]:
    """Layer ids whose toggle (a checklist holding ``"on"``) is switched on."""
    return [i["layer"] for v, i in zip(values, ids, strict=True) if v and get_layer(i["layer"])]


#: CJK-capable font stack for plotly text (hover labels); mirrors assets/gridmap.css.
FONT_STACK = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", '
    '"Microsoft YaHei", "Helvetica Neue", Arial, sans-serif'
)
#: Keeps the user's pan/zoom when the figure is redrawn (layers toggled, view moved).
UIREVISION = "gridmap-map"


def map_layout(view: MapView, style: dict[str, Any]) -> dict[str, Any]:
    """The map figure's layout: the basemap style and the (initial) view."""
    return {
        "map": {
            "style": style,
            "center": {"lon": view.center[0], "lat": view.center[1]},
            "zoom": view.zoom,
            "uirevision": UIREVISION,
        },
        "uirevision": UIREVISION,
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "paper_bgcolor": "#eef1f5",
        "showlegend": False,
        "hovermode": "closest",
        "font": {"family": FONT_STACK, "color": "#1e293b"},
        "hoverlabel": {
            "font": {"family": FONT_STACK, "size": 13, "color": "#0f172a"},
            "bgcolor": "rgba(255,255,255,0.96)",
            "bordercolor": "#cbd5e1",
            "align": "left",
        },
    }


def map_figure(traces: list[BaseTraceType], view: MapView, style: dict[str, Any]) -> go.Figure:
    """The map figure: the basemap style, the overlays and the (initial) view."""
    return go.Figure(data=traces, layout=map_layout(view, style))


def plain(trace: BaseTraceType) -> dict[str, Any]:
    """A trace's properties as the plain dict Dash sends, without the deep copy
    ``to_plotly_json`` makes: the traces of a redraw are made for one answer and dropped
    after it (the city's first view: ~150 ms less)."""
    props = trace._props  # plotly keeps a trace's validated properties here
    return props if props is not None else {}


def map_figure_json(
    traces: list[BaseTraceType], view: MapView, style: dict[str, Any]
) -> dict[str, Any]:
    """:func:`map_figure` as the plain dict Dash sends: the traces are not validated a
    second time, and Dash encodes the dict ~10x faster than a Figure (city view: ~45 ms in
    all instead of ~120-220 ms per redraw)."""
    return {"data": [plain(trace) for trace in traces], "layout": map_layout(view, style)}
