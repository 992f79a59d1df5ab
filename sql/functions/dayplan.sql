-- A worker's day plan (issue 15 point 4): the households due or overdue on a local day.
--
-- SECURITY INVOKER like the cadence functions of households.sql (which it builds on): a
-- grid lead's or worker's scoped reader sees only their grids' households.

-- The households of `grid_ids` (all in the caller's scope when NULL) whose visit is due on
-- `as_of` or overdue (due_on <= as_of), the vulnerable and the longest overdue first, at
-- most `max_rows`, with their building's point.
CREATE OR REPLACE FUNCTION gridmap_day_plan_households(
    as_of date, tz text, grid_ids integer[] DEFAULT NULL, max_rows integer DEFAULT 200)
RETURNS TABLE (household_id bigint, code text, building_id bigint, address text,
               lon double precision, lat double precision, grid_id integer,
               ten_household_unit_id integer, unit text, floor smallint, room text,
               head_name text, head_phone text, tags text[], cadence_days integer,
               last_seen_on date, due_on date, days_overdue integer, vulnerable boolean)
LANGUAGE sql STABLE AS $$
    SELECT h.id, h.code, h.building_id, b.address, ST_X(b.geom), ST_Y(b.geom), s.grid_id,
           s.ten_household_unit_id, h.unit, h.floor, h.room, h.head_name, h.head_phone,
           h.tags, s.cadence_days, s.last_seen_on, s.due_on, s.days_overdue, s.vulnerable
    FROM gridmap_visit_status(as_of, tz, grid_ids) s
    JOIN households h ON h.id = s.household_id
    JOIN buildings b ON b.id = h.building_id
    WHERE s.due_on <= as_of
    ORDER BY s.vulnerable DESC, s.days_overdue DESC, h.code
    LIMIT max_rows
$$;
