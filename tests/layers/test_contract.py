"""The layer contract: a new overlay is one module, its SQL function(s) and its i18n keys.

The test writes a layer module into a temporary directory (nothing in the tree is edited),
creates its SQL functions in the test database, adds its labels to the i18n catalogue and
registers it; the map page's toggle and legend, the vector tiles and their map style, the
print colours, the OGC API collection and file exports then all carry it.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from dash import Dash
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gridmap.i18n import MESSAGES
from gridmap.io import printmap
from gridmap.io.export import ExportRequest, export_data
from gridmap.ogc.collections import collections
from gridmap.web.app import create_app
from gridmap.web.pages import map as map_page
from gridmap.web.tile_overlays import tile_styles, with_tile_layers
from gridmap.web.tiles import tilesets
from layers import LAYERS, Layer, LayerContext, LayerError, get_layer, layer_ids
from tests.signin import client_sign_in, ensure_account

LAYER_ID = "contract_wells"

#: The new layer's whole module.
MODULE = '''
"""Wells: points coloured by kind (a layer written only for the contract test)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import geopandas as gpd

from layers.base import FeatureLayer, point_trace
from layers.specs import CollectionSpec, ColorBy, Style, TileSpec

KIND_COLORS = {"deep": "#1d4ed8", "shallow": "#38bdf8"}
SQL = "SELECT * FROM gridmap_layer_contract_wells(:minx, :miny, :maxx, :maxy, :max_rows)"
STYLE = Style(ColorBy.each("kind", KIND_COLORS, "contract_wells.{}"))


@dataclass(frozen=True)
class WellsLayer(FeatureLayer):
    id: str = "contract_wells"
    title: str = "layer.contract_wells"
    max_features: int | None = 100

    sql: ClassVar[str] = SQL
    columns: ClassVar[tuple[str, ...]] = ("id", "kind")
    style: ClassVar[Style | None] = STYLE
    tiles: ClassVar[TileSpec | None] = TileSpec(
        function="gridmap_tile_contract_wells",
        minzoom=0,
        vector_layers={"wells": ({"kind": "String"}, 0, 22)},
        description="Wells.",
        source_zooms=(0, 14),
        style_layers=(
            {"id": "tiles-wells", "type": "circle", "source-layer": "wells",
             "paint": {"circle-color": "#1d4ed8"}},
        ),
    )
    collection: ClassVar[CollectionSpec | None] = CollectionSpec(SQL, {"max_rows": None})

    def draw(self, data: gpd.GeoDataFrame, lang: str) -> list:
        return [point_trace(self, data, lang, marker={"color": STYLE.color.colors(data)})]
