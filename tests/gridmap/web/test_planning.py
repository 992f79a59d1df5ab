"""The planning page (/plan) in-process on the toy network: layout, coverage card, the
what-if (nothing stored until saved), suggestions and recompute."""

from __future__ import annotations

from typing import Any

import psycopg2
import pytest
from dash import Dash

from gridmap.analytics.whatif import CACHE
from gridmap.web.app import create_app
from gridmap.web.pages import planning
from gridmap.web.services.planning import Worst, points_text, worst_covered
from tests.gridmap.analytics.toy import lonlat, toy_with_circles
from tests.signin import client_sign_in, ensure_account

KIND = "party_service_center"
VIEW_NODE4 = {"center": list(lonlat(500.0, 0.0)), "zoom": 15.0,
              "bbox": [119.99, 29.99, 120.01, 30.01]}  # fmt: skip


@pytest.fixture(scope="module")
def plan_url(_created: list[str]) -> str:
    return toy_with_circles(_created, "planpage")


@pytest.fixture(scope="module")
def plan_app(plan_url: str) -> Dash:
    return create_app(plan_url)


def call(app: Dash, fn, *args: Any) -> Any:
    with app.server.test_request_context("/plan"):
        return fn(*args)


def test_page_serves_in_both_languages(plan_app: Dash, plan_url: str) -> None:
    client = plan_app.server.test_client()
    client_sign_in(client, *ensure_account(plan_url, "planner"))
    assert client.get("/plan").status_code == 200
    page = call(plan_app, planning.layout, "en")
    assert page.lang == "en"
    zh = call(plan_app, planning.layout)
    assert zh.lang == "zh-CN"


