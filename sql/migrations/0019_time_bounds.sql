-- Issue 12, item 1b: every stored moment outside cases and case_events (migration 0018)
-- lies within gridmap.bounds too (EARLIEST 2000-01-01, LATEST 2100-01-01 UTC), so no row
-- can break a read (psycopg2 cannot read a year-1-BC date back; Python none past 9999).
-- The doors (patrol pings and shifts, exports, imports, the OGC API) refuse such values
-- first and name the bound; these constraints are the floor. Plain comparisons, no
-- function: a CHECK through a function call per row cost gps_pings inserts dearly (0013).
-- Pings dated later than the server's clock allows are still stored as refused fixes
-- (gps_pings_rejected, reason 'future'), up to LATEST.

ALTER TABLE patrol_shifts ADD CONSTRAINT patrol_shifts_times_in_bounds CHECK (
    started_at >= '2000-01-01 00:00:00+00' AND started_at < '2100-01-01 00:00:00+00'
    AND (ended_at IS NULL OR (ended_at >= '2000-01-01 00:00:00+00' AND ended_at < '2100-01-01 00:00:00+00'))
);
ALTER TABLE gps_pings ADD CONSTRAINT gps_pings_times_in_bounds CHECK (
    at >= '2000-01-01 00:00:00+00' AND at < '2100-01-01 00:00:00+00'
);
ALTER TABLE gps_pings_rejected ADD CONSTRAINT gps_pings_rejected_times_in_bounds CHECK (
    at >= '2000-01-01 00:00:00+00' AND at < '2100-01-01 00:00:00+00'
    AND received_at >= '2000-01-01 00:00:00+00' AND received_at < '2100-01-01 00:00:00+00'
);
ALTER TABLE edge_visits ADD CONSTRAINT edge_visits_times_in_bounds CHECK (
    bucket >= '2000-01-01 00:00:00+00' AND bucket < '2100-01-01 00:00:00+00'
    AND first_at >= '2000-01-01 00:00:00+00' AND first_at < '2100-01-01 00:00:00+00'
    AND last_at >= '2000-01-01 00:00:00+00' AND last_at < '2100-01-01 00:00:00+00'
);
ALTER TABLE edge_last_visit ADD CONSTRAINT edge_last_visit_times_in_bounds CHECK (
    last_at >= '2000-01-01 00:00:00+00' AND last_at < '2100-01-01 00:00:00+00'
);
ALTER TABLE users ADD CONSTRAINT users_times_in_bounds CHECK (
    created_at >= '2000-01-01 00:00:00+00' AND created_at < '2100-01-01 00:00:00+00'
);
ALTER TABLE user_tokens ADD CONSTRAINT user_tokens_times_in_bounds CHECK (
    created_at >= '2000-01-01 00:00:00+00' AND created_at < '2100-01-01 00:00:00+00'
    AND (last_used_at IS NULL OR (last_used_at >= '2000-01-01 00:00:00+00' AND last_used_at < '2100-01-01 00:00:00+00'))
    AND (revoked_at IS NULL OR (revoked_at >= '2000-01-01 00:00:00+00' AND revoked_at < '2100-01-01 00:00:00+00'))
);
ALTER TABLE buildings ADD CONSTRAINT buildings_times_in_bounds CHECK (
    updated_at >= '2000-01-01 00:00:00+00' AND updated_at < '2100-01-01 00:00:00+00'
);
ALTER TABLE cameras ADD CONSTRAINT cameras_times_in_bounds CHECK (
    (last_seen IS NULL OR (last_seen >= '2000-01-01 00:00:00+00' AND last_seen < '2100-01-01 00:00:00+00'))
);
ALTER TABLE audit_log ADD CONSTRAINT audit_log_times_in_bounds CHECK (
    at >= '2000-01-01 00:00:00+00' AND at < '2100-01-01 00:00:00+00'
);
ALTER TABLE analysis_runs ADD CONSTRAINT analysis_runs_times_in_bounds CHECK (
    computed_at >= '2000-01-01 00:00:00+00' AND computed_at < '2100-01-01 00:00:00+00'
);
ALTER TABLE export_jobs ADD CONSTRAINT export_jobs_times_in_bounds CHECK (
    created_at >= '2000-01-01 00:00:00+00' AND created_at < '2100-01-01 00:00:00+00'
    AND (started_at IS NULL OR (started_at >= '2000-01-01 00:00:00+00' AND started_at < '2100-01-01 00:00:00+00'))
    AND (finished_at IS NULL OR (finished_at >= '2000-01-01 00:00:00+00' AND finished_at < '2100-01-01 00:00:00+00'))
);
ALTER TABLE case_imports ADD CONSTRAINT case_imports_times_in_bounds CHECK (
    at >= '2000-01-01 00:00:00+00' AND at < '2100-01-01 00:00:00+00'
);
ALTER TABLE case_heat_days ADD CONSTRAINT case_heat_days_day_in_bounds CHECK (
    day >= '2000-01-01' AND day < '2100-01-01'
);
ALTER TABLE case_heat_stale ADD CONSTRAINT case_heat_stale_day_in_bounds CHECK (
    day >= '2000-01-01' AND day < '2100-01-01'
);
