"""The /lead household panel and visit form in-process, on the hand-made household world
(G1: building B-G1 with H1-H4; G3: B-G3 with H9), as a real grid lead of G1 set on
``flask.g``: the overdue list (masked, audited), a visit recorded once however often the
form is sent, the panel and the map's overdue trace after it, and crafted inputs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from dash import Dash, Patch
from flask import g
from sqlalchemy import text

from gridmap.access import G_USER, Role, User
from gridmap.db.engine import get_engine
from gridmap.web.app import create_app
from gridmap.web.pages import lead
from gridmap.web.services.lead import households
from layers.overdue_visits import today
from tests.conftest import make_test_database
from tests.gridmap.cases.world import camera_position
from tests.gridmap.households.world import seed_households
from tests.gridmap.web.services.lead.world import account

TZ = "Asia/Shanghai"
KEY = "lead-form:test-1"


@pytest.fixture(scope="module")
def world(_created: list[str]) -> tuple[Dash, str, dict[str, int], User]:
    url = make_test_database("lead_visits")
    _created.append(url)
    ids = seed_households(url)
    return create_app(url), url, ids, account(url, "visits_lead_g1", {1})


@contextmanager
def as_user(app: Dash, user: User) -> Iterator:
    with app.server.test_request_context("/_dash-update-component", method="POST"):
        setattr(g, G_USER, user)
        yield


def days(due: date) -> int:
    return (today(TZ) - due).days


def send(household: Any, kind: Any, outcome: Any, note: Any, key: str, lang: str, **more: Any):
    """The visit form sent (``more``: building, unit, lon, lat, open_case, category,
    description)."""
    return lead.save_visit(
        1, household, more.get("building"), more.get("unit"), kind, outcome, note,
        more.get("lon"), more.get("lat"), more.get("open_case", []), more.get("category"),
        more.get("description"), key, 0, lang,
    )  # fmt: skip


def test_overdue_households_listed_masked_and_audited(world) -> None:
    app, url, ids, lead_user = world
    with as_user(app, lead_user):
        summary, items, options, kinds, kind, patch, *_ = lead.show_households(1, 0, None, "zh-CN")
    # H1, H4 weekly (due 01-08), H2 monthly (due 01-31); untagged H3 due 04-01
    assert summary == "周期内已走访 0/4 户（0.0%）· 逾期 4 户 · 困难群体逾期 3 户"
    assert [o["value"] for o in options] == [ids["H1"], ids["H4"], ids["H2"], ids["H3"]]
    assert options[0]["label"] == f"H1 · B-G1 1-101 · 王秀英 · 逾期 {days(date(2026, 1, 8))} 天"
    assert "13912345678" not in str(items) and len(items) == 4
    assert [k["value"] for k in kinds][:2] == ["routine", "care"] and kind == "care"
    assert kinds[1]["label"] == "关爱走访"
    assert isinstance(patch, Patch)
    with get_engine(url).connect() as conn:
        audited = conn.execute(
            text(
                "SELECT target, detail->>'n' FROM audit_log WHERE user_id = :u "
                "AND action = 'view_personal' ORDER BY id DESC LIMIT 1"
            ),
            {"u": lead_user.id},
        ).one()
    assert tuple(audited) == ("households:overdue", "4")


def test_a_visit_is_recorded_once_and_leaves_the_list(world) -> None:
    app, url, ids, lead_user = world
    engine = get_engine(url)
    with as_user(app, lead_user):
        before = households.overdue_trace(engine, lead_user, 1, "zh-CN")
        first = send(ids["H1"], "care", "met", " 老人安好 ", KEY, "zh-CN")
        again = send(ids["H1"], "care", "met", " 老人安好 ", KEY, "zh-CN")
        summary, _items, options, _kinds, kind, _patch, *_ = lead.show_households(
            1, 1, "mediation", "zh-CN"
        )
        after = households.overdue_trace(engine, lead_user, 1, "zh-CN")
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT id, kind, outcome, note, worker_id FROM visits WHERE household_id = :h"),
            {"h": ids["H1"]},
        ).all()
    assert len(stored) == 1
    visit_id, *rest = stored[0]
    assert rest == ["care", "met", "老人安好", lead_user.id]
    message, key, done, *cleared = first
    assert message == f"已记录走访（编号 {visit_id}）。"
    assert key.startswith("lead-form:") and key != KEY and done == 1
    assert cleared == [None, "", None, None, None, None, [], ""]
    assert again[0] == f"该走访已记录过（编号 {visit_id}），未重复记录。"
    assert summary == "周期内已走访 1/4 户（25.0%）· 逾期 3 户 · 困难群体逾期 2 户"
    assert ids["H1"] not in [o["value"] for o in options] and kind == "mediation"
    assert list(before["customdata"][0]) == ["B-G1", 4, 4, 3, days(date(2026, 1, 8))]
    assert list(after["customdata"][0]) == ["B-G1", 4, 3, 2, days(date(2026, 1, 8))]


def test_crafted_and_incomplete_forms(world) -> None:
    app, url, ids, lead_user = world
    with as_user(app, lead_user):
        other = send(ids["H9"], "care", "met", None, "lead-form:x", "en")
        missing = send(None, None, "met", None, "lead-form:y", "zh-CN")
        unknown = send(ids["H2"], "party", "met", None, "lead-form:z", "en")
        summary, items, options, _kinds, _kind, _patch, *_ = lead.show_households(3, 0, None, "en")
        several = lead.show_households({"grids": [1, 3]}, 0, "bogus", "en")
    assert other[0] == "There is no such household in your grids." and other[1:] == (
        (lead.no_update,) * 10
    )
    assert missing[0] == "请补全：走访对象（住户、楼栋或联户单元）、走访类型。"
    assert unknown[0] == "Please correct: Kind of visit (choose one from the list)."
    assert summary == several[0] == "Pick one grid to see its households overdue for a visit."
    assert items == options == [] and several[4] == "care"
    with get_engine(url).connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM visits WHERE household_id IN (:a, :b)"),
                {"a": ids["H9"], "b": ids["H2"]},
            ).scalar()
            == 0
        )


def test_the_compound_level_keeps_the_grids_holding_it(world) -> None:
    app, url, _ids, _lead = world
    admin = account(url, "visits_admin", set(), Role.ADMIN)
    with get_engine(url).connect() as conn:
        compound = conn.execute(text("SELECT id FROM compounds WHERE code = 'C1'")).scalar_one()
    unset = (None,) * 4
    with as_user(app, admin):
        city = lead.choose(None, None, 1, None, *unset, "all", None, 0, None, None, "zh-CN")
        inside = lead.choose(None, None, 1, None, *unset, "all", None, 0, compound, None, "en")
        stale = lead.choose(None, None, None, 2, *unset, "all", None, 0, compound, None, "en")
    assert sorted(o["value"] for o in city[3]) == [1, 2] and city[10]["grid_ids"] == [1, 2]
    assert city[13] == [{"label": "幸福小区", "value": compound}] and city[14] is None
    assert [o["value"] for o in inside[3]] == [1] and inside[10]["grid_ids"] == [1]
    assert inside[12] == "1 grid(s) chosen" and inside[14] == compound
    # no community chosen: no compound (a city has thousands), grid 2 as asked
    assert stale[13] == [] and stale[14] is None and stale[10]["grid_ids"] == [2]


def test_the_form_says_a_far_fix_the_case_opened_and_what_is_wrong(world) -> None:
    app, url, ids, lead_user = world
    with get_engine(url).connect() as conn:
        building, unit = conn.execute(
            text(
                "SELECT (SELECT id FROM buildings WHERE code = 'B-G1'), "
                "(SELECT id FROM ten_household_units WHERE code = 'U1')"
            )
        ).one()
    far = camera_position(350.0, 90.0)  # 350 m east of B-G1 (the setting: 200 m)
    with as_user(app, lead_user):
        flagged = send(None, "safety_check", "met", None, "lead-form:far", "zh-CN",
                       building=building, lon=far[0], lat=far[1])  # fmt: skip
        opened = send(None, "mediation", "follow_up", "", "lead-form:case", "en", unit=unit,
                      open_case=["open"], category="disputes", description="噪音纠纷")  # fmt: skip
        both = send(ids["H2"], "care", "met", None, "lead-form:bad", "zh-CN", building=building,
                    lon=200)  # fmt: skip
        no_case = send(None, "care", "met", None, "lead-form:bad2", "en", unit=unit,
                       open_case=["open"], category="ufo", description="x")  # fmt: skip
        elsewhere = send(None, "care", "met", None, "lead-form:bad3", "zh-CN", unit=999_999)
        reused = send(ids["H1"], "care", "met", "另一次走访", KEY, "zh-CN")  # KEY stored H1's
        _ = lead.show_households(1, 2, None, "zh-CN")
        shown = lead.draw_route(1, "zh-CN")
        hidden = lead.draw_route(3, "en")
    with get_engine(url).connect() as conn:
        visit_id, case_id, code = conn.execute(
            text(
                "SELECT v.id, v.case_id, c.code FROM visits v JOIN cases c ON c.id = v.case_id "
                "WHERE v.idempotency_key = 'lead-form:case'"
            )
        ).one()
        far_id = conn.execute(
            text("SELECT id FROM visits WHERE idempotency_key = 'lead-form:far'")
        ).scalar_one()
    assert flagged[0] == (
        f"已记录走访（编号 {far_id}），但定位距楼栋 350 米，已标记（不计为已走访）。"
    )
    assert opened[0] == (
        f"Visit recorded (no. {visit_id}). Case {code} (no. {case_id}) opened, linked to this "
        "visit both ways."
    )
    assert both[0] == "请补全：纬度。 请更正：走访对象（住户、楼栋、联户单元只能选一个）。"
    assert no_case[0] == "Please correct: Case category (choose one from the list)."
    assert elsewhere[0] == "找不到该联户单元（不在您的网格内）。"
    assert reused[0] == "此表单已记录过另一条走访（可能未收到回复），请核对后再次提交。"
    assert reused[1].startswith("lead-form:") and reused[1] != KEY  # the next send records
    # today H2, H3 and H4 are overdue (H1 was visited above), all at B-G1: one stop
    summary, items, href, patch = shown
    assert summary == "今日走访路线：1 站、3 户，步行全程 0 米。"
    assert href == "/api/v1/day-plan.pdf?grid_id=1" and len(items) == 1
    assert isinstance(patch, Patch)
    assert hidden[:3] == ("Pick one grid to see its households overdue for a visit.", [], None)
