"""The deterministic demo city: generation (:mod:`gridmap.demo.city`) and bulk loading
into PostGIS (:mod:`gridmap.demo.load`)."""
