-- The case heatmap layer, the KPI tiles and ticker of the live dashboard, and its change
-- probe. Every reader takes the same filters: reported_at in [since, until) (NULL: open),
-- category, status and source lists (NULL: any) and a lon/lat box (NULL bounds: anywhere).
-- These are the filters of gridmap_cases_select (sql/functions/cases.sql), written out here
-- because this file is applied before that one; tests check both agree.

-- Located cases matching the filters counted per hexagon of edge `size` metres in Web
-- Mercator (the tiling of ST_HexagonGrid / ST_Hexagon, origin 0,0): one row per non-empty
-- cell with its total, how many are still open, and the hexagon in lon/lat. A case is
-- counted in the cell whose centre is nearest (of the two candidate columns).
CREATE OR REPLACE FUNCTION gridmap_layer_case_hexes(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    since timestamptz, until timestamptz,
    categories text[], statuses text[], sources text[],
    size double precision
) RETURNS TABLE (cell_i integer, cell_j integer, cases integer, open integer, geom geometry)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH m AS (
        SELECT c.status,
               6378137.0 * radians(ST_X(c.geom)) AS x,
               6378137.0 * ln(tan(pi() / 4 + radians(ST_Y(c.geom)) / 2)) AS y
        FROM cases c
        WHERE c.geom IS NOT NULL
          AND (since IS NULL OR c.reported_at >= since)
          AND (until IS NULL OR c.reported_at < until)
          AND (categories IS NULL OR c.category = ANY (categories))
          AND (statuses IS NULL OR c.status = ANY (statuses))
          AND (sources IS NULL OR c.source = ANY (sources))
          AND (minx IS NULL OR miny IS NULL OR maxx IS NULL OR maxy IS NULL
               OR c.geom && ST_MakeEnvelope(minx, miny, maxx, maxy, 4326))
    ), cells AS (
        SELECT m.status,
               CASE WHEN d.da <= d.db THEN k.ia ELSE k.ia + 1 END AS ci,
               CASE WHEN d.da <= d.db THEN k.ja ELSE k.jb END AS cj
        FROM m
        CROSS JOIN LATERAL (
            SELECT a.ia,
                   round(m.y / (size * sqrt(3.0)) - 0.5 * (a.ia & 1))::integer AS ja,
                   round(m.y / (size * sqrt(3.0)) - 0.5 * ((a.ia + 1) & 1))::integer AS jb
            FROM (SELECT floor(m.x / (1.5 * size))::integer AS ia) a
        ) k
        CROSS JOIN LATERAL (
            SELECT (m.x - 1.5 * size * k.ia) ^ 2
                   + (m.y - size * sqrt(3.0) * (k.ja + 0.5 * (k.ia & 1))) ^ 2 AS da,
                   (m.x - 1.5 * size * (k.ia + 1)) ^ 2
                   + (m.y - size * sqrt(3.0) * (k.jb + 0.5 * ((k.ia + 1) & 1))) ^ 2 AS db
        ) d
    )
    SELECT ci, cj, count(*)::integer,
           count(*) FILTER (WHERE status NOT IN ('resolved', 'closed', 'rejected'))::integer,
           ST_Transform(ST_SetSRID(ST_Hexagon(size, ci, cj), 3857), 4326)
    FROM cells
    GROUP BY ci, cj
    ORDER BY ci, cj
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
