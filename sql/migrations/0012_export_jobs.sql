-- Background exports (gridmap/io/jobs.py): one row per requested export file or print map.
-- A worker thread in the app claims queued rows (FOR UPDATE SKIP LOCKED, so any number of
-- server processes share the queue), reports progress into the row and writes the file
-- under the export folder (setting GRIDMAP_EXPORT_DIR); finished files expire after
-- GRIDMAP_EXPORT_KEEP_HOURS and are removed. The id is random so download links cannot be
-- guessed; downloads are also checked against the signed-in user.

CREATE TABLE export_jobs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     integer REFERENCES users ON DELETE SET NULL,
    username    text,
    options     jsonb NOT NULL,
    status      text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'expired')),
    progress    real NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    message     text,
    file_name   text,
    media_type  text,
    size_bytes  bigint,
    features    integer,
    worker      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz
);

CREATE INDEX export_jobs_queued ON export_jobs (created_at) WHERE status = 'queued';
CREATE INDEX export_jobs_user ON export_jobs (user_id, created_at DESC);
