"""Vector tiles served by the app itself, from PostGIS ``ST_AsMVT`` functions: the offline
basemap's roads and every map layer declaring a :class:`~layers.specs.TileSpec` (today
buildings, grids, cameras), each with a TileJSON 3.0.0 document at ``/tiles/<layer>.json``.
Layer tiles are read as the signed-in user, so the access rules (row-level security) apply
to them as to every other read."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gridmap.access import current_user
from gridmap.access.policy import Access, allow
from gridmap.access.scope import scoped_connection
from gridmap.api.contract import ErrorOut, Reply, ResponseModel, contract
from gridmap.catchall import OTHER_METHODS, catch_all, other_methods
from gridmap.db.app import read_engine
from gridmap.errors import GridmapError
from gridmap.settings import get_settings
from gridmap.web.tile_cache import TILES
from layers import LAYERS, Layer
from layers.specs import MAX_ZOOM

MVT_TYPE = "application/vnd.mapbox-vector-tile"


@dataclass(frozen=True)
class TileSet:
    """One tiled layer: its SQL function ``f(z, x, y) → bytea`` and what its tiles hold."""

    id: str
    name: str
    function: str
    minzoom: int
    #: MVT layers in the tiles: id → (fields, minzoom, maxzoom).
    vector_layers: Mapping[str, tuple[Mapping[str, str], int, int]] = field(default_factory=dict)
    #: Browsers and proxies may reuse a tile for this long (seconds).
    cache_seconds: int = 60
    description: str = ""


#: The offline basemap's roads (not a map layer).
ROADS = TileSet(
    "roads",
    "gridmap roads",
    "gridmap_tile_roads",
    0,
    {"roads": ({"kind": "String", "name": "String"}, 0, MAX_ZOOM)},
    cache_seconds=3600,
    description="Walkable roads of the offline basemap.",
)
#: The offline basemap (not a map layer): its layers are in sql/functions/basemap.sql.
BASEMAP = TileSet(
    "basemap",
    "gridmap basemap",
    "gridmap_tile_basemap",
    0,
    {
        "water": ({"class": "String", "name": "String"}, 0, MAX_ZOOM),
        "parks": ({"class": "String", "name": "String"}, 11, MAX_ZOOM),
        "roads": ({"kind": "String", "name": "String"}, 0, MAX_ZOOM),
        "buildings": ({"floors": "Number"}, 15, MAX_ZOOM),
        "pois": ({"kind": "String", "name": "String"}, 15, MAX_ZOOM),
        "places": ({"kind": "String", "name": "String", "rank": "Number"}, 8, MAX_ZOOM),
    },
    cache_seconds=3600,
    description="The offline basemap: water, parks, roads, buildings, landmarks, place names.",
)


def layer_tileset(layer: Layer) -> TileSet | None:
    """The tile set a map layer declares (None: the layer has no tiles)."""
    spec = layer.tiles
    if spec is None:
        return None
    return TileSet(
        layer.id,
        f"gridmap {layer.id}",
        spec.function,
        spec.minzoom,
        spec.vector_layers,
        cache_seconds=spec.cache_seconds,
        description=spec.description,
    )


def tilesets() -> dict[str, TileSet]:
    """Every tile set by id: the roads, then the registered map layers' in drawing order."""
    found = {ROADS.id: ROADS, BASEMAP.id: BASEMAP}
    for layer in LAYERS:
        tileset = layer_tileset(layer)
        if tileset is not None:
            found[tileset.id] = tileset
    return found


tiles = Blueprint("tiles", __name__)


def _error(message: str, status: int) -> tuple[Response, int]:
    """The API's error body (``{"error": {"message"}}``), never cached."""
    response = jsonify(error={"message": message})
    response.headers["Cache-Control"] = "no-store"
    return response, status


def _read_tile(tileset: TileSet, z: int, x: int, y: int) -> bytes:
    """The tile's bytes, read as the signed-in user (the SQL functions are SECURITY
    INVOKER, so row-level security applies inside them), or kept by the tile cache."""
    engine, user = read_engine(), current_user()

    def make() -> bytes:
        with scoped_connection(engine, user) as conn:
            data = conn.execute(
                text(f"SELECT {tileset.function}(:z, :x, :y)"), {"z": z, "x": x, "y": y}
            ).scalar_one()
        return bytes(data or b"")

    max_bytes = get_settings().tile_cache_mb * 2**20
    return TILES.tile(engine, user, tileset.id, tileset.function, (z, x, y), make, max_bytes)


#: What a tile request answers (the document and the fuzz test read it).
TILE_REPLIES = {
    200: Reply(
        "A Mapbox vector tile.",
        {"type": "string", "format": "binary"},
        media=MVT_TYPE,
        headers={"ETag": "The tile's hash.", "Cache-Control": "How long it may be reused."},
    ),
    204: Reply("Nothing lies in the tile (or it is below the layer's minimum zoom)."),
    304: Reply("Not modified since the ETag given in If-None-Match."),
    404: Reply("No such layer, or the tile is off the tile grid.", ErrorOut),
}


class TileJsonLayer(ResponseModel):
    id: str
    fields: dict[str, str]
    minzoom: int
    maxzoom: int


