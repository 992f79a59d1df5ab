"""Map layers drawn by MapLibre straight from the app's vector tiles, added to the basemap
style plotly takes (``layout.map.style``: sources + layers), under the plotly traces. Built
from the registered layers' :class:`~layers.specs.TileSpec` (``style_layers``).

Where the tiles help: the buildings layer draws plotly markers (with hover details) from zoom
15, where a view holds a few thousand buildings; below it a city view holds hundreds of
thousands, so the map shows the tiles' per-cell counts (zoom 12–14) and single building dots
(zoom 14–15) instead of nothing. The tiles are cached by the browser per tile, so panning
costs no callback round trip.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from layers import LAYERS, Layer

#: The basemap style's mark on its label layers (``metadata``).
LABELS = "gridmap:labels"


def tile_style(layer: Layer) -> dict[str, Any] | None:
    """The style sources and layers drawing a map layer's tiles (None: it draws none)."""
    spec = layer.tiles
    if spec is None or spec.source_zooms is None or not spec.style_layers:
        return None
    source = f"gridmap-{layer.id}"
    low, high = spec.source_zooms
    tiles = f"/tiles/{layer.id}/{{z}}/{{x}}/{{y}}.pbf"
    return {
        "sources": {source: {"type": "vector", "tiles": [tiles], "minzoom": low, "maxzoom": high}},
        "layers": [
            {"id": part["id"], "type": part["type"], "source": source, **part}
            for part in spec.style_layers
        ],
    }


def tile_styles() -> dict[str, dict[str, Any]]:
    """Style sources and layers per map layer id, drawn while that layer is switched on."""
    found = {}
    for layer in LAYERS:
        style = tile_style(layer)
        if style is not None:
            found[layer.id] = style
    return found


def with_tile_layers(style: dict[str, Any], origin: str, visible: Iterable[str]) -> dict[str, Any]:
    """``style`` plus the tile sources and layers of the ``visible`` map layers.

    Tile URLs are made absolute with ``origin`` (MapLibre loads tiles in a web worker)."""
    styles = tile_styles()
    visible = list(visible)
    wanted = [styles[i] for i in visible if i in styles]
    if not wanted:
        return style
    out = copy.deepcopy(style)
    # plotly swaps the map's style only when its id changes.
    out["id"] = "+".join([style.get("id", "style"), *(i for i in visible if i in styles)])
    origin = origin.rstrip("/")
    # under the basemap's names (layers marked "gridmap:labels"), so the overlays hide none
    labels = [i for i, lay in enumerate(out["layers"]) if lay.get("metadata", {}).get(LABELS)]
    at = labels[0] if labels else len(out["layers"])
    added = []
    for part in wanted:
        for name, source in part["sources"].items():
            out["sources"][name] = source | {"tiles": [origin + u for u in source["tiles"]]}
        added.extend(copy.deepcopy(part["layers"]))
    out["layers"][at:at] = added
    return out
