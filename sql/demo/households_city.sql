-- The household register of the whole demo city at city scale (issue 15), filled by SQL
-- after the city's frames are loaded (gridmap.demo.household_fill; the small demo builds
-- its few grids' register in Python instead, gridmap.demo.city.households).
--
-- About %(target)s households over every home of the city (buildings.households scaled;
-- buildings holding households already are left as they are),
-- each building's doors as households (two doors a unit, rooms "301"), tags in the demo's
-- shares (独居老人 3 %%, 残疾 1.2 %%, 低保 2 %%, 留守儿童 1.2 %%, 重点关注 0.6 %%),
-- registered 120 days before the anchor; ten-household units of about ten consecutive doors
-- of a building and its neighbours in the grid, each with a lead; and 90 days of visits before the anchor at each
-- household's cadence stretched by its grid's diligence (0.8-1.6), by the grid's lead, with
-- gaps: 8 %% of the households neglected, 10 %% of visits finding nobody at home, 5 %%
-- needing a follow-up, 90 %% with a GPS fix of which 2 %% far from the building.
--
-- Deterministic for a seed (setseed; rows are drawn in the buildings' id order). Triggers
-- are off while it writes (grids, units, cadences, vulnerable flags and the latest counted
-- visit are written by the same SQL, as the triggers would) and on again after it.
-- Parameters (psycopg2): target, seed (-1..1), anchor (timestamptz), tz, surnames, given.
-- Statements are separated by ";" at the end of a line.

SELECT setseed(%(seed)s);

CREATE TEMP TABLE fill_hh ON COMMIT DROP AS
WITH homes AS (
    SELECT b.id AS building_id, b.grid_id, b.households AS n, greatest(b.floors, 1) AS floors
    FROM buildings b
    WHERE b.households > 0 AND b.grid_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM households x WHERE x.building_id = b.id)
), scale AS (SELECT %(target)s::float8 / sum(n) AS f FROM homes),
doors AS (
    SELECT h.building_id, h.grid_id, h.floors, greatest(1, round(h.n * scale.f)::int) AS n
    FROM homes h, scale
), drawn AS (
    SELECT (SELECT coalesce(max(id), 0) FROM households)
               + row_number() OVER (ORDER BY d.building_id, k) AS id,
           d.building_id, d.grid_id, k AS door, greatest(d.n / d.floors, 1) AS per_floor,
           random() AS r, random() AS r2
    FROM doors d, generate_series(1, d.n) k
    ORDER BY d.building_id, k
), tagged AS (
    SELECT *, CASE WHEN r < 0.030 THEN ARRAY['elderly_alone']
                   WHEN r < 0.042 THEN ARRAY['disabled']
                   WHEN r < 0.062 THEN ARRAY['low_income']
                   WHEN r < 0.074 THEN ARRAY['left_behind_child']
                   WHEN r < 0.080 THEN ARRAY['watch']
                   ELSE '{}'::text[] END AS tags,
           -- about ten consecutive doors a unit, of one building or its neighbours in the
           -- grid: round(n / 10) units of a grid's n households, as even as can be
           row_number() OVER (PARTITION BY grid_id ORDER BY id) AS k_in_grid,
           count(*) OVER (PARTITION BY grid_id) AS n_in_grid
    FROM drawn
), united AS (
    SELECT *, gridmap_household_cadence(tags) AS days,
           1 + ((k_in_grid - 1) * greatest(round(n_in_grid / 10.0)::int, 1)) / n_in_grid
               AS unit_no
    FROM tagged
)
SELECT u.*, (SELECT coalesce(max(id), 0) FROM ten_household_units)
                + dense_rank() OVER (ORDER BY u.grid_id, u.unit_no) AS unit_id
FROM united u
ORDER BY u.id;
ANALYZE fill_hh;

-- Grid leads (the demo gives each grid one).
CREATE TEMP TABLE fill_lead ON COMMIT DROP AS
SELECT DISTINCT ON (ug.grid_id) ug.grid_id, u.id AS user_id, u.display_name
FROM user_grids ug JOIN users u ON u.id = ug.user_id AND u.role = 'grid_lead'
ORDER BY ug.grid_id, u.id;
ANALYZE fill_lead;

-- a unit is named after its first building (and its number in the grid)
CREATE TEMP TABLE fill_unit ON COMMIT DROP AS
SELECT unit_id AS id, grid_id, unit_no, min(building_id) AS building_id
FROM fill_hh GROUP BY unit_id, grid_id, unit_no ORDER BY unit_id;
ANALYZE fill_unit;

ALTER TABLE households DISABLE TRIGGER USER;
ALTER TABLE visits DISABLE TRIGGER USER;
ALTER TABLE ten_household_units DISABLE TRIGGER USER;

INSERT INTO ten_household_units (id, code, name, grid_id, lead_name, lead_phone)
SELECT u.id, 'LH' || lpad(u.id::text, 7, '0'), b.address || '第' || u.unit_no || '联户',
       u.grid_id,
       (%(surnames)s::text[])[1 + floor(cardinality(%(surnames)s::text[]) * random() ^ 2)::int]
           || (%(given)s::text[])[1 + floor(cardinality(%(given)s::text[]) * random())::int],
       (ARRAY['138', '139', '136', '150', '186', '189'])[1 + floor(6 * random())::int]
           || '****' || lpad(floor(10000 * random())::int::text, 4, '0')
