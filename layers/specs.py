"""The optional declarative parts of a :class:`layers.base.Layer`, from which the rest of the
app is built: the vector tiles (:class:`TileSpec` → ``/tiles`` and the map's tile style),
the OGC API feature collection (:class:`CollectionSpec` → ``/ogc/collections``) and the
colours (:class:`Style` → legends and print maps).

Each part is plain data; a layer without one simply has no tiles, no collection, or draws
in its legend's first colour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd

from gridmap.i18n import t

Shape = Literal["fill", "circle", "line"]
#: Colour of a value no class names.
OTHER_COLOR = "#64748b"
#: The highest zoom tiles are served for (MapLibre's).
MAX_ZOOM = 22


@dataclass(frozen=True)
class LegendEntry:
    """One line of a legend: a label and the mark drawn for it."""

    label: str
    color: str
    shape: Shape = "circle"
    #: Drawn only when the map is zoomed out (e.g. community outlines): a print, drawn at
    #: one scale, leaves the entry out.
    zoomed_out: bool = False


# -- vector tiles ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TileSpec:
    """A layer's vector tiles: the SQL function ``function(z, x, y) → bytea`` (MVT), what the
    tiles hold, and how the map draws them.

    ``vector_layers``: MVT layer name → (fields, minzoom, maxzoom), for TileJSON.
    ``style_layers``: MapLibre style layers drawing the tiles while the map layer is on
    (their ``source`` is filled in), loaded from zoom ``source_zooms[0]`` to
    ``source_zooms[1]`` (None: the map does not draw the tiles).
    """

    function: str
    minzoom: int
    vector_layers: Mapping[str, tuple[Mapping[str, str], int, int]]
    description: str = ""
    #: Browsers may reuse a tile for this long (seconds).
    cache_seconds: int = 60
    style_layers: Sequence[Mapping[str, Any]] = ()
    source_zooms: tuple[int, int] | None = None


# -- OGC API feature collection --------------------------------------------------------------


@dataclass(frozen=True)
class CollectionSpec:
    """A layer's OGC API feature collection, read by the layer's own SQL with the arguments
    of its ``export(ctx)`` (no view caps, exact geometry).

    ``sql`` selects the features with the bbox as ``:minx, :miny, :maxx, :maxy`` (NULL: all);
    ``args`` are its other parameters (constants). The rest as in
    :class:`gridmap.ogc.collections.Collection`.
    """

    sql: str
    args: Mapping[str, Any] = field(default_factory=dict)
    #: Collection id (default: the layer's id) and the i18n key of its description (default:
    #: ``ogc.desc.<collection id>``).
    id: str | None = None
    description: str | None = None
    fid: str = "id"
    numeric_fid: bool = True
    order: str = "1"
    temporal: str | None = None
    extent_sql: str | None = None
    hidden: tuple[str, ...] = ()


# -- colours ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColorClass:
    """One legend line of a colour channel: its label (an i18n key, or a function of the
    language), its colour and the column values drawn in it."""

    label: str | Callable[[str], str]
    color: str
    values: tuple[Any, ...] = ()

    def text(self, lang: str) -> str:
        return self.label(lang) if callable(self.label) else t(self.label, lang)


class ColorChannel:
    """How a layer colours each feature (the same colours its traces use)."""

    #: Whether a print's legend keeps only the classes of colours actually drawn.
    filters_legend: bool = True

    def colors(self, frame: gpd.GeoDataFrame) -> list[str]:
        """One colour per row of ``frame``."""
        raise NotImplementedError

    def legend(self, lang: str, shape: Shape) -> list[LegendEntry]:
        """Legend entries of the colours (none by default)."""
        return []


@dataclass(frozen=True)
class ColorBy(ColorChannel):
    """Colour by a column's value: each :class:`ColorClass` colours its ``values``."""

    column: str
    classes: tuple[ColorClass, ...]
    default: str = OTHER_COLOR

    @classmethod
    def each(
        cls, column: str, colors: Mapping[str, str], label: str | Callable[[str, str], str]
    ) -> ColorBy:
        """One class per value: ``label`` is an i18n key pattern with ``{}`` for the value
        (``"camera.{}"``), or a function ``(value, lang) → label``."""

        def labeller(value: str) -> str | Callable[[str], str]:
            if callable(label):
                return lambda lang: label(value, lang)
            return label.format(value)

        return cls(column, tuple(ColorClass(labeller(v), c, (v,)) for v, c in colors.items()))

    @property
    def mapping(self) -> dict[Any, str]:
        """Value → colour."""
        return {v: c.color for c in self.classes for v in c.values}

    def colors(self, frame: gpd.GeoDataFrame) -> list[str]:
        mapping = self.mapping
        return [mapping.get(v, self.default) for v in frame[self.column]]

    def legend(self, lang: str, shape: Shape) -> list[LegendEntry]:
        return [LegendEntry(c.text(lang), c.color, shape) for c in self.classes]


@dataclass(frozen=True)
class ColorByPalette(ColorChannel):
    """Colour by an integer column modulo a palette (neighbours apart, no meaning per colour:
    a print keeps the whole legend)."""

    column: str
    palette: tuple[str, ...]
    filters_legend = False

    def colors(self, frame: gpd.GeoDataFrame) -> list[str]:
        n = len(self.palette)
        return [self.palette[int(v) % n] for v in frame[self.column]]


@dataclass(frozen=True)
class ColorByFunction(ColorChannel):
    """Colour computed from the frame by the layer (e.g. by age of a time stamp)."""

    function: Callable[[gpd.GeoDataFrame], list[str]]
    #: The classes of colours the function gives (legend order).
    classes: tuple[ColorClass, ...] = ()

    def colors(self, frame: gpd.GeoDataFrame) -> list[str]:
        return self.function(frame)

    def legend(self, lang: str, shape: Shape) -> list[LegendEntry]:
        return [LegendEntry(c.text(lang), c.color, shape) for c in self.classes]


@dataclass(frozen=True)
class Style:
    """A layer's colours: per feature (``color``; None: the legend's first colour of the
    drawn shape), the ``shape`` its legend draws them as, and the fill opacity of a print."""

    color: ColorChannel | None = None
    shape: Shape = "circle"
    fill_opacity: float = 0.3

    def legend(self, lang: str) -> list[LegendEntry]:
        """The colour channel's legend entries."""
        return self.color.legend(lang, self.shape) if self.color is not None else []


__all__ = [
    "MAX_ZOOM",
    "OTHER_COLOR",
    "CollectionSpec",
    "ColorBy",
    "ColorByFunction",
    "ColorByPalette",
    "ColorChannel",
    "ColorClass",
    "LegendEntry",
    "Style",
    "TileSpec",
]
