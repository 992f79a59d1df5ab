"""Coverage, isochrones, staleness, what-if and siting on the toy network (exact)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import psycopg2
import pytest
import shapely

from gridmap.analytics.coverage import (
    CoverageModel,
    by_area,
    compute_coverage,
    current_print,
    run_status,
    summarize,
)
from gridmap.analytics.errors import ParameterError
from gridmap.analytics.isochrones import reached_nodes, run_isochrones
from gridmap.analytics.params import CircleParams
from gridmap.analytics.siting import suggest_sites
from gridmap.analytics.whatif import CACHE, Edit, apply_edits, save_edits, whatif
from tests.gridmap.analytics.toy import SPEED_KMH, lonlat, seed_toy

PARAMS = CircleParams(speed_kmh=SPEED_KMH, minutes=(2, 4, 6), kinds=("party_service_center",))
KIND = "party_service_center"


@pytest.fixture(scope="module")
def model(toy_url: str) -> CoverageModel:
    return CoverageModel.load(toy_url, PARAMS)


def covered_ids(model: CoverageModel, walk: np.ndarray, minutes: float) -> list[int]:
    ok = walk <= PARAMS.reach_m(minutes) + 1e-3
    return sorted(int(i) for i in model.buildings.ids[ok])


def test_graph_keeps_largest_component_and_reports_the_rest(model: CoverageModel) -> None:
    g = model.graph
    assert sorted(g.node_ids.tolist()) == [1, 2, 3, 4, 5, 6]
    assert (g.n_edges, g.components, g.dropped_nodes, g.dropped_edges) == (5, 2, 2, 1)


def test_reachable_nodes_exact(model: CoverageModel) -> None:
    g = model.graph
    start = int(np.flatnonzero(g.node_ids == 1)[0])
    assert sorted(g.node_ids[reached_nodes(g, start, 0.0, 200.0)].tolist()) == [1, 2, 3, 6]
    assert sorted(g.node_ids[reached_nodes(g, start, 0.0, 199.9)].tolist()) == [1, 2, 6]
    assert sorted(g.node_ids[reached_nodes(g, start, 50.0, 200.0)].tolist()) == [1, 2, 6]


def test_walks_and_covered_buildings_exact(model: CoverageModel) -> None:
    walk = model.walk(KIND)
    by_id = dict(zip(model.buildings.ids.tolist(), walk.tolist(), strict=True))
    assert by_id[1] == pytest.approx(100.0, abs=1e-6)
    assert by_id[2] == pytest.approx(200.0, abs=1e-6)
    assert by_id[4] == pytest.approx(160.0, abs=0.05)  # 10 m snap to node 6
    assert by_id[3] == pytest.approx(500.0, abs=1e-6)
    assert by_id[7] == pytest.approx(600.0, abs=1e-6)
    assert np.isinf(by_id[5]) and np.isinf(by_id[6])
    assert covered_ids(model, walk, 2) == [1, 2, 4]
    assert covered_ids(model, walk, 4) == [1, 2, 4]
    assert covered_ids(model, walk, 6) == [1, 2, 3, 4, 7]


def test_far_building_is_reported_off_network_not_covered(model: CoverageModel) -> None:
    off = sorted(model.buildings.ids[~model.on_network].tolist())
    assert off == [5, 6]  # B5 1 km from any street, B6 on the cut-off street
    s = summarize(model, model.walk(KIND), 6)
    assert s["off_network"] == 2
    assert s["off_network_population"] == 160 + 320
    assert s["population"] == 1270
    assert s["population_covered"] == 10 + 20 + 40 + 80 + 640
    assert (s["elderly_alone_covered"], s["disabled_covered"], s["low_income_covered"]) == (
        14,
        2,
        4,
    )
    two = summarize(model, model.walk(KIND), 2)
    assert (two["buildings_covered"], two["population_covered"]) == (3, 110)
    assert two["population_pct"] == round(100 * 110 / 1270, 2)


def test_per_grid_and_community(model: CoverageModel) -> None:
    grids = by_area(model, model.walk(KIND), 2, "grid_id")
    assert grids[["grid_id", "population", "population_covered"]].values.tolist() == [
        [1, 950, 110]
    ]  # B6 at y = -2 km lies outside the grid
    comm = by_area(model, model.walk(KIND), 2, "community_id")
    assert comm["population_pct"].tolist() == [round(100 * 110 / 950, 2)]


def test_what_if_in_memory_then_saved(fresh_url: str) -> None:
    seed_toy(fresh_url)
    CACHE.clear()
    base = whatif(fresh_url, KIND, 2, [], PARAMS)
    assert base.scenario["population_covered"] == 110
    lon, lat = lonlat(500.0, 0.0)  # move P1 onto node 4
    moved = whatif(fresh_url, KIND, 2, [Edit("move", point_id=1, lon=lon, lat=lat)], PARAMS)
    # from node 4: B3 0 m, B7 100 m, B2 300 m → B3 and B7 within 2 min
    assert moved.scenario["population_covered"] == 40 + 640
    assert moved.delta_population == 680 - 110
    assert moved.elapsed_s < 1.0
    with psycopg2.connect(fresh_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT ST_X(geom) FROM service_points WHERE id = 1")
        assert cur.fetchone()[0] == pytest.approx(120.0)  # untouched until saved
    added = whatif(fresh_url, KIND, 2, [Edit("add", kind=KIND, lon=lon, lat=lat)], PARAMS)
    assert added.scenario["population_covered"] == 110 + 680
    removed = whatif(fresh_url, KIND, 2, [Edit("remove", point_id=1)], PARAMS)
    assert removed.scenario["population_covered"] == 0
    assert save_edits(fresh_url, [Edit("move", point_id=1, lon=lon, lat=lat)]) == []
    assert run_status(fresh_url, "coverage", PARAMS).state == "missing"
    after = whatif(fresh_url, KIND, 2, [], PARAMS)
    assert after.baseline["population_covered"] == 680


def test_edits_validate() -> None:
    with pytest.raises(ParameterError):
        Edit.from_dict({"op": "teleport"})
    with pytest.raises(ParameterError):
        Edit.from_dict({"op": "add", "kind": "spaceport", "lon": 1, "lat": 2})
    assert Edit.from_dict({"op": "remove", "point_id": "3"}) == Edit("remove", point_id=3)


def test_apply_edits_new_ids(model: CoverageModel) -> None:
    lon, lat = lonlat(600.0, 0.0)
    sites = apply_edits(model, [Edit("add", kind=KIND, lon=lon, lat=lat)])
    assert sites.ids.tolist() == [1, -1]
    assert model.graph.node_ids[sites.node[1]] == 5


def test_siting_greedy_exact(model: CoverageModel) -> None:
    # 2 min (200 m) from the one point covers B1, B2, B4; left: B3 (40) at node 4, B7 (640)
    # at node 5. A site on node 4 or 5 reaches both (100 m apart); node 4 comes first.
    result = suggest_sites(model, KIND, 2, 2, "nodes")
    assert result.covered_pct_before == round(100 * 110 / 1270, 2)
    assert len(result.suggestions) == 1  # after one site nothing on the network is left
    best = result.suggestions[0]
    assert model.graph.node_ids[best.node] == 4
    assert (best.gain_population, best.gain_buildings, best.gain_vulnerable) == (680, 2, 14)
    assert best.covered_pct_after == round(100 * 790 / 1270, 2)
    listed = suggest_sites(model, KIND, 1, 2, np.array([lonlat(200.0, 0.0), lonlat(600.0, 0)]))
    assert model.graph.node_ids[listed.suggestions[0].node] == 5
    assert listed.suggestions[0].gain_population == 680
    with pytest.raises(ParameterError):
        suggest_sites(model, KIND, 0, 2)


def test_isochrones_stored_with_parameters_and_invalidated(fresh_url: str) -> None:
    seed_toy(fresh_url)
    assert run_status(fresh_url, "isochrones", PARAMS).state == "missing"
    model, _walks, _t = compute_coverage(fresh_url, PARAMS)
    run_id, _timings = run_isochrones(fresh_url, PARAMS, model=model)
    with psycopg2.connect(fresh_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT minutes, speed_kmh, reach_m, ST_AsBinary(geom) FROM service_isochrones "
            "WHERE run_id = %s ORDER BY minutes",
            (run_id,),
        )
        rows = cur.fetchall()
        cur.execute("SELECT params->>'speed_kmh', computed_at IS NOT NULL FROM analysis_runs "
                    "WHERE id = %s", (run_id,))  # fmt: skip
        assert cur.fetchone() == ("6.0", True)
    assert [(r[0], r[1], r[2]) for r in rows] == [(2, 6, 200), (4, 6, 400), (6, 6, 600)]
    two = shapely.from_wkb(bytes(rows[0][3]))
    assert two.contains(shapely.Point(lonlat(200.0, 0.0)))  # node 3, 200 m along the street
    assert not two.contains(shapely.Point(lonlat(0.0, -150.0)))  # 150 m off, no street there
    assert not two.contains(shapely.Point(lonlat(450.0, 0.0)))
    assert run_status(fresh_url, "isochrones", PARAMS).state == "fresh"
    assert run_status(fresh_url, "coverage", PARAMS).state == "fresh"
    faster = CircleParams(speed_kmh=5.0, minutes=(2, 4, 6), kinds=("party_service_center",))
    assert run_status(fresh_url, "coverage", faster).reason == "parameters changed"
    wider = CircleParams(speed_kmh=SPEED_KMH, minutes=(2, 4, 6), kinds=(KIND,), buffer_m=80)
    assert run_status(fresh_url, "isochrones", wider).reason == "parameters changed"
    assert run_status(fresh_url, "coverage", wider).state == "fresh"  # band: polygons only
    with psycopg2.connect(fresh_url) as conn, conn.cursor() as cur:
        cur.execute("UPDATE buildings SET population = 11 WHERE id = 1")
    assert run_status(fresh_url, "coverage", PARAMS).reason == "data changed"
    assert run_status(fresh_url, "isochrones", PARAMS).reason == "data changed"


def test_the_data_print_is_kept_until_a_table_it_covers_changes(toy_url: str) -> None:
    """The print is made once per change of buildings, road edges or service points (their
    change counters key it), and equals the print made from the data every time."""

    class Recording(psycopg2.extensions.cursor):
        queries: ClassVar[list[str]] = []

        def execute(self, query, vars=None):
            Recording.queries.append(str(query))
            return super().execute(query, vars)

    made_anew = "gridmap_service_circles_print"
    with psycopg2.connect(toy_url) as conn, conn.cursor(cursor_factory=Recording) as cur:
        cur.execute("SELECT gridmap_service_circles_print()")
        made = cur.fetchone()[0]
        assert current_print(cur) == made
        Recording.queries.clear()
        assert current_print(cur) == made  # kept: only the counters were read
        assert not any(made_anew in q for q in Recording.queries)
        cur.execute(
            "UPDATE buildings SET population = population + 1 "
            "WHERE id = (SELECT min(id) FROM buildings)"
        )
        assert current_print(cur) != made  # the counter moved: made anew, and it differs
        assert any(made_anew in q for q in Recording.queries)
        conn.rollback()
    with psycopg2.connect(toy_url) as conn, conn.cursor() as cur:
        assert current_print(cur) == made