def test_coverage_card_and_what_if(plan_app: Dash, plan_url: str) -> None:
    CACHE.clear()
    out = call(plan_app, planning.redraw, KIND, 5.0, [], [], [], 0, VIEW_NODE4, "en")
    patch, pct, detail, delta, vulnerable, off, _elapsed, communities, options, status = out
    assert vulnerable.startswith("Vulnerable groups: elderly alone ")
    assert pct == "8.66%"  # 110 of 1,270 people within 375 m
    assert detail == "110 / 1,270 people · 3 buildings"
    assert delta == "Today (no changes)"
    assert off == "2 buildings far from any street (480 people), counted as uncovered"
    assert options == [{"label": "point 1 (#1)", "value": 1}]
    assert status.startswith("Stored results: current (")
    assert [li.children for li in communities] == ["c: 11.6% of 950 people"]  # its name
    assert patch.to_plotly_json()["operations"][1]["params"]["value"] is False  # no legend
    data = patch.to_plotly_json()["operations"][0]["params"]["value"]
    assert [d["meta"]["layer"] for d in data] == [
        "service_circles", "uncovered_buildings", "plan_points", "plan_points"
    ]  # fmt: skip

    edits, count, msg = call(plan_app, lambda: _edit(plan_app, "plan-move", 1, []))
    assert edits == [{"op": "move", "point_id": 1, "lon": VIEW_NODE4["center"][0],
                      "lat": VIEW_NODE4["center"][1]}]  # fmt: skip
    assert (count, msg) == ("1 change(s)", "")
    out = call(plan_app, planning.redraw, KIND, 5.0, [], edits, [], 0, VIEW_NODE4, "en")
    assert out[1] == "55.12%"  # from node 4: B3 0 m, B7 100 m, B2 300 m → 700 people
    assert out[3] == "+590 people vs. today (+46.5 percentage points)"
    drawn = out[0].to_plotly_json()["operations"][0]["params"]["value"]
    changes = {d["meta"]["layer"]: (d["name"], len(d["lon"])) for d in drawn
               if d["meta"]["layer"] in ("plan_gained", "plan_lost")}  # fmt: skip
    assert changes == GAINED_LOST
    assert out[0].to_plotly_json()["operations"][1]["params"]["value"] is True  # legend on
    moved = [d for d in drawn if d["meta"]["layer"] == "plan_whatif_circles"]
    assert len(moved) == 1 and moved[0]["fill"] == "toself"  # the moved point's area, live
    assert moved[0]["name"] == "Within 5 min walk after the change (not saved)"  # legend
    assert out[6].endswith(" ms · today 8.66%")
    assert max(moved[0]["lon"][:-1]) > lonlat(560.0, 0)[0]  # reaches past node 4 eastwards
    with psycopg2.connect(plan_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT round(ST_X(geom)::numeric, 6) FROM service_points WHERE id = 1")
        assert float(cur.fetchone()[0]) == 120.0  # untouched until saved


GAINED_LOST = {"plan_gained": ("Newly covered buildings (2)", 2),
               "plan_lost": ("Buildings no longer covered (2)", 2)}  # fmt: skip


def test_what_if_that_changes_nothing_says_so(plan_app: Dash) -> None:
    far = [{"op": "add", "kind": KIND, "lon": VIEW_NODE4["center"][0], "lat": 29.9}]
    out = call(plan_app, planning.redraw, KIND, 5.0, [], far, [], 0, VIEW_NODE4, "zh-CN")
    assert out[3] == "较现状无变化"


def test_points_text_keeps_small_changes_visible() -> None:
    assert [points_text(v) for v in (46.457, 0.8, 0.04, -0.0012, -0.5, 0.0)] == [
        "+46.5", "+0.8", "+0.040", "-0.0012", "-0.5", "+0.0"
    ]  # fmt: skip


def test_page_opens_on_the_worst_covered_kind_and_minutes(plan_app: Dash, plan_url: str) -> None:
    from gridmap.db.app import app_engine

    CACHE.clear()
    with plan_app.server.app_context():
        worst = worst_covered(app_engine(), planning._params())
    # the other kinds have no points (they cover nobody) and are left out
    assert worst == Worst(KIND, 5.0, 8.66)
    page = str(call(plan_app, planning.layout, "en"))
    assert "Least covered: Party-masses service centre within 5 min, 8.66% (shown first)" in page
    assert "value=5.0" in page.replace(" ", "")
    chosen = str(call(plan_app, planning.layout, "en", "elderly_care"))
    assert "Least covered:" not in chosen


def _edit(app: Dash, which: str, point: int | None, edits: list) -> Any:
    """Run the edit callback as if ``which`` was clicked."""
    import dash
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    context_value.set(AttributeDict(triggered_inputs=[{"prop_id": f"{which}.n_clicks",
                                                       "value": 1}]))  # fmt: skip
    assert dash.callback_context.triggered_id == which
    return planning.edit(1, None, None, None, point, KIND, VIEW_NODE4, edits, "en")


def test_suggestions(plan_app: Dash) -> None:
    items, points = call(plan_app, planning.suggest, 1, KIND, 5.0, 2, "nodes", [], "en")
    assert len(points) == 1 and points[0]["rank"] == 1
    assert items[0].children.startswith("#1: +680 people")


def test_save_then_recompute(plan_app: Dash, plan_url: str) -> None:
    edits = [{"op": "move", "point_id": 1, "lon": VIEW_NODE4["center"][0],
              "lat": VIEW_NODE4["center"][1]}]  # fmt: skip
    cleared, message, version = call(plan_app, planning.save, 1, edits, 0, "en")
    assert (cleared, version) == ([], 1)
    assert message == "Saved 1 change(s); recompute the service circles"
    status = call(plan_app, planning.redraw, KIND, 5.0, [], [], [], 1, VIEW_NODE4, "en")[9]
    assert status.startswith("Stored results: stale: data changed")
    message, version = call(plan_app, planning.run_recompute, 1, 1, "en")
    assert message.startswith("Recomputed: 3 isochrones in ")
    out = call(plan_app, planning.redraw, KIND, 5.0, [], [], [], 2, VIEW_NODE4, "en")
    assert out[1] == "55.12%"
    assert out[9].startswith("Stored results: current")


def test_a_worker_warms_the_planning_model_up_and_a_failure_stays_quiet(plan_url: str) -> None:
    """gridmap serve's workers build the model when they start (settings.plan_warmup), so
    the first planner finds it; an unreachable database is left for the page to report."""
    from sqlalchemy import create_engine

    from gridmap.analytics.params import CircleParams
    from gridmap.db.engine import get_engine
    from gridmap.web.services.planning import engine_url, warm_up

    params = CircleParams.from_settings()
    CACHE.clear()
    warm_up(get_engine(plan_url), params)
    assert [key[0] for key in CACHE._items] == [engine_url(get_engine(plan_url))]
    warm_up(create_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none"), params)  # no raise
