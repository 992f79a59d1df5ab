-- Case services: the one filtered case selection (API listings, Open311, KPIs and the
-- dashboard share it, so a filter means the same everywhere), KPIs, escalation of overdue
-- cases up grid → community → street → district, and the nearest online cameras.

-- Whether a case in `status` is still being handled: not finished (resolved, closed or
-- rejected: never overdue, never escalated). Not STRICT, so the planner inlines it (a NULL
-- status gives NULL all the same) and matches the partial indexes on open cases
-- (migrations 0002, 0014), whose predicate is this expression.
CREATE OR REPLACE FUNCTION gridmap_case_is_open(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status NOT IN ('resolved', 'closed', 'rejected')
$$;

-- The case filter, one predicate for every reader (the dashboard's layer, tiles and ticker,
-- the API and Open311 listings, OGC aggregates; gridmap.cases.filters.CaseFilter holds its
-- parameters): reported_at in [since, until) (NULL: open) and category, status and source
-- among the given lists (NULL: any). Plain SQL expressions, so the planner inlines them
-- into the caller's query and still uses its indexes.
CREATE OR REPLACE FUNCTION gridmap_case_in_window(
    reported_at timestamptz, since timestamptz, until timestamptz
) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (since IS NULL OR reported_at >= since) AND (until IS NULL OR reported_at < until)
$$;

CREATE OR REPLACE FUNCTION gridmap_case_matches(
    reported_at timestamptz, category text, status text, source text,
    since timestamptz, until timestamptz,
    categories text[], statuses text[], sources text[]
) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT gridmap_case_in_window(reported_at, since, until)
           AND (categories IS NULL OR category = ANY (categories))
           AND (statuses IS NULL OR status = ANY (statuses))
           AND (sources IS NULL OR source = ANY (sources))
$$;

-- Cases matching every given filter (a NULL filter does not filter): status, category,
-- subcategory, grid, source, id and code lists; reported_at in [since, until); the lon/lat
-- box; overdue (past due_at and still open at `at`); minimum escalation level.
CREATE OR REPLACE FUNCTION gridmap_cases_select(
    statuses text[] DEFAULT NULL,
    categories text[] DEFAULT NULL,
    subcategories text[] DEFAULT NULL,
    grid_ids integer[] DEFAULT NULL,
    sources text[] DEFAULT NULL,
    since timestamptz DEFAULT NULL,
    until timestamptz DEFAULT NULL,
    minx double precision DEFAULT NULL,
    miny double precision DEFAULT NULL,
    maxx double precision DEFAULT NULL,
    maxy double precision DEFAULT NULL,
    overdue boolean DEFAULT NULL,
    at timestamptz DEFAULT now(),
    ids bigint[] DEFAULT NULL,
    codes text[] DEFAULT NULL,
    min_escalation integer DEFAULT NULL
) RETURNS SETOF cases
LANGUAGE sql STABLE AS $$
    SELECT c.* FROM cases c
    WHERE gridmap_case_matches(c.reported_at, c.category, c.status, c.source,
                               since, until, categories, statuses, sources)
      AND (subcategories IS NULL OR c.subcategory = ANY (subcategories))
      AND (grid_ids IS NULL OR c.grid_id = ANY (grid_ids))
      AND (minx IS NULL OR miny IS NULL OR maxx IS NULL OR maxy IS NULL
           OR c.geom && ST_MakeEnvelope(minx, miny, maxx, maxy, 4326))
      AND (overdue IS NULL
           OR overdue = (c.due_at IS NOT NULL AND c.due_at < at
                         AND gridmap_case_is_open(c.status)))
      AND (ids IS NULL OR c.id = ANY (ids))
      AND (codes IS NULL OR c.code = ANY (codes))
      AND (min_escalation IS NULL OR c.escalation_level >= min_escalation)
$$;

-- Key figures of the cases matching the same filters as gridmap_cases_select: totals, open,
-- overdue at `at`, resolved on time, mean satisfaction, and counts per status and category.
CREATE OR REPLACE FUNCTION gridmap_cases_kpis(
    statuses text[] DEFAULT NULL,
    categories text[] DEFAULT NULL,
    subcategories text[] DEFAULT NULL,
    grid_ids integer[] DEFAULT NULL,
    sources text[] DEFAULT NULL,
    since timestamptz DEFAULT NULL,
    until timestamptz DEFAULT NULL,
    minx double precision DEFAULT NULL,
    miny double precision DEFAULT NULL,
    maxx double precision DEFAULT NULL,
    maxy double precision DEFAULT NULL,
    overdue boolean DEFAULT NULL,
    at timestamptz DEFAULT now(),
    ids bigint[] DEFAULT NULL,
    codes text[] DEFAULT NULL,
    min_escalation integer DEFAULT NULL
) RETURNS TABLE (
    total bigint, open bigint, overdue_open bigint, escalated bigint, resolved bigint,
    resolved_on_time bigint, unassigned bigint, mean_satisfaction numeric,
    by_status jsonb, by_category jsonb
)
LANGUAGE sql STABLE AS $$
    WITH f AS (
        SELECT * FROM gridmap_cases_select(statuses, categories, subcategories, grid_ids,
            sources, since, until, minx, miny, maxx, maxy, overdue, at, ids, codes,
            min_escalation)
    )
    SELECT count(*),
           count(*) FILTER (WHERE gridmap_case_is_open(status)),
           count(*) FILTER (WHERE gridmap_case_is_open(status) AND due_at < at),
           count(*) FILTER (WHERE escalation_level > 0 AND gridmap_case_is_open(status)),
           count(*) FILTER (WHERE resolved_at IS NOT NULL),
           count(*) FILTER (WHERE resolved_at IS NOT NULL
                            AND (due_at IS NULL OR resolved_at <= due_at)),
           count(*) FILTER (WHERE grid_id IS NULL),
           round(avg(satisfaction), 2),
           coalesce((SELECT jsonb_object_agg(status, n)
                     FROM (SELECT status, count(*) AS n FROM f GROUP BY status) s), '{}'),
           coalesce((SELECT jsonb_object_agg(category, n)
                     FROM (SELECT category, count(*) AS n FROM f GROUP BY category) s), '{}')
    FROM f
$$;

-- Escalates open cases past their due time up the hierarchy (四级流转): level 1 community at
-- due_at + h1 hours, 2 street at + h2, 3 district at + h3, judged at time `at`. Records one
-- 'escalate' event per level crossed (at `at`, by `actor`, naming the unit) and returns the
-- cases raised. Locks the rows it raises; running again for the same `at` changes nothing.
CREATE OR REPLACE FUNCTION gridmap_escalate_cases(
    at timestamptz, h1 double precision, h2 double precision, h3 double precision,
    actor text DEFAULT 'system:escalation'
) RETURNS TABLE (case_id bigint, from_level smallint, to_level smallint)
LANGUAGE sql VOLATILE AS $$
    WITH candidates AS (
        SELECT c.id, c.status, c.grid_id, c.escalation_level AS previous,
               (CASE WHEN at >= c.due_at + make_interval(secs => h3 * 3600) THEN 3
                     WHEN at >= c.due_at + make_interval(secs => h2 * 3600) THEN 2
                     ELSE 1 END)::smallint AS target
        FROM cases c
        WHERE c.due_at IS NOT NULL
          AND gridmap_case_is_open(c.status)
          AND c.escalation_level < 3
          AND at >= c.due_at + make_interval(secs => h1 * 3600)
        ORDER BY c.id
        FOR UPDATE OF c
    ), raised AS (
        UPDATE cases c SET escalation_level = k.target, updated_at = now()
        FROM candidates k
        WHERE c.id = k.id AND k.target > k.previous
        RETURNING c.id, k.status, k.grid_id, k.target, k.previous
    ), events AS (
        INSERT INTO case_events (case_id, at, actor, action, from_status, to_status, note)
        SELECT r.id, at, actor, 'escalate', r.status, r.status,
               format('overdue: escalated to level %s (%s%s)', s.level,
                      (ARRAY['community 社区', 'street 街道', 'district 区'])[s.level],
                      coalesce(' ' || (ARRAY[cm.name, st.name, d.name])[s.level], ''))
        FROM raised r
        CROSS JOIN LATERAL generate_series(r.previous + 1, r.target) AS s(level)
        LEFT JOIN grids g ON g.id = r.grid_id
        LEFT JOIN communities cm ON cm.id = g.community_id
        LEFT JOIN streets st ON st.id = cm.street_id
        LEFT JOIN districts d ON d.id = st.district_id
        ORDER BY r.id, s.level
    )
    SELECT id, previous, target FROM raised ORDER BY id
$$;

-- Online cameras within radius_m metres of a point, nearest first (index-ordered KNN on
-- the geography), at most max_n, with the distance in metres on the WGS84 spheroid.
CREATE OR REPLACE FUNCTION gridmap_nearest_cameras(
    pt geometry, radius_m double precision, max_n integer
) RETURNS TABLE (
    id integer, code text, name text, kind text, status text, distance_m double precision,
    lon double precision, lat double precision, grid_id integer
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT k.id, k.code, k.name, k.kind, k.status,
           ST_Distance(k.geom::geography, pt::geography) AS distance_m,
           ST_X(k.geom), ST_Y(k.geom), k.grid_id
    FROM (
        SELECT c.* FROM cameras c
        WHERE c.status = 'online'
          AND ST_DWithin(c.geom::geography, pt::geography, radius_m)
        ORDER BY c.geom::geography <-> pt::geography
        LIMIT max_n
    ) k
    ORDER BY distance_m, k.id
$$;

-- The grid of each point (lon[i], lat[i]) by the rule of gridmap_assign_grid: the lowest id
-- among the grids the point intersects, NULL outside every grid or without a point. The bulk
-- import asks for a chunk's grids on a second session while the previous chunk is inserted.
CREATE OR REPLACE FUNCTION gridmap_grids_at(lon double precision[], lat double precision[])
RETURNS integer[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(
               (SELECT min(g.id) FROM grids g
                WHERE ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326)))
               ORDER BY p.n), '{}')
    FROM unnest(lon, lat) WITH ORDINALITY AS p (x, y, n)
