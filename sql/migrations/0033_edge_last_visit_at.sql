-- Issue 14, point 4: the latest patrol visit of the city found by index. Every "which
-- streets were patrolled in the window" (gridmap_patrol_visited: the patrol coverage and
-- unwatched-streets layers, the wall's patrol shares, the patrols page) first asks for
-- max(last_at) of edge_last_visit, then for the edges visited since the window's start:
-- both read all 151k rows of the reference city (9 ms, then 45 ms) without an index on
-- last_at; with it, 0.1 ms and 33 ms.
CREATE INDEX edge_last_visit_last_at ON edge_last_visit (last_at);
