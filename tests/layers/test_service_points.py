"""Service points: in the view from zoom 13, coloured by kind."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from layers import LayerContext, get_layer
from layers.base import Detail, detail_of
from layers.service_points import KIND_COLORS
from tests.layers.seed import ALL_BBOX, SW_BBOX

POINTS = get_layer("service_points")


@pytest.mark.parametrize(
    ("bbox", "zoom", "ids"),
    [
        (SW_BBOX, 3, None),
        (ALL_BBOX, 12.9, None),
        (SW_BBOX, 18, [1]),
        (ALL_BBOX, 13, [1, 2, 3]),
        ((120.06, 30.06, 120.6, 30.6), 13, [2, 3]),
        ((121.0, 31.0, 121.5, 31.5), 13, []),
        (None, None, [1, 2, 3]),
    ],
)
def test_query_by_bbox_from_zoom_13(
    seeded_engine: Engine, bbox: tuple | None, zoom: float | None, ids: list[int] | None
) -> None:
    data = POINTS.query(LayerContext(seeded_engine, bbox=bbox, zoom=zoom))
    if ids is None:  # further out: nothing drawn, and the panel says from which zoom
        assert detail_of(data) is Detail.HIDDEN and data.empty
        assert POINTS.note(data, "en") == "Zoom in to level 13 to show"
        return
    assert detail_of(data) is Detail.FEATURES
    assert data["id"].tolist() == ids


def test_traces_colour_by_kind(seeded_engine: Engine) -> None:
    data = POINTS.query(LayerContext(seeded_engine, bbox=ALL_BBOX, zoom=13))
    halo, trace = POINTS.traces(data, "zh-CN")
    assert (halo.type, trace.type) == ("scattermap", "scattermap")
    assert halo.meta == {"layer": "service_points", "detail": "features", "role": "halo"}
    assert (list(halo.lon), halo.hoverinfo) == (list(trace.lon), "skip")
    assert trace.meta == {"layer": "service_points", "detail": "features"}
    assert list(trace.marker.color) == [
        KIND_COLORS["party_service_center"],
        KIND_COLORS["police_office"],
        KIND_COLORS["convenience_station"],
    ]
    assert [list(c) for c in trace.customdata] == [
        ["西社区党群服务中心", "党群服务中心", "西南路2号", "9:00-17:00", "未填写"],
        ["东社区警务室", "警务室", "未填写", "未填写", "未填写"],
        ["城外便民服务站", "便民服务站", "未填写", "未填写", "未填写"],
    ]
    assert POINTS.note(data, "en") == "3 in view"


def test_export(seeded_engine: Engine) -> None:
    data = POINTS.export(LayerContext(seeded_engine))
    assert data.set_index("id")["grid_id"].to_dict() == {1: 1, 2: 4, 3: None}


def test_legend_lists_every_kind() -> None:
    entries = POINTS.legend("en")
    assert [e.label for e in entries] == [
        "Party-masses service centre",
        "Convenience service station",
        "Social governance centre",
        "Police office",
        "Health station",
        "Elderly care station",
    ]
    assert [e.color for e in entries] == list(KIND_COLORS.values())


def test_hidden_draws_its_two_traces_empty(seeded_engine: Engine) -> None:
    data = POINTS.query(LayerContext(seeded_engine, bbox=ALL_BBOX, zoom=10))
    halo, trace = POINTS.traces(data, "zh-CN")
    assert (list(halo.lon), list(trace.lon), list(trace.customdata)) == ([], [], [])
    assert (halo.meta["role"], trace.meta["layer"]) == ("halo", "service_points")
