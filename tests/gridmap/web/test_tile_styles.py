"""The tile sets and the map's tile style are built from the layers' TileSpec: the same
documents and style the hand-written tables used to hold."""

from __future__ import annotations

import json
from pathlib import Path

from gridmap.web.tile_overlays import tile_styles, with_tile_layers
from gridmap.web.tiles import tilesets

#: The buildings' MapLibre style as it was written out by hand before it was built.
BUILDINGS_STYLE = json.loads(Path(__file__).with_name("buildings_tile_style.json").read_text())


def test_tile_sets_are_the_roads_and_the_tiled_layers() -> None:
    sets = tilesets()
    assert list(sets) == ["roads", "basemap", "grids", "buildings", "cameras"]
    assert [(s.name, s.function, s.minzoom, s.cache_seconds) for s in sets.values()] == [
        ("gridmap roads", "gridmap_tile_roads", 0, 3600),
        ("gridmap basemap", "gridmap_tile_basemap", 0, 3600),
        ("gridmap grids", "gridmap_tile_grids", 0, 60),
        ("gridmap buildings", "gridmap_tile_buildings", 12, 60),
        ("gridmap cameras", "gridmap_tile_cameras", 8, 60),
    ]
    assert {
        name: (low, high) for name, (_, low, high) in sets["cameras"].vector_layers.items()
    } == {
        "cameras": (13, 22),
        "camera_cells": (8, 12),
    }


def test_tile_style_of_the_buildings() -> None:
    assert tile_styles() == {"buildings": BUILDINGS_STYLE}
    base = {"id": "basemap", "sources": {"osm": {"type": "raster"}}, "layers": [{"id": "osm"}]}
    style = with_tile_layers(base, "http://h:1/", ["grids", "buildings"])
    assert style["id"] == "basemap+buildings"
    assert style["sources"]["gridmap-buildings"]["tiles"] == [
        "http://h:1/tiles/buildings/{z}/{x}/{y}.pbf"
    ]
    assert style["layers"] == [{"id": "osm"}, *BUILDINGS_STYLE["layers"]]
    assert with_tile_layers(base, "http://h:1/", ["grids"]) is base
    # under the basemap's names
    label = {"id": "names", "metadata": {"gridmap:labels": True}}
    labelled = {**base, "layers": [{"id": "osm"}, label, {"id": "more-names"}]}
    style = with_tile_layers(labelled, "http://h:1/", ["buildings"])
    assert style["layers"] == [
        {"id": "osm"}, *BUILDINGS_STYLE["layers"], label, {"id": "more-names"}
    ]  # fmt: skip
