-- Patrol and camera coverage: sectors, street pieces per grid, coverage per window, the
-- risk gap and the map layers' reads. Windows are [t0, t1], both ends included.

-- A camera's view sector: the apex plus arc points every <= 5 degrees from heading - fov/2
-- to heading + fov/2 at range_m (geodesic, ST_Project); a full circle when fov is 360.
CREATE OR REPLACE FUNCTION gridmap_camera_sector(
    p geometry, heading double precision, fov double precision, range_m double precision
) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN fov >= 360 THEN ST_Buffer(p::geography, range_m, 'quad_segs=18')::geometry
        ELSE ST_MakePolygon(ST_MakeLine(ARRAY[p]
            || ARRAY(
                SELECT ST_Project(p::geography, range_m,
                                  radians(heading - fov / 2 + fov * k / n))::geometry
                FROM (SELECT ceil(fov / 5)::int AS n) s, generate_series(0, s.n) AS k
                ORDER BY k)
            || ARRAY[p]))
    END
$$;

-- Rebuilds camera_sectors from cameras (all statuses; coverage filters online ones).
CREATE OR REPLACE FUNCTION gridmap_patrol_refresh_sectors() RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n integer;
BEGIN
    DELETE FROM camera_sectors;
    INSERT INTO camera_sectors (camera_id, geom)
    SELECT id, ST_SetSRID(gridmap_camera_sector(geom, heading, fov, range_m), 4326)
    FROM cameras;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Recomputes edge_grid.seen_m: the length of each street piece inside the union of the
-- sectors of online cameras. Returns the pieces seen.
CREATE OR REPLACE FUNCTION gridmap_patrol_refresh_seen() RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n integer;
BEGIN
    UPDATE edge_grid SET seen_m = 0 WHERE seen_m <> 0;
    WITH seen AS (
        SELECT eg.edge_id, eg.grid_id,
               least(eg.length_m, ST_Length(ST_Intersection(eg.geom, ST_Union(cs.geom))::geography))
                   AS seen_m
        FROM edge_grid eg
        JOIN camera_sectors cs ON ST_Intersects(eg.geom, cs.geom)
        JOIN cameras c ON c.id = cs.camera_id AND c.status = 'online'
        GROUP BY eg.edge_id, eg.grid_id, eg.geom, eg.length_m
    )
    UPDATE edge_grid eg SET seen_m = seen.seen_m
    FROM seen WHERE eg.edge_id = seen.edge_id AND eg.grid_id = seen.grid_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Rebuilds edge_grid: every road edge cut by every grid it crosses (lines only), with
-- geodesic lengths. Run when grids or roads change; then refresh seen_m.
CREATE OR REPLACE FUNCTION gridmap_patrol_refresh_edge_grid() RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n integer;
BEGIN
    DELETE FROM edge_grid;
    INSERT INTO edge_grid (edge_id, grid_id, length_m, geom)
    SELECT edge_id, grid_id, ST_Length(piece::geography), piece
    FROM (
        SELECT e.id AS edge_id, g.id AS grid_id,
               ST_Multi(CASE WHEN ST_CoveredBy(e.geom, g.geom) THEN e.geom
                             ELSE ST_CollectionExtract(ST_Intersection(e.geom, g.geom), 2)
                        END) AS piece
        FROM road_edges e JOIN grids g ON ST_Intersects(e.geom, g.geom)
    ) cut
    WHERE NOT ST_IsEmpty(piece) AND ST_Length(piece) > 0;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Edges patrolled within [t0, t1]: a bucket row counts when its first or last ping lies in
