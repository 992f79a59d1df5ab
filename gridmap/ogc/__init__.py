"""OGC API – Features (Part 1 core) at ``/ogc`` for GIS clients (QGIS, GDAL/OGR, OWSLib):
landing page, conformance, collections, items (bbox, limit/offset paging, datetime) and single
items, as GeoJSON or HTML. The collections and their readers are in :mod:`.collections`.

Why not pygeoapi: it is a whole server (its own config, provider plugins, templates and
OpenAPI generator) that would read PostGIS through its own SQL, so filters and access rules
would be implemented twice; the core part of the standard is a few routes over the layers'
readers, which keeps one query per layer for the map, exports and this API.
"""

from __future__ import annotations

from flask import Flask


def register_ogc(server: Flask) -> None:
    """Mount the OGC API blueprint at ``/ogc``."""
    from gridmap.ogc.views import blueprint

    server.register_blueprint(blueprint)
