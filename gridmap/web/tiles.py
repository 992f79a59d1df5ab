"""Vector tiles served by the app itself (the offline basemap's roads), from PostGIS
``ST_AsMVT`` through ``gridmap_tile_roads(z, x, y)``."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gridmap.errors import GridmapError
from gridmap.web.database import app_engine

MVT_TYPE = "application/vnd.mapbox-vector-tile"
MAX_ZOOM = 22
#: Roads change rarely; browsers and proxies may reuse a tile for this long (seconds).
CACHE_SECONDS = 3600

tiles = Blueprint("tiles", __name__)


def _error(message: str, status: int) -> tuple[Response, int]:
    response = jsonify(error=message)
    response.headers["Cache-Control"] = "no-store"
    return response, status


@tiles.get("/tiles/roads/<int:z>/<int:x>/<int:y>.pbf")
def roads_tile(z: int, x: int, y: int) -> Response | tuple[Response, int]:
    """One roads tile: 200 with MVT bytes, 204 when no road crosses it, 404 off the grid."""
    if z > MAX_ZOOM or x >= 2**z or y >= 2**z:
        return _error(f"No tile {z}/{x}/{y}: zoom 0-{MAX_ZOOM}, x and y below 2^zoom.", 404)
    try:
        with app_engine().connect() as conn:
            data = conn.execute(
                text("SELECT gridmap_tile_roads(:z, :x, :y)"), {"z": z, "x": x, "y": y}
            ).scalar_one()
    except (SQLAlchemyError, GridmapError):
        return _error("The database is not available; the tile cannot be made.", 503)
    data = bytes(data or b"")
    etag = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    response = Response(data, status=200 if data else 204, mimetype=MVT_TYPE)
    if not data:
        del response.headers["Content-Type"]
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response.set_etag(etag)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


@tiles.get("/tiles/roads.json")
def roads_tilejson() -> Response:
    """TileJSON 3.0 describing the roads tiles."""
    template = url_for("tiles.roads_tile", z=0, x=0, y=0, _external=True)
    template = template.replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf")
    return jsonify(
        tilejson="3.0.0",
        name="gridmap roads",
        tiles=[template],
        minzoom=0,
        maxzoom=MAX_ZOOM,
        vector_layers=[{"id": "roads", "fields": {"kind": "String", "name": "String"}}],
    )
