"""The deterministic demo city: generation (:mod:`gridmap.demo.city`, a package of stage
modules) and bulk loading into PostGIS (:mod:`gridmap.demo.load`)."""
