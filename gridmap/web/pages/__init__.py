"""Dash pages: each module owns its layout and callbacks (component ids prefixed with the
page name) and exposes ``register(app)``, called by :func:`gridmap.web.app.create_app`.

Each page declares who may open it once, in ``ROLES``, and registers itself and its
callbacks inside :func:`gridmap.access.pages.page`: the server checks those roles for the
page and for every callback call, and the header's links follow them."""
