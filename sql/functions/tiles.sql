-- Mapbox vector tiles of the big layers (buildings, grids, cameras) for tile z/x/y in Web
-- Mercator, served at /tiles/{layer}/{z}/{x}/{y}.pbf with TileJSON at /tiles/{layer}.json.
-- Each returns an empty bytea when nothing lies in the tile. Below a layer's detail zoom the
-- tile holds aggregates (counts per cell of 64 tile units, community outlines) instead of
-- every feature, so no tile carries a whole city; a cell counts only the points inside its
-- own tile (not the margin), so the counts of neighbouring tiles add up. Personal data
-- (addresses, phones, names of people) stays out of tiles. SECURITY INVOKER (the default):
-- row-level security applies. Tables without policies of their own (cameras, communities)
-- are limited for a scoped reader (grid lead, area-scoped command centre) by the grids it
-- sees: a camera by its grid, a community outline by its grids, so a street centre's wall
-- holds its street only. ``row_security_active('grids')`` is read once per tile (the bounds
-- row), so the whole-city readers pay nothing for it.

-- Bounds of tile z/x/y: the Mercator envelope, and a lon/lat box with a 64/4096 margin for
-- the index lookup.
CREATE OR REPLACE FUNCTION gridmap_tile_bounds(z integer, x integer, y integer)
RETURNS TABLE (env geometry, box geometry)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ST_TileEnvelope(z, x, y),
           ST_Transform(ST_TileEnvelope(z, x, y, margin => 64.0 / 4096), 4326)
$$;

-- Position of a longitude / latitude in tile z/x/y's own units (0..4096, y down), by plain
-- arithmetic: the low-zoom cells below group many thousand points per tile, and this costs a
-- fraction of ST_Transform + ST_AsMVTGeom per point. Scalar SQL, so inlined into the query.
CREATE OR REPLACE FUNCTION gridmap_tile_ux(lon double precision, z integer, x integer)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((lon + 180) / 360 * 2 ^ z - x) * 4096
$$;

CREATE OR REPLACE FUNCTION gridmap_tile_uy(lat double precision, z integer, y integer)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((1 - ln(tan(pi() / 4 + radians(lat) / 2)) / pi()) / 2 * 2 ^ z - y) * 4096
$$;

-- Building units: one point each from zoom 14 (id, kind, floors, households, population,
-- grid_id); at zooms 12-13 counts per 64-unit cell (64 x 64 cells a tile) with people
-- summed, at the mean position of the cell's buildings: read from the kept per-cell sums
-- (building_cells, migration 0034: a z13 cell is one row per grid, a z12 cell 2 x 2 z13
-- cells), not from the buildings; nothing below 12.
CREATE OR REPLACE FUNCTION gridmap_tile_buildings(z integer, x integer, y integer)
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH b AS (SELECT * FROM gridmap_tile_bounds(z, x, y)),
    detail AS (
        SELECT ST_AsMVTGeom(ST_Transform(u.geom, 3857), b.env, 4096, 64, true) AS geom,
               u.id, u.kind, u.floors, u.households, u.population, u.grid_id
        FROM buildings u, b
        WHERE z >= 14 AND u.geom && b.box
    ),
    cells AS (
        SELECT ST_MakePoint(round((sum(c.sum_x) / sum(c.buildings) * 2 ^ z - x) * 4096),
                            round((sum(c.sum_y) / sum(c.buildings) * 2 ^ z - y) * 4096)) AS geom,
               sum(c.buildings)::integer AS buildings, sum(c.households)::integer AS households,
               sum(c.population)::integer AS population
        FROM building_cells c
        WHERE z >= 12 AND z < 14
          AND c.cx >= x << (19 - z) AND c.cx < (x + 1) << (19 - z)
          AND c.cy >= y << (19 - z) AND c.cy < (y + 1) << (19 - z)
        GROUP BY c.cx >> (13 - z), c.cy >> (13 - z)
    )
    SELECT coalesce(
        (SELECT ST_AsMVT(detail.*, 'buildings', 4096, 'geom', 'id') FROM detail
         WHERE detail.geom IS NOT NULL), ''::bytea)
        || coalesce(
        (SELECT ST_AsMVT(cells.*, 'building_cells', 4096, 'geom') FROM cells), ''::bytea)
