-- File imports (gridmap import grids|buildings|cameras|service-points): the importer COPYs
-- validated rows into a session staging table shaped like the target, then these functions
-- resolve grid communities, compare staged rows with the table by code, and write them in
-- one INSERT … SELECT (so the geometry-check and grid-assignment triggers run) plus one
-- UPDATE, inside the caller's transaction (all or nothing).

-- Creates pg_temp.import_stage with the target's columns `cols` (no constraints), plus the
-- file's row number and the codes of the rows the file names (a grid's or compound's
-- community, a household's building and ten-household unit, a unit's grid).
CREATE OR REPLACE FUNCTION gridmap_import_stage(target regclass, cols text[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    DROP TABLE IF EXISTS pg_temp.import_stage;
    EXECUTE format(
        'CREATE TEMP TABLE import_stage ON COMMIT DROP AS SELECT %s FROM %s WITH NO DATA',
        (SELECT string_agg(format('%I', c), ', ') FROM unnest(cols) c), target);
    ALTER TABLE pg_temp.import_stage ADD COLUMN row_no integer, ADD COLUMN community_code text,
        ADD COLUMN building_code text, ADD COLUMN ten_unit_code text, ADD COLUMN grid_code text;
END
$$;

-- Gives each staged grid its community: by the community code in the file when given,
-- else the community containing the grid (its point on surface; smallest id on a border).
-- Returns the staged rows left without a community and why.
CREATE OR REPLACE FUNCTION gridmap_import_grid_communities()
RETURNS TABLE (row_no integer, reason text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE pg_temp.import_stage s SET community_id = c.id
    FROM communities c WHERE s.community_code IS NOT NULL AND c.code = s.community_code;
    UPDATE pg_temp.import_stage s SET community_id = (
        SELECT c.id FROM communities c
        WHERE ST_Intersects(c.geom, ST_PointOnSurface(s.geom)) ORDER BY c.id LIMIT 1)
    WHERE s.community_code IS NULL;
    RETURN QUERY
    SELECT s.row_no, CASE WHEN s.community_code IS NOT NULL
                          THEN format('no community has code %s', s.community_code)
                          ELSE 'lies in no community (give a community code column)' END
    FROM pg_temp.import_stage s WHERE s.community_id IS NULL ORDER BY s.row_no;
END
$$;

-- Gives each staged row the ids of the building, ten-household unit and grid it names by
-- code (for the staged columns building_id, ten_household_unit_id, grid_id the target has).
-- Returns the rows naming a code that does not exist: the row, the field and why.
CREATE OR REPLACE FUNCTION gridmap_import_references()
RETURNS TABLE (row_no integer, field text, reason text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ref record;
BEGIN
    FOR ref IN
        SELECT * FROM (VALUES ('building', 'building_code', 'building_id', 'buildings'),
                              ('ten_unit', 'ten_unit_code', 'ten_household_unit_id',
                               'ten_household_units'),
                              ('grid', 'grid_code', 'grid_id', 'grids'))
                      AS r (field, code_col, id_col, tab)
        WHERE EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = 'pg_temp.import_stage'::regclass
                        AND a.attname = r.id_col AND NOT a.attisdropped)
    LOOP
        EXECUTE format('UPDATE pg_temp.import_stage s SET %1$I = t.id FROM %3$I t '
                       'WHERE s.%2$I IS NOT NULL AND t.code = s.%2$I',
                       ref.id_col, ref.code_col, ref.tab);
        RETURN QUERY EXECUTE format(
            'SELECT s.row_no, %1$L::text, format(%2$L, s.%3$I) FROM pg_temp.import_stage s '
            'WHERE s.%3$I IS NOT NULL AND s.%4$I IS NULL ORDER BY s.row_no',
            ref.field, 'no ' || replace(ref.field, 'ten_unit', 'ten-household unit')
                       || ' has code %s', ref.code_col, ref.id_col);
    END LOOP;
END
$$;

-- Gives the buildings without a compound the compound containing them (after a compound
-- import: buildings loaded earlier gain their compound); returns how many did.
CREATE OR REPLACE FUNCTION gridmap_assign_compounds() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    WITH done AS (
        UPDATE buildings b SET compound_id = (
            SELECT c.id FROM compounds c WHERE ST_Intersects(c.geom, b.geom)
            ORDER BY c.id LIMIT 1)
        WHERE b.compound_id IS NULL
          AND EXISTS (SELECT 1 FROM compounds c WHERE ST_Intersects(c.geom, b.geom))
        RETURNING 1)
    SELECT count(*) FROM done
$$;

-- Staged rows whose code already exists in `target`: 'same' when every column in `cols`
-- is equal (geometries exactly, vertex by vertex), else 'changed'.
CREATE OR REPLACE FUNCTION gridmap_import_existing(target regclass, cols text[])
RETURNS TABLE (row_no integer, code text, status text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT s.row_no, s.code, CASE WHEN %s THEN ''same'' ELSE ''changed'' END
         FROM pg_temp.import_stage s JOIN %s t ON t.code = s.code ORDER BY s.row_no',
        (SELECT string_agg(format('s.%1$I IS NOT DISTINCT FROM t.%1$I', c), ' AND ')
         FROM unnest(cols) c WHERE c <> 'code'),
        target);
END
$$;

-- Writes the staged rows: inserts new codes, updates changed rows when `do_update` (and
-- their updated_at, where the table has one); rows equal to the table are left alone, so
-- re-importing a file changes nothing.
-- Returns the counts, and how many written rows have a grid_id column left NULL.
CREATE OR REPLACE FUNCTION gridmap_import_apply(target regclass, cols text[], do_update boolean)
RETURNS TABLE (inserted bigint, updated bigint, unassigned bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    collist text := (SELECT string_agg(format('%I', c), ', ') FROM unnest(cols) c);
    has_grid boolean := EXISTS (
        SELECT 1 FROM pg_attribute WHERE attrelid = target AND attname = 'grid_id');
    has_updated_at boolean := EXISTS (
        SELECT 1 FROM pg_attribute WHERE attrelid = target AND attname = 'updated_at');
    n_ins bigint := 0;
    n_upd bigint := 0;
    n_un bigint := 0;
    un bigint;
    seq text := pg_get_serial_sequence(target::text, 'id');
BEGIN
    -- rows loaded with explicit ids (seeds, restores) may have left the identity behind
    IF seq IS NOT NULL THEN
        EXECUTE format('SELECT setval(%L, greatest((SELECT max(id) FROM %s), '
                       '(SELECT last_value FROM %s)))', seq, target, seq);
    END IF;
    EXECUTE format(
        'WITH ins AS (INSERT INTO %1$s (%2$s) SELECT %2$s FROM pg_temp.import_stage s
             WHERE NOT EXISTS (SELECT 1 FROM %1$s t WHERE t.code = s.code)
             ORDER BY %4$s RETURNING %3$s)
         SELECT count(*), count(*) FILTER (WHERE g IS NULL) FROM ins',
        target, collist, CASE WHEN has_grid THEN 'grid_id AS g' ELSE '1 AS g' END,
        CASE WHEN 'geom' = ANY (cols) THEN 'ST_GeoHash(ST_Centroid(s.geom), 10)'
             ELSE 's.row_no' END)
    INTO n_ins, n_un;
    IF do_update THEN
        EXECUTE format(
            'WITH upd AS (UPDATE %1$s t SET (%2$s) = (SELECT %3$s)%6$s
                 FROM pg_temp.import_stage s
                 WHERE t.code = s.code AND NOT (%4$s) RETURNING %5$s)
             SELECT count(*), count(*) FILTER (WHERE g IS NULL) FROM upd',
            target, collist,
            (SELECT string_agg(format('s.%I', c), ', ') FROM unnest(cols) c),
            (SELECT string_agg(format('s.%1$I IS NOT DISTINCT FROM t.%1$I', c), ' AND ')
             FROM unnest(cols) c WHERE c <> 'code'),
            CASE WHEN has_grid THEN 't.grid_id AS g' ELSE '1 AS g' END,
            CASE WHEN has_updated_at THEN ', updated_at = now()' ELSE '' END)
        INTO n_upd, un;
        n_un := n_un + un;
    END IF;
    RETURN QUERY SELECT n_ins, n_upd, n_un;
END
$$;
