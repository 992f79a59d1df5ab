-- Live case dashboard: a change counter the map polls every second, and a covering index
-- the case heatmap aggregates through.

-- The counter lives in gridmap_meta under key 'case_version' ({"version": n, "changed_at":
-- t}) and is bumped by every statement that inserts, updates or deletes at least one case
-- (and by TRUNCATE). Dashboards compare the version with the one they drew and refresh only
-- when it moved. The bump's row lock is held to commit, so versions become visible in the
-- order their changes commit: a reader that sees version v also sees every change counted
-- up to v.
CREATE OR REPLACE FUNCTION gridmap_bump_case_version_row() RETURNS void
LANGUAGE sql VOLATILE AS $$
    INSERT INTO gridmap_meta AS m (key, value)
    VALUES ('case_version', jsonb_build_object('version', 1, 'changed_at', clock_timestamp()))
    ON CONFLICT (key) DO UPDATE
    SET value = jsonb_build_object('version', coalesce((m.value->>'version')::bigint, 0) + 1,
                                   'changed_at', clock_timestamp())
$$;

-- Statement trigger: bumps the counter when the statement changed at least one case.
CREATE OR REPLACE FUNCTION gridmap_bump_case_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed_cases) THEN
        PERFORM gridmap_bump_case_version_row();
    END IF;
    RETURN NULL;
END
$$;

-- TRUNCATE has no transition table: always bumps.
CREATE OR REPLACE FUNCTION gridmap_bump_case_version_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gridmap_bump_case_version_row();
    RETURN NULL;
END
$$;

SELECT gridmap_bump_case_version_row();

CREATE TRIGGER cases_version_insert AFTER INSERT ON cases
    REFERENCING NEW TABLE AS changed_cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_bump_case_version();
CREATE TRIGGER cases_version_update AFTER UPDATE ON cases
    REFERENCING NEW TABLE AS changed_cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_bump_case_version();
CREATE TRIGGER cases_version_delete AFTER DELETE ON cases
    REFERENCING OLD TABLE AS changed_cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_bump_case_version();
CREATE TRIGGER cases_version_truncate AFTER TRUNCATE ON cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_bump_case_version_truncate();

-- The heatmap reads a time window of located cases with their category, status, source and
-- point: all in this index, so a 30-day city window is an index-only range scan.
CREATE INDEX cases_heat ON cases (reported_at)
    INCLUDE (category, status, source, priority, geom)
    WHERE geom IS NOT NULL;
