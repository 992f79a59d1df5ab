"""The lead's visit form at service level on the hand-made household world (G1: building
B-G1 with H1-H4, unit U1; G3: B-G3 with H9, unit U3) as a real grid lead of G1: the form
checked as the API's body, a visit to a building with a far fix, a visit to a unit that
opens a case (once, however often sent; linked both ways), and targets outside the grids."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from gridmap.access import User
from gridmap.db.engine import get_engine
from gridmap.errors import InvalidInput, Problem
from gridmap.web.services.lead import households as hh
from gridmap.web.services.lead.households import INVALID, MISSING, VisitForm
from tests.conftest import make_test_database
from tests.gridmap.cases.world import camera_position
from tests.gridmap.households.world import seed_households
from tests.gridmap.web.services.lead.world import account

#: 350 m east of B-G1 (the far-fix setting: 200 m); 40 m north of it.
FAR = camera_position(350.0, 90.0)
NEAR = camera_position(40.0, 0.0)


@pytest.fixture(scope="module")
def world(_created: list[str]) -> tuple[str, dict[str, int], User]:
    url = make_test_database("lead_hh_service")
    _created.append(url)
    ids = seed_households(url)
    with get_engine(url).connect() as conn:
        ids |= dict(conn.execute(text("SELECT code, id FROM buildings")).all())
        ids |= dict(conn.execute(text("SELECT code, id FROM ten_household_units")).all())
    return url, ids, account(url, "hh_service_lead", {1})


def scalar(url: str, sql: str, **params: Any) -> Any:
    with get_engine(url).connect() as conn:
        return conn.execute(text(sql), params).scalar()


def problems(form: VisitForm) -> list[Problem]:
    with pytest.raises(InvalidInput) as caught:
        hh.check_form(form)
    return caught.value.problems


def test_the_form_is_checked_as_the_api_body() -> None:
    base = {"kind": "care", "outcome": "met"}
    assert problems(VisitForm()) == [
        Problem("target", MISSING), Problem("kind", MISSING), Problem("outcome", MISSING)
    ]  # fmt: skip
    assert problems(VisitForm(household_id=1, building_id=2, **base)) == [
        Problem("target", INVALID)
    ]
    assert problems(VisitForm(household_id=True, **base)) == [Problem("target", INVALID)]
    assert problems(VisitForm(unit_id=1, lon=120.1, **base)) == [Problem("lat", MISSING)]
    assert problems(VisitForm(unit_id=1, lon="east", lat=30, **base)) == [Problem("lon", INVALID)]
    # the API's own checks (VisitIn): ranges, control characters, ids, the taxonomy
    assert problems(VisitForm(unit_id=1, lon=200, lat=30, **base)) == [Problem("lon", INVALID)]
    assert problems(VisitForm(unit_id=1, lat=-95.5, lon=0, **base)) == [Problem("lat", INVALID)]
    assert problems(VisitForm(unit_id=2**31, **base)) == [Problem("target", INVALID)]
    assert problems(VisitForm(unit_id=1, note="a\x00b", **base)) == [Problem("note", INVALID)]
    assert problems(VisitForm(unit_id=1, note="x" * 2001, **base)) == [Problem("note", INVALID)]
    assert problems(VisitForm(unit_id=1, outcome="great", kind="care")) == [
        Problem("outcome", INVALID)
    ]
    assert problems(VisitForm(unit_id=1, open_case=True, **base)) == [
        Problem("case_category", MISSING), Problem("case_description", MISSING)
    ]  # fmt: skip
    assert problems(
        VisitForm(unit_id=1, open_case=True, case_category="ufo", case_description="x", **base)
    ) == [Problem("case_category", INVALID)]
    body = hh.check_form(
        VisitForm(
            building_id=3, lon=" 120.5 ", lat=30, note="  ", open_case=False,
            case_category="ufo", **base,
        )
    )  # fmt: skip
    assert (body.building_id, body.lon, body.lat, body.note, body.open_case) == (
        3, 120.5, 30.0, None, None
    )  # fmt: skip


def test_a_building_visit_with_a_far_fix_is_kept_and_flagged(world) -> None:
    url, ids, lead = world
    engine = get_engine(url)
    form = VisitForm(
        kind="safety_check", outcome="met", building_id=ids["B-G1"], lon=FAR[0], lat=FAR[1]
    )
    done = hh.record(engine, lead, form, key="svc-far-1")
    assert (done.created, done.far_fix, round(done.distance_m), done.case_id) == (
        True, True, 350, None
    )  # fmt: skip
    again = hh.record(engine, lead, form, key="svc-far-1")
    assert (again.id, again.created, again.far_fix) == (done.id, False, True)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT household_id, building_id, ten_household_unit_id, grid_id, worker_id, "
                "far_fix, ST_X(geom), ST_Y(geom) "
                "FROM visits WHERE idempotency_key = 'svc-far-1'"
            )
        ).all()
    assert [tuple(r) for r in row] == [
        (None, ids["B-G1"], None, 1, lead.id, True,
         pytest.approx(FAR[0], abs=1e-6), pytest.approx(FAR[1], abs=1e-6))
    ]  # fmt: skip
    near = hh.record(
        engine,
        lead,
        VisitForm(kind="care", outcome="met", household_id=ids["H3"], lon=NEAR[0], lat=NEAR[1]),
        key="svc-near-1",
    )
    assert (near.far_fix, round(near.distance_m)) == (False, 40)
    assert scalar(url, "SELECT last_visited_at IS NOT NULL FROM households WHERE code = 'H3'")


def test_a_unit_visit_opens_one_case_linked_both_ways(world) -> None:
    url, ids, lead = world
    engine = get_engine(url)
    form = VisitForm(
        kind="mediation",
        outcome="follow_up",
        unit_id=ids["U1"],
        note="邻里噪音纠纷",
        lon=NEAR[0],
        lat=NEAR[1],
        open_case=True,
        case_category="disputes",
        case_description=" 三楼与四楼噪音纠纷\n需社区调解 ",
    )
    first = hh.record(engine, lead, form, key="svc-case-1")
    again = hh.record(engine, lead, form, key="svc-case-1")
    assert first.created and not again.created and (again.id, again.case_id) == (
        first.id, first.case_id
    )  # fmt: skip
    assert first.case_code is not None and first.far_fix is False and first.distance_m is None
    with engine.connect() as conn:
        case = conn.execute(
            text(
                "SELECT code, title, description, category, source, "
                "ST_X(geom), ST_Y(geom) "
                "FROM cases WHERE id = :c"
            ),
            {"c": first.case_id},
        ).one()
        visit = conn.execute(
            text("SELECT id, ten_household_unit_id, grid_id FROM visits WHERE case_id = :c"),
            {"c": first.case_id},
        ).all()
    assert tuple(case) == (
        first.case_code, "三楼与四楼噪音纠纷", "三楼与四楼噪音纠纷\n需社区调解", "disputes",
        "grid_worker", pytest.approx(NEAR[0], abs=1e-6), pytest.approx(NEAR[1], abs=1e-6),
    )  # fmt: skip
    assert [tuple(r) for r in visit] == [(first.id, ids["U1"], 1)]
    assert scalar(url, "SELECT count(*) FROM cases WHERE title = '三楼与四楼噪音纠纷'") == 1
    # without a fix, a household's case lies at its building
    at_building = hh.record(
        engine,
        lead,
        VisitForm(
            kind="safety_check", outcome="follow_up", household_id=ids["H2"], open_case=True,
            case_category="fire_safety", case_description="燃气管老化",
        ),
        key="svc-case-2",
    )  # fmt: skip
    assert scalar(
        url, "SELECT ST_AsText(geom) FROM cases WHERE id = :c", c=at_building.case_id
    ) == scalar(url, "SELECT ST_AsText(geom) FROM buildings WHERE code = 'B-G1'")


def test_targets_outside_the_leads_grids_are_not_found(world) -> None:
    url, ids, lead = world
    engine = get_engine(url)
    before = scalar(url, "SELECT count(*) FROM visits")
    for field, value in (
        ("household_id", ids["H9"]),
        ("building_id", ids["B-G3"]),
        ("unit_id", ids["U3"]),
        ("unit_id", 999_999),
    ):
        form = VisitForm(kind="care", outcome="met", **{field: value})
        with pytest.raises(hh.TargetNotFound) as caught:
            hh.record(engine, lead, form, key=f"svc-out-{field}-{value}")
        assert caught.value.field == field
    assert scalar(url, "SELECT count(*) FROM visits") == before


def test_the_grids_buildings_and_units(world) -> None:
    url, ids, lead = world
    engine = get_engine(url)
    mine = hh.grid_targets(engine, lead, 1)
    assert mine.buildings == [
        {"id": ids["B-G1"], "code": "B-G1", "address": "B-G1", "households": 4}
    ]
    assert mine.units == [{"id": ids["U1"], "code": "U1", "name": "一号楼联户", "households": 3}]
    assert hh.grid_targets(engine, lead, 3) == hh.Targets([], [])
    assert [c["slug"] for c in hh.case_categories()][:2] == ["disputes", "public_security"]
