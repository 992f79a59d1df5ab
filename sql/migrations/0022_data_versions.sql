-- Change counters per table, for caches of things made from table rows (the vector tile
-- cache, gridmap.web.tile_cache): a cached tile is reused only while the counters of every
-- table its tile function reads are what they were when it was made.
--
-- gridmap_track_changes(t) registers table t and gives it statement triggers bumping its
-- counter on INSERT, UPDATE, DELETE and TRUNCATE. The bump's row lock is held to commit, so
-- a reader that sees version v also sees every change counted up to v (as case_version).
-- A table read by a tile function but not tracked here makes that tile set uncached: a new
-- tiled table calls gridmap_track_changes in its own migration.
CREATE TABLE gridmap_data_version (
    table_name text PRIMARY KEY,
    version    bigint NOT NULL DEFAULT 0,
    changed_at timestamptz
);

-- Statement trigger: one more change of the trigger's table.
CREATE OR REPLACE FUNCTION gridmap_bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE gridmap_data_version
    SET version = version + 1, changed_at = clock_timestamp()
    WHERE table_name = TG_TABLE_NAME;
    RETURN NULL;
END
$$;

-- Register a table (idempotent) and install its change triggers.
CREATE OR REPLACE FUNCTION gridmap_track_changes(t regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = t);
BEGIN
    INSERT INTO gridmap_data_version (table_name) VALUES (name) ON CONFLICT DO NOTHING;
    EXECUTE format('DROP TRIGGER IF EXISTS gridmap_data_version ON %s', t);
    EXECUTE format('CREATE TRIGGER gridmap_data_version AFTER INSERT OR UPDATE OR DELETE '
                   'ON %s FOR EACH STATEMENT EXECUTE FUNCTION gridmap_bump_data_version()', t);
    EXECUTE format('DROP TRIGGER IF EXISTS gridmap_data_version_truncate ON %s', t);
    EXECUTE format('CREATE TRIGGER gridmap_data_version_truncate AFTER TRUNCATE '
                   'ON %s FOR EACH STATEMENT EXECUTE FUNCTION gridmap_bump_data_version()', t);
END
$$;

-- The tables the vector tiles read today (roads, buildings, grids with communities, cameras).
SELECT gridmap_track_changes(t)
FROM unnest(ARRAY['road_edges', 'buildings', 'grids', 'communities', 'cameras']::regclass[]) t;

-- Counters are the app's bookkeeping: the grid reader role does not read them (the tile
-- cache reads them outside a request's scope).
REVOKE ALL ON gridmap_data_version FROM gridmap_grid_reader;