-- the window (exact for windows ending at the latest data; a visit strictly inside a bucket
-- that straddles both ends of a window shorter than 5 minutes can be missed). A window
-- reaching the latest visit of all (the live views: "the last 8 hours") reads the one row
-- per edge of edge_last_visit instead of the window's buckets (same edges, ~8x faster).
CREATE OR REPLACE FUNCTION gridmap_patrol_visited(t0 timestamptz, t1 timestamptz)
RETURNS TABLE (edge_id bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH latest AS (SELECT max(l.last_at) AS at FROM edge_last_visit l)
    SELECT lv.edge_id FROM edge_last_visit lv, latest
    WHERE t1 >= latest.at AND lv.last_at >= t0
    UNION ALL
    SELECT DISTINCT v.edge_id FROM edge_visits v, latest
    WHERE NOT (t1 >= latest.at)
      AND v.bucket >= date_bin('5 minutes', t0, timestamptz 'epoch') AND v.bucket <= t1
      AND (v.first_at BETWEEN t0 AND t1 OR v.last_at BETWEEN t0 AND t1)
$$;

-- Per grid: walkable street length, length patrolled in [t0, t1], length seen by online
-- cameras, length watched (patrolled, else seen) and the shares of the street length.
CREATE OR REPLACE FUNCTION gridmap_patrol_coverage(t0 timestamptz, t1 timestamptz)
RETURNS TABLE (grid_id integer, street_m double precision, patrolled_m double precision,
               seen_m double precision, watched_m double precision,
               patrolled_share double precision, watched_share double precision)
LANGUAGE sql STABLE AS $$
    WITH v AS (SELECT edge_id FROM gridmap_patrol_visited(t0, t1)),
    per AS (
        SELECT eg.grid_id, sum(eg.length_m) AS street_m,
               coalesce(sum(eg.length_m) FILTER (WHERE v.edge_id IS NOT NULL), 0) AS patrolled_m,
               sum(eg.seen_m) AS seen_m,
               sum(CASE WHEN v.edge_id IS NOT NULL THEN eg.length_m ELSE eg.seen_m END)
                   AS watched_m
        FROM edge_grid eg LEFT JOIN v ON v.edge_id = eg.edge_id
        GROUP BY eg.grid_id
    )
    SELECT grid_id, street_m, patrolled_m, seen_m, watched_m,
           CASE WHEN street_m > 0 THEN patrolled_m / street_m ELSE 0 END,
           CASE WHEN street_m > 0 THEN watched_m / street_m ELSE 0 END
    FROM per
$$;

-- The street pieces of one grid least recently patrolled (never first, longest first).
CREATE OR REPLACE FUNCTION gridmap_patrol_unvisited(gid integer, max_rows integer)
RETURNS TABLE (edge_id bigint, name text, kind text, length_m double precision,
               last_at timestamptz, geom geometry)
LANGUAGE sql STABLE AS $$
    SELECT eg.edge_id, e.name, e.kind, eg.length_m, lv.last_at, eg.geom
    FROM edge_grid eg
    JOIN road_edges e ON e.id = eg.edge_id
    LEFT JOIN edge_last_visit lv ON lv.edge_id = eg.edge_id
    WHERE eg.grid_id = gid
    ORDER BY lv.last_at ASC NULLS FIRST, round(eg.length_m::numeric, 1) DESC, eg.edge_id
    LIMIT max_rows
$$;

-- Grids ranked by where patrols are most needed in [t0, t1]: case density (cases per km
-- of street) times the unpatrolled share. Grids with no case in the window are left out.
CREATE OR REPLACE FUNCTION gridmap_patrol_risk_gap(t0 timestamptz, t1 timestamptz,
                                                   max_rows integer)
RETURNS TABLE (rank bigint, grid_id integer, code text, name text, cases bigint,
               street_km double precision, case_density double precision,
               patrolled_share double precision, need double precision)
LANGUAGE sql STABLE AS $$
    WITH c AS (
        SELECT cs.grid_id, count(*) AS cases FROM cases cs
        WHERE cs.reported_at BETWEEN t0 AND t1 AND cs.grid_id IS NOT NULL
        GROUP BY cs.grid_id
    ),
    scored AS (
        SELECT g.id AS grid_id, g.code, g.name, c.cases,
               coalesce(cov.street_m, 0) / 1000 AS street_km,
               c.cases / greatest(coalesce(cov.street_m, 0) / 1000, 0.1) AS case_density,
               coalesce(cov.patrolled_share, 0) AS patrolled_share
        FROM c JOIN grids g ON g.id = c.grid_id
        LEFT JOIN gridmap_patrol_coverage(t0, t1) cov ON cov.grid_id = c.grid_id
    )
    SELECT row_number() OVER (ORDER BY case_density * (1 - patrolled_share) DESC, grid_id),
           grid_id, code, name, cases, street_km, case_density, patrolled_share,
           case_density * (1 - patrolled_share)
    FROM scored
    ORDER BY 1
    LIMIT max_rows
$$;

-- Street pieces in a bbox with their last visit at or before t1 (NULL t1: the latest) and
-- camera view (patrol coverage and unwatched streets layers); NULL bounds mean everywhere.
DROP FUNCTION IF EXISTS gridmap_layer_patrol_streets(double precision, double precision,
    double precision, double precision, integer);
CREATE OR REPLACE FUNCTION gridmap_layer_patrol_streets(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    t1 timestamptz, max_rows integer
) RETURNS TABLE (edge_id bigint, grid_id integer, name text, length_m double precision,
                 seen_m double precision, last_at timestamptz, geom geometry)
LANGUAGE sql STABLE AS $$
    SELECT eg.edge_id, eg.grid_id, e.name, eg.length_m, eg.seen_m,
           CASE WHEN t1 IS NULL OR lv.last_at <= t1 THEN lv.last_at
                ELSE (SELECT max(CASE WHEN v.last_at <= t1 THEN v.last_at ELSE v.first_at END)
                      FROM edge_visits v
                      WHERE v.edge_id = eg.edge_id AND v.bucket <= t1 AND v.first_at <= t1)
           END,
           eg.geom
    FROM edge_grid eg
    JOIN road_edges e ON e.id = eg.edge_id
    LEFT JOIN edge_last_visit lv ON lv.edge_id = eg.edge_id
    WHERE minx IS NULL OR eg.geom && ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
    ORDER BY eg.edge_id, eg.grid_id
    LIMIT max_rows
$$;

-- Grids in a bbox with their street length and the patrolled and watched share of it in
-- [t0, t1] (no outlines: what a refresh that only recolours the grids reads).
CREATE OR REPLACE FUNCTION gridmap_patrol_grid_shares(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    t0 timestamptz, t1 timestamptz
) RETURNS TABLE (id integer, street_m double precision, patrolled_share double precision,
                 watched_share double precision)
LANGUAGE sql STABLE AS $$
    WITH g AS (
        SELECT gr.id FROM grids gr
        WHERE minx IS NULL OR gr.geom && ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
    ),
    v AS (SELECT edge_id FROM gridmap_patrol_visited(t0, t1)),
    per AS (
        SELECT eg.grid_id, sum(eg.length_m) AS street_m,
               coalesce(sum(eg.length_m) FILTER (WHERE v.edge_id IS NOT NULL), 0) AS p,
               sum(CASE WHEN v.edge_id IS NOT NULL THEN eg.length_m ELSE eg.seen_m END) AS w
        FROM edge_grid eg JOIN g ON g.id = eg.grid_id
        LEFT JOIN v ON v.edge_id = eg.edge_id
        GROUP BY eg.grid_id
    )
    SELECT g.id, coalesce(per.street_m, 0),
           CASE WHEN per.street_m > 0 THEN per.p / per.street_m ELSE 0 END,
           CASE WHEN per.street_m > 0 THEN per.w / per.street_m ELSE 0 END
    FROM g LEFT JOIN per ON per.grid_id = g.id
    ORDER BY g.id
$$;

-- The same with each grid's code, name and outline simplified by `tolerance` degrees (the
-- patrol coverage layer, zoomed out).
CREATE OR REPLACE FUNCTION gridmap_layer_patrol_grids(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    t0 timestamptz, t1 timestamptz, tolerance double precision
) RETURNS TABLE (id integer, code text, name text, street_m double precision,
                 patrolled_share double precision, watched_share double precision,
                 geom geometry)
