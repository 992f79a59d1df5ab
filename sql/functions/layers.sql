-- Map layer readers: one function per overlay, each taking the view's lon/lat bounding box
-- (NULL bounds = everywhere) and what the view needs (simplification tolerance, row cap,
-- cluster cell). The zoom thresholds live with the Python layers (layers/*.py); these
-- functions only read. Plus the roads basemap as Mapbox vector tiles.

-- The view's envelope, or NULL when any bound is NULL (meaning: no spatial limit).
CREATE OR REPLACE FUNCTION gridmap_view_envelope(
    minx double precision, miny double precision, maxx double precision, maxy double precision
) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN minx IS NULL OR miny IS NULL OR maxx IS NULL OR maxy IS NULL THEN NULL
                ELSE ST_MakeEnvelope(minx, miny, maxx, maxy, 4326) END
$$;

-- Grids intersecting the box with their community and lead, outlines simplified by
-- `tolerance` degrees (0 keeps them exact).
CREATE OR REPLACE FUNCTION gridmap_layer_grids(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    tolerance double precision DEFAULT 0
) RETURNS TABLE (
    id integer, code text, name text, community_id integer, community_name text,
    lead_name text, lead_phone text, geom geometry
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT g.id, g.code, g.name, g.community_id, c.name, g.lead_name, g.lead_phone,
           CASE WHEN tolerance > 0 THEN ST_Simplify(g.geom, tolerance, true)
                ELSE g.geom END
    FROM grids g
    JOIN communities c ON c.id = g.community_id
    WHERE gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL
       OR g.geom && gridmap_view_envelope(minx, miny, maxx, maxy)
    ORDER BY g.id
$$;

-- Communities intersecting the box (the grids layer's view when zoomed out): outline
-- simplified by `tolerance` degrees, street name and number of grids.
CREATE OR REPLACE FUNCTION gridmap_layer_communities(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    tolerance double precision DEFAULT 0
) RETURNS TABLE (
    id integer, code text, name text, street_name text, grid_count integer, geom geometry
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT c.id, c.code, c.name, s.name,
           (SELECT count(*)::integer FROM grids g WHERE g.community_id = c.id),
           CASE WHEN tolerance > 0 THEN ST_Simplify(c.geom, tolerance, true)
                ELSE c.geom END
    FROM communities c
    JOIN streets s ON s.id = c.street_id
    WHERE gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL
       OR c.geom && gridmap_view_envelope(minx, miny, maxx, maxy)
    ORDER BY c.id
$$;

-- Building units inside the box, nearest the box centre first, at most `max_rows` (NULL:
-- no cap). Callers ask for one row more than they draw to know the view was capped.
CREATE OR REPLACE FUNCTION gridmap_layer_buildings(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    max_rows integer DEFAULT NULL
) RETURNS TABLE (
    id bigint, code text, address text, kind text, floors smallint, households integer,
    population integer, grid_id integer, geom geometry
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT b.id, b.code, b.address, b.kind, b.floors, b.households, b.population,
           b.grid_id, b.geom
    FROM buildings b
    WHERE gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL
       OR b.geom && gridmap_view_envelope(minx, miny, maxx, maxy)
    ORDER BY CASE WHEN gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL THEN 0
                  ELSE b.geom <-> ST_Centroid(gridmap_view_envelope(minx, miny, maxx, maxy))
             END,
             b.id
    LIMIT max_rows
$$;

-- Cameras inside the box, nearest the box centre first, at most `max_rows` (NULL: no cap); a
-- scoped reader's (grid lead, area-scoped centre): those of the grids it sees (grids' policy).
CREATE OR REPLACE FUNCTION gridmap_layer_cameras(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    max_rows integer DEFAULT NULL
) RETURNS TABLE (
    id integer, code text, name text, kind text, status text, last_seen timestamptz,
    grid_id integer, geom geometry
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT c.id, c.code, c.name, c.kind, c.status, c.last_seen, c.grid_id, c.geom
    FROM cameras c
    WHERE (gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL
           OR c.geom && gridmap_view_envelope(minx, miny, maxx, maxy))
      AND (NOT (SELECT row_security_active('grids')) OR c.grid_id IN (SELECT g.id FROM grids g))
    ORDER BY CASE WHEN gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL THEN 0
                  ELSE c.geom <-> ST_Centroid(gridmap_view_envelope(minx, miny, maxx, maxy))
             END,
             c.id
    LIMIT max_rows
$$;

-- Cameras inside the box counted per square cell of `cell` degrees (the zoomed-out view):
-- one row per non-empty cell at the mean position of its cameras, with counts by status.
CREATE OR REPLACE FUNCTION gridmap_layer_camera_clusters(
    minx double precision, miny double precision, maxx double precision, maxy double precision,
    cell double precision
) RETURNS TABLE (
    cell_x integer, cell_y integer, cameras integer, online integer, offline integer,
    fault integer, geom geometry
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT floor(ST_X(c.geom) / cell)::integer AS cx, floor(ST_Y(c.geom) / cell)::integer AS cy,
           count(*)::integer,
           count(*) FILTER (WHERE c.status = 'online')::integer,
           count(*) FILTER (WHERE c.status = 'offline')::integer,
           count(*) FILTER (WHERE c.status = 'fault')::integer,
           ST_SetSRID(ST_MakePoint(avg(ST_X(c.geom)), avg(ST_Y(c.geom))), 4326)
    FROM cameras c
    WHERE (gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL
           OR c.geom && gridmap_view_envelope(minx, miny, maxx, maxy))
      AND (NOT (SELECT row_security_active('grids')) OR c.grid_id IN (SELECT g.id FROM grids g))
    GROUP BY cx, cy
    ORDER BY cx, cy
$$;

-- Service points inside the box with their kind, hours, address and phone (a scoped
-- reader's: in the grids it sees).
CREATE OR REPLACE FUNCTION gridmap_layer_service_points(
    minx double precision, miny double precision, maxx double precision, maxy double precision
) RETURNS TABLE (
    id integer, code text, name text, kind text, opening_hours text, address text,
    phone text, grid_id integer, geom geometry
)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.id, p.code, p.name, p.kind, p.opening_hours, p.address, p.phone, p.grid_id, p.geom
    FROM service_points p
    WHERE (gridmap_view_envelope(minx, miny, maxx, maxy) IS NULL
           OR p.geom && gridmap_view_envelope(minx, miny, maxx, maxy))
      AND (NOT (SELECT row_security_active('grids')) OR p.grid_id IN (SELECT g.id FROM grids g))
    ORDER BY p.id
$$;

-- The lon/lat extent of the grids (NULL when there are none): the map's initial view.
CREATE OR REPLACE FUNCTION gridmap_grids_extent()
RETURNS TABLE (minx double precision, miny double precision,
               maxx double precision, maxy double precision)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
    FROM (SELECT ST_Extent(geom)::geometry AS e FROM grids) x
    WHERE e IS NOT NULL
$$;

-- The roads basemap as one Mapbox vector tile (layer "roads": kind, name) for tile z/x/y in
-- Web Mercator, one feature per merged street line (road_streets, kept from road_edges by
-- sql/migrations/0032_road_streets.sql); minor kinds join at higher zooms (as in the
-- basemap: secondary roads from zoom 11). Empty bytea when no road crosses it.
CREATE OR REPLACE FUNCTION gridmap_tile_roads(z integer, x integer, y integer)
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH bounds AS (
        SELECT ST_TileEnvelope(z, x, y) AS env,
               ST_Transform(ST_TileEnvelope(z, x, y, margin => 64.0 / 4096), 4326) AS box
    ),
    features AS (
        SELECT ST_AsMVTGeom(ST_Transform(r.geom, 3857), b.env, 4096, 64, true) AS geom,
               r.kind, r.name
        FROM road_streets r, bounds b
        WHERE r.geom && b.box
          AND (z >= 14
               OR r.kind = 'primary'
               OR (z >= 11 AND r.kind = 'secondary')
               OR (z >= 12 AND r.kind = 'residential'))
    )
    SELECT coalesce(
        (SELECT ST_AsMVT(features.*, 'roads', 4096, 'geom') FROM features
         WHERE features.geom IS NOT NULL),
        ''::bytea)
$$;
