"""Composition only: the gridmap Dash app, and ``server`` for WSGI servers."""

from gridmap.web.app import create_app

app = create_app()
server = app.server
