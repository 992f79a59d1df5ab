"""Choosing grids: hierarchy options only offer what the user may see and cascade; the
attribute thresholds and a drawn area pick exactly the grids SQL says."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from gridmap.access import Role, User
from gridmap.web.services.lead import selection
from gridmap.web.services.lead.selection import GridFilter, area_from_selection
from tests.gridmap.web.services.lead.world import account

ADMIN = User(1, "admin", "admin", Role.ADMIN)


@pytest.fixture(scope="module")
def moment(lead_engine: Engine) -> datetime:
    with lead_engine.connect() as conn:
        return conn.execute(text("SELECT min(at) FROM gps_pings")).scalar_one() + timedelta(hours=3)


@pytest.fixture(scope="module")
def lead(lead_url: str, lead_engine: Engine) -> User:
    """A lead of the first two grids of the first street and the first grid of the last."""
    with lead_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT g.id, c.street_id FROM grids g JOIN communities c ON c.id = g.community_id "
                "ORDER BY g.id"
            )
        ).all()
    first_street, last_street = rows[0].street_id, max(r.street_id for r in rows)
    ids = [r.id for r in rows if r.street_id == first_street][:2]
    ids += [r.id for r in rows if r.street_id == last_street][:1]
    return account(lead_url, "lead_selection", set(ids))


def _column(engine: Engine, sql: str, **params: object) -> list:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).scalars())


def test_lead_options_offer_only_their_grids(lead_engine: Engine, lead: User) -> None:
    rows = selection.hierarchy(lead_engine, lead)
    assert sorted(r.grid_id for r in rows) == sorted(lead.grid_ids)
    opts = selection.options(rows, GridFilter())
    assert sorted(o["value"] for o in opts["grid"]) == sorted(lead.grid_ids)
    ids = sorted(lead.grid_ids)
    streets = _column(
        lead_engine,
        "SELECT DISTINCT c.street_id FROM grids g JOIN communities c ON c.id = g.community_id "
        "WHERE g.id = ANY (:ids) ORDER BY 1",
        ids=ids,
    )
    districts = _column(
        lead_engine,
        "SELECT DISTINCT s.district_id FROM grids g JOIN communities c ON c.id = g.community_id "
        "JOIN streets s ON s.id = c.street_id WHERE g.id = ANY (:ids) ORDER BY 1",
        ids=ids,
    )
    assert sorted(o["value"] for o in opts["street"]) == streets
    assert sorted(o["value"] for o in opts["district"]) == districts
    assert len(streets) == 2


def test_options_cascade(lead_engine: Engine) -> None:
    rows = selection.hierarchy(lead_engine, ADMIN)
    assert len(rows) == _column(lead_engine, "SELECT count(*) FROM grids")[0]
    district = rows[-1].district_id
    opts = selection.options(rows, GridFilter(district=district))
    want_streets = _column(
        lead_engine, "SELECT id FROM streets WHERE district_id = :d ORDER BY id", d=district
    )
    assert sorted(o["value"] for o in opts["street"]) == want_streets
    assert len(opts["district"]) == _column(lead_engine, "SELECT count(*) FROM districts")[0]
    street = want_streets[0]
    opts = selection.options(rows, GridFilter(district=district, street=street))
    want_communities = _column(
        lead_engine, "SELECT id FROM communities WHERE street_id = :s ORDER BY id", s=street
    )
    assert sorted(o["value"] for o in opts["community"]) == want_communities
    want_grids = _column(
        lead_engine,
        "SELECT g.id FROM grids g JOIN communities c ON c.id = g.community_id "
        "WHERE c.street_id = :s ORDER BY g.id",
        s=street,
    )
    assert [o["value"] for o in opts["grid"]] == want_grids
    picked = selection.select_grids(
        lead_engine, ADMIN, rows, GridFilter(street=street), at=datetime.now().astimezone()
    )
    assert picked.grid_ids == want_grids


def test_a_choice_outside_the_level_above_is_cleared(lead_url: str, lead_engine: Engine) -> None:
    rows = selection.hierarchy(lead_engine, ADMIN)
    first, last = rows[0], rows[-1]
    assert first.district_id != last.district_id
    fixed = selection.valid_choice(rows, GridFilter(district=first.district_id,
                                                    street=last.street_id))  # fmt: skip
    assert (fixed.district, fixed.street) == (first.district_id, None)
    lead = account(lead_url, "lead_first", {first.grid_id})
    mine = selection.hierarchy(lead_engine, lead)
    assert selection.valid_choice(mine, GridFilter(grid=last.grid_id)).grid is None


@pytest.mark.parametrize(
    ("flt", "sql"),
    [
        (
            GridFilter(min_open_cases=3),
            "SELECT grid_id FROM cases WHERE status NOT IN ('resolved','closed','rejected') "
            "AND grid_id IS NOT NULL GROUP BY grid_id HAVING count(*) >= 3",
        ),
        (
            GridFilter(min_population=1800),
            "SELECT grid_id FROM buildings WHERE grid_id IS NOT NULL GROUP BY grid_id "
            "HAVING sum(population) >= 1800",
        ),
        (
            GridFilter(min_vulnerable=130),
            "SELECT grid_id FROM buildings WHERE grid_id IS NOT NULL GROUP BY grid_id "
            "HAVING sum(elderly_alone + disabled + low_income) >= 130",
        ),
        (
            GridFilter(min_open_cases=2, min_population=1500),
            "SELECT grid_id FROM cases WHERE status NOT IN ('resolved','closed','rejected') "
            "AND grid_id IS NOT NULL GROUP BY grid_id HAVING count(*) >= 2 "
            "INTERSECT SELECT grid_id FROM buildings GROUP BY grid_id "
            "HAVING sum(population) >= 1500",
        ),
    ],
    ids=["open-cases", "population", "vulnerable", "open-and-population"],
)
def test_attribute_filters(lead_engine: Engine, flt: GridFilter, sql: str) -> None:
    rows = selection.hierarchy(lead_engine, ADMIN)
    picked = selection.select_grids(lead_engine, ADMIN, rows, flt, at=datetime.now().astimezone())
    want = sorted(_column(lead_engine, sql))
    assert picked.grid_ids == want
    assert 0 < len(want) < len(rows), "the threshold should split the demo city"


def test_patrol_coverage_filter(lead_engine: Engine, moment: datetime) -> None:
    rows = selection.hierarchy(lead_engine, ADMIN)
    flt = GridFilter(max_patrol_pct=50)
    picked = selection.select_grids(lead_engine, ADMIN, rows, flt, at=moment)
    with lead_engine.connect() as conn:
        want = sorted(
            conn.execute(
                text(
                    "SELECT grid_id FROM gridmap_patrol_coverage(:t0, :t1) "
                    "WHERE street_m > 0 AND patrolled_share < 0.5"
                ),
                {"t0": moment - timedelta(hours=24), "t1": moment},
            ).scalars()
        )
    assert picked.grid_ids == want and 0 < len(want) < len(rows)


def test_lead_attribute_filter_stays_in_their_grids(lead_engine: Engine, lead: User) -> None:
    rows = selection.hierarchy(lead_engine, lead)
    picked = selection.select_grids(
        lead_engine, lead, rows, GridFilter(min_population=0), at=datetime.now().astimezone()
    )
    assert picked.grid_ids == sorted(lead.grid_ids)


def test_nothing_matches(lead_engine: Engine) -> None:
    rows = selection.hierarchy(lead_engine, ADMIN)
    flt = GridFilter(min_population=10**9)
    assert selection.select_grids(lead_engine, ADMIN, rows, flt, at=datetime.now()).grid_ids == []


def test_area_picks_the_grids_it_touches(lead_engine: Engine) -> None:
    with lead_engine.connect() as conn:
        box = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(geom) e FROM grids WHERE id IN (10, 11)) x"
            )
        ).one()
    selected = {"range": {"map": [[box[0], box[3]], [box[2], box[1]]]}}
    area = area_from_selection(selected)
    rows = selection.hierarchy(lead_engine, ADMIN)
    picked = selection.select_grids(
        lead_engine, ADMIN, rows, GridFilter(area=area), at=datetime.now()
    )
    want = _column(
        lead_engine,
        "SELECT id FROM grids WHERE ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326)) "
        "ORDER BY id",
        a=box[0], b=box[1], c=box[2], d=box[3],
    )  # fmt: skip
    assert picked.grid_ids == want and {10, 11} <= set(want)


def test_area_from_selection() -> None:
    box = area_from_selection({"range": {"map": [[118.8, 32.1], [118.7, 32.0]]}})
    assert box == ((118.7, 32.0), (118.8, 32.0), (118.8, 32.1), (118.7, 32.1), (118.7, 32.0))
    lasso = area_from_selection({"lassoPoints": {"map": [[1, 1], [2, 1], [2, 2]]}})
    assert lasso == ((1.0, 1.0), (2.0, 1.0), (2.0, 2.0), (1.0, 1.0))
    assert area_from_selection(None) == ()
    assert area_from_selection({"points": []}) == ()
    assert area_from_selection({"range": {"map": [[1, 1], [1, 2]]}}) == ()


def test_attributes_over_too_many_grids_ask_to_narrow(
    lead_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = selection.hierarchy(lead_engine, ADMIN)
    community = rows[0].community_id
    in_community = sum(r.community_id == community for r in rows)
    assert len(rows) > in_community
    monkeypatch.setattr(selection, "MAX_ATTRIBUTE_GRIDS", in_community)
    broad = selection.select_grids(
        lead_engine, ADMIN, rows, GridFilter(min_population=10**9), at=datetime.now()
    )
    assert broad.too_broad and broad.grid_ids == [r.grid_id for r in rows]
    narrow = selection.select_grids(
        lead_engine, ADMIN, rows, GridFilter(community=community, min_population=10**9),
        at=datetime.now(),
    )  # fmt: skip
    assert not narrow.too_broad and narrow.grid_ids == []
