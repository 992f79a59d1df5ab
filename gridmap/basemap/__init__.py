"""The offline basemap's own data: features imported from OpenStreetMap (:mod:`.osm`) and
the ``gridmap basemap`` command (:mod:`.cli`). The tiles are sql/functions/basemap.sql; the
style is gridmap.web.basemap."""
