-- Households, visits and cadences (issue 15; tables of migration 0024).
--
-- Every function here is SECURITY INVOKER: called by a grid lead's scoped reader it sees
-- only the households and visits of the lead's grids (row-level security), so the shares
-- and overdue lists of a scoped caller are of their own grids only.
--
-- Cadence rule. A household's cadence is the shortest of the cadences of its tags and the
-- every-household cadence (visit_cadences.tag NULL); none: not tracked. Only visits that saw
-- the household count (outcome other than 'not_home', fix not flagged far away). Days are
-- local dates in time zone `tz`. With `last` the local date of the latest counted visit on
-- or before `as_of`, and `cadence` its days:
--   due_on       = last + cadence (never visited: registered_on + cadence)
--   visited      = there is a counted visit and as_of <= due_on  (on the due day itself the
--                  household is still within its cadence)
--   days_overdue = as_of - due_on when as_of > due_on, else 0     (the day after: 1)
-- Households registered after `as_of` are left out. Each household keeps its cadence and
-- whether it is vulnerable (households.cadence_days / vulnerable, migration 0028).

-- Metres from a GPS fix to a building (its footprint, else its point); NULL without either.
CREATE OR REPLACE FUNCTION gridmap_visit_distance(building bigint, fix geometry)
RETURNS real
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT ST_Distance(coalesce(b.footprint, b.geom)::geography, fix::geography)::real
    FROM buildings b WHERE b.id = building
$$;

-- A household's cadence in days (NULL: no cadence applies to it); households keep theirs
-- in households.cadence_days (migration 0028).
CREATE OR REPLACE FUNCTION gridmap_household_cadence(tags text[]) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT min(c.days) FROM visit_cadences c WHERE c.tag IS NULL OR c.tag = ANY (tags)
$$;

