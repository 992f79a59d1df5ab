-- The offline basemap as Mapbox vector tiles, served at /tiles/basemap/{z}/{x}/{y}.pbf
-- (issue 14, point 1). One tile holds up to six layers, each from its own zoom:
--   water     (class, name)        polygons of basemap_features, every zoom
--   parks     (class, name)        polygons of basemap_features, from zoom 11
--   roads     (kind, name)         road_streets plus imported roads, one line per named
--                                  street in the tile where names show (merged, so labels
--                                  fit along them: major roads from 13, others from 14),
--                                  else one unnamed line per kind;
--                                  primary always, secondary from 11, residential from 13,
--                                  the rest from 14
--   buildings (floors)             footprints from zoom 15 (register footprint, else a square
--                                  sized by floors around the building's point; plus
--                                  imported footprints)
--   pois      (kind, name)         service points as landmarks, from zoom 15
--   places    (kind, name, rank)   one label point per district (zooms 8-12), street (11-14)
--                                  and community (13+) (gridmap_label_point), in the one
--                                  tile that holds that point
-- Geography only, no personal data: the same tile for every user.

-- Footprints of the buildings register within a lon/lat box, as Mercator polygons with
-- their floors. SECURITY DEFINER: the register is under row-level security for its
-- residents' data, but building outlines are public geography and the basemap is the same
-- for everyone (only the shape and the floor count leave this function).
CREATE OR REPLACE FUNCTION gridmap_basemap_footprints(box geometry)
RETURNS TABLE (geom geometry, floors smallint)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(ST_Transform(u.footprint, 3857),
                    ST_Expand(ST_Transform(u.geom, 3857),
                              -- 6-12 m half side (Mercator metres are ~1.2 true ones here)
                              7 + least(u.floors, 33) * 0.25)),
           u.floors
    FROM buildings u
    WHERE u.geom && box
$$;

-- Where an area's name goes: its centroid when that lies inside it (cheap, and centred),
-- else the centre of the largest circle inside it (a U-shaped or ring-like area).
CREATE OR REPLACE FUNCTION gridmap_label_point(g geometry)
RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN ST_Intersects(g, ST_Centroid(g)) THEN ST_Centroid(g)
                ELSE (ST_MaximumInscribedCircle(g)).center END
$$;

