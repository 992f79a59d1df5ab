-- Area-scoped command centres (issue 15): a command account may be scoped to one district,
-- street or community. It then reads like a grid lead (gridmap.access.scope: the
-- transaction's gridmap.user_id and SET LOCAL ROLE gridmap_grid_reader), and the grid set
-- every row-level-security policy already checks (gridmap_user_grids(), migration 0010)
-- becomes its assigned grids plus every grid inside its area. No policy changes meaning:
-- an area is only another way to name a set of grids, so every table scoped by grid today
-- (grids, buildings, cases, case events, patrols, street pieces, households, ten-household
-- units, visits, ...) is scoped by area too, and any table scoped later is as well.
-- A command account without an area stays whole-city (the app's own login, unfiltered).
-- The grid_scope policies are recreated with the same meaning, the grid set computed once
-- per query instead of once per row (see the end of this file).

-- One area at most, as a real reference to the administrative map; command accounts only.
ALTER TABLE users
    ADD COLUMN area_district_id  integer REFERENCES districts,
    ADD COLUMN area_street_id    integer REFERENCES streets,
    ADD COLUMN area_community_id integer REFERENCES communities,
    ADD CONSTRAINT users_one_area
        CHECK (num_nonnulls(area_district_id, area_street_id, area_community_id) <= 1),
    ADD CONSTRAINT users_area_command
        CHECK (role = 'command'
               OR num_nonnulls(area_district_id, area_street_id, area_community_id) = 0);

-- The grids of account ``uid``: those assigned to it plus those inside its area (by the
-- administrative hierarchy district > street > community > grid). SECURITY DEFINER so the
-- lookup is not filtered by the policies; not callable by the grid reader (it would name
-- other accounts' grids), only through gridmap_user_grids() below. An account without an
-- area reads user_grids only (one index lookup, as before).
CREATE OR REPLACE FUNCTION gridmap_account_grids(uid integer) RETURNS integer[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    district  integer;
    street    integer;
    community integer;
    assigned  integer[];
BEGIN
    SELECT coalesce(array_agg(grid_id ORDER BY grid_id), '{}'::integer[]) INTO assigned
    FROM user_grids WHERE user_id = uid;
    SELECT area_district_id, area_street_id, area_community_id INTO district, street, community
    FROM users WHERE id = uid;
    IF district IS NULL AND street IS NULL AND community IS NULL THEN
        RETURN assigned;
    END IF;
    RETURN (
        SELECT coalesce(array_agg(id ORDER BY id), '{}'::integer[]) FROM (
            SELECT unnest(assigned) AS id
            UNION
            SELECT g.id FROM grids g JOIN communities c ON c.id = g.community_id
            WHERE c.id = community
               OR c.street_id = street
               OR c.street_id IN (SELECT s.id FROM streets s WHERE s.district_id = district)
        ) ids
    );
END
$$;
REVOKE ALL ON FUNCTION gridmap_account_grids(integer) FROM PUBLIC;

-- The grids the signed-in user may see (empty when none or unset): what every grid_scope
-- policy compares against. Same name and signature as migration 0010's, so the policies
-- (and gridmap_layer_cases' scoped branch) pick the areas up unchanged.
CREATE OR REPLACE FUNCTION gridmap_user_grids() RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT gridmap_account_grids(gridmap_user_id())
$$;

-- The policies compare with the grid set computed once per query (an InitPlan:
-- ``(SELECT gridmap_user_grids())``) instead of once per row. A SECURITY DEFINER function
-- is never inlined, so where a policy is a filter rather than an index condition (a
-- sequential scan, or an index on another column: a tile's GiST box, a time range) the bare
-- call ran for every row: with sequential scans forced, counting the small demo's 12k
-- households took ~1.2 s for a street centre and ~470 ms for a grid lead that way, 5 ms
-- and 2.5 ms with the InitPlan. The set is the same, so what each reader sees does not
-- change.
DROP POLICY grid_scope ON grids;
CREATE POLICY grid_scope ON grids TO gridmap_grid_reader
    USING (id = ANY (CAST((SELECT gridmap_user_grids()) AS integer[])));
DROP POLICY grid_scope ON buildings;
CREATE POLICY grid_scope ON buildings TO gridmap_grid_reader
    USING (grid_id = ANY (CAST((SELECT gridmap_user_grids()) AS integer[])));
DROP POLICY grid_scope ON cases;
CREATE POLICY grid_scope ON cases TO gridmap_grid_reader
    USING (grid_id = ANY (CAST((SELECT gridmap_user_grids()) AS integer[])));
DROP POLICY grid_scope ON patrol_shifts;
CREATE POLICY grid_scope ON patrol_shifts TO gridmap_grid_reader
    USING (grid_id = ANY (CAST((SELECT gridmap_user_grids()) AS integer[])));
DROP POLICY grid_scope ON edge_grid;
CREATE POLICY grid_scope ON edge_grid TO gridmap_grid_reader
    USING (grid_id = ANY (CAST((SELECT gridmap_user_grids()) AS integer[])));
DROP POLICY grid_scope ON user_grids;
CREATE POLICY grid_scope ON user_grids TO gridmap_grid_reader
    USING (user_id = gridmap_user_id()
           OR grid_id = ANY (CAST((SELECT gridmap_user_grids()) AS integer[])));
DROP POLICY grid_scope ON households;
CREATE POLICY grid_scope ON households TO gridmap_grid_reader
    USING (grid_id = ANY (CAST((SELECT gridmap_user_grids()) AS integer[])));
DROP POLICY grid_scope ON ten_household_units;
CREATE POLICY grid_scope ON ten_household_units TO gridmap_grid_reader
    USING (grid_id = ANY (CAST((SELECT gridmap_user_grids()) AS integer[])));
DROP POLICY grid_scope ON visits;
CREATE POLICY grid_scope ON visits TO gridmap_grid_reader
    USING (grid_id = ANY (CAST((SELECT gridmap_user_grids()) AS integer[])));
