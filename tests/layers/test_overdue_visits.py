"""The overdue-visits layer (layers/overdue_visits.py, gridmap_layer_overdue_visits) on the
hand-made household world: building B-G1 (grid G1) with H1 (living alone: weekly), H2
(disabled: monthly), H4 (low income + living alone: weekly) and three untagged households
(quarterly), B-G3 (grid G3) with H9 (living alone); all registered on 2026-01-01."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from gridmap.db.engine import get_engine
from layers import LAYERS, LayerContext, get_layer
from layers.base import Detail, detail_of
from layers.overdue_visits import LEVEL_COLORS, OverdueVisitsLayer
from tests.conftest import make_test_database
from tests.gridmap.cases.world import INSIDE
from tests.gridmap.households.world import REGISTERED, seed_households
from tests.gridmap.web.services.lead.world import account

FIELDS = ["code", "households", "overdue", "vulnerable_overdue", "max_days_overdue", "level"]


@pytest.fixture(scope="module")
def url(_created: list[str]) -> str:
    url = make_test_database("overdue_layer")
    _created.append(url)
    seed_households(url)
    with get_engine(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO households (code, building_id, registered_on) "
                "SELECT c, b.id, :reg FROM buildings b, unnest(ARRAY['H5', 'H6']) c "
                "WHERE b.code = 'B-G1'"
            ),
            {"reg": REGISTERED},
        )
    return url


def rows(url: str, as_of: date, **ctx) -> list[list]:
    frame = OverdueVisitsLayer(as_of=as_of).export(LayerContext(get_engine(url), **ctx))
    return frame[FIELDS].astype(object).values.tolist()


def test_registered_off_by_default() -> None:
    layer = get_layer("overdue_visits")
    assert isinstance(layer, OverdueVisitsLayer)
    assert layer.default_visible is False
    assert LAYERS[-1].id == "cases"


def test_nothing_overdue_before_the_first_due_day(url: str) -> None:
    assert rows(url, date(2026, 1, 5)) == [
        ["B-G1", 6, 0, 0, 0, "none"],
        ["B-G3", 1, 0, 0, 0, "none"],
    ]


def test_vulnerable_overdue_first(url: str) -> None:
    # weekly ones due 01-08 (61 days overdue on 03-10), H2 due 01-31; untagged due 04-01
    assert rows(url, date(2026, 3, 10)) == [
        ["B-G1", 6, 3, 3, 61, "vulnerable"],
        ["B-G3", 1, 1, 1, 61, "vulnerable"],
    ]


def test_levels_after_visits(url: str) -> None:
    with get_engine(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO visits (household_id, visited_at, kind, outcome) "
                "SELECT id, '2026-04-04 10:00+08', 'care', 'met' FROM households "
                "WHERE code IN ('H1', 'H2', 'H4', 'H5', 'H9')"
            )
        )
    # untagged H3 and H6 due 04-01: 4 days overdue on 04-05
    assert rows(url, date(2026, 4, 5)) == [
        ["B-G1", 6, 2, 0, 4, "few"],
        ["B-G3", 1, 0, 0, 0, "none"],
    ]
    # every one overdue on 07-10: untagged H3, H6 by 100 days, weekly H9 by 90
    assert rows(url, date(2026, 7, 10)) == [
        ["B-G1", 6, 6, 3, 100, "vulnerable"],
        ["B-G3", 1, 1, 1, 90, "vulnerable"],
    ]


def test_a_grid_lead_sees_only_their_grids(url: str) -> None:
    lead = account(url, "overdue_lead_g3", {3})
    assert rows(url, date(2026, 3, 10), user=lead) == [["B-G3", 1, 1, 1, 61, "vulnerable"]]


def test_view_bbox_zoom_and_grids(url: str) -> None:
    x, y = INSIDE[1]
    box = (x - 0.001, y - 0.001, x + 0.001, y + 0.001)
    assert rows(url, date(2026, 3, 10), bbox=box) == [["B-G1", 6, 3, 3, 61, "vulnerable"]]
    layer = OverdueVisitsLayer(as_of=date(2026, 3, 10))
    far = layer.query(LayerContext(get_engine(url), bbox=box, zoom=12))
    assert detail_of(far) is Detail.HIDDEN and far.empty
    near = layer.query(LayerContext(get_engine(url), bbox=box, zoom=15))
    assert near["code"].tolist() == ["B-G1"]
    one = OverdueVisitsLayer(as_of=date(2026, 3, 10), grid_ids=(3,))
    assert one.export(LayerContext(get_engine(url)))["code"].tolist() == ["B-G3"]


def test_draw_and_legend(url: str) -> None:
    layer = OverdueVisitsLayer(as_of=date(2026, 3, 10))
    data = layer.query(LayerContext(get_engine(url), zoom=15))
    (trace,) = layer.draw(data, "en")
    assert trace.marker.color == (LEVEL_COLORS["vulnerable"],) * 2
    assert list(trace.customdata[0]) == ["B-G1", 6, 3, 3, 61]
    assert [(e.label, e.color) for e in layer.legend("zh-CN")] == [
        ("有困难群体户逾期", "#7c3aed"),
        ("3 户及以上逾期", "#dc2626"),
        ("1–2 户逾期", "#f59e0b"),
        ("无逾期户", "#16a34a"),
    ]
