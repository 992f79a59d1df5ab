-- The wall's hottest grids count the open cases reported in a window per grid: this
-- partial index holds only open cases (a small share of a city's year), with their grid,
-- so that count is an index-only range scan instead of a pass over every recent case.
-- The predicate is gridmap_case_is_open(status) written out (the planner matches it).
CREATE INDEX IF NOT EXISTS cases_open_reported_at ON cases (reported_at) INCLUDE (grid_id)
    WHERE status NOT IN ('resolved', 'closed', 'rejected');
