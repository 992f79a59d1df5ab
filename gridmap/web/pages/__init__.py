"""Dash pages: each module owns its layout and callbacks (component ids prefixed with the
page name) and exposes ``register(app)``, called by :func:`gridmap.web.app.create_app`."""