LANGUAGE sql STABLE AS $$
    SELECT s.id, gr.code, gr.name, s.street_m, s.patrolled_share, s.watched_share,
           CASE WHEN tolerance > 0 THEN ST_Simplify(gr.geom, tolerance, true)
                ELSE gr.geom END
    FROM gridmap_patrol_grid_shares(minx, miny, maxx, maxy, t0, t1) s
    JOIN grids gr ON gr.id = s.id
    ORDER BY s.id
$$;

-- Communities in a bbox with the patrolled and watched share of their grids' street length
-- in [t0, t1], outlines simplified by `tolerance` degrees (the patrol coverage layer, far
-- out: a thousand community outlines, not ten thousand grids), from the shares of their
-- grids (gridmap_patrol_grid_shares) weighted by street length. Only communities with grids
-- the reader sees, and shares over those grids (row-level security on grids).
CREATE OR REPLACE FUNCTION gridmap_layer_patrol_communities(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    t0 timestamptz, t1 timestamptz, tolerance double precision
) RETURNS TABLE (id integer, code text, name text, street_m double precision,
                 patrolled_share double precision, watched_share double precision,
                 geom geometry)
LANGUAGE sql STABLE AS $$
    WITH c AS MATERIALIZED (
        SELECT co.id, co.code, co.name, co.geom FROM communities co
        WHERE gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL
           OR co.geom && gridmap_view_envelope(minx, miny, maxx, maxy)
    ),
    -- every grid of these communities lies inside their extent
    e AS (SELECT ST_Extent(c.geom) AS box FROM c),
    per AS (
        SELECT g.community_id, sum(s.street_m) AS street_m,
               sum(s.patrolled_share * s.street_m) AS p, sum(s.watched_share * s.street_m) AS w
        FROM e, gridmap_patrol_grid_shares(ST_XMin(e.box), ST_YMin(e.box), ST_XMax(e.box),
                                           ST_YMax(e.box), t0, t1) s
        JOIN grids g ON g.id = s.id
        GROUP BY g.community_id
    )
    SELECT c.id, c.code, c.name, per.street_m,
           CASE WHEN per.street_m > 0 THEN per.p / per.street_m ELSE 0 END,
           CASE WHEN per.street_m > 0 THEN per.w / per.street_m ELSE 0 END,
           CASE WHEN tolerance > 0 THEN ST_Simplify(c.geom, tolerance, true)
                ELSE c.geom END
    FROM per JOIN c ON c.id = per.community_id
    ORDER BY c.id
$$;

-- The risk gap's top grids with their outlines (risk gap layer).
CREATE OR REPLACE FUNCTION gridmap_layer_risk_gap(
    t0 timestamptz, t1 timestamptz, max_rows integer, tolerance double precision
) RETURNS TABLE (id integer, rank bigint, code text, name text, cases bigint,
                 case_density double precision, patrolled_share double precision,
                 need double precision, geom geometry)
LANGUAGE sql STABLE AS $$
    SELECT r.grid_id, r.rank, r.code, r.name, r.cases, r.case_density, r.patrolled_share,
           r.need,
           CASE WHEN tolerance > 0 THEN ST_Simplify(g.geom, tolerance, true)
                ELSE g.geom END
    FROM gridmap_patrol_risk_gap(t0, t1, max_rows) r JOIN grids g ON g.id = r.grid_id
    WHERE r.need > 0
    ORDER BY r.rank
$$;
