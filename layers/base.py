"""The Layer contract every map overlay implements, and the context a layer reads in.

A layer is a frozen dataclass: ``id`` (stable slug for component ids and URLs), ``title``
(an i18n key), ``min_zoom`` (below it the layer draws nothing) and ``default_visible``,
plus three abstract methods (``query``, ``draw``, ``export``) and four with a default:

- ``query(ctx)`` reads the rows for the map view in ``ctx`` (bbox, zoom and the typed
  parameters the layer ``reads``: ``self.param(ctx, CaseFilter)``) from PostGIS
  through the layer's SQL function and returns a GeoDataFrame (EPSG:4326). How much of
  the layer the view shows is recorded in ``data.attrs``: ``detail`` (a :class:`Detail`)
  and ``capped`` (True when more rows matched than the layer draws).
- ``draw(data, lang)`` turns that frame into plotly map traces (``go.Scattermap``,
  ``go.Choroplethmap``); each trace's ``meta`` names the layer. ``traces(data, lang)`` calls
  it when there is anything to draw (else one empty placeholder).
- ``export(ctx)`` reads the same rows without the view's zoom limits and caps (bbox still
  applies) for files and the OGC API.
- ``legend(lang)`` lists the colours and shapes the traces use (default: the ``style``'s).
- ``note(data, lang)`` is the one-line status beside the layer's toggle (hidden: "zoom in
  to …", capped, or how many are shown).
- ``empty_traces(lang)``: the traces drawing nothing (default: one empty placeholder).

Feature layers with an aggregated view below some zoom (grids → communities, cameras →
counts per cell) set ``detail_zoom`` and read their groups in ``read_groups``.

Besides the methods a layer declares, as class attributes, what the rest of the app builds
from it (see :mod:`layers.specs`; each optional):

- ``reads``: the parameter types it takes from the context (:mod:`layers.params`);
- ``style``: its colours (legend, print maps);
- ``tiles``: its vector tiles (``/tiles/<id>``, drawn by MapLibre while it is on);
- ``collection``: its OGC API feature collection;
- ``keeps_place``: it always draws its traces (empty when off), so they keep their place at
  the end of the map figure for live updates;
- ``follows_view``: what it draws depends on the view (the default); a layer that does not
  reads exact geometry and is not redrawn when the map moves.

:class:`FeatureLayer` is the common "read → cap → mark" body of ``query``/``export``. The
helpers below draw what layers share: :func:`point_trace`, :func:`area_trace`,
:func:`hover_template`, :func:`count_note`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

import geopandas as gpd
import numpy as np
import shapely
from plotly import graph_objects as go
from plotly.basedatatypes import BaseTraceType
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gridmap.access import User, current_user
from gridmap.access.scope import scoped_connection
from gridmap.db.frames import read_geoframe
from gridmap.errors import GridmapError
from gridmap.i18n import t
from layers.specs import CollectionSpec, LegendEntry, Style, TileSpec

#: lon/lat bounds: (min lon, min lat, max lon, max lat).
BBox = tuple[float, float, float, float]
#: Pixels the world spans at zoom 0 in MapLibre (512-px tiles), the zoom plotly maps report.
WORLD_PIXELS = 512.0


class LayerError(GridmapError):
    """A layer could not be read (database unreachable, query failed)."""


class Detail(StrEnum):
    """How much of a layer a view shows."""

    FEATURES = "features"  # one row per feature
    AGGREGATED = "aggregated"  # one row per group (a parent area, a cluster cell)
    HIDDEN = "hidden"  # below the layer's min_zoom: nothing drawn


P = TypeVar("P")


@dataclass(frozen=True)
class LayerContext:
    """What a layer reads for: the database, the view, typed parameters (looked up by type:
    :meth:`param`), who asks."""

    engine: Engine
    bbox: BBox | None = None
    zoom: float | None = None
    #: Parameter objects (:mod:`layers.params`), at most one per type.
    params: Iterable[object] = ()
    user: Any = None
    language: str = "zh-CN"
    _by_type: Mapping[type, object] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if self.bbox is not None:
            minx, miny, maxx, maxy = (float(v) for v in self.bbox)
            if not (minx <= maxx and miny <= maxy):
                raise LayerError(f"Bounding box {self.bbox} has its minimum above its maximum.")
            object.__setattr__(self, "bbox", (minx, miny, maxx, maxy))
        given = tuple(self.params)
        by_type: dict[type, object] = {}
        for value in given:
            if type(value) in by_type:
                raise LayerError(f"Two {type(value).__name__} parameters given.")
            by_type[type(value)] = value
        object.__setattr__(self, "params", given)
        object.__setattr__(self, "_by_type", MappingProxyType(by_type))

    def param(self, kind: type[P]) -> P:
        """The parameters of type ``kind`` given, else its default instance."""
        found = self._by_type.get(kind)
        return found if isinstance(found, kind) else kind()

    @property
    def bounds(self) -> dict[str, float | None]:
        """The bbox as SQL parameters ``minx, miny, maxx, maxy`` (all None: everywhere)."""
        keys = ("minx", "miny", "maxx", "maxy")
        return dict(zip(keys, self.bbox or (None,) * 4, strict=True))

    @property
    def asker(self) -> User | None:
        """Who the read is for: ``user``, else the signed-in user of the current request
        (None: the CLI or a background job)."""
        return self.user if self.user is not None else current_user()

    @property
    def scoped(self) -> bool:
        """Whether the read sees only the asker's grids (row-level security)."""
        asker = self.asker
        return asker is not None and asker.grid_scoped

    def degrees_per_pixel(self) -> float:
        """Longitude degrees one screen pixel spans at this (MapLibre) zoom."""
        return 360.0 / (WORLD_PIXELS * 2.0 ** (self.zoom if self.zoom is not None else 22.0))

    def coordinate_decimals(self) -> int:
        """Decimals a drawn coordinate needs at this zoom (:func:`coordinate_decimals`)."""
        return coordinate_decimals(self.degrees_per_pixel())


