-- Grid-lead reads: the hierarchy above each grid, the figures of a grid's detail panel, the
-- grids a drawn area touches, and the case table (one page at a time). Every function takes
-- the grid ids the caller may see (NULL: every grid) and reads as the invoker, so row-level
-- security keyed to the signed-in user applies on top.

-- Grids with their community, street and district (ids and names), ordered by id.
CREATE OR REPLACE FUNCTION gridmap_grid_hierarchy(p_grid_ids integer[])
RETURNS TABLE (
    grid_id integer, grid_code text, grid_name text, community_id integer,
    community_name text, street_id integer, street_name text, district_id integer,
    district_name text
)
LANGUAGE sql STABLE AS $$
    SELECT g.id, g.code, g.name, c.id, c.name, s.id, s.name, d.id, d.name
    FROM grids g
    JOIN communities c ON c.id = g.community_id
    JOIN streets s ON s.id = c.street_id
    JOIN districts d ON d.id = s.district_id
    WHERE p_grid_ids IS NULL OR g.id = ANY (p_grid_ids)
    ORDER BY g.id
$$;

-- The grids among p_grid_ids (NULL: all) whose polygon intersects p_area.
CREATE OR REPLACE FUNCTION gridmap_grids_in_area(p_grid_ids integer[], p_area geometry)
RETURNS TABLE (grid_id integer)
LANGUAGE sql STABLE AS $$
    SELECT g.id FROM grids g
    WHERE (p_grid_ids IS NULL OR g.id = ANY (p_grid_ids))
      AND g.geom && p_area AND ST_Intersects(g.geom, p_area)
    ORDER BY g.id
$$;

-- Per grid: people, households, vulnerable groups and building units; cameras online and
-- in all; open cases and those overdue at p_at (past due_at, still open); walkable street
-- length and the part patrolled in [p_patrol_from, p_at] (as gridmap_patrol_visited);
-- and the people living within p_service_minutes' walk of the nearest service point of
-- p_service_kind in the latest stored coverage run (NULL when there is no such run).
CREATE OR REPLACE FUNCTION gridmap_grid_figures(
    p_grid_ids integer[], p_at timestamptz, p_patrol_from timestamptz,
    p_service_kind text, p_service_minutes double precision
) RETURNS TABLE (
    grid_id integer, population bigint, households bigint, elderly_alone bigint,
    disabled bigint, low_income bigint, buildings bigint, cameras_online bigint,
    cameras_total bigint, cases_open bigint, cases_overdue bigint,
    street_m double precision, patrolled_m double precision, service_population bigint
)
LANGUAGE sql STABLE AS $$
    WITH run AS (
        SELECT r.id,
               array_position(ARRAY(SELECT jsonb_array_elements_text(r.params -> 'kinds')),
                              p_service_kind) AS k,
               (r.params ->> 'speed_kmh')::double precision * 1000.0 / 60.0
                   * p_service_minutes + 1e-3 AS reach_m
        FROM gridmap_latest_run('coverage') r
    )
    SELECT g.id, b.population, b.households, b.elderly_alone, b.disabled, b.low_income,
           b.buildings, cam.online, cam.total, coalesce(cs.open, 0), coalesce(cs.overdue, 0),
           pt.street_m, pt.patrolled_m, sv.people
    FROM grids g
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(x.population), 0)::bigint AS population,
               coalesce(sum(x.households), 0)::bigint AS households,
               coalesce(sum(x.elderly_alone), 0)::bigint AS elderly_alone,
               coalesce(sum(x.disabled), 0)::bigint AS disabled,
               coalesce(sum(x.low_income), 0)::bigint AS low_income,
               count(*) AS buildings
        FROM buildings x WHERE x.grid_id = g.id
    ) b
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE x.status = 'online') AS online, count(*) AS total
        FROM cameras x WHERE x.grid_id = g.id
    ) cam
    LEFT JOIN (
        -- open cases (inlined, the partial index cases_open_due_at serves it: open
        -- cases are a small share of all cases)
        SELECT x.grid_id, count(*) AS open,
               count(*) FILTER (WHERE x.due_at IS NOT NULL AND x.due_at < p_at) AS overdue
        FROM cases x
        WHERE gridmap_case_is_open(x.status)
          AND (p_grid_ids IS NULL OR x.grid_id = ANY (p_grid_ids))
        GROUP BY x.grid_id
    ) cs ON cs.grid_id = g.id
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(eg.length_m), 0) AS street_m,
               coalesce(sum(eg.length_m) FILTER (WHERE EXISTS (
                   SELECT 1 FROM edge_visits v
                   WHERE v.edge_id = eg.edge_id
                     AND v.bucket >= date_bin('5 minutes', p_patrol_from, timestamptz 'epoch')
                     AND v.bucket <= p_at
                     AND (v.first_at BETWEEN p_patrol_from AND p_at
                          OR v.last_at BETWEEN p_patrol_from AND p_at))), 0) AS patrolled_m
        FROM edge_grid eg WHERE eg.grid_id = g.id
    ) pt
    LEFT JOIN LATERAL (
        SELECT coalesce(sum(x.population) FILTER (WHERE ba.walk_m[run.k] <= run.reach_m), 0)
                   ::bigint AS people
        FROM run
        JOIN buildings x ON x.grid_id = g.id
        LEFT JOIN building_access ba ON ba.run_id = run.id AND ba.building_id = x.id
        WHERE run.k IS NOT NULL
        HAVING bool_or(true)
    ) sv ON true
    WHERE p_grid_ids IS NULL OR g.id = ANY (p_grid_ids)
    ORDER BY g.id
