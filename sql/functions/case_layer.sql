-- The case heatmap layer, the KPI tiles and ticker of the live dashboard, and its change
-- probe. Every reader takes the same filters: reported_at in [since, until) (NULL: open),
-- category, status and source lists (NULL: any) and a lon/lat box (NULL bounds: anywhere).
-- The filter is the one case predicate gridmap_case_matches (sql/functions/cases.sql; the
-- migration runner applies function files with body checks off, so the order of the files
-- does not matter).

-- Start of the UTC day `d` (the heatmap rollup's bucket, gridmap_case_heat_day).
CREATE OR REPLACE FUNCTION gridmap_case_heat_start(d date) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT d::timestamp AT TIME ZONE 'UTC'
$$;

-- The highest heatmap level whose rollup also counts per category and source.
CREATE OR REPLACE FUNCTION gridmap_case_heat_detail_level() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 11
$$;

-- How the heatmap splits the window [since, until) (NULL: open): the whole UTC days
-- [first_day, end_day) it reads from the rollup case_heat_days — never today, which keeps
-- changing — and the two partial ranges [live1_from, live1_to) and [live2_from, live2_to)
-- it counts from cases directly (the window's first partial day, and today on; the whole
-- window when it holds no whole day, the second range then empty).
CREATE OR REPLACE FUNCTION gridmap_case_heat_window(since timestamptz, until timestamptz)
RETURNS TABLE (
    first_day date, end_day date,
    live1_from timestamptz, live1_to timestamptz, live2_from timestamptz, live2_to timestamptz
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH b AS (
        SELECT coalesce(since, '-infinity') AS s, coalesce(until, 'infinity') AS u
    ), d AS (
        SELECT s, u,
               CASE WHEN s = '-infinity' THEN '-infinity'::date
                    WHEN s = gridmap_case_heat_start(gridmap_case_heat_day(s))
                        THEN gridmap_case_heat_day(s)
                    ELSE gridmap_case_heat_day(s) + 1 END AS d0,
               least(gridmap_case_heat_day(u), gridmap_case_heat_day(now())) AS d1
        FROM b
    )
    SELECT d0, d1,
           s, CASE WHEN d0 < d1 THEN gridmap_case_heat_start(d0) ELSE u END,
           CASE WHEN d0 < d1 THEN gridmap_case_heat_start(d1) ELSE u END, u
    FROM d
$$;

-- Brings the rollup case_heat_days up to date at heatmap level `heat_level` for the whole
-- days of the window [since, until): recounts each (level, day) marked stale, under a
-- transaction-scoped advisory lock per (level, day) so concurrent refreshers do not count a
-- day twice. Each recount reads cases in a snapshot taken after it removed the marks it
-- saw, so a change committed meanwhile keeps its own mark. Returns the days recounted.
-- Readers stay correct without it (gridmap_layer_case_hexes counts stale days live); the
-- layer calls it first, in its own transaction, so later reads find the days counted.
CREATE OR REPLACE FUNCTION gridmap_case_heat_refresh(
    heat_level integer, since timestamptz, until timestamptz
) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    w record;
    d date;
    done integer := 0;
BEGIN
    SELECT * INTO w FROM gridmap_case_heat_window(since, until);
    FOR d IN
        SELECT DISTINCT s.day FROM case_heat_stale s
        WHERE s.level = heat_level AND s.day >= w.first_day AND s.day < w.end_day
        ORDER BY s.day
    LOOP
        PERFORM pg_advisory_xact_lock(hashtext('gridmap_case_heat'),
                                      heat_level * 1000000 + (d - date '2000-01-01'));
        DELETE FROM case_heat_stale s WHERE s.level = heat_level AND s.day = d;
        CONTINUE WHEN NOT FOUND;  -- another refresher counted it meanwhile
        DELETE FROM case_heat_days h WHERE h.level = heat_level AND h.day = d;
        INSERT INTO case_heat_days (level, day, detail, cell_keys, cell_statuses,
                                    cell_categories, cell_sources, cell_counts)
        SELECT heat_level, d, g.detail, array_agg(g.cell), array_agg(g.status),
               array_agg(g.category), array_agg(g.source), array_agg(g.n)
        FROM (
            SELECT GROUPING(k.category, k.source) = 0 AS detail, k.cell, k.status,
                   k.category, k.source, count(*)::integer AS n
            FROM (
                SELECT gridmap_case_hex_key(c.geom, heat_level) AS cell, c.status,
                       c.category, c.source
                FROM cases c
                WHERE c.geom IS NOT NULL
                  AND c.reported_at >= gridmap_case_heat_start(d)
                  AND c.reported_at < gridmap_case_heat_start(d + 1)
            ) k
            GROUP BY GROUPING SETS ((k.cell, k.status),
                                    (k.cell, k.status, k.category, k.source))
            HAVING heat_level <= gridmap_case_heat_detail_level()
                OR GROUPING(k.category, k.source) <> 0
        ) g
        GROUP BY g.detail;
        done := done + 1;
    END LOOP;
    RETURN done;
END
$$;

-- Located cases matching the filters counted per hexagon of heatmap level `level` (9–14;
-- edge gridmap_case_hex_size(level), the tiling of ST_HexagonGrid / ST_Hexagon in Web
-- Mercator, origin 0,0): one row per non-empty cell meeting the lon/lat box (its centre
-- within one edge of it), with the cell's total, how many are still open, and the hexagon in
-- lon/lat. Cells are counted whole — the box picks cells, not cases — so a cell's count
-- does not change while the map pans. Whole days of the window come from the rollup
-- case_heat_days unless marked stale; the partial days at its ends and stale days are
-- counted from cases. Above gridmap_case_heat_detail_level() the rollup holds no category
-- or source split, so a category or source filter there counts the window from cases.
-- A reader under row-level security on cases (a grid lead: gridmap_grid_reader) never reads
-- the city-wide rollup: its hexagons count the cases of its own grids, the only ones it sees.
CREATE OR REPLACE FUNCTION gridmap_layer_case_hexes(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    since timestamptz, until timestamptz,
    categories text[], statuses text[], sources text[],
    level integer
) RETURNS TABLE (cell_i integer, cell_j integer, cases integer, open integer, geom geometry)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH w AS (
        SELECT * FROM gridmap_case_heat_window(since, until)
    ), scope AS (
        SELECT row_security_active('cases') AS scoped
    ), plan AS (
        SELECT categories IS NOT NULL OR sources IS NOT NULL AS detail,
               NOT scope.scoped
               AND ((categories IS NULL AND sources IS NULL)
                    OR level <= gridmap_case_heat_detail_level()) AS rolled,
               scope.scoped
        FROM scope
    ), stale AS (
        SELECT DISTINCT s.day
        FROM case_heat_stale s, w, plan
        WHERE plan.rolled AND s.level = gridmap_layer_case_hexes.level
          AND s.day >= w.first_day AND s.day < w.end_day
    ), ranges AS (  -- what is counted from cases: [lo, hi) report-time ranges
        SELECT r.lo, r.hi
        FROM w, plan,
             LATERAL (VALUES (w.live1_from, w.live1_to), (w.live2_from, w.live2_to)) r (lo, hi)
        WHERE plan.rolled AND r.lo < r.hi
        UNION ALL
        SELECT gridmap_case_heat_start(stale.day), gridmap_case_heat_start(stale.day + 1)
        FROM stale
        UNION ALL
        SELECT coalesce(since, '-infinity'), coalesce(until, 'infinity')
        FROM plan WHERE NOT plan.rolled AND NOT plan.scoped
    ), counted AS (
        SELECT u.cell AS k, u.status, u.n
        FROM case_heat_days h, w, plan,
             unnest(h.cell_keys, h.cell_statuses, h.cell_categories, h.cell_sources,
                    h.cell_counts)
                 AS u (cell, status, category, source, n)
        WHERE plan.rolled AND h.level = gridmap_layer_case_hexes.level
          AND h.detail = plan.detail
          AND h.day >= w.first_day AND h.day < w.end_day
          AND h.day NOT IN (SELECT stale.day FROM stale)
          AND gridmap_case_matches(NULL, u.category, u.status, u.source,
                                   NULL, NULL, categories, statuses, sources)
        UNION ALL
        SELECT x.k, x.status, 1
        FROM ranges r
        CROSS JOIN LATERAL (  -- one index range scan per range (by category when filtered:
            -- the predicate inlined gives c.category = ANY (categories), an index condition)
            SELECT gridmap_case_hex_key(c.geom, level) AS k, c.status
            FROM cases c
            WHERE categories IS NOT NULL
              AND c.reported_at >= r.lo AND c.reported_at < r.hi
              AND c.geom IS NOT NULL
              AND gridmap_case_matches(c.reported_at, c.category, c.status, c.source,
                                       since, until, categories, statuses, sources)
            UNION ALL
            SELECT gridmap_case_hex_key(c.geom, level) AS k, c.status
            FROM cases c
            WHERE categories IS NULL
              AND c.reported_at >= r.lo AND c.reported_at < r.hi
              AND c.geom IS NOT NULL
              AND gridmap_case_matches(c.reported_at, c.category, c.status, c.source,
                                       since, until, categories, statuses, sources)
            OFFSET 0  -- not pulled up: stays range scans per range
        ) x
        UNION ALL
        SELECT gridmap_case_hex_key(c.geom, level), c.status, 1  -- a scoped reader's grids
        FROM cases c
        WHERE row_security_active('cases')  -- (a one-time filter: skipped for the others)
          AND c.grid_id = ANY (CAST((SELECT gridmap_user_grids()) AS integer[]))  -- once
          -- (an InitPlan, as the policies of migration 0026: the SECURITY DEFINER function
          -- is never inlined, so a bare call ran once per case row)
          AND c.geom IS NOT NULL
          AND gridmap_case_matches(c.reported_at, c.category, c.status, c.source,
                                   since, until, categories, statuses, sources)
    ), cells AS MATERIALIZED (  -- the box filters cells, after counting
        SELECT (k >> 32)::integer AS i, ((k & 4294967295) - 2147483648)::integer AS j,
               sum(n)::integer AS n,
               (sum(n) FILTER (WHERE gridmap_case_is_open(status)))::integer
                   AS o
        FROM counted
        GROUP BY k
    ), frame AS (
        SELECT gridmap_case_hex_size(level) AS size,
               6378137.0 * radians(minx) AS x0, 6378137.0 * radians(maxx) AS x1,
               6378137.0 * ln(tan(pi() / 4 + radians(miny) / 2)) AS y0,
               6378137.0 * ln(tan(pi() / 4 + radians(maxy) / 2)) AS y1
    )
    SELECT cells.i, cells.j, cells.n, coalesce(cells.o, 0),
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
      AND gridmap_case_matches(c.reported_at, c.category, c.status, c.source,
                               since, until, categories, statuses, sources)
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
        WHERE gridmap_case_matches(c.reported_at, c.category, c.status, c.source,
                                   NULL, NULL, categories, statuses, sources)
          AND (gridmap_case_in_window(c.reported_at, since, until)
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
        SELECT gridmap_case_in_window(f.reported_at, since, until) AS w,
               gridmap_case_is_open(f.status) AS o
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
