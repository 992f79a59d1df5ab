-- Background export queue (gridmap/io/jobs.py; table from migration 0012).

-- Claims the oldest queued export for `worker_name` (running, started now) and returns it;
-- no row when none is queued. SKIP LOCKED lets several server processes poll one queue.
CREATE OR REPLACE FUNCTION gridmap_export_claim(worker_name text)
RETURNS SETOF export_jobs
LANGUAGE sql VOLATILE AS $$
    UPDATE export_jobs j
    SET status = 'running', started_at = now(), worker = worker_name, progress = 0
    WHERE j.id = (
        SELECT q.id FROM export_jobs q
        WHERE q.status = 'queued'
        ORDER BY q.created_at
        FOR UPDATE SKIP LOCKED
        LIMIT 1
    )
    RETURNING j.*
$$;

-- Marks finished exports older than `keep` as expired (their files are then removed) and
-- running ones started longer than `stale` ago as failed (their worker died); returns the
-- ids of the jobs whose files should go.
CREATE OR REPLACE FUNCTION gridmap_export_expire(keep interval, stale interval)
RETURNS TABLE (id uuid)
LANGUAGE sql VOLATILE AS $$
    WITH stale_jobs AS (
        UPDATE export_jobs
        SET status = 'failed', finished_at = now(),
            message = 'The export was interrupted (the server stopped); start it again.'
        WHERE status = 'running' AND started_at < now() - stale
        RETURNING export_jobs.id
    ), expired AS (
        UPDATE export_jobs
        SET status = 'expired'
        WHERE status IN ('done', 'failed') AND finished_at < now() - keep
        RETURNING export_jobs.id
    )
    SELECT stale_jobs.id FROM stale_jobs UNION ALL SELECT expired.id FROM expired
$$;
