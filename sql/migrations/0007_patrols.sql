-- Patrol and camera coverage: rejected GPS fixes (with the reason), road edges cut by grid,
-- per-edge visit history in 5-minute buckets, last visit per edge, camera view sectors.

-- GPS fixes refused at ingest, one per device and instant (a re-sent one is a no-op).
CREATE TABLE gps_pings_rejected (
    device_id   text NOT NULL,
    at          timestamptz NOT NULL,
    lon         double precision,
    lat         double precision,
    accuracy_m  real,
    reason      text NOT NULL CHECK (reason IN ('accuracy', 'speed', 'coordinates', 'future')),
    detail      text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, at)
);
CREATE INDEX gps_pings_rejected_received ON gps_pings_rejected (received_at);

-- Walkable streets split by grid polygons: the piece of each edge inside each grid, its
-- length (m, geodesic) and how much of it online cameras see (seen_m, refreshed apart).
CREATE TABLE edge_grid (
    edge_id  bigint NOT NULL REFERENCES road_edges ON DELETE CASCADE,
    grid_id  integer NOT NULL REFERENCES grids ON DELETE CASCADE,
    length_m double precision NOT NULL CHECK (length_m >= 0),
    seen_m   double precision NOT NULL DEFAULT 0 CHECK (seen_m >= 0),
    geom     geometry(MultiLineString, 4326) NOT NULL,
    PRIMARY KEY (edge_id, grid_id)
);
CREATE INDEX edge_grid_grid_id ON edge_grid (grid_id);
CREATE INDEX edge_grid_geom_gist ON edge_grid USING gist (geom);

-- When an edge was patrolled: one row per edge and 5-minute bucket (bucket = start of the
-- bucket), with the first and last matched ping in it. Upserts only widen first/last, so
-- re-applying pings changes nothing.
CREATE TABLE edge_visits (
    edge_id  bigint NOT NULL,
    bucket   timestamptz NOT NULL,
    first_at timestamptz NOT NULL,
    last_at  timestamptz NOT NULL,
    PRIMARY KEY (edge_id, bucket),
    CONSTRAINT edge_visits_order CHECK (first_at <= last_at)
);
CREATE INDEX edge_visits_bucket ON edge_visits (bucket);

-- The latest matched ping per edge (GREATEST on each batch).
CREATE TABLE edge_last_visit (
    edge_id bigint PRIMARY KEY,
    last_at timestamptz NOT NULL
);

-- Each camera's view sector (heading, field of view, range) as a polygon.
CREATE TABLE camera_sectors (
    camera_id integer PRIMARY KEY REFERENCES cameras ON DELETE CASCADE,
    geom      geometry(Polygon, 4326) NOT NULL
);
CREATE INDEX camera_sectors_geom_gist ON camera_sectors USING gist (geom);