$$;

-- Creates this session's staging table for a bulk case import (dropped at commit); the
-- importer COPYs validated rows, with the grid of each (gridmap_grids_at), into it, then
-- calls gridmap_import_staged_cases.
CREATE OR REPLACE FUNCTION gridmap_import_stage_create() RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    DROP TABLE IF EXISTS pg_temp.case_import_stage;
    CREATE TEMP TABLE case_import_stage (
        row_no integer NOT NULL, title text, description text, category text,
        subcategory text, source text, priority smallint, handling_type text,
        lon double precision, lat double precision, address text, reporter_name text,
        reporter_phone text, external_id text, reported_at timestamptz, due_at timestamptz,
        status text, department text, dispatched_at timestamptz, resolved_at timestamptz,
        closed_at timestamptz, satisfaction smallint, grid_id integer
    ) ON COMMIT DROP;
END
$$;

-- Moves the staged rows into cases in one INSERT … SELECT, skipping (source, external_id)
-- pairs already present (ON CONFLICT covers a concurrent import), each new case naming its
-- import run (case_imports, see migration 0016). The staged grids were looked up by
-- gridmap_grids_at, so the per-row grid trigger is switched off for this statement only
-- (gridmap.cases_grid_assigned, transaction-local, see migration 0009). Returns how many
-- cases were inserted and how many of those lie outside every grid.
DROP FUNCTION IF EXISTS gridmap_import_staged_cases(text, text);
CREATE OR REPLACE FUNCTION gridmap_import_staged_cases(run integer)
RETURNS TABLE (inserted bigint, unassigned bigint)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM set_config('gridmap.cases_grid_assigned', 'on', true);
    RETURN QUERY
    WITH ins AS (
        INSERT INTO cases (title, description, category, subcategory, source, priority,
                           handling_type, address, reporter_name, reporter_phone,
                           external_id, reported_at, due_at, status, department,
                           dispatched_at, resolved_at, closed_at, satisfaction, updated_at,
                           geom, grid_id, import_id)
        SELECT s.title, s.description, s.category, s.subcategory, s.source, s.priority,
               s.handling_type, s.address, s.reporter_name, s.reporter_phone,
               s.external_id, s.reported_at, s.due_at, s.status, s.department,
               s.dispatched_at, s.resolved_at, s.closed_at, s.satisfaction,
               greatest(s.reported_at, s.dispatched_at, s.resolved_at, s.closed_at),
               CASE WHEN s.lon IS NULL THEN NULL
                    ELSE ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) END,
               s.grid_id, run
        FROM pg_temp.case_import_stage s
        WHERE NOT EXISTS (
            SELECT 1 FROM cases c
            WHERE c.external_id IS NOT NULL AND c.source = s.source
              AND c.external_id = s.external_id)
        ORDER BY s.row_no
        ON CONFLICT (source, external_id) WHERE external_id IS NOT NULL DO NOTHING
        RETURNING grid_id
    )
    SELECT count(*), count(*) FILTER (WHERE ins.grid_id IS NULL) FROM ins;
    PERFORM set_config('gridmap.cases_grid_assigned', 'off', true);
