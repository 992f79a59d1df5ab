"""The lead's day route at service level: the hand-made household world plus a second
building in G1 (B-G1b, household H5) and a street through B-G1 and B-G1b (300 m apart on
it), as a real grid lead of G1 — the route is the day-plan service's (as GET
/api/v1/day-plan?grid_id=1 computes it), masked and audited; another grid gives nothing;
a day with nothing due is empty; the map traces number the stops in walking order."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from gridmap.access import User
from gridmap.db.engine import get_engine
from gridmap.households import dayplan
from gridmap.web.components import lead_map
from gridmap.web.components.household_panel import route_items, route_summary
from gridmap.web.services.lead import route
from tests.conftest import make_test_database
from tests.gridmap.households.world import add_route_street, seed_households
from tests.gridmap.web.services.lead.world import account

AS_OF = date(2026, 6, 1)


@pytest.fixture(scope="module")
def world(_created: list[str]) -> tuple[str, dict[str, int], User]:
    url = make_test_database("lead_route_service")
    _created.append(url)
    seed_households(url)
    with get_engine(url).begin() as conn:
        ids = add_route_street(conn)
    return url, ids, account(url, "route_service_lead", {1})


def test_the_route_is_the_day_plan_of_the_grid_masked_and_audited(world) -> None:
    url, ids, lead = world
    engine = get_engine(url)
    plan = route.day_route(engine, url, lead, 1, as_of=AS_OF)
    # the day-plan service itself, unscoped, for grid 1 (as GET /api/v1/day-plan?grid_id=1)
    with engine.connect() as conn:
        expected = dayplan.day_plan(conn, dayplan.walk_graph(url), AS_OF, "Asia/Shanghai", [1])
    assert [s["building_id"] for s in plan.stops] == [s["building_id"] for s in expected.stops]
    assert (plan.line, plan.length_m, plan.method) == (
        expected.line, 300.0, "exact (Held-Karp)"
    )  # fmt: skip
    assert sorted(s["building_id"] for s in plan.stops) == sorted([ids["B-G1"], ids["B-G1b"]])
    assert [(s["seq"], s["walk_m"]) for s in plan.stops] == [(1, 0.0), (2, 300.0)]
    assert (plan.households, plan.left_out) == (5, 0)
    people = {h["code"]: h for s in plan.stops for h in s["households"]}
    assert sorted(people) == ["H1", "H2", "H3", "H4", "H5"]  # not H9 (G3)
    assert (people["H1"]["head_name"], people["H1"]["head_phone"]) == ("王秀英", "139****5678")
    with engine.connect() as conn:
        audited = conn.execute(
            text(
                "SELECT target, detail->>'grid_id', detail->>'n' FROM audit_log "
                "WHERE user_id = :u ORDER BY id DESC LIMIT 1"
            ),
            {"u": lead.id},
        ).one()
    assert tuple(audited) == ("households:day-plan", "1", "5")
    assert route.pdf_href(1) == "/api/v1/day-plan.pdf?grid_id=1"
    assert route.pdf_href(1, AS_OF) == "/api/v1/day-plan.pdf?grid_id=1&date=2026-06-01"

    first = plan.stops[0]
    assert route_summary(plan, "zh-CN") == "今日走访路线：2 站、5 户，步行全程 300 米。"
    assert route_summary(plan, "en") == "Today's route: 2 stops, 5 households, 300 m on foot."
    items = route_items(plan, "zh-CN")
    assert [i.value for i in items] == [1, 2]
    assert items[0].children[0].children == first["address"]
    assert items[1].children[2].children == "已步行 300 米"
    whys = {i.children[0].children: i.children[4].children for i in items}
    # untagged H5: every 90 days from its registration on 01-01, due 04-01
    assert whys["幸福路8号"] == f"H5 逾期 {(AS_OF - date(2026, 4, 1)).days} 天"
    stops = lead_map.route_stops_trace(plan.stops, "zh-CN")
    assert (stops["text"], stops["mode"]) == (["1", "2"], "markers+text")
    assert stops["customdata"][0] == [1, first["address"], len(first["households"]),
                                      first["building_id"]]  # fmt: skip
    line = lead_map.route_line_trace(plan.line, "zh-CN")
    assert list(zip(line["lon"], line["lat"], strict=True)) == [tuple(c) for c in plan.line]


def test_another_grid_gives_nothing_and_a_quiet_day_is_empty(world) -> None:
    url, _ids, lead = world
    engine = get_engine(url)
    assert route.day_route(engine, url, lead, 3, as_of=AS_OF) is None
    assert route.day_route(engine, url, None, 1, as_of=AS_OF) is None
    quiet = route.day_route(engine, url, lead, 1, as_of=date(2026, 1, 2))  # nothing due yet
    assert (quiet.stops, quiet.households, quiet.line) == ([], 0, [])
    assert route_summary(quiet, "zh-CN") == "今天没有到期的走访。"
    assert route_summary(quiet, "en") == "No visit is due today."
    assert route_items(quiet, "zh-CN") == []
    patch = lead_map.route_patch(quiet.stops, quiet.line, "zh-CN").to_plotly_json()
    assert [op["location"] for op in patch["operations"]] == [
        ["data", lead_map.ROUTE_LINE], ["data", lead_map.ROUTE_STOPS]
    ]  # fmt: skip
