"""Map layers drawn by MapLibre straight from the app's vector tiles, added to the basemap
style plotly takes (``layout.map.style``: sources + layers), under the plotly traces.

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

from layers.buildings import COLOR as BUILDING_COLOR

#: Style sources and layers per map layer id, drawn while that layer is switched on.
TILE_STYLES: dict[str, dict[str, Any]] = {
    "buildings": {
        "sources": {
            "gridmap-buildings": {
                "type": "vector",
                "tiles": ["/tiles/buildings/{z}/{x}/{y}.pbf"],
                "minzoom": 12,
                "maxzoom": 14,
            }
        },
        "layers": [
            {
                "id": "tiles-building-cells",
                "type": "circle",
                "source": "gridmap-buildings",
                "source-layer": "building_cells",
                "minzoom": 12,
                "maxzoom": 14,
                "paint": {
                    "circle-color": BUILDING_COLOR,
                    "circle-opacity": 0.45,
                    "circle-radius": [
                        "interpolate", ["linear"], ["sqrt", ["get", "buildings"]],
                        1, 2, 10, 6, 40, 14,
                    ],
                },
            },
            {
                "id": "tiles-buildings",
                "type": "circle",
                "source": "gridmap-buildings",
                "source-layer": "buildings",
                "minzoom": 14,
                "maxzoom": 15,
                "paint": {
                    "circle-color": BUILDING_COLOR, "circle-opacity": 0.7, "circle-radius": 2.5,
                },
            },
        ],
    },
}  # fmt: skip


def with_tile_layers(style: dict[str, Any], origin: str, visible: Iterable[str]) -> dict[str, Any]:
    """``style`` plus the tile sources and layers of the ``visible`` map layers.

    Tile URLs are made absolute with ``origin`` (MapLibre loads tiles in a web worker)."""
    wanted = [TILE_STYLES[i] for i in visible if i in TILE_STYLES]
    if not wanted:
        return style
    out = copy.deepcopy(style)
    # plotly swaps the map's style only when its id changes.
    out["id"] = "+".join([style.get("id", "style"), *(i for i in visible if i in TILE_STYLES)])
    origin = origin.rstrip("/")
    for part in wanted:
        for name, source in part["sources"].items():
            out["sources"][name] = source | {"tiles": [origin + u for u in source["tiles"]]}
        out["layers"].extend(copy.deepcopy(part["layers"]))
    return out
