"""The offline basemap style: the project's own tiles, two palettes, labels in local fonts."""

from __future__ import annotations

import json

import pytest
from plotly import graph_objects as go

from gridmap.web.basemap import (
    RASTER_SOURCE,
    SLOT_TYPES,
    SLOTS_PER_LAYER,
    STYLE_PATH,
    basemap_style,
    stacked,
)
from gridmap.web.tiles import BASEMAP
from layers import LAYERS as MAP_LAYERS

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
    ids = [layer["id"] for layer in style["layers"]]
    slots = len(SLOT_TYPES) * (len(MAP_LAYERS) + 1) * SLOTS_PER_LAYER
    assert [i for i in ids if not i.startswith("slot-")] == LAYERS
    # the overlay slots lie under the names, in one block
    at = LAYERS.index("water-label")
    assert ids[at : at + slots] == [
        f"slot-{kind}-{name}-{k}" for kind in SLOT_TYPES
        for name in [*(layer.id for layer in MAP_LAYERS), "page"] for k in range(SLOTS_PER_LAYER)
    ]  # fmt: skip
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
    assert ids[3 + 7].startswith("slot-"), "the overlay slots stay, above the roads"
    assert style["id"] == "gridmap-basemap-raster"
    assert "raster-basemap" not in [layer["id"] for layer in basemap_style("http://h")["layers"]]


def test_every_trace_of_a_layer_has_a_slot_of_its_own() -> None:
    """Plotly re-adds, on every update, the layers of traces sharing a ``below``."""
    traces = [
        go.Choroplethmap(meta={"layer": "grids"}, locations=["1"], z=[1]),
        go.Scattermap(meta={"layer": "cases"}, lat=[30.0], lon=[120.0]),
        go.Scattermap(meta={"layer": "cases"}),  # empty
        go.Choroplethmap(meta={"layer": "cases"}),  # empty
        go.Scattermap(meta={"layer": "track"}, lat=[30.0], lon=[120.0]),  # no map layer
        go.Scattermap(meta={"layer": "cameras"}, below="mine", lat=[1.0], lon=[1.0]),
    ]
    out = stacked(traces)
    assert out is traces
    assert [t.below for t in traces] == [
        "slot-choroplethmap-grids-0", "slot-scattermap-cases-0", "slot-scattermap-cases-1",
        "slot-choroplethmap-cases-0", "slot-scattermap-page-0", "mine",
    ]  # fmt: skip
    # an empty trace holds one point without a place (plotly reads `below` of data only)
    assert (traces[2].lat, traces[2].lon) == ((None,), (None,))
    assert (traces[3].locations, traces[3].z) == (("",), (None,))
    assert (traces[1].lat, traces[4].lat) == ((30.0,), (30.0,))
    slots = {layer["id"] for layer in basemap_style("http://h")["layers"]}
    assert {t.below for t in traces[:5]} <= slots
