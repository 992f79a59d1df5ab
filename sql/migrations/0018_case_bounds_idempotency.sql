-- Issue 12, items 1b and 4.
--
-- 1. Every moment of a case and of its history lies within gridmap.bounds (EARLIEST
--    2000-01-01, LATEST 2100-01-01 UTC), so no stored row can break a read: psycopg2
--    cannot read back a year-1-BC date, which "0001-01-01T00:00:00+14:00" became.
--    The doors refuse such values first, naming the bound; these constraints are the floor.
ALTER TABLE cases ADD CONSTRAINT cases_times_in_bounds CHECK (
    reported_at >= '2000-01-01 00:00:00+00' AND reported_at < '2100-01-01 00:00:00+00'
    AND updated_at >= '2000-01-01 00:00:00+00' AND updated_at < '2100-01-01 00:00:00+00'
    AND (due_at IS NULL
         OR (due_at >= '2000-01-01 00:00:00+00' AND due_at < '2100-01-01 00:00:00+00'))
    AND (dispatched_at IS NULL
         OR (dispatched_at >= '2000-01-01 00:00:00+00'
             AND dispatched_at < '2100-01-01 00:00:00+00'))
    AND (resolved_at IS NULL
         OR (resolved_at >= '2000-01-01 00:00:00+00'
             AND resolved_at < '2100-01-01 00:00:00+00'))
    AND (closed_at IS NULL
         OR (closed_at >= '2000-01-01 00:00:00+00' AND closed_at < '2100-01-01 00:00:00+00'))
);
ALTER TABLE case_events ADD CONSTRAINT case_events_at_in_bounds CHECK (
    at >= '2000-01-01 00:00:00+00' AND at < '2100-01-01 00:00:00+00'
);

-- 2. Idempotency keys belong to the account that sent them: another account's key is a
--    new key (it neither replays that account's case nor names its id). 0: no account
--    (the command line, tools). Intake's ON CONFLICT names the same columns and predicate.
ALTER TABLE cases ADD COLUMN idempotency_account integer NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS cases_idempotency_key;
CREATE UNIQUE INDEX cases_idempotency_key ON cases (idempotency_account, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
