"""The service circles and uncovered buildings layers on the toy network (stored runs at
4.5 km/h: 5 min = 375 m, 10 min = 750 m, 15 min = 1,125 m)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from gridmap.cases.filters import case_timezone, local_time
from gridmap.db.engine import get_engine
from layers.base import Detail, LayerContext, detail_of
from layers.params import CircleFilter
from layers.service_circles import ServiceCirclesLayer, euclid_ring
from layers.uncovered_buildings import UncoveredBuildingsLayer
from tests.gridmap.analytics.toy import toy_with_circles

KIND = "party_service_center"


@pytest.fixture(scope="module")
def circles_engine(_created: list[str]) -> Engine:
    return get_engine(toy_with_circles(_created, "layercircles"))


def ctx(engine: Engine, zoom: float | None = 15.0, **circles: Any) -> LayerContext:
    params = (CircleFilter(**circles),)
    return LayerContext(engine, bbox=(119.9, 29.9, 120.1, 30.1), zoom=zoom, params=params)


def test_circles_by_kind_and_minutes(circles_engine: Engine) -> None:
    layer = ServiceCirclesLayer()
    data = layer.query(ctx(circles_engine, kind=KIND))
    assert data["minutes"].tolist() == [15.0, 10.0, 5.0]
    assert data["reach_m"].tolist() == [1125.0, 750.0, 375.0]
    assert data["service_point_id"].tolist() == [1, 1, 1]
    assert data.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    five = layer.query(ctx(circles_engine, kind=KIND, minutes=5))
    assert len(five) == 1
    assert layer.query(ctx(circles_engine, kind="police_office")).empty
    traces = layer.traces(five, "en")
    assert [tr.meta["minutes"] for tr in traces] == [5.0]
    assert traces[0].fill == "toself"
    # when they were computed, in the case time zone (as every time the pages show)
    at = local_time(five["computed_at"].iloc[0], case_timezone(), "%Y-%m-%d %H:%M")
    assert layer.note(five, "en") == f"1 isochrones · computed {at}"
    assert at != f"{five['computed_at'].iloc[0].tz_convert('UTC'):%Y-%m-%d %H:%M}"


def test_euclidean_circle_beside(circles_engine: Engine) -> None:
    layer = ServiceCirclesLayer()
    data = layer.query(ctx(circles_engine, kind=KIND, minutes=5, euclid=True))
    traces = layer.traces(data, "zh-CN")
    assert [tr.meta.get("role") for tr in traces] == [None, "euclid"]
    lon, lat = euclid_ring(120.0, 30.0, 375.0)
    assert len(lon) == 49 and lat[0] == 30.0 and max(lat) == pytest.approx(30.0 + 375 / 110_574)
    # the street-following area is smaller than the straight-line circle of the same reach
    iso = data.to_crs(32651).geometry.iloc[0]
    assert iso.area < 3.1416 * 375**2 * 0.6


def test_uncovered_buildings(circles_engine: Engine) -> None:
    layer = UncoveredBuildingsLayer()
    five = layer.query(ctx(circles_engine, kind=KIND, minutes=5))
    # 375 m: B1 100 m, B2 200 m, B4 160 m covered; B3 500 m, B7 600 m not; B5, B6 off network
    assert sorted(five["id"].tolist()) == [3, 5, 6, 7]
    off = five.set_index("id")
    assert off.loc[5, "snap_m"] != off.loc[5, "snap_m"]  # NaN: off the network
    assert off.loc[3, "walk_m"] == pytest.approx(500.0, abs=0.1)
    ten = layer.query(ctx(circles_engine, kind=KIND, minutes=10))
    assert sorted(ten["id"].tolist()) == [5, 6]
    assert detail_of(layer.query(ctx(circles_engine, zoom=11.0))) is Detail.HIDDEN
    traces = layer.traces(five, "en")
    assert len(traces[0].lat) == 4
    assert len(layer.export(ctx(circles_engine, zoom=None, minutes=5))) == 4
