"""A worker's day plan: the route on hand-made street graphs against the best order found
by brute force, the plan of a grid lead (own grids only, masked) over HTTP, and its
one-page PDF with Chinese text."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from datetime import date

import numpy as np
import pypdfium2
import pytest
import requests
import shapely
from sqlalchemy import text

from gridmap.access.masking import mask_name, mask_phone
from gridmap.analytics.network import WalkGraph, graph_from_edges
from gridmap.db.engine import get_engine
from gridmap.households import dayplan
from gridmap.settings import PROJECT_ROOT
from tests.gridmap.cases.world import Api, serve_api
from tests.gridmap.households.test_visits_api import bearer
from tests.gridmap.households.world import add_route_street

AS_OF = date(2026, 6, 1)
#: Metres per 1e-5 degree of longitude on the hand-made streets (lengths are given).
M = 1e-5


def street(points: list[tuple[float, float]], lengths: list[float]) -> WalkGraph:
    """A graph of consecutive street pieces between lon/lat points with given lengths."""
    n = len(points) - 1
    geoms = np.array([shapely.LineString([points[i], points[i + 1]]) for i in range(n)])
    return graph_from_edges(np.arange(1, n + 1), np.arange(2, n + 2), np.array(lengths), geoms)


def test_nearest_neighbour_misses_on_a_straight_street_and_the_plan_does_not() -> None:
    # stops at 0, +100, -150, +300 m along one street, the walk starting at 0:
    # nearest-neighbour 0 → 100 → 300 → -150 = 100 + 200 + 450 = 750 m;
    # the best 0 → -150 → 100 → 300 = 150 + 250 + 200 = 600 m
    xs = [-150.0, 0.0, 100.0, 300.0]
    graph = street([(120.0 + x * M, 30.0) for x in xs], [150.0, 100.0, 200.0])
    stops = np.array([(120.0, 30.0), (120.0 + 100 * M, 30.0), (120.0 - 150 * M, 30.0),
                      (120.0 + 300 * M, 30.0)])  # fmt: skip
    legs = dayplan.stop_distances(graph, stops)
    assert legs.dist.tolist() == [
        [0.0, 100.0, 150.0, 300.0],
        [100.0, 0.0, 250.0, 200.0],
        [150.0, 250.0, 0.0, 450.0],
        [300.0, 200.0, 450.0, 0.0],
    ]
    ordering = dayplan.order_stops(legs.dist, fixed_start=True)
    assert ordering.nearest_neighbour_m == 750.0
    assert (ordering.order, ordering.length_m) == ([0, 2, 1, 3], 600.0)
    assert dayplan.brute_force(legs.dist, True) == [0, 2, 1, 3]
    free = dayplan.order_stops(legs.dist)  # no fixed start: end to end, 450 m
    assert free.length_m == 450.0 and free.order in ([2, 0, 1, 3], [3, 1, 0, 2])


def lattice(size: int, step_m: float) -> WalkGraph:
    """A square street lattice of ``size`` × ``size`` crossings ``step_m`` apart."""

    def node(i: int, j: int) -> int:
        return i * size + j + 1

    def at(i: int, j: int) -> tuple[float, float]:
        return (120.0 + j * step_m * M, 30.0 + i * step_m * M)

    src, tgt, geoms = [], [], []
    for i in range(size):
        for j in range(size):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < size and j + dj < size:
                    src.append(node(i, j))
                    tgt.append(node(i + di, j + dj))
                    geoms.append(shapely.LineString([at(i, j), at(i + di, j + dj)]))
    lengths = np.full(len(src), step_m)
    return graph_from_edges(np.array(src), np.array(tgt), lengths, np.array(geoms))


@pytest.mark.parametrize("fixed_start", [False, True])
def test_route_on_a_street_lattice_is_the_brute_force_best(fixed_start: bool) -> None:
    """On a 6×6 lattice of 100 m blocks, 8 random crossings: the plan's order (exact) and
    the heuristic used above 10 stops both reach the length of the best of all 8! orders;
    nearest-neighbour alone is reported beside them."""
    graph = lattice(6, 100.0)
    rng = np.random.default_rng(15)
    gaps = []
    for _ in range(6):
        cells = rng.choice(36, size=8, replace=False)
        lonlat = np.array([(120.0 + (c % 6) * 100 * M, 30.0 + (c // 6) * 100 * M) for c in cells])
        dist = dayplan.stop_distances(graph, lonlat).dist
        # the network distance of a lattice is the Manhattan distance
        manhattan = 100.0 * (np.abs(cells[:, None] % 6 - cells[None] % 6)
                             + np.abs(cells[:, None] // 6 - cells[None] // 6))  # fmt: skip
        assert np.array_equal(dist, manhattan)
        best = dayplan.path_length(dayplan.brute_force(dist, fixed_start), dist)
        exact = dayplan.order_stops(dist, fixed_start=fixed_start)
        assert exact.method == "exact (Held-Karp)" and exact.length_m == best
        heuristic = heuristic_order(dist, fixed_start)
        assert heuristic.length_m == best
        gaps.append(exact.nearest_neighbour_m / best - 1)
    assert max(gaps) > 0  # nearest-neighbour alone is not always best


def heuristic_order(dist: np.ndarray, fixed_start: bool) -> dayplan.Ordering:
    exact_up_to = dayplan.EXACT_UP_TO
    dayplan.EXACT_UP_TO = 0
    try:
        return dayplan.order_stops(dist, fixed_start=fixed_start)
    finally:
        dayplan.EXACT_UP_TO = exact_up_to


def test_orders_of_few_stops() -> None:
    assert dayplan.order_stops(np.zeros((0, 0))).order == []
    assert dayplan.order_stops(np.zeros((1, 1))).order == [0]
    two = dayplan.order_stops(np.array([[0.0, 5.0], [5.0, 0.0]]), fixed_start=True)
    assert (two.order, two.length_m) == ([0, 1], 5.0)


# -- the plan over HTTP ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan_world(hh_url: str, hh_ids: dict[str, int]) -> dict[str, int]:
    """The household world plus a second building in G1 with one household, and a street."""
    with get_engine(hh_url).begin() as conn:
        ids = add_route_street(conn)
    return ids


@pytest.fixture(scope="module")
def api(hh_url: str, plan_world: dict[str, int]) -> Iterator[Api]:
    with serve_api(hh_url) as live:
        yield live


@pytest.fixture(scope="module")
def lead_g1(hh_url: str) -> requests.Session:
    return bearer(hh_url, "lead_g1", ("G1",))


def test_a_lead_plans_their_own_grid_only_masked(
    api: Api, lead_g1: requests.Session, plan_world: dict[str, int]
) -> None:
    response = lead_g1.get(api.base + "/api/v1/day-plan", params={"date": "2026-06-01"})
    assert response.status_code == 200, response.text
    plan = response.json()
    assert (plan["worker"], plan["grid_ids"], plan["households"]) == ("lead_g1", [1], 5)
    assert [s["building_id"] for s in plan["stops"]] in (
        [plan_world["B-G1"], plan_world["B-G1b"]],
        [plan_world["B-G1b"], plan_world["B-G1"]],
    )
    assert plan["length_m"] == 300.0 and plan["method"] == "exact (Held-Karp)"
    assert [s["walk_m"] for s in plan["stops"]] == [0.0, 300.0]
    assert plan["route"]["type"] == "LineString" and len(plan["route"]["coordinates"]) == 2
    people = {h["code"]: h for s in plan["stops"] for h in s["households"]}
    assert sorted(people) == ["H1", "H2", "H3", "H4", "H5"]  # not H9 (G3)
    assert people["H1"]["head_phone"] == mask_phone("13912345678") == "139****5678"
    assert people["H1"]["head_name"] == "王秀英" and people["H1"]["days_overdue"] > 0
    # from a start west of B-G1 the walk goes B-G1 first: 480 m to it, then 300 m
    started = lead_g1.get(
        api.base + "/api/v1/day-plan",
        params={"date": "2026-06-01", "start_lon": 120.0, "start_lat": 30.005},
    ).json()
    assert [s["building_id"] for s in started["stops"]] == [plan_world["B-G1"], plan_world["B-G1b"]]
    assert (started["length_m"], [s["walk_m"] for s in started["stops"]]) == (780.0, [480.0, 780.0])


def test_other_grids_and_workers_give_nothing(
    api: Api, hh_url: str, lead_g1: requests.Session
) -> None:
    foreign = bearer(hh_url, "lead_g3_plan", ("G3",))
    other = foreign.get(api.base + "/api/v1/day-plan", params={"worker": "lead_g1"})
    assert other.status_code == 404
    assert other.json()["error"]["message"] == "There is no worker 'lead_g1' in your grids."
    own = foreign.get(api.base + "/api/v1/day-plan", params={"date": "2026-06-01"}).json()
    assert [h["code"] for s in own["stops"] for h in s["households"]] == ["H9"]
    g1 = foreign.get(api.base + "/api/v1/day-plan", params={"grid_id": 1, "date": "2026-06-01"})
    assert g1.status_code == 200 and g1.json()["stops"] == [], g1.text


def test_command_names_a_worker_and_sees_surnames(api: Api, hh_url: str) -> None:
    command = bearer(hh_url, "command_plan", ())
    with get_engine(hh_url).begin() as conn:
        conn.execute(text("UPDATE users SET role = 'command' WHERE username = 'command_plan'"))
    bare = command.get(api.base + "/api/v1/day-plan")
    assert bare.status_code == 400
    assert bare.json()["error"]["message"].startswith("Name a worker or a grid_id")
    plan = command.get(
        api.base + "/api/v1/day-plan", params={"worker": "lead_g1", "date": "2026-06-01"}
    ).json()
    people = {h["code"]: h for s in plan["stops"] for h in s["households"]}
    assert sorted(people) == ["H1", "H2", "H3", "H4", "H5"]
    assert people["H1"]["head_name"] == mask_name("王秀英")
    assert people["H1"]["head_phone"] == "139****5678"


def test_the_printed_plan_is_one_page_with_chinese_text(
    api: Api, lead_g1: requests.Session
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph warns
        response = lead_g1.get(api.base + "/api/v1/day-plan.pdf", params={"date": "2026-06-01"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/pdf"
    (PROJECT_ROOT / "test-artifacts").mkdir(exist_ok=True)
    (PROJECT_ROOT / "test-artifacts" / "day-plan.pdf").write_bytes(response.content)
    pdf = pypdfium2.PdfDocument(io.BytesIO(response.content))
    assert len(pdf) == 1
    page_text = pdf[0].get_textpage().get_text_range()
    assert "入户走访计划 · 2026-06-01 · lead_g1" in page_text
    assert "王秀英" in page_text and "独居老人" in page_text and "幸福路8号" in page_text


def test_without_a_walking_network_the_plan_goes_by_straight_lines() -> None:
    rows = [
        {"household_id": i, "code": f"H{i}", "building_id": b, "address": f"楼{b}",
         "lon": 120.0 + x * M, "lat": 30.0, "days_overdue": 1}
        for i, (b, x) in enumerate([(1, 0.0), (2, 300.0), (3, 100.0), (1, 0.0)])
    ]  # fmt: skip
    plan = dayplan.plan_route(None, rows, AS_OF)
    assert plan.method == "exact (Held-Karp), straight lines (no network)"
    assert [s["building_id"] for s in plan.stops] in ([1, 3, 2], [2, 3, 1])
    assert [len(s["households"]) for s in plan.stops if s["building_id"] == 1] == [2]
    assert plan.length_m == 289.5  # 0.003° of longitude at 30° N (local projection)


def test_list_lines_fit_the_page() -> None:
    from gridmap.households.dayplan_print import LINE_EMS, LIST_LINES, list_lines

    many = {"code": "H", "unit": "1", "room": "101", "head_name": "王秀英",
            "tags": ["elderly_alone"], "days_overdue": 3}  # fmt: skip
    stops = [{"seq": i + 1, "address": "幸福路8号", "walk_m": 10.0 * i,
              "households": [many] * 12} for i in range(60)]  # fmt: skip
    lines = list_lines({"stops": stops}, {"elderly_alone": "独居老人"})
    assert len(lines) == LIST_LINES and lines[-1] == "……另有 15 处（见系统）"
    assert lines[0].startswith(" 1. 幸福路8号（0 m）  1-101 王秀英 独居老人 逾期3天；")
    assert lines[0].endswith("…")
    widths = [sum(1.0 if ord(c) >= 0x2E80 else 0.55 for c in line) for line in lines]
    assert max(widths) <= LINE_EMS
