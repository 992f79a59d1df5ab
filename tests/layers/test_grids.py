"""Grids: polygons in the view from zoom 12, community outlines below."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from layers import LayerContext, get_layer
from layers.base import Detail, detail_of
from layers.grids import GRID_LINE, PALETTE
from tests.layers.seed import ALL_BBOX, SW_BBOX

GRIDS = get_layer("grids")


@pytest.mark.parametrize(
    ("bbox", "zoom", "detail", "ids"),
    [
        (SW_BBOX, 12, Detail.FEATURES, [1]),
        (SW_BBOX, 16, Detail.FEATURES, [1]),
        (ALL_BBOX, 12, Detail.FEATURES, [1, 2, 3, 4]),
        ((120.06, 30.06, 120.09, 30.09), 14, Detail.FEATURES, [4]),
        ((121.0, 31.0, 121.5, 31.5), 14, Detail.FEATURES, []),
        (SW_BBOX, 11.9, Detail.AGGREGATED, [1]),  # community ids from here on
        (ALL_BBOX, 8, Detail.AGGREGATED, [1, 2]),
        ((120.06, 30.0, 120.09, 30.04), 10, Detail.AGGREGATED, [2]),
    ],
)
def test_query_by_bbox_and_zoom(
    seeded_engine: Engine, bbox: tuple, zoom: float, detail: Detail, ids: list[int]
) -> None:
    data = GRIDS.query(LayerContext(seeded_engine, bbox=bbox, zoom=zoom))
    assert detail_of(data) is detail
    assert data["id"].tolist() == ids
    assert data.crs.to_epsg() == 4326


def test_grid_rows_carry_community_and_lead(seeded_engine: Engine) -> None:
    data = GRIDS.query(LayerContext(seeded_engine, bbox=ALL_BBOX, zoom=14))
    rows = data[["name", "community_name", "lead_name"]].fillna("-").to_numpy().tolist()
    assert rows == [
        ["西南网格", "西社区", "张伟"],
        ["西北网格", "西社区", "李娜"],
        ["东南网格", "东社区", "-"],
        ["东北网格", "东社区", "王芳"],
    ]


def test_communities_carry_street_and_grid_count(seeded_engine: Engine) -> None:
    data = GRIDS.query(LayerContext(seeded_engine, bbox=ALL_BBOX, zoom=9))
    assert data[["name", "street_name", "grid_count"]].to_numpy().tolist() == [
        ["西社区", "示例街道", 2],
        ["东社区", "示例街道", 2],
    ]
    assert GRIDS.note(data, "zh-CN") == "显示 2 个社区，放大到 12 级显示网格"
    assert GRIDS.note(data, "en") == "2 communities shown; zoom in to level 12 for grids"


def test_traces_are_one_choropleth_coloured_by_community(seeded_engine: Engine) -> None:
    data = GRIDS.query(LayerContext(seeded_engine, bbox=ALL_BBOX, zoom=14))
    (trace,) = GRIDS.traces(data, "zh-CN")
    assert trace.type == "choroplethmap"
    assert trace.meta == {"layer": "grids", "detail": "features"}
    assert list(trace.locations) == [1, 2, 3, 4]
    assert list(trace.z) == [1, 1, 2, 2]  # community id modulo the palette
    assert [f["id"] for f in trace.geojson["features"]] == [1, 2, 3, 4]
    assert trace.marker.line.color == GRID_LINE
    assert [list(c) for c in trace.customdata] == [
        ["西南网格", "西社区", "张伟"],
        ["西北网格", "西社区", "李娜"],
        ["东南网格", "东社区", "未填写"],
        ["东北网格", "东社区", "王芳"],
    ]
    assert "社区" in trace.hovertemplate and "网格长" in trace.hovertemplate
    (english,) = GRIDS.traces(data, "en")
    assert "Grid lead" in english.hovertemplate
    assert english.customdata[2][2] == "not given"


def test_low_zoom_simplifies_outlines(seeded_engine: Engine) -> None:
    exact = GRIDS.export(LayerContext(seeded_engine, bbox=SW_BBOX))
    assert exact.geometry.iloc[0].equals(
        GRIDS.query(LayerContext(seeded_engine, bbox=SW_BBOX, zoom=22)).geometry.iloc[0]
    )
    assert exact["id"].tolist() == [1]


def test_export_ignores_zoom_but_keeps_bbox(seeded_engine: Engine) -> None:
    assert GRIDS.export(LayerContext(seeded_engine, zoom=3))["id"].tolist() == [1, 2, 3, 4]
    assert GRIDS.export(LayerContext(seeded_engine, bbox=SW_BBOX, zoom=3))["id"].tolist() == [1]


def test_legend() -> None:
    assert [(e.label, e.color, e.shape) for e in GRIDS.legend("zh-CN")] == [
        ("网格（颜色区分社区）", PALETTE[0], "fill"),
        ("网格边界", GRID_LINE, "line"),
        ("社区边界（缩小时）", "#1f2a44", "line"),
    ]