class TileJson(ResponseModel):
    """TileJSON 3.0.0."""

    tilejson: str
    name: str
    description: str
    tiles: list[str]
    scheme: str
    minzoom: int
    maxzoom: int
    bounds: list[float]
    vector_layers: list[TileJsonLayer]


TILEJSON_REPLIES = {
    200: Reply("TileJSON 3.0.0 of the layer.", TileJson),
    404: Reply("No such tiled layer.", ErrorOut),
}


@tiles.get("/tiles/<layer>/<int:z>/<int:x>/<int:y>.pbf")
@allow(Access.SIGNED_IN)
@contract(responses=TILE_REPLIES)
def tile(layer: str, z: int, x: int, y: int) -> Response | tuple[Response, int]:
    """One tile: 200 with MVT bytes, 204 when nothing lies in it (or below the layer's min
    zoom), 404 for an unknown layer or a tile off the grid."""
    return _tile_response(layer, z, x, y)


@tiles.get("/tiles/roads/<int:z>/<int:x>/<int:y>.pbf")
@contract(responses=TILE_REPLIES)
def roads_tile(z: int, x: int, y: int) -> Response | tuple[Response, int]:
    """One roads tile of the offline basemap (as :func:`tile`)."""
    return _tile_response("roads", z, x, y)


def _tile_response(layer: str, z: int, x: int, y: int) -> Response | tuple[Response, int]:
    known = tilesets()
    tileset = known.get(layer)
    if tileset is None:
        return _error(f"No tiled layer {layer!r} (tiled: {', '.join(known)}).", 404)
    if z > MAX_ZOOM or x >= 2**z or y >= 2**z:
        return _error(f"No tile {z}/{x}/{y}: zoom 0-{MAX_ZOOM}, x and y below 2^zoom.", 404)
    data = b""
    if z >= tileset.minzoom:
        try:
            data = _read_tile(tileset, z, x, y)
        except (SQLAlchemyError, GridmapError):
            return _error("The database is not available; the tile cannot be made.", 503)
    etag = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    response = Response(data, status=200 if data else 204, mimetype=MVT_TYPE)
    if not data:
        del response.headers["Content-Type"]
    # Layer tiles depend on who asks (row-level security): no shared caches, and a browser
    # keeps them per signed-in session (another account signing in does not reuse them).
    scope = "public" if tileset.id in (ROADS.id, BASEMAP.id) else "private"
    response.headers["Cache-Control"] = f"{scope}, max-age={tileset.cache_seconds}"
    if scope == "private":
        response.headers["Vary"] = "Cookie, Authorization"
    response.set_etag(etag)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


def tile_url(layer: str) -> str:
    """The ``{z}/{x}/{y}`` URL template of a tiled layer (absolute, for this request)."""
    if layer == "roads":
        template = url_for("tiles.roads_tile", z=0, x=0, y=0, _external=True)
    else:
        template = url_for("tiles.tile", layer=layer, z=0, x=0, y=0, _external=True)
    return template.replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf")


@tiles.get("/tiles/<layer>.json")
@allow(Access.SIGNED_IN)
@contract(responses=TILEJSON_REPLIES)
def tilejson(layer: str) -> Response | tuple[Response, int]:
    """TileJSON 3.0.0 describing a tiled layer."""
    known = tilesets()
    tileset = known.get(layer)
    if tileset is None:
        return _error(f"No tiled layer {layer!r} (tiled: {', '.join(known)}).", 404)
    return jsonify(
        tilejson="3.0.0",
        name=tileset.name,
        description=tileset.description,
        tiles=[tile_url(layer)],
        scheme="xyz",
        minzoom=tileset.minzoom,
        maxzoom=MAX_ZOOM,
        bounds=[-180, -85.05112878, 180, 85.05112878],
        vector_layers=[
            {"id": name, "fields": fields, "minzoom": low, "maxzoom": high}
            for name, (fields, low, high) in tileset.vector_layers.items()
        ],
    )


@tiles.get("/tiles/roads.json")
@contract(responses=TILEJSON_REPLIES)
def roads_tilejson() -> Response | tuple[Response, int]:
    """TileJSON 3.0.0 describing the roads tiles (as :func:`tilejson`)."""
    return tilejson("roads")


@catch_all
@tiles.route("/tiles/", defaults={"rest": ""}, methods=list(OTHER_METHODS))
@tiles.route("/tiles/<path:rest>", methods=list(OTHER_METHODS))
@allow(Access.SIGNED_IN)
def unknown(rest: str) -> tuple[Response, int]:
    """Any other request under ``/tiles``: a JSON 404 (or 405 with ``Allow`` when the path
    exists for other methods), never the dashboard's page."""
    allowed = other_methods()
    if allowed:
        response, status = _error(
            f"{request.method} is not allowed here; use {', '.join(allowed)}.", 405
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response, status
    return _error(
        f"No tile or TileJSON at {request.path!r}: tiles are /tiles/<layer>/<z>/<x>/<y>.pbf "
        f"with whole numbers z, x, y; TileJSON is /tiles/<layer>.json (layers: "
        f"{', '.join(tilesets())}).",
        404,
    )
