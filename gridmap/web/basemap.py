"""The offline basemap: a MapLibre style with a plain background and the project's own
roads as vector tiles; a raster tile source under them when ``basemap_tiles`` is set."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from gridmap.settings import ASSETS_DIR

STYLE_PATH = ASSETS_DIR / "basemap-style.json"
RASTER_SOURCE = "gridmap-raster"


@lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    return json.loads(STYLE_PATH.read_text(encoding="utf-8"))


def basemap_style(origin: str, raster_tiles: str | None = None) -> dict[str, Any]:
    """The style dict for ``layout.map.style``.

    MapLibre loads vector tiles in a web worker, where relative URLs do not resolve, so
    tile URLs are made absolute with ``origin`` (e.g. ``http://host:8050``).
    """
    style = copy.deepcopy(_template())
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
        style["layers"].insert(1, raster)
    return style