$$;

-- Grid polygons from zoom 12 (id, code, name, community_id), simplified to half a tile
-- unit; community outlines below zoom 12 (id, code, name, street_id): for a scoped reader
-- only the communities holding grids it sees.
CREATE OR REPLACE FUNCTION gridmap_tile_grids(z integer, x integer, y integer)
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH b AS (
        SELECT env, box, (ST_XMax(env) - ST_XMin(env)) / 8192 AS tolerance,
               row_security_active('grids') AS scoped
        FROM gridmap_tile_bounds(z, x, y)
    ),
    grid_features AS (
        SELECT ST_AsMVTGeom(ST_Simplify(ST_Transform(g.geom, 3857), b.tolerance, true),
                            b.env, 4096, 64, true) AS geom,
               g.id, g.code, g.name, g.community_id
        FROM grids g, b
        WHERE z >= 12 AND g.geom && b.box
    ),
    community_features AS (
        SELECT ST_AsMVTGeom(ST_Simplify(ST_Transform(c.geom, 3857), b.tolerance, true),
                            b.env, 4096, 64, true) AS geom,
               c.id, c.code, c.name, c.street_id
        FROM communities c, b
        WHERE z < 12 AND c.geom && b.box
          AND (NOT b.scoped OR EXISTS (SELECT 1 FROM grids g WHERE g.community_id = c.id))
    )
    SELECT coalesce(
        (SELECT ST_AsMVT(f.*, 'grids', 4096, 'geom', 'id') FROM grid_features f
         WHERE f.geom IS NOT NULL), ''::bytea)
        || coalesce(
        (SELECT ST_AsMVT(f.*, 'communities', 4096, 'geom', 'id') FROM community_features f
         WHERE f.geom IS NOT NULL), ''::bytea)
$$;

-- Cameras: one point each from zoom 13 (id, code, kind, status, grid_id); below 13 counts
-- per 64-unit cell by status. A scoped reader's: those of the grids it sees (cameras have
-- no policy of their own; the grids table's policy names the reader's grids).
CREATE OR REPLACE FUNCTION gridmap_tile_cameras(z integer, x integer, y integer)
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH b AS (
        SELECT *, row_security_active('grids') AS scoped FROM gridmap_tile_bounds(z, x, y)
    ),
    detail AS (
        SELECT ST_AsMVTGeom(ST_Transform(c.geom, 3857), b.env, 4096, 64, true) AS geom,
               c.id, c.code, c.kind, c.status, c.grid_id
        FROM cameras c, b
        WHERE z >= 13 AND c.geom && b.box
          AND (NOT b.scoped OR c.grid_id IN (SELECT g.id FROM grids g))  -- (its grids)
    ),
    units AS (
        SELECT gridmap_tile_ux(ST_X(c.geom), z, x) AS ux, gridmap_tile_uy(ST_Y(c.geom), z, y) AS uy,
               c.status
        FROM cameras c, b
        WHERE z < 13 AND c.geom && b.box
          AND (NOT b.scoped OR c.grid_id IN (SELECT g.id FROM grids g))  -- (its grids)
    ),
    cells AS (
        SELECT ST_MakePoint(round(avg(ux)), round(avg(uy))) AS geom, count(*)::integer AS cameras,
               count(*) FILTER (WHERE status = 'online')::integer AS online,
               count(*) FILTER (WHERE status = 'offline')::integer AS offline,
               count(*) FILTER (WHERE status = 'fault')::integer AS fault
        FROM units
        WHERE ux >= 0 AND ux < 4096 AND uy >= 0 AND uy < 4096
        GROUP BY floor(ux / 64), floor(uy / 64)
    )
    SELECT coalesce(
        (SELECT ST_AsMVT(detail.*, 'cameras', 4096, 'geom', 'id') FROM detail
         WHERE detail.geom IS NOT NULL), ''::bytea)
        || coalesce(
        (SELECT ST_AsMVT(cells.*, 'camera_cells', 4096, 'geom') FROM cells), ''::bytea)
$$;
