-- The wall screen's figures beyond the case tiles: cameras online, patrol coverage now,
-- people inside the service circles, and the hottest grids. Read-only.

-- Cameras: how many there are and how many are online (a scoped reader's: in its grids).
CREATE OR REPLACE FUNCTION gridmap_wall_cameras()
RETURNS TABLE (cameras bigint, online bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT count(*), count(*) FILTER (WHERE status = 'online') FROM cameras c
    WHERE NOT (SELECT row_security_active('grids')) OR c.grid_id IN (SELECT g.id FROM grids g)
$$;

-- The whole city's walkable street length (street pieces per grid) and the length
-- patrolled in [t0, t1]; street_m is NULL when the street pieces were never computed.
CREATE OR REPLACE FUNCTION gridmap_wall_patrol(t0 timestamptz, t1 timestamptz)
RETURNS TABLE (street_m double precision, patrolled_m double precision)
LANGUAGE sql STABLE AS $$
    SELECT sum(eg.length_m),
           coalesce(sum(eg.length_m) FILTER (WHERE v.edge_id IS NOT NULL), 0)
    FROM edge_grid eg
    LEFT JOIN gridmap_patrol_visited(t0, t1) v ON v.edge_id = eg.edge_id
$$;

-- People of the latest coverage run's buildings, and those within p_minutes' walk (at the
-- run's speed) of a service point of any of p_kinds (NULL: every kind of the run); with
-- the run's id, time and largest circle (minutes beyond it cannot be judged). No row when
-- coverage was never computed.
CREATE OR REPLACE FUNCTION gridmap_wall_circle_population(p_minutes real, p_kinds text[])
RETURNS TABLE (run_id bigint, computed_at timestamptz, max_minutes real,
               population bigint, covered bigint)
LANGUAGE sql STABLE AS $$
    WITH r AS MATERIALIZED (  -- once, not its kinds' array per building
        SELECT id, computed_at,
               ARRAY(SELECT k.o::integer
                     FROM jsonb_array_elements_text(params -> 'kinds') WITH ORDINALITY k(kind, o)
                     WHERE p_kinds IS NULL OR k.kind = ANY (p_kinds)) AS ks,
               -- stored walks are rounded to 0.1 m
               p_minutes * (params ->> 'speed_kmh')::real * 1000 / 60 + 0.05 AS reach_m,
               (SELECT max(m::real) FROM jsonb_array_elements_text(params -> 'minutes') m)
                   AS max_minutes,
               jsonb_array_length(params -> 'kinds') AS all_kinds
        FROM gridmap_latest_run('coverage')
    )
    SELECT r.id, r.computed_at, r.max_minutes,
           coalesce(sum(b.population), 0)::bigint,
           -- every kind: any walk within reach (an array operator, ~10x faster than the
           -- smallest of the chosen kinds' walks, a subquery per building)
           coalesce(sum(b.population) FILTER (
               WHERE CASE WHEN cardinality(r.ks) = r.all_kinds THEN r.reach_m >= ANY (a.walk_m)
                          ELSE (SELECT min(a.walk_m[k]) FROM unnest(r.ks) k) <= r.reach_m
                     END), 0)::bigint
    FROM r
    LEFT JOIN building_access a ON a.run_id = r.id
    LEFT JOIN buildings b ON b.id = a.building_id
    GROUP BY r.id, r.computed_at, r.max_minutes
$$;

-- The grids with the most open cases reported in [since, now) (ties: more cases reported
-- since day_start, then the lower id), with their community; at most max_rows. Grids
-- with no open case in the window are left out. The open count reads the partial index
-- cases_open_reported_at (migration 0014; its predicate is gridmap_case_is_open, inlined).
CREATE OR REPLACE FUNCTION gridmap_wall_hot_grids(since timestamptz, day_start timestamptz,
                                                  max_rows integer)
RETURNS TABLE (grid_id integer, code text, name text, community text, open bigint,
               new_today bigint)
LANGUAGE sql STABLE AS $$
    WITH o AS (
        SELECT cs.grid_id, count(*) AS open
        FROM cases cs
        WHERE cs.reported_at >= since AND cs.grid_id IS NOT NULL
          AND gridmap_case_is_open(cs.status)
        GROUP BY cs.grid_id
    ),
    n AS (
        SELECT cs.grid_id, count(*) AS new_today
        FROM cases cs
        WHERE cs.reported_at >= day_start AND cs.grid_id IN (SELECT o.grid_id FROM o)
        GROUP BY cs.grid_id
    )
    SELECT g.id, g.code, g.name, cm.name, o.open, coalesce(n.new_today, 0)
    FROM o
    LEFT JOIN n ON n.grid_id = o.grid_id
    JOIN grids g ON g.id = o.grid_id
    JOIN communities cm ON cm.id = g.community_id
    ORDER BY o.open DESC, coalesce(n.new_today, 0) DESC, g.id
    LIMIT max_rows
$$;
