-- Each building keeps its Web Mercator position (0..1 of the world's width and height, y
-- down), so the building tiles' per-cell counts at zooms 12-13 place ~80k buildings a tile
-- by plain arithmetic instead of a logarithm and a tangent per building and tile (a city's
-- z12 building tile: 130-150 -> ~50 ms). Generated: nothing can write them out of step.
-- The latitude is clamped to Web Mercator's range, so a point outside lon/lat is refused by
-- the geometry check (buildings_geom_valid), not by a failing logarithm.
ALTER TABLE buildings
    ADD COLUMN merc_x double precision
        GENERATED ALWAYS AS ((ST_X(geom) + 180) / 360) STORED,
    ADD COLUMN merc_y double precision
        GENERATED ALWAYS AS (
            (1 - ln(tan(pi() / 4 + radians(least(greatest(ST_Y(geom), -85.0511), 85.0511)) / 2))
                 / pi()) / 2
        ) STORED;

-- The tile cache (gridmap.web.tile_cache) finds the tables a tile function reads by the
-- words of its source: the buildings tiles' "households" column names the households table
-- of migration 0024 too, so that table gets a change counter (or building tiles would not
-- be cached at all).
SELECT gridmap_track_changes('households');
