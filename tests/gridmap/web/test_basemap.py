"""The offline basemap style and the gunicorn options."""

from __future__ import annotations

from gridmap.web.basemap import RASTER_SOURCE, basemap_style


def test_style_is_offline_with_absolute_tile_urls() -> None:
    style = basemap_style("http://10.0.0.5:8050/")
    assert style["id"] == "gridmap-basemap"
    assert list(style["sources"]) == ["gridmap-roads"]
    assert style["sources"]["gridmap-roads"]["tiles"] == [
        "http://10.0.0.5:8050/tiles/roads/{z}/{x}/{y}.pbf"
    ]
    assert [layer["id"] for layer in style["layers"]] == [
        "background",
        "roads-minor",
        "roads-footway",
        "roads-major-casing",
        "roads-major",
    ]
    # Nothing that MapLibre would fetch from elsewhere: no glyphs, no sprites.
    assert "glyphs" not in style and "sprite" not in style
    assert "symbol" not in {layer["type"] for layer in style["layers"]}


def test_raster_tiles_go_under_the_roads() -> None:
    url = "http://tiles.intranet/{z}/{x}/{y}.png"
    style = basemap_style("http://h", url)
    assert style["sources"][RASTER_SOURCE] == {"type": "raster", "tiles": [url], "tileSize": 256}
    assert [layer["id"] for layer in style["layers"]][:3] == [
        "background",
        "raster-basemap",
        "roads-minor",
    ]
    assert style["id"] == "gridmap-basemap-raster"
    assert "raster-basemap" not in [layer["id"] for layer in basemap_style("http://h")["layers"]]
