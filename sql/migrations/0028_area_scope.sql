-- Area-scoped command centres (issue 15): a command account may be scoped to one district,
-- street or community. It then reads like a grid lead (gridmap.access.scope: the
-- transaction's gridmap.user_id and SET LOCAL ROLE gridmap_grid_reader), and the grid set
-- every row-level-security policy already checks (gridmap_user_grids(), migration 0010)
-- becomes its assigned grids plus every grid inside its area. No policy changes meaning:
-- an area is only another way to name a set of grids, so every table scoped by grid today
-- (grids, buildings, cases, case events, patrols, street pieces, households, ten-household
-- units, visits, ...) is scoped by area too, and any table scoped later is as well.
-- A command account without an area stays whole-city (the app's own login, unfiltered).

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
-- other accounts' grids), only through gridmap_user_grids() below.
CREATE OR REPLACE FUNCTION gridmap_account_grids(uid integer) RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(array_agg(id ORDER BY id), '{}'::integer[])
    FROM (
        SELECT ug.grid_id AS id FROM user_grids ug WHERE ug.user_id = uid
        UNION
        SELECT g.id
        FROM users u
        JOIN grids g ON true
        JOIN communities c ON c.id = g.community_id
        JOIN streets s ON s.id = c.street_id
        WHERE u.id = uid
          AND (c.id = u.area_community_id OR s.id = u.area_street_id
               OR s.district_id = u.area_district_id)
    ) ids
$$;
REVOKE ALL ON FUNCTION gridmap_account_grids(integer) FROM PUBLIC;

-- The grids the signed-in user may see (empty when none or unset): what every grid_scope
-- policy compares against. Same name and signature as migration 0010's, so the policies
-- (and gridmap_layer_cases' scoped branch) pick the areas up unchanged.
CREATE OR REPLACE FUNCTION gridmap_user_grids() RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT gridmap_account_grids(gridmap_user_id())
$$;
