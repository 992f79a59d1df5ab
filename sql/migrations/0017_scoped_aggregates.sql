-- Derived and cached tables answer a grid-scoped reader only from rows in scope (issue 12).
--
-- Inventory of the tables gridmap_grid_reader may SELECT without a policy of migration 0010,
-- and what happens to each here:
--   case_heat_days, case_heat_stale  city-wide heatmap rollup and its marks: row-level
--       security without a policy for the reader (it sees no row); gridmap_layer_case_hexes
--       counts a scoped reader's hexagons from cases themselves (row_security_active).
--   edge_visits, edge_last_visit     patrol visits per street piece (derived from GPS
--       pings): only the pieces of the reader's grids (edge_grid is scoped by 0010).
--   export_jobs                      only the reader's own jobs.
--   case_imports                     import runs: those of the reader's cases (a case's
--       history opens with its import, gridmap_case_history).
--   gridmap_meta                     only the case change counter the live dashboards
--       probe (not the demo's city-wide counts).  The counter itself still moves with any
--       case of the city: a dashboard learns that something changed, never what or where.
-- Left readable, holding no per-grid data: road_edges, service_points, service_isochrones,
-- cameras, camera_sectors (city infrastructure); districts, streets, communities (the
-- administrative map); analysis_runs (planning runs: parameters and city totals, shown on
-- the planning page only, which grid-scoped roles may not open); gridmap_migration,
-- gridmap_function_file, spatial_ref_sys (bookkeeping).
-- tests/gridmap/access/test_rls.py keeps this list honest.

ALTER TABLE case_heat_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_heat_stale ENABLE ROW LEVEL SECURITY;

ALTER TABLE edge_visits ENABLE ROW LEVEL SECURITY;
CREATE POLICY grid_scope ON edge_visits TO gridmap_grid_reader
    USING (edge_id IN (SELECT edge_id FROM edge_grid));

ALTER TABLE edge_last_visit ENABLE ROW LEVEL SECURITY;
CREATE POLICY grid_scope ON edge_last_visit TO gridmap_grid_reader
    USING (edge_id IN (SELECT edge_id FROM edge_grid));

ALTER TABLE export_jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_jobs ON export_jobs TO gridmap_grid_reader
    USING (user_id = gridmap_user_id());

ALTER TABLE case_imports ENABLE ROW LEVEL SECURITY;
CREATE POLICY grid_scope ON case_imports TO gridmap_grid_reader
    USING (id IN (SELECT import_id FROM cases));

ALTER TABLE gridmap_meta ENABLE ROW LEVEL SECURITY;
CREATE POLICY probe_only ON gridmap_meta TO gridmap_grid_reader
    USING (key = 'case_version');
