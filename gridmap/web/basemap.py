"""The offline basemap: a MapLibre style drawing the project's own vector tiles
(``/tiles/basemap``: water, parks, roads by class, buildings from zoom 15, district, street
and community names) in a light or a dark palette; a raster tile source under them when
``basemap_tiles`` is set.

The style names no ``glyphs`` URL and no sprite, so MapLibre (6.x, bundled with plotly)
draws every label with the fonts installed where the browser runs (the ``text-font`` names:
Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, then ``sans-serif``),
and nothing is fetched from elsewhere. Colours are ``@name`` tokens in
``assets/basemap-style.json``, filled from the palette of the theme (the style's
``metadata["gridmap:palettes"]``).

Under the names lie the overlay slots: invisible layers, one per trace type, map layer and
trace of that type in the layer, in drawing order. :func:`stacked` sets each trace's
``below`` to its own slot. Plotly removes and adds again, on every update, the MapLibre
layers of all traces that share a ``below`` value (to keep their order), and MapLibre then
lays out those layers' data anew: with a slot each, an update touches only what changed."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any, Literal

from plotly.basedatatypes import BaseTraceType

from gridmap.settings import ASSETS_DIR

STYLE_PATH = ASSETS_DIR / "basemap-style.json"
RASTER_SOURCE = "gridmap-raster"
PALETTES_KEY = "gridmap:palettes"
Theme = Literal["light", "dark"]
THEMES: tuple[Theme, ...] = ("light", "dark")
#: Metadata marking the basemap's name layers (overlays go under them) and the slots.
LABELS = "gridmap:labels"
SLOT = "gridmap:slot"
#: Trace types in plotly's own stacking order (choropleths under scatter points).
SLOT_TYPES = ("choroplethmap", "densitymap", "scattermap")
#: Slots per trace type and map layer (a layer's further traces of a type share its last).
SLOTS_PER_LAYER = 3
#: The slots' name for a page's own traces (of no map layer: a patrol track, a route).
PAGE_TRACES = "page"


@lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    return json.loads(STYLE_PATH.read_text(encoding="utf-8"))


def _paint(value: Any, palette: dict[str, str]) -> Any:
    """``value`` with every ``"@name"`` string replaced by the palette's colour."""
    if isinstance(value, str) and value.startswith("@"):
        return palette[value[1:]]
    if isinstance(value, list):
        return [_paint(v, palette) for v in value]
    if isinstance(value, dict):
        return {k: _paint(v, palette) for k, v in value.items()}
    return value


@lru_cache(maxsize=len(THEMES))
def _themed(theme: Theme) -> dict[str, Any]:
    template = _template()
    palettes = template["metadata"][PALETTES_KEY]
    if theme not in palettes:
        raise ValueError(f"No basemap theme {theme!r} (themes: {', '.join(palettes)}).")
    style = {k: v for k, v in template.items() if k != "metadata"}
    layers = _paint(template["layers"], palettes[theme])
    at = next((i for i, lay in enumerate(layers) if lay.get("metadata", {}).get(LABELS)), None)
    at = len(layers) if at is None else at
    style["layers"] = [*layers[:at], *_slots(), *layers[at:]]
    if theme != "light":
        style["id"] = f"{template['id']}-{theme}"
    return style


def basemap_style(
    origin: str, raster_tiles: str | None = None, theme: Theme = "light"
) -> dict[str, Any]:
    """The style dict for ``layout.map.style``, in the ``light`` or ``dark`` palette.

    MapLibre loads vector tiles in a web worker, where relative URLs do not resolve, so
    tile URLs are made absolute with ``origin`` (e.g. ``http://host:8050``).
    """
    style = copy.deepcopy(_themed(theme))
    origin = origin.rstrip("/")
    for source in style["sources"].values():
        if "tiles" in source:
            source["tiles"] = [origin + u if u.startswith("/") else u for u in source["tiles"]]
    if raster_tiles:
        style["id"] = f"{style['id']}-raster"
        style["sources"][RASTER_SOURCE] = {
            "type": "raster",
            "tiles": [raster_tiles],
            "tileSize": 256,
        }
        raster = {"id": "raster-basemap", "type": "raster", "source": RASTER_SOURCE}
        # The raster map has its own water, parks and buildings: keep only roads and names.
        style["layers"] = [
            style["layers"][0],
            raster,
            *(layer for layer in style["layers"][1:] if layer["type"] != "fill"),
        ]
    return style


def slot_id(trace_type: str, layer_id: str, k: int) -> str:
    """The slot of the ``k``-th trace of ``trace_type`` drawn by map layer ``layer_id``."""
    return f"slot-{trace_type}-{layer_id}-{min(k, SLOTS_PER_LAYER - 1)}"


@lru_cache(maxsize=1)
def _slots() -> tuple[dict[str, Any], ...]:
    """The style's overlay slots, bottom to top (see the module's docstring)."""
    from layers import LAYERS

    return tuple(
        {
            "id": slot_id(trace_type, name, k),
            "type": "background",
            "layout": {"visibility": "none"},
            "metadata": {SLOT: True},
        }
        for trace_type in SLOT_TYPES
        for name in [*(layer.id for layer in LAYERS), PAGE_TRACES]
        for k in range(SLOTS_PER_LAYER)
    )


def stacked(traces: list[BaseTraceType]) -> list[BaseTraceType]:
    """``traces`` each ``below`` its own slot (of its map layer, ``meta["layer"]``; of the
    page above them for a trace of no map layer), unless it names its ``below`` already.

    An empty trace gets one point without a place (drawn nowhere): plotly reads the
    ``below`` of a trace with data only, and gives an empty one the ``below`` of the trace
    before it, which would then share it (and be laid out anew on every update)."""
    slots = {slot["id"] for slot in _slots()}
    seen: dict[tuple[str, str], int] = {}
    for trace in traces:
        layer = trace.meta.get("layer") if isinstance(trace.meta, dict) else None
        layer = str(layer) if slot_id(trace.type, str(layer), 0) in slots else PAGE_TRACES
        key = (trace.type, layer)
        slot = slot_id(trace.type, layer, seen.get(key, 0))
        if trace.below is None and slot in slots:
            trace.below = slot
            seen[key] = seen.get(key, 0) + 1
            _placeless_point(trace)
    return traces


def _placeless_point(trace: BaseTraceType) -> None:
    """One point without a place in an empty scatter or choropleth trace (see
    :func:`stacked`), unless plotly's legend lists it (it would list it then)."""
    if trace.showlegend:
        return
    if trace.type == "scattermap" and not (len(trace.lat or ()) and len(trace.lon or ())):
        trace.update(lat=[None], lon=[None])
    elif trace.type == "choroplethmap" and not (len(trace.locations or ()) and len(trace.z or ())):
        trace.update(locations=[""], z=[None])
