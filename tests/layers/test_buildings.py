"""Buildings: points in the view from zoom 15, nearest the centre first, capped."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine

from layers import LayerContext, get_layer
from layers.base import Detail, detail_of
from layers.buildings import COLOR
from tests.layers.seed import ALL_BBOX, SW_BBOX

BUILDINGS = get_layer("buildings")


@pytest.mark.parametrize(
    ("bbox", "zoom", "detail", "ids"),
    [
        (SW_BBOX, 15, Detail.FEATURES, [2, 3, 1]),  # nearest the centre (120.0225, 30.0225)
        (SW_BBOX, 18, Detail.FEATURES, [2, 3, 1]),
        ((120.07, 30.07, 120.09, 30.09), 16, Detail.FEATURES, [4]),
        ((120.4, 30.4, 120.6, 30.6), 16, Detail.FEATURES, [5]),  # outside every grid
        ((121.0, 31.0, 121.5, 31.5), 16, Detail.FEATURES, []),
        (SW_BBOX, 14.9, Detail.HIDDEN, []),
        (ALL_BBOX, 10, Detail.HIDDEN, []),
    ],
)
def test_query_by_bbox_and_zoom(
    seeded_engine: Engine, bbox: tuple, zoom: float, detail: Detail, ids: list[int]
) -> None:
    data = BUILDINGS.query(LayerContext(seeded_engine, bbox=bbox, zoom=zoom))
    assert detail_of(data) is detail
    assert data["id"].tolist() == ids
    assert data.attrs["capped"] is False


def test_cap_keeps_the_nearest_to_the_view_centre(seeded_engine: Engine) -> None:
    capped = dataclasses.replace(BUILDINGS, max_features=2)
    data = capped.query(LayerContext(seeded_engine, bbox=SW_BBOX, zoom=16))
    assert data["id"].tolist() == [2, 3]
    assert data.attrs["capped"] is True
    assert capped.note(data, "zh-CN") == "仅显示视图中心附近的 2 个"
    exact = dataclasses.replace(BUILDINGS, max_features=3)
    data = exact.query(LayerContext(seeded_engine, bbox=SW_BBOX, zoom=16))
    assert (data["id"].tolist(), data.attrs["capped"]) == ([2, 3, 1], False)


def test_hidden_note_and_placeholder_trace(seeded_engine: Engine) -> None:
    data = BUILDINGS.query(LayerContext(seeded_engine, bbox=SW_BBOX, zoom=12))
    assert BUILDINGS.note(data, "zh-CN") == "放大到 15 级以上显示"
    assert BUILDINGS.note(data, "en") == "Zoom in to level 15 to show"
    (trace,) = BUILDINGS.traces(data, "zh-CN")
    assert (trace.type, len(trace.lat), trace.meta) == ("scattermap", 0, {"layer": "buildings"})


def test_traces(seeded_engine: Engine) -> None:
    data = BUILDINGS.query(LayerContext(seeded_engine, bbox=SW_BBOX, zoom=16))
    (trace,) = BUILDINGS.traces(data, "zh-CN")
    assert trace.type == "scattermap"
    assert list(trace.lon) == [120.02, 120.03, 120.01]
    assert list(trace.lat) == [30.02, 30.03, 30.01]
    assert [list(c) for c in trace.customdata] == [
        ["西南路2号", "商业", 0, 0],
        ["西南路3号", "商住混合", 8, 21],
        ["西南路1号", "住宅", 12, 30],
    ]
    assert "户数" in trace.hovertemplate and "人口" in trace.hovertemplate
    assert BUILDINGS.note(data, "zh-CN") == "当前视图 3 个"


def test_export_has_no_zoom_limit_or_cap(seeded_engine: Engine) -> None:
    capped = dataclasses.replace(BUILDINGS, max_features=1)
    data = capped.export(LayerContext(seeded_engine, zoom=3))
    assert sorted(data["id"]) == [1, 2, 3, 4, 5]
    assert data.set_index("id")["grid_id"].to_dict() == {1: 1, 2: 1, 3: 1, 4: 4, 5: None}


def test_legend() -> None:
    assert [(e.label, e.color, e.shape) for e in BUILDINGS.legend("en")] == [
        ("Building / household unit", COLOR, "circle")
    ]