-- The latest counted visit of a household before `before` (NULL: none). Only asked when
-- the stored latest one (households.last_visited_at) lies at or after `before`. A function
-- (not a subquery) so that the scans calling it may run in parallel workers.
CREATE OR REPLACE FUNCTION gridmap_last_seen(household bigint, before timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT max(v.visited_at) FROM visits v
    WHERE v.household_id = household AND v.outcome <> 'not_home' AND NOT v.far_fix
      AND v.visited_at < before
$$;

-- The start of local day as_of - d in time zone `tz` at position d + 1, d = 0 .. the
-- longest cadence: a household last seen at or after element cadence + 1 is visited within
-- its cadence (the local date of the visit is as_of - cadence or later).
CREATE OR REPLACE FUNCTION gridmap_day_starts(as_of date, tz text) RETURNS timestamptz[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ARRAY(SELECT ((as_of - d)::timestamp AT TIME ZONE tz)
                 FROM generate_series(0, (SELECT max(c.days) FROM visit_cadences c)) d
                 ORDER BY d)
$$;

-- Each tracked household in the caller's scope (of `grid_ids` when given) as of the end of
-- local day `as_of`: its cadence, latest counted visit, due day and days overdue.
CREATE OR REPLACE FUNCTION gridmap_visit_status(
    as_of date, tz text, grid_ids integer[] DEFAULT NULL)
RETURNS TABLE (household_id bigint, grid_id integer, ten_household_unit_id integer,
               cadence_days integer, last_seen_on date, due_on date, visited boolean,
               days_overdue integer, vulnerable boolean)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT d.id, d.grid_id, d.ten_household_unit_id, d.cadence_days, d.last_on,
           coalesce(d.last_on, d.registered_on) + d.cadence_days,
           d.last_on IS NOT NULL AND as_of <= d.last_on + d.cadence_days,
           greatest(as_of - (coalesce(d.last_on, d.registered_on) + d.cadence_days), 0),
           d.vulnerable
    FROM (
        SELECT h.id, h.grid_id, h.ten_household_unit_id, h.registered_on, h.cadence_days,
               h.vulnerable,
               -- the stored latest visit, unless it lies after as_of (then look it up)
               (CASE WHEN h.last_visited_at < ((as_of + 1)::timestamp AT TIME ZONE tz)
                         OR h.last_visited_at IS NULL THEN h.last_visited_at
                     ELSE gridmap_last_seen(h.id, ((as_of + 1)::timestamp AT TIME ZONE tz))
                END AT TIME ZONE tz)::date AS last_on
        FROM households h
        WHERE h.registered_on <= as_of AND h.cadence_days IS NOT NULL
          AND (grid_ids IS NULL OR h.grid_id = ANY (grid_ids))
        OFFSET 0  -- last_on once per household (not once per use above)
    ) d
$$;

-- The tracked households in the caller's scope (of `grid_ids` when given) as of the end of
-- local day `as_of`, one row each, without dates: the group (grid, or with by_unit its
-- ten-household unit), visited within its cadence, within its cadence or not yet due (not
-- overdue), vulnerable. The rule of gridmap_visit_status with no local date per household:
-- its latest counted visit is compared with the start of local day as_of - cadence
-- (gridmap_day_starts, computed once), a never-visited one's registered_on with
-- as_of - cadence. What the shares and totals below aggregate; parallel safe.
CREATE OR REPLACE FUNCTION gridmap_visit_marks(
    as_of date, tz text, by_unit boolean DEFAULT false, grid_ids integer[] DEFAULT NULL)
RETURNS TABLE (id integer, visited boolean, not_overdue boolean, vulnerable boolean)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN by_unit THEN s.ten_household_unit_id ELSE s.grid_id END,
           coalesce(s.seen >= (SELECT gridmap_day_starts(as_of, tz))[s.cadence_days + 1],
                    false),
           coalesce(s.seen >= (SELECT gridmap_day_starts(as_of, tz))[s.cadence_days + 1],
                    s.registered_on >= as_of - s.cadence_days),
           s.vulnerable
    FROM (
        SELECT h.grid_id, h.ten_household_unit_id, h.registered_on, h.cadence_days,
               h.vulnerable,
               CASE WHEN h.last_visited_at < (SELECT (as_of + 1)::timestamp AT TIME ZONE tz)
                         OR h.last_visited_at IS NULL THEN h.last_visited_at
                    ELSE gridmap_last_seen(h.id, (SELECT (as_of + 1)::timestamp AT TIME ZONE tz))
               END AS seen
        FROM households h
        WHERE h.registered_on <= as_of AND h.cadence_days IS NOT NULL
          AND (grid_ids IS NULL OR h.grid_id = ANY (grid_ids))
    ) s
$$;

-- Per grid (or, with by_unit, per ten-household unit) in the caller's scope: tracked
-- households, those visited within their cadence, the overdue ones, the overdue ones with a
-- vulnerable tag, and the share visited (visited / households, 4 decimals).
CREATE OR REPLACE FUNCTION gridmap_visit_shares(
    as_of date, tz text, by_unit boolean DEFAULT false, grid_ids integer[] DEFAULT NULL)
RETURNS TABLE (id integer, households bigint, visited bigint, overdue bigint,
               vulnerable_overdue bigint, share double precision)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT m.id, count(*), count(*) FILTER (WHERE m.visited),
           count(*) FILTER (WHERE NOT m.not_overdue),
           count(*) FILTER (WHERE NOT m.not_overdue AND m.vulnerable),
           round(count(*) FILTER (WHERE m.visited)::numeric / count(*), 4)::float8
    FROM gridmap_visit_marks(as_of, tz, by_unit, grid_ids) m
    WHERE m.id IS NOT NULL
    GROUP BY m.id
    ORDER BY m.id
$$;

-- The same figures for all of the caller's scope (of `grid_ids` when given) at once, one
-- row (households 0 and share NULL when none is tracked): the wall's visits tile.
CREATE OR REPLACE FUNCTION gridmap_visit_totals(
    as_of date, tz text, grid_ids integer[] DEFAULT NULL)
RETURNS TABLE (households bigint, visited bigint, overdue bigint,
               vulnerable_overdue bigint, share double precision)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT count(*), count(*) FILTER (WHERE m.visited),
           count(*) FILTER (WHERE NOT m.not_overdue),
           count(*) FILTER (WHERE NOT m.not_overdue AND m.vulnerable),
           round(count(*) FILTER (WHERE m.visited)::numeric / nullif(count(*), 0), 4)::float8
    FROM gridmap_visit_marks(as_of, tz, false, grid_ids) m
$$;

-- The overdue households in the caller's scope (of `grid_ids` / `unit_ids` when given;
-- with `vulnerable_only` the vulnerable people not seen), most days overdue first, at most
-- `max_rows`.
CREATE OR REPLACE FUNCTION gridmap_overdue_households(
    as_of date, tz text, grid_ids integer[] DEFAULT NULL, unit_ids integer[] DEFAULT NULL,
    max_rows integer DEFAULT 500, vulnerable_only boolean DEFAULT false)
RETURNS TABLE (household_id bigint, code text, building_id bigint, address text,
               grid_id integer, ten_household_unit_id integer, unit text, floor smallint,
               room text, head_name text, head_phone text, tags text[], cadence_days integer,
               last_seen_on date, due_on date, days_overdue integer, vulnerable boolean)
LANGUAGE sql STABLE AS $$
    SELECT h.id, h.code, h.building_id, b.address, s.grid_id, s.ten_household_unit_id,
           h.unit, h.floor, h.room, h.head_name, h.head_phone, h.tags, s.cadence_days,
           s.last_seen_on, s.due_on, s.days_overdue, s.vulnerable
    FROM gridmap_visit_status(as_of, tz, grid_ids) s
    JOIN households h ON h.id = s.household_id
    JOIN buildings b ON b.id = h.building_id
    WHERE s.days_overdue > 0
      AND (unit_ids IS NULL OR s.ten_household_unit_id = ANY (unit_ids))
      AND (s.vulnerable OR NOT vulnerable_only)
    ORDER BY s.days_overdue DESC, h.code
    LIMIT max_rows
$$;

-- The overdue-visits map layer: the buildings in the bbox (NULL: everywhere) with tracked
-- households in the caller's scope (row-level security: a grid lead sees their grids'),
-- each with its tracked households, the overdue ones, the vulnerable overdue ones, the
-- most days overdue and its level: 'vulnerable' (a vulnerable household overdue), 'many'
-- (3 or more overdue), 'few' (1-2), 'none'. Vulnerable first, then most overdue, at most
-- `max_rows` (NULL: all). Only the grids under the bbox are looked at.
-- PL/pgSQL, the grids under the bbox found first and the query run by EXECUTE (planned
-- for these grids on every call, never a generic plan): as one inlined SQL query, or a
-- cached generic plan, gridmap_visit_status's "grid_ids IS NULL OR grid_id = ANY
-- (grid_ids)" read every household of the city (a z16 view: 255 ms; now 10 ms through
-- households_grid_id; benchmarks/bench_layers.py).
CREATE OR REPLACE FUNCTION gridmap_layer_overdue_visits(
    minx float8, miny float8, maxx float8, maxy float8, as_of date, tz text,
    max_rows integer, grid_ids integer[] DEFAULT NULL)
