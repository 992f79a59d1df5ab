"""The grid-lead page's callbacks in-process, as a signed-in user set on ``flask.g`` (the
sign-in itself is exercised by the browser test): options, messages and empty states,
table pages, the detail panel, and that crafted inputs never reach another grid."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from dash import Dash, Patch
from flask import g
from sqlalchemy import text

from gridmap.access import G_USER, Role, User
from gridmap.db.engine import get_engine
from gridmap.web.app import create_app
from gridmap.web.pages import lead
from tests.gridmap.web.services.lead.world import account, make_lead_city
from tests.signin import _csrf, ensure_account

ADMIN = User(1, "admin", "admin", Role.ADMIN)
LEAD: User  # real accounts (row-level security keys on their ids), made by lead_app
NO_GRIDS: User
UNSET = (None,) * 8  # dropdowns and thresholds


@pytest.fixture(scope="module")
def lead_app(_created: list[str]) -> Dash:
    global LEAD, NO_GRIDS
    url = make_lead_city("leadcity")
    _created.append(url)
    LEAD = account(url, "lead_page", {3, 4, 40})
    NO_GRIDS = account(url, "lead_page_none", set())
    return create_app(url)


@contextmanager
def as_user(app: Dash, user: User | None, path: str = "/_dash-update-component") -> Iterator:
    with app.server.test_request_context(path, method="POST"):
        if user is not None:
            setattr(g, G_USER, user)
        yield


def choose(*values, selected=None, status="all", compound=None, stored=None, lang="zh-CN"):
    return lead.choose(*values, status, selected, 0, compound, stored, lang)


def test_lead_sees_their_grids_framed(lead_app: Dash) -> None:
    with as_user(lead_app, LEAD):
        out = choose(*UNSET)
    grid = out[3]
    assert sorted(o["value"] for o in grid) == [3, 4, 40]
    figure, _flt, scope, detail, message = out[8:13]
    assert message == "已选 3 个网格"
    assert sorted(figure["data"][0]["locations"]) == [3, 4, 40]
    assert scope["grid_ids"] == [3, 4, 40] and detail == 3
    case_grids = {
        r for r in get_engine(lead_app.server.config["GRIDMAP_DATABASE_URL"]).connect()
        .execute(text("SELECT grid_id FROM cases WHERE id = ANY (:ids)"),
                 {"ids": [c[0] for c in figure["data"][1]["customdata"]]}).scalars()
    }  # fmt: skip
    assert case_grids <= {3, 4, 40}
    assert figure["layout"]["map"]["zoom"] >= 13


def test_cascading_choice_and_no_match(lead_app: Dash) -> None:
    with as_user(lead_app, LEAD):
        first = choose(*UNSET)
        street = first[1][0]["value"]
        narrowed = choose(None, street, None, None, *UNSET[4:])
        nothing = choose(*UNSET[:4], None, 10**8, None, None)
    assert narrowed[5] == street
    assert {o["value"] for o in narrowed[3]} < {3, 4, 40} or len(first[1]) == 1
    assert nothing[12] == "没有符合筛选条件的网格。请放宽条件或清除圈选区域。"
    assert nothing[10]["grid_ids"] == [] and nothing[11] is None


def test_empty_states(lead_app: Dash) -> None:
    with as_user(lead_app, NO_GRIDS):
        out = choose(*UNSET, lang="en")
    assert out[12].startswith("No grid is assigned to your account yet")
    assert [out[i] for i in range(4)] == [[], [], [], []]
    with as_user(lead_app, None):
        assert choose(*UNSET)[12] == "请先登录。"
    with as_user(lead_app, NO_GRIDS):
        panel, _ = lead.show_grid(None, "zh-CN")
    assert "点击一个网格" in panel[0].children


def test_crafted_inputs_stay_in_the_leads_grids(lead_app: Dash) -> None:
    with as_user(lead_app, LEAD):
        out = choose(1, None, None, 60, *UNSET[4:])  # someone else's district and grid
        assert out[7] is None and 60 not in out[10]["grid_ids"]
        rows, pager, *_ = lead.show_page({"grid_ids": [5, 6, 60]}, 0, 0, None, 0, "zh-CN")
        assert rows == [] and pager == "没有符合条件的事件。"
        panel, outline = lead.show_grid(60, "zh-CN")
        assert "点击一个网格" in panel[0].children
        assert isinstance(outline, Patch)


def test_table_pages_and_detail(lead_app: Dash) -> None:
    engine = get_engine(lead_app.server.config["GRIDMAP_DATABASE_URL"])
    with engine.connect() as conn:
        total = conn.execute(
            text("SELECT count(*) FROM cases WHERE grid_id IN (3, 4, 40)")
        ).scalar()
        population = conn.execute(
            text("SELECT sum(population) FROM buildings WHERE grid_id = 4")
        ).scalar()
    scope = {"grid_ids": [3, 4, 40], "area": None, "open_only": False}
    with as_user(lead_app, LEAD):
        rows, pager, offset, selected, _ = lead.show_page(scope, 0, 0, None, 0, "zh-CN")
        assert len(rows) == 100 and offset == 0 and selected == []
        assert pager == f"第 1–100 件，共 {total:,} 件"
        panel, outline = lead.show_grid(4, "en")
    names = {c.children[1].id: c.children[1].children for c in panel[2].children}
    assert names["lead-fig-population"] == f"{population:,}"
    assert isinstance(outline, Patch)


def test_a_case_clicked_on_the_map_opens_its_page(lead_app: Dash) -> None:
    engine = get_engine(lead_app.server.config["GRIDMAP_DATABASE_URL"])
    with engine.connect() as conn:
        ids = list(
            conn.execute(
                text(
                    "SELECT id FROM cases WHERE grid_id IN (3, 4, 40) "
                    "ORDER BY reported_at DESC, id DESC"
                )
            ).scalars()
        )
        other = conn.execute(text("SELECT id FROM cases WHERE grid_id = 5 LIMIT 1")).scalar()
    scope = lead.CaseScope((3, 4, 40))
    with as_user(lead_app, LEAD):
        assert lead.page_of_case(engine, LEAD, scope, ids[0], 100) == 0
        assert lead.page_of_case(engine, LEAD, scope, ids[250], 100) == 200
        assert lead.page_of_case(engine, LEAD, scope, other, 100) is None
    click = {"points": [{"curveNumber": 1, "customdata": [ids[250]]}]}
    assert lead._clicked(click) == (ids[250], None)
    assert lead._clicked({"points": [{"curveNumber": 0, "location": 4}]}) == (None, 4)


def test_a_row_picked_in_the_table_rings_the_case() -> None:
    ring = lead.pick_case([{"id": "7", "lon": 118.78, "lat": 32.05}], "zh-CN")
    assert isinstance(ring, Patch)
    # nothing picked, a row without a position, or the server's own {"ids": [...]} echoed
    # back after a click on the map: the map stays as it is
    for rows in (None, [], [{"id": "7", "lon": None, "lat": None}], {"ids": ["7"]}):
        assert lead.pick_case(rows, "zh-CN") is lead.no_update


@pytest.mark.parametrize(
    ("role", "home"), [("grid_lead", "/lead"), ("planner", "/plan"), ("command", "/")]
)
def test_sign_in_lands_on_the_roles_home(lead_app: Dash, role: str, home: str) -> None:
    """Sign-in without a page asked for lands on the role's home; the city map ``/``
    itself then opens for the role (no bounce back: a planner clicking 城市地图 stays)."""
    url = lead_app.server.config["GRIDMAP_DATABASE_URL"]
    username, password = ensure_account(url, role, username=f"home_{role}", grids=())
    client = lead_app.server.test_client()
    form = {"username": username, "password": password, "next": "/"}
    landed = client.post("/login", data=form | {"csrf_token": _csrf(client.get("/login").text)})
    assert (landed.status_code, landed.headers["Location"]) == (302, home)
    for path in ("/", "/?lang=en", "/?lang=zh-CN", f"{home}?lang=en"):
        assert client.get(path).status_code == 200, path
    asked = client.post("/login", data=form | {"next": "/patrols" if role != "planner" else
                        "/?lang=en", "csrf_token": _csrf(client.get("/login").text)})  # fmt: skip
    assert asked.headers["Location"] == ("/patrols" if role != "planner" else "/?lang=en")


def _box(engine, where: str) -> dict:
    """A plotly box selection (``selectedData``) around the grids ``where`` picks, shrunk
    a little so it reaches no neighbour beyond them."""
    with engine.connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent("
                f"ST_Buffer(geom::geography, -30)::geometry) e FROM grids WHERE {where}) s"
            )
        ).one()
    return {"range": {"map": [[x0, y1], [x1, y0]]}}


def test_a_box_over_several_grids_shows_their_summary(lead_app: Dash, monkeypatch) -> None:
    """A box over several of the lead's grids puts a summary of them in the detail panel
    (figures added up), not one of them at random; a box inside one grid shows that grid;
    a crafted selection lists only the user's grids."""
    engine = get_engine(lead_app.server.config["GRIDMAP_DATABASE_URL"])
    monkeypatch.setattr(lead, "triggered_id", lambda: "lead-graph")
    with as_user(lead_app, LEAD):
        both = choose(*UNSET, selected=_box(engine, "id IN (3, 4)"))
        one = choose(*UNSET, selected=_box(engine, "id = 4"))
    chosen = both[10]["grid_ids"]
    assert {3, 4} <= set(chosen) <= {3, 4, 40}
    assert both[11] == {"grids": chosen}
    assert one[10]["grid_ids"] == [4] and one[11] == 4
    with engine.connect() as conn:
        population, names = conn.execute(
            text("SELECT sum(population), (SELECT string_agg(name, ' · ' ORDER BY id) FROM "
                 "grids WHERE id = ANY (:g)) FROM buildings WHERE grid_id = ANY (:g)"),
            {"g": chosen},
        ).one()  # fmt: skip
    with as_user(lead_app, LEAD):
        panel, outline = lead.show_grid(both[11], "zh-CN")
        crafted, _ = lead.show_grid({"grids": [4, 60, "x", True]}, "en")
        nothing, _ = lead.show_grid({"grids": [60]}, "zh-CN")
    assert panel[0].children == f"已框选 {len(chosen)} 个网格"
    assert panel[1].children == names
    figures = {c.children[1].id: c.children[1].children for c in panel[2].children}
    assert figures["lead-fig-population"] == f"{population:,}"
    assert panel[-1].children == "点击地图上的一个网格查看其详情。"
    assert isinstance(outline, Patch)
    assert crafted[0].children == "1 grid(s) selected"
    assert "点击一个网格" in nothing[0].children


def test_the_map_has_a_key_and_the_table_speaks_the_pages_language(lead_app: Dash) -> None:
    with as_user(lead_app, LEAD, path="/lead"):
        page = lead.layout("zh-CN")
        english = lead.layout("en")
    found = {c.id: c for c in page._traverse() if getattr(c, "id", None)}
    key = [li.children[1].children for li in found["lead-legend"].children[1].children.children]
    assert key == [
        "网格（颜色区分社区）", "当前网格", "事件：未办结", "事件：已超期", "事件：已办结",
        "选中的事件", "今日走访路线", "走访站点（按顺序编号）",
    ]  # fmt: skip
    assert found["lead-table"].dashGridOptions["localeText"]["noRowsToShow"] == "没有符合条件的事件"
    table = next(c for c in english._traverse() if getattr(c, "id", None) == "lead-table")
    assert table.dashGridOptions["localeText"]["noRowsToShow"] == "No cases match"
