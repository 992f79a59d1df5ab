"""Cameras: points coloured by status from zoom 13, counted per screen cell below."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine

from layers import LayerContext, get_layer
from layers.base import Detail, detail_of
from layers.cameras import CLUSTER_COLOR, STATUS_COLORS
from tests.layers.seed import ALL_BBOX, SW_BBOX

CAMERAS = get_layer("cameras")


@pytest.mark.parametrize(
    ("bbox", "zoom", "ids"),
    [
        (SW_BBOX, 13, [2, 1]),  # nearest the view centre first
        (SW_BBOX, 17, [2, 1]),
        ((120.07, 30.0, 120.1, 30.09), 14, [4, 3]),
        ((121.0, 31.0, 121.5, 31.5), 14, []),
    ],
)
def test_single_cameras_from_zoom_13(
    seeded_engine: Engine, bbox: tuple, zoom: float, ids: list[int]
) -> None:
    data = CAMERAS.query(LayerContext(seeded_engine, bbox=bbox, zoom=zoom))
    assert detail_of(data) is Detail.FEATURES
    assert data["id"].tolist() == ids


@pytest.mark.parametrize(
    ("bbox", "zoom", "cells"),
    [
        # cell = 64 px = 0.0439° at zoom 10: K1+K2 together, K4 and K3 alone
        (ALL_BBOX, 10, [(2730, 682, 2, 1, 1, 0), (2732, 683, 1, 1, 0, 0), (2732, 684, 1, 0, 0, 1)]),
        (SW_BBOX, 12.9, [(20384, 5097, 2, 1, 1, 0)]),  # cell 0.00589°
        (ALL_BBOX, 5, [(85, 21, 4, 2, 1, 1)]),  # cell 1.41°: all four
        ((121.0, 31.0, 121.5, 31.5), 8, []),
    ],
)
def test_grouped_below_zoom_13(
    seeded_engine: Engine, bbox: tuple, zoom: float, cells: list[tuple]
) -> None:
    data = CAMERAS.query(LayerContext(seeded_engine, bbox=bbox, zoom=zoom))
    assert detail_of(data) is Detail.AGGREGATED
    columns = ["cell_x", "cell_y", "cameras", "online", "offline", "fault"]
    assert [tuple(r) for r in data[columns].to_numpy().tolist()] == cells


def test_cap(seeded_engine: Engine) -> None:
    capped = dataclasses.replace(CAMERAS, max_features=1)
    data = capped.query(LayerContext(seeded_engine, bbox=SW_BBOX, zoom=15))
    assert (data["id"].tolist(), data.attrs["capped"]) == ([2], True)
    assert capped.note(data, "en") == "Showing the 1 nearest the view centre"


def test_point_traces_colour_by_status(seeded_engine: Engine) -> None:
    data = CAMERAS.query(LayerContext(seeded_engine, bbox=ALL_BBOX, zoom=14))
    assert data["id"].tolist() == [3, 4, 2, 1]
    (trace,) = CAMERAS.traces(data, "zh-CN")
    assert trace.type == "scattermap"
    assert trace.meta == {"layer": "cameras", "detail": "features"}
    assert list(trace.marker.color) == [
        STATUS_COLORS["fault"],
        STATUS_COLORS["online"],
        STATUS_COLORS["offline"],
        STATUS_COLORS["online"],
    ]
    assert [list(c) for c in trace.customdata] == [
        ["东北广场", "枪机", "故障"],
        ["东南路口", "车辆识别", "在线"],
        ["西南小区门口", "人脸识别", "离线"],
        ["西南路口", "球机", "在线"],
    ]


def test_group_traces_size_by_count(seeded_engine: Engine) -> None:
    data = CAMERAS.query(LayerContext(seeded_engine, bbox=ALL_BBOX, zoom=10))
    (trace,) = CAMERAS.traces(data, "en")
    assert trace.meta == {"layer": "cameras", "detail": "aggregated"}
    assert len(trace.lat) == 3
    assert trace.marker.color == CLUSTER_COLOR
    assert trace.marker.size[0] > trace.marker.size[1] == trace.marker.size[2]
    assert list(trace.customdata[0]) == [2, 1, 1, 0]
    assert trace.lon[0] == pytest.approx(120.011) and trace.lat[0] == pytest.approx(30.0105)
    assert CAMERAS.note(data, "zh-CN") == "已按区域汇总 4 台，放大到 13 级显示单个"


def test_export_is_every_camera(seeded_engine: Engine) -> None:
    data = CAMERAS.export(LayerContext(seeded_engine, zoom=2))
    assert sorted(data["id"]) == [1, 2, 3, 4]
    assert detail_of(data) is Detail.FEATURES


def test_legend() -> None:
    assert [(e.label, e.color) for e in CAMERAS.legend("zh-CN")] == [
        ("在线", STATUS_COLORS["online"]),
        ("离线", STATUS_COLORS["offline"]),
        ("故障", STATUS_COLORS["fault"]),
        ("摄像头汇总（缩小时，大小表示数量）", CLUSTER_COLOR),
    ]
