"""The offline basemap: a MapLibre style drawing the project's own vector tiles
(``/tiles/basemap``: water, parks, roads by class, buildings from zoom 15, district, street
and community names) in a light or a dark palette; a raster tile source under them when
``basemap_tiles`` is set.

The style names no ``glyphs`` URL and no sprite, so MapLibre (6.x, bundled with plotly)
draws every label with the fonts installed where the browser runs (the ``text-font`` names:
Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, then ``sans-serif``),
and nothing is fetched from elsewhere. Colours are ``@name`` tokens in
``assets/basemap-style.json``, filled from the palette of the theme (the style's
``metadata["gridmap:palettes"]``)."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any, Literal

from gridmap.settings import ASSETS_DIR

STYLE_PATH = ASSETS_DIR / "basemap-style.json"
RASTER_SOURCE = "gridmap-raster"
PALETTES_KEY = "gridmap:palettes"
Theme = Literal["light", "dark"]
THEMES: tuple[Theme, ...] = ("light", "dark")


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
    style["layers"] = _paint(template["layers"], palettes[theme])
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
