-- Readers of the OGC API – Features collections that have no map layer of their own.

-- Case aggregates: cases reported in [since, until) (the case layer's filters, so a window
-- means the same thing on the map and in the API), counted per grid and local day (in time
-- zone `tz`), on grids intersecting the box. One feature per grid and day, id
-- '<grid id>-<YYYY-MM-DD>', with the grid's polygon.
CREATE OR REPLACE FUNCTION gridmap_ogc_case_days(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    since timestamptz, until timestamptz, tz text
) RETURNS TABLE (
    fid text, grid_id integer, grid_code text, grid_name text, day date, cases integer,
    open integer, geom geometry
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT a.grid_id || '-' || to_char(a.day, 'YYYY-MM-DD'), a.grid_id, g.code, g.name, a.day,
           a.cases, a.open, g.geom
    FROM (
        SELECT c.grid_id, (c.reported_at AT TIME ZONE tz)::date AS day,
               count(*)::integer AS cases,
               count(*) FILTER (WHERE gridmap_case_is_open(c.status))::integer AS open
        FROM gridmap_layer_cases(NULL, NULL, NULL, NULL, since, until, NULL, NULL, NULL,
                                 true, NULL) c
        WHERE c.grid_id IS NOT NULL
        GROUP BY 1, 2
    ) a
    JOIN grids g ON g.id = a.grid_id
    WHERE gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL
       OR g.geom && gridmap_view_envelope(minx, miny, maxx, maxy)
$$;
