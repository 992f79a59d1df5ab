"""The offline basemap style: the project's own tiles, two palettes, labels in local fonts."""

from __future__ import annotations

import json

import pytest

from gridmap.web.basemap import RASTER_SOURCE, STYLE_PATH, basemap_style
from gridmap.web.tiles import BASEMAP

LAYERS = [
    "background", "water", "parks", "buildings", "road-footway", "road-minor-casing",
    "road-minor", "road-secondary-casing", "road-secondary", "road-primary-casing",
    "road-primary", "water-label", "river-label", "park-label", "road-label-minor",
    "road-label-major", "poi-dot", "poi-label", "place-community", "place-street",
    "place-district",
]  # fmt: skip


def test_style_is_offline_with_absolute_tile_urls() -> None:
    style = basemap_style("http://10.0.0.5:8050/")
    assert style["id"] == "gridmap-basemap"
    assert list(style["sources"]) == ["gridmap-basemap"]
    assert style["sources"]["gridmap-basemap"]["tiles"] == [
        "http://10.0.0.5:8050/tiles/basemap/{z}/{x}/{y}.pbf"
    ]
    assert [layer["id"] for layer in style["layers"]] == LAYERS
    # Nothing that MapLibre would fetch from elsewhere: no glyphs (labels are drawn with the
    # browser's local fonts), no sprites; every source layer is one the tiles hold.
    assert "glyphs" not in style and "sprite" not in style
    assert {layer.get("source-layer") for layer in style["layers"]} - {None} == set(
        BASEMAP.vector_layers
    )
    fonts = {tuple(layer["layout"]["text-font"]) for layer in style["layers"]
             if layer["type"] == "symbol"}  # fmt: skip
    fallback = ("Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei")
    assert fonts == {("Noto Sans CJK SC Regular", *fallback), ("Noto Sans CJK SC Bold", *fallback)}
    labels = [layer for layer in style["layers"] if layer["type"] == "symbol"]
    assert all(layer["layout"]["text-field"] == ["get", "name"] for layer in labels)
    assert all(layer["paint"]["text-halo-width"] >= 2 for layer in labels)


def test_light_and_dark_palettes() -> None:
    light, dark = basemap_style("http://h"), basemap_style("http://h", theme="dark")
    assert (light["id"], dark["id"]) == ("gridmap-basemap", "gridmap-basemap-dark")
    text = json.dumps([light, dark])
    assert '"@' not in text, "every colour token is filled"
    paint = {layer["id"]: layer.get("paint", {}) for layer in dark["layers"]}
    assert paint["background"] == {"background-color": "#0b1220"}
    assert paint["place-street"]["text-color"] == "#e2e8f0"
    assert paint["place-street"]["text-halo-color"] == "#0b1220"
    assert {layer["id"]: layer.get("paint", {}) for layer in light["layers"]}["background"] == {
        "background-color": "#f4f2ee"
    }
    # Both palettes name the same colours.
    palettes = json.loads(STYLE_PATH.read_text(encoding="utf-8"))["metadata"]["gridmap:palettes"]
    assert sorted(palettes) == ["dark", "light"]
    assert set(palettes["dark"]) == set(palettes["light"])
    with pytest.raises(ValueError, match="No basemap theme 'sepia'"):
        basemap_style("http://h", theme="sepia")  # type: ignore[arg-type]


def test_raster_tiles_go_under_the_roads_and_names() -> None:
    url = "http://tiles.intranet/{z}/{x}/{y}.png"
    style = basemap_style("http://h", url)
    assert style["sources"][RASTER_SOURCE] == {"type": "raster", "tiles": [url], "tileSize": 256}
    ids = [layer["id"] for layer in style["layers"]]
    # The raster map has its own water, parks and buildings: only roads and names stay.
    assert ids[:3] == ["background", "raster-basemap", "road-footway"]
    assert {"water", "parks", "buildings"}.isdisjoint(ids)
    assert ids[-1] == "place-district"
    assert style["id"] == "gridmap-basemap-raster"
    assert "raster-basemap" not in [layer["id"] for layer in basemap_style("http://h")["layers"]]
