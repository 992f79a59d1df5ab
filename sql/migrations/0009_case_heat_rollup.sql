-- Faster bulk case import and case heatmap at city scale.
--
-- 1. The bulk import assigns grids set-based (gridmap_import_staged_cases, same rule as
--    gridmap_assign_grid: the lowest id among the grids the point intersects), so the
--    per-row trigger skips the rows of that one statement. Every other write still gets
--    its grid from the trigger. The lon/lat CHECK's function becomes inlinable.
-- 2. The heatmap counts come from a rollup of whole days (case_heat_days) refreshed on read
--    for the days marked stale by the statements that changed them (case_heat_stale), plus
--    the partial days at the window's ends counted live. It replaces the cell index
--    cases_heat_cells of 0008, which cost every inserted case six cell computations.

-- 1. Grid assignment ------------------------------------------------------------------------

-- The import sets gridmap.cases_grid_assigned to 'on' for its INSERT only (transaction-local,
-- reset right after): those rows carry the grid the trigger would give them.
DROP TRIGGER cases_assign_grid ON cases;
CREATE TRIGGER cases_assign_grid BEFORE INSERT OR UPDATE OF geom ON cases
    FOR EACH ROW
    WHEN (current_setting('gridmap.cases_grid_assigned', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION gridmap_assign_grid();

-- The lon/lat range check of every geometry CHECK constraint, now without STRICT: a STRICT
-- SQL function whose body is not strict (AND) is never inlined, so each checked row ran it
-- as a separate query. Same result (NULL for NULL).
CREATE OR REPLACE FUNCTION gridmap_in_lonlat(g geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ST_XMin(g) >= -180 AND ST_XMax(g) <= 180 AND ST_YMin(g) >= -90 AND ST_YMax(g) <= 90
$$;

-- 2. Heatmap rollup -------------------------------------------------------------------------

DROP INDEX IF EXISTS cases_heat_cells;

-- The rollup's time bucket: the UTC calendar day of a report.
CREATE OR REPLACE FUNCTION gridmap_case_heat_day(t timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (t AT TIME ZONE 'UTC')::date
$$;

-- Located cases per heatmap level (9–14) and UTC day: one row per (level, day, detail)
-- holding parallel arrays, element k counting cell_counts[k] cases in cell cell_keys[k]
-- (see gridmap_case_hex_key) with status cell_statuses[k]; the detail rows (levels 9–11,
-- the wide views) split further by cell_categories[k] and cell_sources[k] (NULL otherwise). A 30-day
-- read is then ~60 rows however many cells. Replaced whole by gridmap_case_heat_refresh.
CREATE TABLE case_heat_days (
    level      smallint NOT NULL,
    day        date     NOT NULL,
    detail     boolean  NOT NULL,
    cell_keys       bigint[]  NOT NULL,
    cell_statuses   text[]    NOT NULL,
    cell_categories text[]    NOT NULL,
    cell_sources    text[]    NOT NULL,
    cell_counts     integer[] NOT NULL,
    PRIMARY KEY (level, detail, day)
);

-- (level, day) pairs whose rollup rows may be out of date. Append-only marks (duplicates
-- allowed, no key): a writer never waits for or skips on a refresher, and a refresher
-- deletes only the marks it can see, so a change committed after its count keeps its mark.
CREATE TABLE case_heat_stale (
    level smallint NOT NULL,
    day   date     NOT NULL
);
CREATE INDEX case_heat_stale_level_day ON case_heat_stale (level, day);

-- Statement trigger: marks the days (every level) of the located cases a statement added
-- or removed, and of the updated cases whose status, report time or position changed.
CREATE OR REPLACE FUNCTION gridmap_case_heat_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO case_heat_stale (level, day)
        SELECT l, d.day
        FROM (SELECT DISTINCT gridmap_case_heat_day(reported_at) AS day
              FROM new_cases WHERE geom IS NOT NULL) d
        CROSS JOIN generate_series(9, 14) l;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO case_heat_stale (level, day)
        SELECT l, d.day
        FROM (SELECT DISTINCT gridmap_case_heat_day(reported_at) AS day
              FROM old_cases WHERE geom IS NOT NULL) d
        CROSS JOIN generate_series(9, 14) l;
    ELSE
        INSERT INTO case_heat_stale (level, day)
        SELECT l, d.day
        FROM (SELECT DISTINCT gridmap_case_heat_day(x.reported_at) AS day
              FROM old_cases o
              JOIN new_cases n ON n.id = o.id
              CROSS JOIN LATERAL (VALUES (o.reported_at, o.geom), (n.reported_at, n.geom))
                  AS x (reported_at, geom)
              WHERE x.geom IS NOT NULL
                AND (o.status, o.reported_at, o.geom) IS DISTINCT FROM
                    (n.status, n.reported_at, n.geom)) d
        CROSS JOIN generate_series(9, 14) l;
    END IF;
    RETURN NULL;
END
$$;

-- TRUNCATE of cases empties the rollup.
CREATE OR REPLACE FUNCTION gridmap_case_heat_clear() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE case_heat_days, case_heat_stale;
    RETURN NULL;
END
$$;

CREATE TRIGGER cases_heat_insert AFTER INSERT ON cases
    REFERENCING NEW TABLE AS new_cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_case_heat_mark();
CREATE TRIGGER cases_heat_update AFTER UPDATE ON cases
    REFERENCING OLD TABLE AS old_cases NEW TABLE AS new_cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_case_heat_mark();
CREATE TRIGGER cases_heat_delete AFTER DELETE ON cases
    REFERENCING OLD TABLE AS old_cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_case_heat_mark();
CREATE TRIGGER cases_heat_truncate AFTER TRUNCATE ON cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_case_heat_clear();

-- Every day that already holds located cases starts stale (counted on first read).
INSERT INTO case_heat_stale (level, day)
SELECT l, d.day
FROM (SELECT DISTINCT gridmap_case_heat_day(reported_at) AS day
      FROM cases WHERE geom IS NOT NULL) d
CROSS JOIN generate_series(9, 14) l;