$$;

-- Cases of the grids p_grid_ids (NULL: all) inside p_area (NULL: anywhere), only the open
-- ones when p_open_only, newest first, one page (p_limit rows from p_offset), with whether
-- each is overdue at p_at and its lon/lat.
CREATE OR REPLACE FUNCTION gridmap_lead_cases(
    p_grid_ids integer[], p_area geometry, p_open_only boolean, p_at timestamptz,
    p_limit integer, p_offset integer
) RETURNS TABLE (
    id bigint, code text, title text, category text, status text, priority smallint,
    reported_at timestamptz, due_at timestamptz, overdue boolean, grid_id integer,
    grid_name text, address text, lon double precision, lat double precision
)
LANGUAGE sql STABLE AS $$
    SELECT c.id, c.code, c.title, c.category, c.status, c.priority, c.reported_at, c.due_at,
           (c.due_at IS NOT NULL AND c.due_at < p_at AND gridmap_case_is_open(c.status)),
           c.grid_id, g.name, c.address, ST_X(c.geom), ST_Y(c.geom)
    FROM cases c
    JOIN grids g ON g.id = c.grid_id
    WHERE (p_grid_ids IS NULL OR c.grid_id = ANY (p_grid_ids))
      AND (p_area IS NULL OR (c.geom && p_area AND ST_Intersects(c.geom, p_area)))
      AND (NOT p_open_only OR gridmap_case_is_open(c.status))
    ORDER BY c.reported_at DESC, c.id DESC
    LIMIT p_limit OFFSET p_offset
$$;

-- How many cases gridmap_lead_cases would list without a page limit, counting at most
-- p_cap (a total of p_cap means "p_cap or more"), and where case p_case_id stands in that
-- order (0-based; NULL when it is not listed or stands at p_cap or later).
DROP FUNCTION IF EXISTS gridmap_lead_case_count(integer[], geometry, boolean, bigint);
CREATE OR REPLACE FUNCTION gridmap_lead_case_count(
    p_grid_ids integer[], p_area geometry, p_open_only boolean, p_case_id bigint,
    p_cap integer
) RETURNS TABLE (total bigint, case_position bigint)
LANGUAGE sql STABLE AS $$
    WITH target AS (
        SELECT c.id, c.reported_at FROM cases c
        WHERE c.id = p_case_id AND c.grid_id IS NOT NULL
          AND (p_grid_ids IS NULL OR c.grid_id = ANY (p_grid_ids))
          AND (p_area IS NULL OR (c.geom && p_area AND ST_Intersects(c.geom, p_area)))
          AND (NOT p_open_only OR gridmap_case_is_open(c.status))
    )
    SELECT (SELECT count(*) FROM (
                SELECT 1 FROM cases c
                WHERE c.grid_id IS NOT NULL
                  AND (p_grid_ids IS NULL OR c.grid_id = ANY (p_grid_ids))
                  AND (p_area IS NULL OR (c.geom && p_area AND ST_Intersects(c.geom, p_area)))
                  AND (NOT p_open_only OR gridmap_case_is_open(c.status))
                LIMIT p_cap) x),
           (SELECT CASE WHEN n < p_cap THEN n END FROM (
                SELECT count(*) AS n FROM (
                    SELECT 1 FROM cases c, target t
                    WHERE c.grid_id IS NOT NULL
                      AND (p_grid_ids IS NULL OR c.grid_id = ANY (p_grid_ids))
                      AND (p_area IS NULL OR (c.geom && p_area AND ST_Intersects(c.geom, p_area)))
                      AND (NOT p_open_only OR gridmap_case_is_open(c.status))
                      AND (c.reported_at, c.id) > (t.reported_at, t.id)
                    LIMIT p_cap) y) z
            WHERE EXISTS (SELECT 1 FROM target))
$$;

-- The grids p_grid_ids with their community, outlines simplified by p_tolerance degrees (0:
-- exact), for the grid lead's map.
CREATE OR REPLACE FUNCTION gridmap_grid_shapes(p_grid_ids integer[], p_tolerance double precision)
RETURNS TABLE (id integer, name text, community_id integer, community_name text, geom geometry)
LANGUAGE sql STABLE AS $$
    SELECT g.id, g.name, g.community_id, c.name,
           CASE WHEN p_tolerance > 0 THEN ST_Simplify(g.geom, p_tolerance, true)
                ELSE g.geom END
    FROM grids g JOIN communities c ON c.id = g.community_id
    WHERE g.id = ANY (p_grid_ids)
    ORDER BY g.id
$$;

-- The lon/lat extent of the grids p_grid_ids (no row when none is visible).
CREATE OR REPLACE FUNCTION gridmap_grid_ids_extent(p_grid_ids integer[])
RETURNS TABLE (minx double precision, miny double precision, maxx double precision,
               maxy double precision)
LANGUAGE sql STABLE AS $$
    SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
    FROM (SELECT ST_Extent(geom)::geometry AS e FROM grids WHERE id = ANY (p_grid_ids)) x
    WHERE e IS NOT NULL
$$;
