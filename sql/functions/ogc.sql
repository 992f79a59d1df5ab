-- Readers of the OGC API – Features collections that have no map layer of their own.

-- Case aggregates: cases reported in [since, until) with a location, counted per grid and
-- local day (in time zone `tz`), on grids intersecting the box. One feature per grid and
-- day, id '<grid id>-<YYYY-MM-DD>', with the grid's polygon. The conditions are those of
-- gridmap_layer_cases (located_only, no other filter), so a window means the same thing on
-- the map and in the API; cases is read directly to skip that function's newest-first sort
-- (2 M cases: a sort of every row before counting).
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
        FROM cases c
        WHERE c.geom IS NOT NULL AND c.grid_id IS NOT NULL
          AND gridmap_case_in_window(c.reported_at, since, until)
        GROUP BY 1, 2
    ) a
    JOIN grids g ON g.id = a.grid_id
    WHERE gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL
       OR g.geom && gridmap_view_envelope(minx, miny, maxx, maxy)
$$;
