-- Who submitted a case through the API or Open311, and when (issue 12, item 1d).
--
-- Key-less intake (every Open311 client: the server makes a fresh token per attempt) has
-- no key to replay, so a client that retries after a lost answer would store the case
-- twice. Intake now answers a key-less report that repeats one the same account made a
-- moment ago (gridmap.cases.intake.DUPLICATE_WINDOW) with that case; these columns find it.
-- Imports, the CLI and the demo leave them NULL.
ALTER TABLE cases
    ADD COLUMN IF NOT EXISTS submitted_by integer REFERENCES users ON DELETE SET NULL,
    ADD COLUMN IF NOT EXISTS submitted_at timestamptz;

CREATE INDEX IF NOT EXISTS cases_recent_submissions ON cases (submitted_by, submitted_at)
    WHERE submitted_by IS NOT NULL;

-- Idempotency keys belong to the account that sent them (issue 12, item 4): another
-- account's key is a new key (it neither replays that account's case nor names its id).
-- Keys sent by no account (NULL) share one space. Intake's ON CONFLICT names the same
-- columns and predicate.
DROP INDEX IF EXISTS cases_idempotency_key;
CREATE UNIQUE INDEX cases_idempotency_key ON cases (submitted_by, idempotency_key)
    NULLS NOT DISTINCT WHERE idempotency_key IS NOT NULL;