CREATE OR REPLACE FUNCTION gridmap_tile_basemap(z integer, x integer, y integer)
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH b AS (
        SELECT env, box, (ST_XMax(env) - ST_XMin(env)) / 4096 AS unit
        FROM gridmap_tile_bounds(z, x, y)
    ),
    water AS (
        SELECT ST_AsMVTGeom(ST_Simplify(ST_Transform(f.geom, 3857), b.unit, true),
                            b.env, 4096, 64, true) AS geom,
               f.class, f.name
        FROM basemap_features f, b
        WHERE f.kind = 'water' AND f.geom && b.box
    ),
    parks AS (
        SELECT ST_AsMVTGeom(ST_Simplify(ST_Transform(f.geom, 3857), b.unit, true),
                            b.env, 4096, 64, true) AS geom,
               f.class, f.name
        FROM basemap_features f, b
        WHERE z >= 11 AND f.kind = 'park' AND f.geom && b.box
    ),
    -- Primary roads from zoom 0, secondary from 11, residential from 13, the rest from 14:
    -- each street's edges already merged (sql/migrations/0032_road_streets.sql).
    road_lines AS (
        SELECT r.kind, r.name, r.geom FROM road_streets r, b
        WHERE r.geom && b.box
          AND (z >= 14 OR r.kind = 'primary' OR (z >= 11 AND r.kind = 'secondary')
               OR (z >= 13 AND r.kind = 'residential'))
        UNION ALL
        SELECT f.class, f.name, f.geom FROM basemap_features f, b
        WHERE f.kind = 'road' AND f.geom && b.box
          AND (z >= 14 OR f.class = 'primary' OR (z >= 11 AND f.class = 'secondary')
               OR (z >= 13 AND f.class = 'residential'))
    ),
    -- Where road names show (major roads from zoom 13, the rest from 14) one line per
    -- street and kind, its edges merged so a name fits along it; elsewhere one unnamed
    -- multiline per kind (merging costs). Simplified to a tile unit below zoom 14.
    named AS (
        SELECT l.kind, l.geom,
               CASE WHEN z >= 14 OR (z >= 13 AND l.kind IN ('primary', 'secondary'))
                    THEN l.name END AS name
        FROM road_lines l
    ),
    roads AS (
        SELECT ST_AsMVTGeom(
                   ST_Simplify(
                       ST_Transform(CASE WHEN n.name IS NOT NULL
                                         THEN ST_LineMerge(ST_Collect(n.geom))
                                         ELSE ST_Collect(n.geom) END, 3857),
                       CASE WHEN z < 14 THEN b.unit ELSE 0 END),
                   b.env, 4096, 64, true) AS geom,
               n.kind, n.name
        FROM named n, b
        GROUP BY n.kind, n.name, b.env, b.unit
    ),
    buildings AS (
        SELECT ST_AsMVTGeom(f.geom, b.env, 4096, 64, true) AS geom, f.floors
        FROM b, gridmap_basemap_footprints(b.box) f
        WHERE z >= 15
        UNION ALL
        SELECT ST_AsMVTGeom(ST_Transform(f.geom, 3857), b.env, 4096, 64, true), NULL
        FROM basemap_features f, b
        WHERE z >= 15 AND f.kind = 'building' AND f.geom && b.box
    ),
    areas AS (
        SELECT 'district' AS kind, d.name, d.geom, 1 AS rank FROM districts d, b
        WHERE z BETWEEN 8 AND 12 AND d.geom && b.box
        UNION ALL
        SELECT 'street', s.name, s.geom, 2 FROM streets s, b
        WHERE z BETWEEN 11 AND 14 AND s.geom && b.box
        UNION ALL
        SELECT 'community', c.name, c.geom, 3 FROM communities c, b
        WHERE z >= 13 AND c.geom && b.box
    ),
    -- Landmarks: the service points (党群服务中心, police offices, health stations...).
    pois AS (
        SELECT ST_AsMVTGeom(ST_Transform(sp.geom, 3857), b.env, 4096, 0, false) AS geom,
               sp.kind, sp.name
        FROM service_points sp, b
        WHERE z >= 15 AND sp.geom && b.box
    ),
    places AS (
        SELECT ST_AsMVTGeom(p.point, b.env, 4096, 0, false) AS geom, p.kind, p.name, p.rank
        FROM b, LATERAL (
            SELECT a.kind, a.name, a.rank,
                   ST_Transform(gridmap_label_point(a.geom), 3857) AS point
            FROM areas a
        ) p
        WHERE ST_Intersects(p.point, b.env)
    )
    SELECT coalesce((SELECT ST_AsMVT(t.*, 'water', 4096, 'geom') FROM water t
                     WHERE t.geom IS NOT NULL), ''::bytea)
        || coalesce((SELECT ST_AsMVT(t.*, 'parks', 4096, 'geom') FROM parks t
                     WHERE t.geom IS NOT NULL), ''::bytea)
        || coalesce((SELECT ST_AsMVT(t.*, 'roads', 4096, 'geom') FROM roads t
                     WHERE t.geom IS NOT NULL), ''::bytea)
        || coalesce((SELECT ST_AsMVT(t.*, 'buildings', 4096, 'geom') FROM buildings t
                     WHERE t.geom IS NOT NULL), ''::bytea)
        || coalesce((SELECT ST_AsMVT(t.*, 'pois', 4096, 'geom') FROM pois t
                     WHERE t.geom IS NOT NULL), ''::bytea)
        || coalesce((SELECT ST_AsMVT(t.*, 'places', 4096, 'geom') FROM places t
                     WHERE t.geom IS NOT NULL), ''::bytea)
$$;