END
$$;

-- A case's history, oldest first: its events, opened by its import when a bulk import
-- brought it in (migration 0016: the run is logged once, not as an event per case). That
-- entry has no id; its status is the one the case was imported with (the first event's
-- from_status, else the current status: events record every change).
CREATE OR REPLACE FUNCTION gridmap_case_history(case_id bigint)
RETURNS TABLE (
    id bigint, at timestamptz, actor text, action text, from_status text, to_status text,
    note text
)
LANGUAGE sql STABLE AS $$
    SELECT NULL::bigint, i.at, i.actor, 'import', NULL::text,
           coalesce((SELECT e.from_status FROM case_events e
                     WHERE e.case_id = c.id ORDER BY e.at, e.id LIMIT 1), c.status),
           'imported from ' || i.file_name
    FROM cases c JOIN case_imports i ON i.id = c.import_id
    WHERE c.id = gridmap_case_history.case_id
    UNION ALL
    (SELECT e.id, e.at, e.actor, e.action, e.from_status, e.to_status, e.note
     FROM case_events e WHERE e.case_id = gridmap_case_history.case_id
     ORDER BY e.at, e.id)
$$;

-- The note of each case's latest history entry (gridmap_case_history: its import's when it
-- has no events).
CREATE OR REPLACE FUNCTION gridmap_case_latest_notes(ids bigint[])
RETURNS TABLE (case_id bigint, note text)
LANGUAGE sql STABLE AS $$
    SELECT c.id, h.note
    FROM unnest(ids) AS c (id)
    LEFT JOIN LATERAL (
        SELECT h.note FROM gridmap_case_history(c.id) h
        ORDER BY h.at DESC, h.id DESC NULLS LAST LIMIT 1
    ) h ON true
$$;