FROM fill_unit u JOIN buildings b ON b.id = u.building_id
ORDER BY u.id;

CREATE TEMP TABLE fill_diligence ON COMMIT DROP AS
SELECT id AS grid_id, 0.8 + 0.8 * random() AS stretch FROM grids ORDER BY id;
ANALYZE fill_diligence;

CREATE TEMP TABLE fill_visit ON COMMIT DROP AS
SELECT h.id AS household_id, h.building_id, h.grid_id, h.unit_id,
       ((%(anchor)s::timestamptz AT TIME ZONE %(tz)s)::date - 90
            + floor(o.first + s * h.days * d.stretch)::int)::timestamp AT TIME ZONE %(tz)s
           + interval '9 hours' + random() * interval '9 hours' AS visited_at,
       CASE WHEN random() < 0.15
            THEN (ARRAY['mediation', 'door_service', 'safety_check'])[1 + floor(3 * random())::int]
            WHEN cardinality(h.tags) > 0 AND random() < 0.7 THEN 'care'
            ELSE 'routine' END AS kind,
       CASE WHEN q.o < 0.10 THEN 'not_home' WHEN q.o < 0.15 THEN 'follow_up'
            ELSE 'met' END AS outcome,
       q.fix < 0.9 AS has_fix,
       q.fix < 0.9 AND q.far < 0.02 AS far_fix,
       CASE WHEN q.fix >= 0.9 THEN NULL
            WHEN q.far < 0.02 THEN 300 + 600 * random()
            ELSE abs(15 * (random() + random() + random() - 1.5)) END AS distance_m,
       2 * pi() * random() AS angle
FROM fill_hh h JOIN fill_diligence d USING (grid_id)
CROSS JOIN LATERAL (SELECT random() * h.days * d.stretch + 0 * h.id AS first) o
CROSS JOIN LATERAL generate_series(0, ceil(90.0 / (h.days * 0.8))::int) s
CROSS JOIN LATERAL (SELECT random() + 0 * s AS o, random() + 0 * s AS fix,
                           random() + 0 * s AS far) q
WHERE h.r2 >= 0.08  -- 8 %% neglected
  AND o.first + s * h.days * d.stretch < 90
ORDER BY h.id, s;
ANALYZE fill_visit;

INSERT INTO households (id, code, building_id, grid_id, unit, floor, room, head_name,
                        head_phone, members, tags, ten_household_unit_id, registered_on,
                        last_visited_at, cadence_days, vulnerable)
SELECT h.id, b.code || '-' || ((h.door - 1) %% h.per_floor / 2 + 1) || '-' || r.room,
       h.building_id, h.grid_id, ((h.door - 1) %% h.per_floor / 2 + 1)::text, r.floor,
       r.room,
       (%(surnames)s::text[])[1 + floor(cardinality(%(surnames)s::text[]) * random() ^ 2)::int]
           || (%(given)s::text[])[1 + floor(cardinality(%(given)s::text[]) * random())::int]
           || CASE WHEN random() < 0.7
                   THEN (%(given)s::text[])[1 + floor(cardinality(%(given)s::text[]) * random())::int]
                   ELSE '' END,
       (ARRAY['138', '139', '136', '150', '186', '189'])[1 + floor(6 * random())::int]
           || '****' || lpad(floor(10000 * random())::int::text, 4, '0'),
       CASE WHEN 'elderly_alone' = ANY (h.tags) THEN 1
            ELSE 1 + floor(4 * random())::int END,
       h.tags, h.unit_id, (%(anchor)s::timestamptz AT TIME ZONE %(tz)s)::date - 120,
       m.seen, h.days, h.tags && ARRAY(SELECT t.slug FROM household_tags t WHERE t.vulnerable)
FROM fill_hh h
JOIN buildings b ON b.id = h.building_id
CROSS JOIN LATERAL (SELECT ((h.door - 1) / h.per_floor + 1)::smallint AS floor,
                           ((h.door - 1) / h.per_floor + 1)::text
                               || lpad(((h.door - 1) %% h.per_floor + 1)::text, 2, '0') AS room) r
LEFT JOIN (SELECT household_id, max(visited_at) AS seen FROM fill_visit
           WHERE outcome <> 'not_home' AND NOT far_fix GROUP BY 1) m ON m.household_id = h.id
ORDER BY h.id;

INSERT INTO visits (household_id, building_id, ten_household_unit_id, grid_id, worker_id,
                    worker_name, visited_at, kind, outcome, geom, accuracy_m, distance_m,
                    far_fix)
SELECT v.household_id, v.building_id, v.unit_id, v.grid_id, l.user_id, l.display_name,
       v.visited_at, v.kind, v.outcome,
       CASE WHEN v.has_fix THEN ST_Translate(
           b.geom, v.distance_m * cos(v.angle) / (111320 * cos(radians(ST_Y(b.geom)))),
           v.distance_m * sin(v.angle) / 110540) END,
       CASE WHEN v.has_fix THEN round((4 + 26 * random())::numeric, 1) END,
       round(v.distance_m::numeric, 1), v.far_fix
FROM fill_visit v
JOIN buildings b ON b.id = v.building_id
LEFT JOIN fill_lead l ON l.grid_id = v.grid_id
ORDER BY v.visited_at, v.household_id;

ALTER TABLE households ENABLE TRIGGER USER;
ALTER TABLE visits ENABLE TRIGGER USER;
ALTER TABLE ten_household_units ENABLE TRIGGER USER;