'''

#: The layer's SQL functions (what sql/functions/<layer>.sql would hold).
FUNCTIONS = """
CREATE OR REPLACE FUNCTION gridmap_layer_contract_wells(
    minx float8, miny float8, maxx float8, maxy float8, max_rows integer
) RETURNS TABLE (id integer, kind text, geom geometry)
LANGUAGE sql STABLE AS $$
    SELECT w.id, w.kind, ST_SetSRID(ST_MakePoint(w.lon, w.lat), 4326)
    FROM (VALUES (1, 'deep', 120.01, 30.01), (2, 'shallow', 120.30, 30.30)) w(id, kind, lon, lat)
    WHERE minx IS NULL OR ST_SetSRID(ST_MakePoint(w.lon, w.lat), 4326)
                           && ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
    ORDER BY w.id
    LIMIT max_rows
$$;
CREATE OR REPLACE FUNCTION gridmap_tile_contract_wells(z integer, x integer, y integer)
RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT ST_AsMVT(q, 'wells') FROM (
        SELECT w.kind, ST_AsMVTGeom(ST_Transform(w.geom, 3857), ST_TileEnvelope(z, x, y)) AS geom
        FROM gridmap_layer_contract_wells(NULL, NULL, NULL, NULL, NULL) w
    ) q WHERE q.geom IS NOT NULL
$$;
"""
DROP = """
DROP FUNCTION IF EXISTS gridmap_tile_contract_wells(integer, integer, integer);
DROP FUNCTION IF EXISTS gridmap_layer_contract_wells(float8, float8, float8, float8, integer);
"""
#: The layer's i18n keys (what gridmap/i18n.py would hold).
LABELS = {
    "zh-CN": {
        "layer.contract_wells": "水井",
        "contract_wells.deep": "深井",
        "contract_wells.shallow": "浅井",
        "ogc.desc.contract_wells": "水井（点）。",
    },
    "en": {
        "layer.contract_wells": "Wells",
        "contract_wells.deep": "Deep well",
        "contract_wells.shallow": "Shallow well",
        "ogc.desc.contract_wells": "Wells (points).",
    },
}


@pytest.fixture(scope="module")
def wells_db(seeded_url: str, seeded_engine: Engine) -> Iterator[str]:
    with seeded_engine.begin() as conn:
        conn.execute(text(FUNCTIONS))
    yield seeded_url
    with seeded_engine.begin() as conn:
        conn.execute(text(DROP))


@pytest.fixture(scope="module")
def contract_app(wells_db: str) -> Dash:
    return create_app(wells_db)


@pytest.fixture(scope="module")
def contract_client(contract_app: Dash, wells_db: str) -> FlaskClient:
    client = contract_app.server.test_client()
    client_sign_in(client, *ensure_account(wells_db, "admin"))
    return client


@pytest.fixture
def wells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Layer]:
    """The wells layer: its module written to a temporary directory, imported, its labels
    added and an instance registered (all undone afterwards)."""
    (tmp_path / "contract_wells_layer.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("contract_wells_layer")
    monkeypatch.delitem(sys.modules, "contract_wells_layer")
    for lang, labels in LABELS.items():
        for key, label in labels.items():
            monkeypatch.setitem(MESSAGES[lang], key, label)
    with LAYERS.registered(module.WellsLayer()) as layer:
        yield layer


def test_registered_layer_is_drawn_above_the_others_under_the_cases(wells: Layer) -> None:
    assert layer_ids()[-2:] == [LAYER_ID, "cases"]
    assert get_layer(LAYER_ID) is wells
    with pytest.raises(LayerError, match="registered already"):
        LAYERS.register(wells)


def test_unregistered_layer_is_gone(wells: Layer) -> None:
    LAYERS.unregister(LAYER_ID)
    try:
        assert LAYER_ID not in layer_ids()
        assert LAYER_ID not in tilesets() and LAYER_ID not in tile_styles()
        assert LAYER_ID not in [c.id for c in collections()]
    finally:
        LAYERS.register(wells)  # the fixture unregisters it


def test_new_layer_reads_through_its_sql(wells: Layer, wells_db: str, seeded_engine: Engine):
    data = wells.query(LayerContext(seeded_engine, bbox=(120.0, 30.0, 120.1, 30.1), zoom=15))
    assert data[["id", "kind"]].to_dict("records") == [{"id": 1, "kind": "deep"}]
    assert [e.label for e in wells.legend("en")] == ["Deep well", "Shallow well"]
    assert [(e.color, e.shape) for e in wells.legend("zh-CN")] == [
        ("#1d4ed8", "circle"),
        ("#38bdf8", "circle"),
    ]


def test_map_page_has_its_toggle_and_legend(wells: Layer, contract_app: Dash) -> None:
    with contract_app.server.test_request_context("/"):
        page = map_page.layout(lang="en")
    toggle = next(
        c
        for c in page._traverse()
        if getattr(c, "id", None) == {"type": map_page.TOGGLE, "layer": LAYER_ID}
    )
    assert toggle.options == [{"label": "Wells", "value": "on"}] and toggle.value == ["on"]
    words = [getattr(c, "children", None) for c in page._traverse()]
    assert "Deep well" in words and "Shallow well" in words


def test_tiles_and_their_map_style(wells: Layer, contract_client: FlaskClient) -> None:
    doc = contract_client.get(f"/tiles/{LAYER_ID}.json")
    assert doc.status_code == 200
    assert doc.json["vector_layers"] == [
        {"id": "wells", "fields": {"kind": "String"}, "minzoom": 0, "maxzoom": 22}
    ]
    tile = contract_client.get(f"/tiles/{LAYER_ID}/0/0/0.pbf")
    assert tile.status_code == 200 and tile.data
    style = with_tile_layers({"id": "base", "sources": {}, "layers": []}, "http://h/", [LAYER_ID])
    assert style["id"] == f"base+{LAYER_ID}"
    assert style["sources"] == {
        "gridmap-contract_wells": {
            "type": "vector",
            "tiles": ["http://h/tiles/contract_wells/{z}/{x}/{y}.pbf"],
            "minzoom": 0,
            "maxzoom": 14,
        }
    }
    assert [(s["id"], s["source"]) for s in style["layers"]] == [
        ("tiles-wells", "gridmap-contract_wells")
    ]


def test_print_colours_and_legend(wells: Layer) -> None:
    frame = gpd.GeoDataFrame(
        {"kind": ["shallow", "deep", "shallow"]}, geometry=[shapely.Point(0, 0)] * 3, crs=4326
    )
    colour_of = printmap.feature_colors(LAYER_ID)
    assert colour_of is not None
    colors = colour_of(frame)
    assert colors == ["#38bdf8", "#1d4ed8", "#38bdf8"]
    shallow_only = colors[:1]
    entries = printmap.legend_entries(LAYER_ID, frame.iloc[:1], shallow_only, "en")
    assert [(e.label, e.color) for e in entries] == [("Shallow well", "#38bdf8")]


def test_ogc_collection(wells: Layer, contract_client: FlaskClient) -> None:
    listing = contract_client.get("/ogc/collections?f=json").json
    ours = next(c for c in listing["collections"] if c["id"] == LAYER_ID)
    assert (ours["title"], ours["description"]) == ("水井", "水井（点）。")
    items = contract_client.get(f"/ogc/collections/{LAYER_ID}/items?f=json&lang=en").json
    assert items["numberMatched"] == 2
    assert [(f["id"], f["properties"]["kind"]) for f in items["features"]] == [
        (1, "deep"),
        (2, "shallow"),
    ]


def test_file_export(wells: Layer, seeded_engine: Engine, tmp_path: Path) -> None:
    request = ExportRequest.from_json({"layers": [LAYER_ID], "format": "geojson"})
    target = tmp_path / "wells.geojson"
    assert export_data(seeded_engine, request, target) == {LAYER_ID: 2}
    features = json.loads(target.read_text(encoding="utf-8"))["features"]
    assert [f["properties"]["kind"] for f in features] == ["deep", "shallow"]


# -- every registered layer ------------------------------------------------------------------


class _Recording(dict):
    """A language's messages that note the keys asked for but missing."""

    def __init__(self, messages: dict[str, str], missing: set[str]) -> None:
        super().__init__(messages)
        self.missing = missing

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self.missing.add(key)
        return super().get(key, default)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_layer_has_its_i18n_keys(lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    missing: set[str] = set()
    monkeypatch.setitem(MESSAGES, lang, _Recording(MESSAGES[lang], missing))
    from gridmap.i18n import t

    for layer in LAYERS:
        assert t(layer.title, lang) != layer.title, layer.id
        assert layer.legend(lang), layer.id
        for collection in collections():
            t(collection.title, lang)
            t(collection.description, lang)
    assert missing == set()


def test_layer_reads_only_the_parameters_it_declares(seeded_engine: Engine) -> None:
    from layers.params import CircleFilter

    with pytest.raises(TypeError, match="'grids' does not read CircleFilter"):
        get_layer("grids").param(LayerContext(seeded_engine), CircleFilter)
