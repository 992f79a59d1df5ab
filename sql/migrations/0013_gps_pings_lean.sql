-- Faster ping ingest (issue 4, the incremental 5-minute batch): gps_pings loses its GiST
-- index on geom. No query looks pings up by place (reads go by device and time through the
-- primary key, or by time through gps_pings_at; coverage reads edge_visits), and keeping a
-- GiST of millions of points up to date was about half of the cost of each INSERT.
DROP INDEX IF EXISTS gps_pings_geom_gist;
