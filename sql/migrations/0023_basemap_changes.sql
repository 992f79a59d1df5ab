-- The basemap's vector tiles (sql/functions/basemap.sql) read the basemap features, the
-- service points (landmarks) and the district and street names besides the tables 0022
-- tracks: count their changes too, so the tile cache keeps basemap tiles and drops them
-- when an import or an edit changes what they show.
SELECT gridmap_track_changes(t)
FROM unnest(ARRAY['basemap_features', 'service_points', 'districts', 'streets']::regclass[]) t;
