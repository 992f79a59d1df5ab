-- The case heatmap layer, the KPI tiles and ticker of the live dashboard, and its change
-- probe. Every reader takes the same filters: reported_at in [since, until) (NULL: open),
-- category, status and source lists (NULL: any) and a lon/lat box (NULL bounds: anywhere).
-- These are the filters of gridmap_cases_select (sql/functions/cases.sql), written out here
-- because this file is applied before that one; tests check both agree.

-- Located cases matching the filters counted per hexagon of heatmap level `level` (9–14;
-- edge gridmap_case_hex_size(level), the tiling of ST_HexagonGrid / ST_Hexagon in Web
-- Mercator, origin 0,0): one row per non-empty cell meeting the lon/lat box (its centre
-- within one edge of it), with the cell's total, how many are still open, and the hexagon in
-- lon/lat. Cells are counted whole — the box picks cells, not cases — so a cell's count
-- does not change while the map pans. The cells come precomputed from the index
-- cases_heat_cells (migration 0008).
CREATE OR REPLACE FUNCTION gridmap_layer_case_hexes(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    since timestamptz, until timestamptz,
    categories text[], statuses text[], sources text[],
    level integer
) RETURNS TABLE (cell_i integer, cell_j integer, cases integer, open integer, geom geometry)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH keyed AS (
        SELECT CASE level
                   WHEN 9 THEN gridmap_case_hex_key(c.geom, 9)
                   WHEN 10 THEN gridmap_case_hex_key(c.geom, 10)
                   WHEN 11 THEN gridmap_case_hex_key(c.geom, 11)
                   WHEN 12 THEN gridmap_case_hex_key(c.geom, 12)
                   WHEN 13 THEN gridmap_case_hex_key(c.geom, 13)
                   WHEN 14 THEN gridmap_case_hex_key(c.geom, 14)
               END AS k,
               c.status NOT IN ('resolved', 'closed', 'rejected') AS is_open
        FROM cases c
        WHERE c.geom IS NOT NULL
          AND (since IS NULL OR c.reported_at >= since)
          AND (until IS NULL OR c.reported_at < until)
          AND (categories IS NULL OR c.category = ANY (categories))
          AND (statuses IS NULL OR c.status = ANY (statuses))
          AND (sources IS NULL OR c.source = ANY (sources))
    ), cells AS MATERIALIZED (  -- the box filters cells, after counting
        SELECT (k >> 32)::integer AS i, ((k & 4294967295) - 2147483648)::integer AS j,
               count(*)::integer AS n, count(*) FILTER (WHERE is_open)::integer AS o
        FROM keyed
        WHERE k IS NOT NULL
        GROUP BY k
    ), frame AS (
        SELECT gridmap_case_hex_size(level) AS size,
               6378137.0 * radians(minx) AS x0, 6378137.0 * radians(maxx) AS x1,
               6378137.0 * ln(tan(pi() / 4 + radians(miny) / 2)) AS y0,
               6378137.0 * ln(tan(pi() / 4 + radians(maxy) / 2)) AS y1
    )
    SELECT cells.i, cells.j, cells.n, cells.o,
           ST_Transform(ST_SetSRID(ST_Hexagon(f.size, cells.i, cells.j), 3857), 4326)
    FROM cells, frame f
    WHERE minx IS NULL OR miny IS NULL OR maxx IS NULL OR maxy IS NULL
       OR (1.5 * f.size * cells.i BETWEEN f.x0 - f.size AND f.x1 + f.size
           AND sqrt(3.0) * f.size * (cells.j + 0.5 * (cells.i & 1))
               BETWEEN f.y0 - f.size AND f.y1 + f.size)
    ORDER BY cells.i, cells.j
$$;

