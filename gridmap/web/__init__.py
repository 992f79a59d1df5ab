"""The Dash web dashboard: app factory, pages, vector tiles, i18n and the WSGI server."""
