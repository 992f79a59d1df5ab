-- Issue 14, point 4: the road tiles' streets, merged once instead of in every tile.
-- road_edges holds the walking graph: one two-point line per edge between crossings (180k
-- in the reference city). A z11 basemap tile read 24k of them and sent 149 KB of roads in
-- 70 ms. road_streets holds each street (kind and name) as its edges merged into lines,
-- one row per merged line: 16k rows in the same city; the same tile reads ~1.5k of them
-- and sends 45 KB in 12-20 ms. Statement triggers keep it equal to road_edges in the
-- same transaction (an import that fails leaves both as they were); its changes are
-- counted (0022), so the tile cache drops the tiles reading it. Like road_edges it holds
-- no per-grid data and is left readable to the grid reader (no row-level security).

CREATE TABLE road_streets (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    name text,  -- NULL for unnamed edges (an empty name counts as none)
    geom geometry(LineString, 4326) NOT NULL
);

CREATE INDEX road_streets_geom ON road_streets USING gist (geom);
CREATE INDEX road_streets_street ON road_streets (kind, coalesce(name, ''));
-- The street a trigger merges again: its edges by the same key.
CREATE INDEX road_edges_street ON road_edges (kind, coalesce(name, ''));
-- The basemap's low zooms read road_streets now, not the major edges.
DROP INDEX road_edges_major_geom;

-- Merge again the streets (kind, name; '' for unnamed) given as two parallel arrays.
CREATE FUNCTION gridmap_merge_streets(kinds text[], names text[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM road_streets s
    USING (SELECT DISTINCT * FROM unnest(kinds, names)) k (kind, name)
    WHERE s.kind = k.kind AND coalesce(s.name, '') = k.name;
    INSERT INTO road_streets (kind, name, geom)
    SELECT m.kind, nullif(m.name, ''), (ST_Dump(ST_LineMerge(m.lines))).geom
    FROM (
        SELECT e.kind, coalesce(e.name, '') AS name, ST_Collect(e.geom) AS lines
        FROM road_edges e
        JOIN (SELECT DISTINCT * FROM unnest(kinds, names)) k (kind, name)
          ON e.kind = k.kind AND coalesce(e.name, '') = k.name
        GROUP BY e.kind, coalesce(e.name, '')
    ) m;
$$;

-- The statement trigger: the streets of the edges a statement inserted, changed or
-- deleted are merged again; a TRUNCATE empties them.
CREATE FUNCTION gridmap_follow_road_edges() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kinds text[];
    names text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE road_streets;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT array_agg(kind), array_agg(coalesce(name, '')) INTO kinds, names
        FROM (SELECT DISTINCT kind, name FROM new_edges) c;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(kind), array_agg(coalesce(name, '')) INTO kinds, names
        FROM (SELECT DISTINCT kind, name FROM old_edges) c;
    ELSE
        SELECT array_agg(kind), array_agg(coalesce(name, '')) INTO kinds, names
        FROM (SELECT kind, name FROM old_edges UNION SELECT kind, name FROM new_edges) c;
    END IF;
    IF kinds IS NOT NULL THEN
        PERFORM gridmap_merge_streets(kinds, names);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER road_streets_insert AFTER INSERT ON road_edges
    REFERENCING NEW TABLE AS new_edges
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_follow_road_edges();
CREATE TRIGGER road_streets_update AFTER UPDATE ON road_edges
    REFERENCING OLD TABLE AS old_edges NEW TABLE AS new_edges
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_follow_road_edges();
CREATE TRIGGER road_streets_delete AFTER DELETE ON road_edges
    REFERENCING OLD TABLE AS old_edges
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_follow_road_edges();
CREATE TRIGGER road_streets_truncate AFTER TRUNCATE ON road_edges
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_follow_road_edges();

SELECT gridmap_track_changes('road_streets');

-- The streets of the roads already there.
SELECT gridmap_merge_streets(array_agg(kind), array_agg(coalesce(name, '')))
FROM (SELECT DISTINCT kind, name FROM road_edges) e;