@dataclass(frozen=True)
class Layer(ABC):
    """One map overlay. Subclasses set the fields' defaults and implement the methods."""

    id: str
    title: str
    min_zoom: float = 0.0
    default_visible: bool = True

    #: Parameter types the layer reads from its context (:meth:`param`).
    reads: ClassVar[tuple[type, ...]] = ()
    #: Colours (legend, print maps); vector tiles; OGC API collection (None: none).
    style: ClassVar[Style | None] = None
    tiles: ClassVar[TileSpec | None] = None
    collection: ClassVar[CollectionSpec | None] = None
    #: Whether the layer's traces stay in the figure (empty) while it is off or failed.
    keeps_place: ClassVar[bool] = False
    #: Whether what the layer draws depends on the view (bbox, zoom). A layer that does
    #: not (e.g. the city's top risk grids) reads exact geometry, and a move of the map
    #: does not redraw it.
    follows_view: ClassVar[bool] = True

    @abstractmethod
    def query(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        """The layer's rows for the view in ``ctx`` (``attrs``: detail, capped)."""

    @abstractmethod
    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        """Plotly map traces drawing ``data`` (from :meth:`query`; shown and not empty)."""

    @abstractmethod
    def export(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        """The layer's features in ``ctx.bbox`` (or everywhere), without view limits."""

    def legend(self, lang: str) -> list[LegendEntry]:
        """The colours and shapes the traces use, labelled in ``lang`` (by default those
        of :attr:`style`)."""
        return self.style.legend(lang) if self.style is not None else []

    def traces(self, data: gpd.GeoDataFrame, lang: str) -> list[BaseTraceType]:
        """Plotly map traces drawing ``data`` (from :meth:`query`): :meth:`draw`'s, or one
        empty placeholder when the view hides the layer or shows none of it."""
        if detail_of(data) is Detail.HIDDEN or data.empty:
            return [placeholder(self, lang)]
        return self.draw(data, lang)

    def empty_traces(self, lang: str) -> list[BaseTraceType]:
        """The layer's traces drawing nothing (the layer switched off)."""
        return [placeholder(self, lang)]

    def param(self, ctx: LayerContext, kind: type[P]) -> P:
        """The context's parameters of type ``kind``, which the layer must list in
        :attr:`reads`."""
        if kind not in self.reads:
            raise TypeError(f"Layer {self.id!r} does not read {kind.__name__} (see its reads).")
        return ctx.param(kind)

    def visible_at(self, zoom: float | None) -> bool:
        """Whether the layer draws anything at ``zoom`` (None: no view, always)."""
        return zoom is None or zoom >= self.min_zoom

    def note(self, data: gpd.GeoDataFrame, lang: str) -> str:
        """A one-line status for the side panel: hidden, capped or how many are shown."""
        detail = detail_of(data)
        if detail is Detail.HIDDEN:
            return t("note.hidden", lang, zoom=f"{self.min_zoom:g}")
        if data.attrs.get("capped"):
            return t("note.capped", lang, count=f"{len(data):,}")
        return t("note.shown", lang, count=f"{len(data):,}")


@dataclass(frozen=True)
class FeatureLayer(Layer):
    """A layer read by one SQL reader of the view's features: hidden below ``min_zoom``,
    at most ``max_features`` rows (None: all; the reader then takes no ``:max_rows``), marked.

    Subclasses set :attr:`sql` (a SELECT taking the bbox and, when capped, ``:max_rows``;
    when :attr:`simplified`, ``:tolerance``) and may add parameters (:meth:`sql_args`),
    finish the frame (:meth:`finish`) and keep an aggregated view below :attr:`detail_zoom`
    (:meth:`read_groups`).
    """

    max_features: int | None = None
    #: Below this zoom the view shows groups (:meth:`read_groups`), not features (None: never).
    detail_zoom: float | None = None

    sql: ClassVar[str]
    #: Columns of the empty frame below ``min_zoom``.
    columns: ClassVar[tuple[str, ...]] = ()
    #: Whether the reader takes ``:tolerance``: the view's (:func:`simplify_tolerance`) in
    #: ``query``, 0 (exact geometry) in ``export``.
    simplified: ClassVar[bool] = False

    def sql_args(self, ctx: LayerContext) -> dict[str, Any]:
        """The reader's parameters besides the bbox and ``max_rows``."""
        return {}

    def finish(self, frame: gpd.GeoDataFrame, args: Mapping[str, Any]) -> gpd.GeoDataFrame:
        """The read frame made ready (``args``: the reader's parameters)."""
        return frame

    def read(
        self, ctx: LayerContext, max_rows: int | None, *, exact: bool = False
    ) -> gpd.GeoDataFrame:
        """The reader's rows for ``ctx`` (at most ``max_rows`` when the layer is capped;
        ``exact``: geometry not simplified for the view)."""
        args = {**ctx.bounds, **self.sql_args(ctx)}
        if self.max_features is not None:
            args["max_rows"] = max_rows
        if self.simplified:
            args["tolerance"] = 0.0 if exact or not self.follows_view else simplify_tolerance(ctx)
        return self.finish(read_frame(ctx, self.sql, **args), args)

    def aggregated(self, ctx: LayerContext) -> bool:
        """Whether the view of ``ctx`` shows groups: below :attr:`detail_zoom`."""
        zoom = ctx.zoom
        return self.detail_zoom is not None and zoom is not None and zoom < self.detail_zoom

    def read_groups(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        """The view's groups (parent areas, cluster cells) when :meth:`aggregated`."""
        raise NotImplementedError(f"Layer {self.id!r} has no aggregated view.")

    def query(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        if not self.visible_at(ctx.zoom):
            return hidden(list(self.columns))
        if self.aggregated(ctx):
            frame = mark(self.read_groups(ctx), Detail.AGGREGATED)
        elif self.max_features is None:
            frame = mark(self.read(ctx, None), Detail.FEATURES)
        else:
            frame, capped = take_capped(self.read(ctx, self.max_features + 1), self.max_features)
            frame = mark(frame, Detail.FEATURES, capped=capped)
        frame.attrs["decimals"] = ctx.coordinate_decimals() if self.follows_view else 6
        return frame

    def export(self, ctx: LayerContext) -> gpd.GeoDataFrame:
        return mark(self.read(ctx, None, exact=True), Detail.FEATURES)


# -- helpers for layer modules ---------------------------------------------------------------


@contextmanager
def database_read() -> Iterator[None]:
    """Raise a failing database read in the block as a :class:`LayerError`."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise LayerError(
            "The map data could not be read from the database.",
            hint=type(exc.orig or exc).__name__,
        ) from exc


def read_frame(ctx: LayerContext, sql: str, **params: Any) -> gpd.GeoDataFrame:
    """Run ``sql`` (selecting a ``geom`` column) with ``params`` into a GeoDataFrame, as
    ``ctx.user`` (a grid lead sees only their grids' rows: row-level security)."""
    with database_read(), scoped_connection(ctx.engine, ctx.user) as conn:
        frame = read_geoframe(conn, text(sql), params)
    for column in frame.columns:  # nullable foreign keys arrive as floats (NaN)
        if column.endswith("_id") and frame[column].dtype.kind in "fO":
            frame[column] = frame[column].astype("Int64")
    return frame


def mark(frame: gpd.GeoDataFrame, detail: Detail, *, capped: bool = False) -> gpd.GeoDataFrame:
    """Record how much of the layer ``frame`` shows (see :class:`Detail`)."""
    frame.attrs["detail"] = detail
    frame.attrs["capped"] = capped
    return frame


def hidden(columns: list[str]) -> gpd.GeoDataFrame:
    """An empty frame for a view below the layer's min_zoom."""
    frame = gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=4326)
    frame = frame.rename_geometry("geom")
    return mark(frame, Detail.HIDDEN)


def detail_of(data: gpd.GeoDataFrame) -> Detail:
    """The :class:`Detail` recorded on ``data`` (FEATURES when unrecorded)."""
    return Detail(data.attrs.get("detail", Detail.FEATURES))


def take_capped(frame: gpd.GeoDataFrame, cap: int | None) -> tuple[gpd.GeoDataFrame, bool]:
    """Cut a frame read with ``cap + 1`` rows back to ``cap``; say whether it was cut."""
    if cap is None or len(frame) <= cap:
        return frame, False
    return frame.iloc[:cap].copy(), True


def coordinate_decimals(degrees_per_pixel: float) -> int:
    """Decimals of a coordinate a quarter of a screen pixel needs (4 at zoom 10-12, 6 from
    zoom 16: never more than 6, ~0.1 m): what a drawn coordinate is rounded to."""
    return max(0, min(6, math.ceil(-math.log10(degrees_per_pixel / 4))))


def decimals_of(data: gpd.GeoDataFrame) -> int:
    """The decimals the view a frame was read for needs (6 when unrecorded)."""
    return int(data.attrs.get("decimals", 6))


def lonlat(data: gpd.GeoDataFrame) -> tuple[list[float], list[float]]:
    """Longitudes and latitudes of a point frame, rounded for the view it was read for."""
    xy = shapely.get_coordinates(data.geometry.values)
    decimals = decimals_of(data)
    return np.round(xy[:, 0], decimals).tolist(), np.round(xy[:, 1], decimals).tolist()


def feature_collection(data: gpd.GeoDataFrame, id_column: str = "id") -> dict[str, Any]:
    """A compact GeoJSON FeatureCollection (feature id only, coordinates rounded for the
    view the frame was read for: a quarter of a pixel).

    Areas are cut into rings in one vectorized pass (:func:`shapely.to_ragged_array`), each
    ring an ``(n, 2)`` float array: plotly's JSON encoder passes numeric arrays to orjson
    whole, where it walks a list of pairs item by item (Dash answers mixing components and a
    figure take that walk). The city view's 1,000 communities: ~5 ms to build instead of
    ~27 (a GeoJSON mapping per polygon), and ~40 ms less to encode in the page's answer."""
    geoms = data.geometry.values
    decimals = decimals_of(data)
    ids = [int(fid) for fid in data[id_column]]
    geometries = _area_geometries(geoms, decimals)
    if geometries is None:
        rounded = shapely.transform(geoms, lambda c: np.round(c, decimals))
        geometries = [None if g is None else shapely.geometry.mapping(g) for g in rounded]
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": fid, "geometry": g}
            for fid, g in zip(ids, geometries, strict=True)
        ],
    }


def _area_geometries(geoms: Any, decimals: int) -> list[dict[str, Any]] | None:
    """GeoJSON geometries of polygons or multipolygons (None: other or missing shapes)."""
    if len(geoms) == 0 or shapely.is_missing(geoms).any() or shapely.is_empty(geoms).any():
        return None
    try:
        kind, coords, offsets = shapely.to_ragged_array(geoms)
    except ValueError:  # mixed geometry types
        return None
    if kind not in (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON):
        return None
    rings = np.split(np.round(coords, decimals), offsets[0][1:-1])
    polygon_ends = offsets[1].tolist()
    polygons = [rings[a:b] for a, b in pairwise(polygon_ends)]
    if kind == shapely.GeometryType.POLYGON:
        return [{"type": "Polygon", "coordinates": p} for p in polygons]
    ends = offsets[2].tolist()
    return [{"type": "MultiPolygon", "coordinates": polygons[a:b]} for a, b in pairwise(ends)]


#: Keyword of plotly trace classes that stores the given properties as they are: the shared
#: trace helpers below build known properties, and plotly's validation (a deep copy of each
#: GeoJSON and array) took more than half of a redraw's Python time (city view: ~100 ms).
#: Layer tests read the traces back, and the browser tests draw them in plotly.js.
TRUSTED: dict[str, Any] = {"_validate": False}


def area_trace(
    layer: Layer,
    data: gpd.GeoDataFrame,
    z: list[float],
    *,
    scale: list,
    zmax: float,
    marker: dict[str, Any],
    customdata: list,
    hovertemplate: str,
    lang: str,
) -> BaseTraceType:
    """A choropleth of ``data``'s areas (feature id = ``id``) filled by ``z`` on ``scale``
    (from 0 to ``zmax``), hovering ``customdata`` through ``hovertemplate`` (not validated:
    :data:`TRUSTED`)."""
    return go.Choroplethmap(
        **TRUSTED,
        geojson=feature_collection(data),
        locations=data["id"].astype(int).tolist(),
        z=z,
        zmin=0,
        zmax=zmax,
        colorscale=scale,
        showscale=False,
        marker=marker,
        customdata=customdata,
        hovertemplate=hovertemplate,
        name=t(layer.title, lang),
        meta={"layer": layer.id, "detail": str(detail_of(data))},
        showlegend=False,
    )


def simplify_tolerance(ctx: LayerContext, pixels: float = 0.5) -> float:
    """Simplification tolerance in degrees of ``pixels`` screen pixels at the view's zoom."""
    return 0.0 if ctx.zoom is None else pixels * ctx.degrees_per_pixel()


def marker_size(count: int, *, base: float = 10.0, top: float = 34.0) -> float:
    """Marker diameter growing with the log of a count (aggregated views)."""
    return min(top, base + 10.0 * math.log10(max(count, 1)))


def point_trace(
    layer: Layer, data: gpd.GeoDataFrame | None, lang: str, role: str | None = None, **props: Any
) -> BaseTraceType:
    """A marker trace of ``layer`` at the points of ``data`` (None: none), named by the
    layer's title, its ``meta`` naming the layer, the frame's :class:`Detail` and the trace's
    ``role`` (when given); no legend. ``props``: marker, hover, … (not validated:
    :data:`TRUSTED`)."""
    meta: dict[str, Any] = {"layer": layer.id}
    lon: list[float] = []
    lat: list[float] = []
    if data is not None:
        lon, lat = lonlat(data)
        meta["detail"] = str(detail_of(data))
    if role is not None:
        meta["role"] = role
    return go.Scattermap(
        **TRUSTED,
        lon=lon,
        lat=lat,
        mode="markers",
        name=t(layer.title, lang),
        meta=meta,
        showlegend=False,
        **props,
    )


def placeholder(layer: Layer, lang: str) -> BaseTraceType:
    """An empty trace standing for a layer that draws nothing in this view."""
    return point_trace(layer, None, lang, hoverinfo="skip")


def hover_template(
    lang: str, *rows: str | tuple[str, str], heading: str = "<b>%{customdata[0]}</b>"
) -> str:
    """A hover box: ``heading`` (which shows the first items of ``customdata``), then one
    line "label: value" per row showing the next item; a row is the label's i18n key, or
    (key, unit written after the value)."""
    first = heading.count("%{customdata[")
    lines = [heading]
    for i, row in enumerate(rows, start=first):
        key, unit = (row, "") if isinstance(row, str) else row
        lines.append(f"{t(key, lang)}: %{{customdata[{i}]}}{unit}")
    return "<br>".join(lines) + "<extra></extra>"


def count_note(key: str, data: gpd.GeoDataFrame, column: str, zoom: float, lang: str) -> str:
    """The note of an aggregated view (i18n ``key``): the sum of ``column`` over its groups,
    and the ``zoom`` single features start at."""
    total = int(data[column].sum()) if not data.empty else 0
    return t(key, lang, count=f"{total:,}", zoom=f"{zoom:g}")
