-- Cases: generated case codes, import idempotency on (source, external_id), change
-- notifications for the live dashboard, and the indexes the case services read through.

-- Case codes: GM + a 9-digit sequence number, unless the writer supplies its own code.
CREATE SEQUENCE cases_code_seq OWNED BY cases.code;
ALTER TABLE cases ALTER COLUMN code
    SET DEFAULT 'GM' || lpad(nextval('cases_code_seq')::text, 9, '0');

-- One case per external id and source: a re-imported hotline export is a no-op.
CREATE UNIQUE INDEX cases_source_external_id ON cases (source, external_id)
    WHERE external_id IS NOT NULL;

-- Escalation scans open cases by due time; listings filter by category and time.
CREATE INDEX cases_open_due_at ON cases (due_at)
    WHERE status NOT IN ('resolved', 'closed', 'rejected');
CREATE INDEX cases_category_reported_at ON cases (category, reported_at);
CREATE INDEX cases_status_reported_at ON cases (status, reported_at);

-- Nearest online cameras: index-ordered KNN on the geography (metres).
CREATE INDEX cameras_online_geog_gist ON cameras USING gist ((geom::geography))
    WHERE status = 'online';

-- Tells listeners on channel gridmap_cases which cases changed: one notification per case
-- ({"id": …, "action": TG_ARGV[0]}), or one {"action": "bulk_…", "count": n} for a statement
-- that changed more than 100 cases (a bulk import).
CREATE OR REPLACE FUNCTION gridmap_notify_cases() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    r record;
BEGIN
    SELECT count(*) INTO n FROM changed_cases;
    IF n > 100 THEN
        PERFORM pg_notify('gridmap_cases',
            json_build_object('action', 'bulk_' || TG_ARGV[0], 'count', n)::text);
    ELSE
        FOR r IN SELECT id FROM changed_cases ORDER BY id LOOP
            PERFORM pg_notify('gridmap_cases',
                json_build_object('id', r.id, 'action', TG_ARGV[0])::text);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

-- Tells listeners on gridmap_cases about each workflow event: {"id": case id, "action": …}.
CREATE OR REPLACE FUNCTION gridmap_notify_case_events() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    r record;
BEGIN
    SELECT count(*) INTO n FROM new_events;
    IF n > 100 THEN
        PERFORM pg_notify('gridmap_cases',
            json_build_object('action', 'bulk_events', 'count', n)::text);
    ELSE
        FOR r IN SELECT case_id, action FROM new_events ORDER BY id LOOP
            PERFORM pg_notify('gridmap_cases',
                json_build_object('id', r.case_id, 'action', r.action)::text);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cases_notify_insert AFTER INSERT ON cases
    REFERENCING NEW TABLE AS changed_cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_cases('created');
CREATE TRIGGER cases_notify_update AFTER UPDATE ON cases
    REFERENCING NEW TABLE AS changed_cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_cases('updated');
CREATE TRIGGER case_events_notify AFTER INSERT ON case_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_case_events();
