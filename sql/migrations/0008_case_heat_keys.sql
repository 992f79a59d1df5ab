-- Case heatmap cells precomputed in an index: for each zoom level the heatmap aggregates at
-- (9–14), the hexagon a located case falls in, so a 30-day whole-city heatmap is an
-- index-only range scan over reported_at grouped by an integer key — no per-row geometry
-- work at query time. Replaces the covering index cases_heat of migration 0003.

-- Hexagon edge (Web Mercator metres) of heatmap level `level`: 22 screen pixels at that
-- MapLibre zoom (512-px tiles). layers/cases.py holds the same constant (HEX_PIXELS).
CREATE OR REPLACE FUNCTION gridmap_case_hex_size(level integer) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT 22.0 * 40075016.68557849 / (512.0 * 2.0 ^ level)
$$;

-- The heatmap cell of a point at `level`, packed as i * 2^32 + (j + 2^31): the hexagon
-- (i, j) of ST_HexagonGrid / ST_Hexagon (edge gridmap_case_hex_size(level), origin 0,0,
-- Web Mercator) whose centre is nearest the point. Indexed: changing this body requires
-- a new migration that rebuilds cases_heat_cells. Its COST (~5 µs a call) makes the planner
-- read the values from that index for wide windows, and still compute them for the few
-- rows of a very selective filter.
CREATE OR REPLACE FUNCTION gridmap_case_hex_key(g geometry, level integer) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 200 AS $$
DECLARE
    size constant double precision := gridmap_case_hex_size(level);
    w constant double precision := 1.5 * size;
    h constant double precision := sqrt(3.0::double precision) * size;
    x constant double precision := 6378137.0 * radians(ST_X(g));
    y constant double precision := 6378137.0 * ln(tan(pi() / 4 + radians(ST_Y(g)) / 2));
    ia constant integer := floor(x / w)::integer;
    ja constant integer := round(y / h - 0.5 * (ia & 1))::integer;
    jb constant integer := round(y / h - 0.5 * ((ia + 1) & 1))::integer;
    dxa constant double precision := x - w * ia;
    dya constant double precision := y - h * (ja + 0.5 * (ia & 1));
    dxb constant double precision := x - w * (ia + 1);
    dyb constant double precision := y - h * (jb + 0.5 * ((ia + 1) & 1));
BEGIN
    IF dxa * dxa + dya * dya <= dxb * dxb + dyb * dyb THEN
        RETURN ia::bigint * 4294967296 + ja + 2147483648;
    END IF;
    RETURN (ia + 1)::bigint * 4294967296 + jb + 2147483648;
END
$$;

-- IF [NOT] EXISTS: a database that ran this file while it was numbered 0005 has both done.
DROP INDEX IF EXISTS cases_heat;

-- The heatmap's index: the time window, the cell per level, and what the filters read.
CREATE INDEX IF NOT EXISTS cases_heat_cells ON cases (
    reported_at,
    gridmap_case_hex_key(geom, 9), gridmap_case_hex_key(geom, 10),
    gridmap_case_hex_key(geom, 11), gridmap_case_hex_key(geom, 12),
    gridmap_case_hex_key(geom, 13), gridmap_case_hex_key(geom, 14)
) INCLUDE (category, status, source, geom)
WHERE geom IS NOT NULL;