-- Matching cases one per row, newest report first, at most `max_rows` (NULL: all), with
-- their grid's code and name; `located_only` leaves out cases without a position (the map).
CREATE OR REPLACE FUNCTION gridmap_layer_cases(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    since timestamptz, until timestamptz,
    categories text[], statuses text[], sources text[],
    located_only boolean DEFAULT true, max_rows integer DEFAULT NULL
) RETURNS TABLE (
    id bigint, code text, title text, category text, status text, priority smallint,
    source text, reported_at timestamptz, updated_at timestamptz, grid_id integer,
    grid_code text, grid_name text, geom geometry
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT c.id, c.code, c.title, c.category, c.status, c.priority, c.source, c.reported_at,
           c.updated_at, c.grid_id, g.code, g.name, c.geom
    FROM cases c
    LEFT JOIN grids g ON g.id = c.grid_id
    WHERE (NOT located_only OR c.geom IS NOT NULL)
      AND (since IS NULL OR c.reported_at >= since)
      AND (until IS NULL OR c.reported_at < until)
      AND (categories IS NULL OR c.category = ANY (categories))
      AND (statuses IS NULL OR c.status = ANY (statuses))
      AND (sources IS NULL OR c.source = ANY (sources))
      AND (minx IS NULL OR miny IS NULL OR maxx IS NULL OR maxy IS NULL
           OR c.geom && ST_MakeEnvelope(minx, miny, maxx, maxy, 4326))
    ORDER BY c.reported_at DESC, c.id DESC
    LIMIT max_rows
$$;

-- KPI tiles of the matching cases (no box: the whole city), judged at time `at`:
-- new since `day_start` (today's local midnight; the window does not apply), total in the
-- window, open, overdue (open and past due_at), resolved (resolved or closed), and the mean
-- hours from report to closing (closed_at, else resolved_at) of the resolved ones.
CREATE OR REPLACE FUNCTION gridmap_case_tiles(
    since timestamptz, until timestamptz,
    categories text[], statuses text[], sources text[],
    at timestamptz, day_start timestamptz
) RETURNS TABLE (
    new_today bigint, total bigint, open bigint, overdue bigint, resolved bigint,
    mean_close_hours double precision
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH f AS (
        SELECT c.status, c.reported_at, c.due_at, c.resolved_at, c.closed_at
        FROM cases c
        WHERE (categories IS NULL OR c.category = ANY (categories))
          AND (statuses IS NULL OR c.status = ANY (statuses))
          AND (sources IS NULL OR c.source = ANY (sources))
          AND ((since IS NULL OR c.reported_at >= since)
               AND (until IS NULL OR c.reported_at < until)
               OR c.reported_at >= day_start)
    )
    SELECT count(*) FILTER (WHERE reported_at >= day_start),
           count(*) FILTER (WHERE w),
           count(*) FILTER (WHERE w AND o),
           count(*) FILTER (WHERE w AND o AND due_at < at),
           count(*) FILTER (WHERE w AND status IN ('resolved', 'closed')),
           avg(extract(epoch FROM coalesce(closed_at, resolved_at) - reported_at) / 3600.0)
               FILTER (WHERE w AND status IN ('resolved', 'closed')
                       AND coalesce(closed_at, resolved_at) IS NOT NULL)
    FROM f
    CROSS JOIN LATERAL (
        SELECT (since IS NULL OR f.reported_at >= since)
               AND (until IS NULL OR f.reported_at < until) AS w,
               f.status NOT IN ('resolved', 'closed', 'rejected') AS o
    ) x
$$;

-- The dashboard's change probe: the case change counter (gridmap_meta 'case_version',
-- bumped by triggers on cases) and when it last moved; version 0 when never bumped.
CREATE OR REPLACE FUNCTION gridmap_case_version()
RETURNS TABLE (version bigint, changed_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT (value->>'version')::bigint FROM gridmap_meta
                     WHERE key = 'case_version'), 0),
           (SELECT (value->>'changed_at')::timestamptz FROM gridmap_meta
            WHERE key = 'case_version')
$$;
