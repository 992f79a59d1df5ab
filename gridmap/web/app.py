"""The Dash app factory: Flask server with health, tile and API routes, then the pages."""

from __future__ import annotations

import dash
from dash import Dash, html
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from gridmap.api import register_api
from gridmap.db.app import URL_KEY, register_read_routing
from gridmap.i18n import t
from gridmap.ogc import register_ogc
from gridmap.openapi import blueprint as openapi_blueprint
from gridmap.settings import ASSETS_DIR, get_settings
from gridmap.web import delivery
from gridmap.web.health import health
from gridmap.web.pages import lead as lead_page
from gridmap.web.pages import map as map_page
from gridmap.web.pages import patrols as patrols_page
from gridmap.web.pages import planning as planning_page
from gridmap.web.pages import wall as wall_page
from gridmap.web.tiles import tiles

INDEX = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
{%metas%}
<title>{%title%}</title>
{%favicon%}
{%css%}
</head>
<body>
{%app_entry%}
<footer>{%config%}{%scripts%}{%renderer%}</footer>
</body>
</html>"""


def create_app(database_url: str | None = None) -> Dash:
    """The gridmap dashboard; ``database_url`` overrides the settings (tests, tools)."""
    server = Flask("gridmap.web")
    server.config[URL_KEY] = database_url
    hops = get_settings().proxy_hops
    if hops:  # behind HAProxy: the client's address and scheme are the forwarded ones
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    server.register_blueprint(health)
    server.register_blueprint(tiles)
    register_api(server)  # installs the sign-in guard first
    register_read_routing(server)
    register_ogc(server)
    server.register_blueprint(openapi_blueprint)
    app = Dash(
        "gridmap.web",
        server=server,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS_DIR),
        title=t("app.title", "zh-CN"),
        update_title=None,
        serve_locally=True,
        suppress_callback_exceptions=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.index_string = INDEX
    delivery.install(app, get_settings())
    map_page.register(app)
    patrols_page.register(app)
    planning_page.register(app)
    lead_page.register(app)
    wall_page.register(app)
    app.layout = html.Div(dash.page_container, className="app-root")
    return app
