-- Print maps (gridmap/io/printmap.py): the roads drawn as the basemap of a printed map.

-- Road edges crossing the lon/lat box (NULL bounds = everywhere), simplified to `tolerance`
-- degrees (about half a printed pixel); the minor kinds (alley, footway) only when
-- `minor` is true, since at city scale they would grey out the page.
CREATE OR REPLACE FUNCTION gridmap_print_roads(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    tolerance double precision, minor boolean
) RETURNS TABLE (kind text, geom geometry)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT r.kind,
           CASE WHEN tolerance > 0 THEN ST_Simplify(r.geom, tolerance) ELSE r.geom END
    FROM road_edges r
    WHERE (gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL
           OR r.geom && gridmap_view_envelope(minx, miny, maxx, maxy))
      AND (minor OR r.kind IN ('primary', 'secondary', 'residential'))
$$;
