"""A live HTTP server (werkzeug, threaded) with the OGC API, tiles and OpenAPI blueprints."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import flask
import requests
from werkzeug.serving import make_server

from gridmap.db.app import URL_KEY
from gridmap.ogc import register_ogc
from gridmap.openapi import blueprint as openapi_blueprint
from gridmap.web.tiles import tiles


@dataclass
class Live:
    """Base URL of the server and a requests session on it."""

    url: str
    session: requests.Session

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.url + path, timeout=60, **kwargs)


@contextmanager
def serve(database_url: str) -> Iterator[Live]:
    """The OGC API, tiles and OpenAPI routes on 127.0.0.1 (free port) over ``database_url``."""
    app = flask.Flask("gridmap-ogc-test")
    app.config[URL_KEY] = database_url
    register_ogc(app)
    app.register_blueprint(tiles)
    app.register_blueprint(openapi_blueprint)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with requests.Session() as session:
            yield Live(f"http://127.0.0.1:{server.server_port}", session)
    finally:
        server.shutdown()
        thread.join(5)
