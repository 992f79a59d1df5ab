-- Service circles: read-only functions over the latest analysis runs.

-- The latest run of a job ('coverage' or 'isochrones'), or no row.
CREATE OR REPLACE FUNCTION gridmap_latest_run(p_job text)
RETURNS SETOF analysis_runs
LANGUAGE sql STABLE AS $$
    SELECT * FROM analysis_runs WHERE job = p_job ORDER BY computed_at DESC, id DESC LIMIT 1
$$;

-- A cheap fingerprint of the data service circles read: road network, service points and
-- buildings (counts, sums, and the points' exact positions). Any change changes it.
CREATE OR REPLACE FUNCTION gridmap_service_circles_print()
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT md5(concat_ws('|',
        (SELECT concat_ws(',', count(*), max(id), round(sum(length_m)::numeric, 3),
                          sum(source), sum(target)) FROM road_edges),
        (SELECT md5(coalesce(string_agg(concat_ws(',', id, kind, ST_AsText(geom)), ';'
                                        ORDER BY id), '')) FROM service_points),
        (SELECT concat_ws(',', count(*), max(id), sum(population), sum(elderly_alone),
                          sum(disabled), sum(low_income), max(updated_at),
                          round(sum(ST_X(geom) + ST_Y(geom))::numeric, 6)) FROM buildings)
    ))
$$;

-- Isochrones of the latest isochrone run in a bbox (NULL bounds: everywhere), for one kind
-- (NULL: all) and some minutes (NULL: all), simplified by p_tolerance degrees; a scoped
-- reader's: those of service points in the grids it sees.
CREATE OR REPLACE FUNCTION gridmap_layer_service_circles(
    minx double precision, miny double precision, maxx double precision,
    maxy double precision, p_kind text, p_minutes real, p_tolerance double precision
)
RETURNS TABLE (service_point_id integer, name text, kind text, minutes real, speed_kmh real,
               reach_m real, point_lon double precision, point_lat double precision,
               run_id bigint, computed_at timestamptz, geom geometry)
LANGUAGE sql STABLE AS $$
    SELECT i.service_point_id, p.name, i.kind, i.minutes, i.speed_kmh, i.reach_m,
           ST_X(p.geom), ST_Y(p.geom), i.run_id, r.computed_at,
           CASE WHEN p_tolerance > 0 THEN ST_Simplify(i.geom, p_tolerance, true)
                ELSE i.geom END
    FROM gridmap_latest_run('isochrones') r
    JOIN service_isochrones i ON i.run_id = r.id
    JOIN service_points p ON p.id = i.service_point_id
    WHERE (p_kind IS NULL OR i.kind = p_kind)
      AND (p_minutes IS NULL OR i.minutes = p_minutes)
      AND (minx IS NULL OR i.geom && ST_MakeEnvelope(minx, miny, maxx, maxy, 4326))
      AND (NOT (SELECT row_security_active('grids')) OR p.grid_id IN (SELECT g.id FROM grids g))
    ORDER BY i.minutes DESC, i.service_point_id
$$;

-- Buildings of the latest coverage run not within p_minutes' walk (at the run's speed) of
-- any service point of p_kind (off the network included), nearest the bbox centre first,
-- at most max_rows (NULL: all).
CREATE OR REPLACE FUNCTION gridmap_layer_uncovered_buildings(
    minx double precision, miny double precision, maxx double precision,
    maxy double precision, p_kind text, p_minutes real, max_rows integer
)
RETURNS TABLE (id bigint, code text, address text, population integer, elderly_alone integer,
               disabled integer, low_income integer, grid_id integer, snap_m real,
               walk_m real, run_id bigint, computed_at timestamptz, geom geometry)
LANGUAGE sql STABLE AS $$
    WITH r AS (
        SELECT id, computed_at, array_position(
                   ARRAY(SELECT jsonb_array_elements_text(params -> 'kinds')), p_kind) AS k,
               -- stored walks are rounded to 0.1 m
               p_minutes * (params ->> 'speed_kmh')::real * 1000 / 60 + 0.05 AS reach_m
        FROM gridmap_latest_run('coverage')
    )
    SELECT b.id, b.code, b.address, b.population, b.elderly_alone, b.disabled, b.low_income,
           b.grid_id, a.snap_m, a.walk_m[r.k], r.id, r.computed_at, b.geom
    FROM r
    JOIN building_access a ON a.run_id = r.id
    JOIN buildings b ON b.id = a.building_id
    WHERE r.k IS NOT NULL
      AND (a.walk_m[r.k] IS NULL OR a.walk_m[r.k] > r.reach_m)
      AND (minx IS NULL OR b.geom && ST_MakeEnvelope(minx, miny, maxx, maxy, 4326))
    ORDER BY CASE WHEN minx IS NULL THEN 0
                  ELSE b.geom <-> ST_Point((minx + maxx) / 2, (miny + maxy) / 2, 4326) END,
             b.id
    LIMIT max_rows
$$;