RETURNS TABLE (id bigint, code text, address text, grid_id integer, households bigint,
               overdue bigint, vulnerable_overdue bigint, max_days_overdue integer,
               level text, geom geometry)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    ids integer[] := grid_ids;
BEGIN
    IF minx IS NOT NULL THEN
        ids := ARRAY(SELECT DISTINCT b.grid_id FROM buildings b
                     WHERE b.geom && ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
                       AND b.grid_id IS NOT NULL
                       AND (grid_ids IS NULL OR b.grid_id = ANY (grid_ids)));
    END IF;
    RETURN QUERY EXECUTE $q$
    WITH per_building AS (
        SELECT h.building_id, count(*) AS households,
               count(*) FILTER (WHERE s.days_overdue > 0) AS overdue,
               count(*) FILTER (WHERE s.days_overdue > 0 AND s.vulnerable) AS vulnerable_overdue,
               max(s.days_overdue) AS max_days_overdue
        FROM gridmap_visit_status($1, $2, $3) s
        JOIN households h ON h.id = s.household_id
        GROUP BY h.building_id
    )
    SELECT b.id, b.code, b.address, b.grid_id, p.households, p.overdue,
           p.vulnerable_overdue, p.max_days_overdue,
           CASE WHEN p.vulnerable_overdue > 0 THEN 'vulnerable'
                WHEN p.overdue >= 3 THEN 'many'
                WHEN p.overdue > 0 THEN 'few'
                ELSE 'none' END,
           b.geom
    FROM per_building p
    JOIN buildings b ON b.id = p.building_id
    WHERE $4 IS NULL OR b.geom && ST_MakeEnvelope($4, $5, $6, $7, 4326)
    ORDER BY p.vulnerable_overdue DESC, p.overdue DESC, p.max_days_overdue DESC, b.id
    LIMIT $8
    $q$ USING as_of, tz, ids, minx, miny, maxx, maxy, max_rows;
END
$fn$;
