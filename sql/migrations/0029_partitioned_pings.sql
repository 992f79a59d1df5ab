-- Issue 16, item 1: the growing tables are partitioned by time (PostgreSQL declarative
-- partitioning, RANGE on their moment in UTC). This migration adds the registry and moves
-- gps_pings (one partition per UTC day, so retention drops whole days) and edge_visits (the
-- patrol visit buckets, one per UTC month); 0030 moves case_events, 0031 audit_log.
--
-- Moving an existing table copies nothing: the old table becomes the table's "legacy"
-- partition (MINVALUE up to the end of the period of its newest row), and every later period
-- gets a partition of its own, made ahead by gridmap_partitions_ensure (sql/functions/
-- partitions.sql, run at the end of every upgrade and by `gridmap db partitions`). A DEFAULT
-- partition catches a row no partition covers (inserts never fail); the next maintenance
-- run moves such rows into partitions of their own.

-- The partitioned tables: their partition key and the period of one partition.
CREATE TABLE gridmap_partitioned (
    table_name  text PRIMARY KEY,
    column_name text NOT NULL,
    period      text NOT NULL CHECK (period IN ('day', 'month'))
);
REVOKE ALL ON gridmap_partitioned FROM gridmap_grid_reader;

-- Registers parent (partitioned by RANGE (col)), attaches its old table as the legacy
-- partition (dropped if empty) and adds the DEFAULT partition. A partition is read only
-- through its parent (whose policies apply): the grid reader gets no privilege on it, and
-- row-level security without a policy on it as a second lock.
CREATE OR REPLACE FUNCTION gridmap_partition_adopt(
    parent regclass, legacy regclass, col text, period text
) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    newest timestamptz;
    dflt text := parent::text || '_default';
BEGIN
    INSERT INTO gridmap_partitioned VALUES (parent::text, col, period);
    EXECUTE format('SELECT max(%I) FROM %s', col, legacy) INTO newest;
    IF newest IS NULL THEN
        EXECUTE format('DROP TABLE %s', legacy);
    ELSE
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (MINVALUE) TO (%L)',
                       parent, legacy,
                       date_trunc(period, newest) + ('1 ' || period)::interval);
        EXECUTE format('REVOKE ALL ON %s FROM gridmap_grid_reader', legacy);
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', legacy);
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %s DEFAULT', dflt, parent);
    EXECUTE format('REVOKE ALL ON %I FROM gridmap_grid_reader', dflt);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', dflt);
END
$$;

-- GPS pings: one partition per UTC day ---------------------------------------------------

ALTER TABLE gps_pings RENAME TO gps_pings_legacy;
ALTER TABLE gps_pings_legacy RENAME CONSTRAINT gps_pings_pkey TO gps_pings_legacy_pkey;
ALTER INDEX gps_pings_at RENAME TO gps_pings_legacy_at;
DROP POLICY grid_scope ON gps_pings_legacy;

-- One row per device and instant, so a re-sent ping is a no-op (ON CONFLICT DO NOTHING);
-- the key holds the partition key, so a re-sent ping always meets its first copy.
CREATE TABLE gps_pings (
    device_id  text NOT NULL,
    at         timestamptz NOT NULL,
    accuracy_m real CONSTRAINT gps_pings_accuracy_m_check CHECK (accuracy_m >= 0),
    geom       geometry(Point, 4326) NOT NULL,
    CONSTRAINT gps_pings_pkey PRIMARY KEY (device_id, at),
    CONSTRAINT gps_pings_geom_valid CHECK (gridmap_in_lonlat(geom)),
    CONSTRAINT gps_pings_times_in_bounds CHECK (
        at >= '2000-01-01 00:00:00+00' AND at < '2100-01-01 00:00:00+00')
) PARTITION BY RANGE (at);
CREATE INDEX gps_pings_at ON gps_pings (at);
ALTER TABLE gps_pings ENABLE ROW LEVEL SECURITY;
CREATE POLICY grid_scope ON gps_pings TO gridmap_grid_reader
    USING (device_id IN (SELECT device_id FROM patrol_shifts));
GRANT SELECT ON gps_pings TO gridmap_grid_reader;
SELECT gridmap_partition_adopt('gps_pings', 'gps_pings_legacy', 'at', 'day');

-- Patrol visit buckets: one partition per UTC month (aggregates, kept) ---------------------

ALTER TABLE edge_visits RENAME TO edge_visits_legacy;
ALTER TABLE edge_visits_legacy RENAME CONSTRAINT edge_visits_pkey TO edge_visits_legacy_pkey;
ALTER INDEX edge_visits_bucket RENAME TO edge_visits_legacy_bucket;
DROP POLICY grid_scope ON edge_visits_legacy;

CREATE TABLE edge_visits (
    edge_id  bigint NOT NULL,
    bucket   timestamptz NOT NULL,
    first_at timestamptz NOT NULL,
    last_at  timestamptz NOT NULL,
    CONSTRAINT edge_visits_pkey PRIMARY KEY (edge_id, bucket),
    CONSTRAINT edge_visits_order CHECK (first_at <= last_at),
    CONSTRAINT edge_visits_times_in_bounds CHECK (
        bucket >= '2000-01-01 00:00:00+00' AND bucket < '2100-01-01 00:00:00+00'
        AND first_at >= '2000-01-01 00:00:00+00' AND first_at < '2100-01-01 00:00:00+00'
        AND last_at >= '2000-01-01 00:00:00+00' AND last_at < '2100-01-01 00:00:00+00')
) PARTITION BY RANGE (bucket);
CREATE INDEX edge_visits_bucket ON edge_visits (bucket);
ALTER TABLE edge_visits ENABLE ROW LEVEL SECURITY;
CREATE POLICY grid_scope ON edge_visits TO gridmap_grid_reader
    USING (edge_id IN (SELECT edge_id FROM edge_grid));
GRANT SELECT ON edge_visits TO gridmap_grid_reader;
SELECT gridmap_partition_adopt('edge_visits', 'edge_visits_legacy', 'bucket', 'month');
