"""The Layer contract's context and helpers."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely
from plotly.io.json import to_json_plotly
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box, mapping
from sqlalchemy import Engine

from gridmap.cases.filters import CaseFilter
from layers import LAYERS, LayerContext, LayerError, get_layer, layer_ids
from layers.base import (
    Detail,
    count_note,
    detail_of,
    feature_collection,
    hidden,
    hover_template,
    mark,
    marker_size,
    point_trace,
    take_capped,
)
from layers.cases import refresh_heat


def test_registry_lists_the_overlays_in_drawing_order() -> None:
    assert layer_ids() == [
        "grids", "risk_gap", "service_circles", "patrol_coverage", "unwatched_streets",
        "buildings", "uncovered_buildings", "overdue_visits", "cameras", "service_points",
        "cases",
    ]  # fmt: skip
    assert [get_layer(i) for i in layer_ids()] == list(LAYERS)


def test_unknown_layer_is_a_friendly_error() -> None:
    with pytest.raises(LayerError, match="no map layer 'roads'"):
        get_layer("roads")


@pytest.mark.parametrize(
    ("layer_id", "title", "min_zoom", "visible"),
    [
        ("grids", "layer.grids", 0.0, True),
        ("buildings", "layer.buildings", 15.0, True),
        ("cameras", "layer.cameras", 0.0, True),
        ("service_points", "layer.service_points", 13.0, True),
        ("cases", "layer.cases", 0.0, True),
        ("risk_gap", "layer.risk_gap", 0.0, False),
        ("service_circles", "layer.service_circles", 0.0, False),
        ("patrol_coverage", "layer.patrol_coverage", 0.0, False),
        ("unwatched_streets", "layer.unwatched_streets", 14.0, False),
        ("uncovered_buildings", "layer.uncovered_buildings", 13.0, False),
    ],
)
def test_layer_fields(layer_id: str, title: str, min_zoom: float, visible: bool) -> None:
    layer = get_layer(layer_id)
    assert (layer.id, layer.title, layer.min_zoom, layer.default_visible) == (
        layer_id,
        title,
        min_zoom,
        visible,
    )


def test_layers_are_frozen() -> None:
    with pytest.raises(AttributeError):
        LAYERS[0].min_zoom = 3  # type: ignore[misc]


def test_context_is_frozen_and_normalises(engine: Engine) -> None:
    cases = CaseFilter(statuses=("reported",))
    ctx = LayerContext(engine, bbox=(1, 2, 3, 4), zoom=10, params=(cases,))
    assert ctx.bbox == (1.0, 2.0, 3.0, 4.0)
    assert ctx.params == (cases,)
    assert ctx.param(CaseFilter) is cases
    assert ctx.bounds == {"minx": 1.0, "miny": 2.0, "maxx": 3.0, "maxy": 4.0}
    assert LayerContext(engine).bounds == {"minx": None, "miny": None, "maxx": None, "maxy": None}
    assert ctx.degrees_per_pixel() == pytest.approx(360 / (512 * 1024))
    with pytest.raises(AttributeError):
        ctx.zoom = 3  # type: ignore[misc]


def test_context_refuses_an_inverted_bbox(engine: Engine) -> None:
    with pytest.raises(LayerError, match="minimum above its maximum"):
        LayerContext(engine, bbox=(3, 2, 1, 4))


def test_take_capped_and_hidden() -> None:
    frame = hidden(["id"])
    assert detail_of(frame) is Detail.HIDDEN
    assert frame.empty and frame.geometry.name == "geom"
    same, capped = take_capped(frame, 5)
    assert (len(same), capped) == (0, False)


def test_marker_size_grows_and_is_bounded() -> None:
    assert marker_size(1) == 10.0
    assert marker_size(10) < marker_size(100) <= 34.0
    assert marker_size(10**9) == 34.0


def test_empty_database_gives_empty_frames(engine: Engine) -> None:
    ctx = LayerContext(engine, bbox=(119, 29, 121, 31), zoom=16)
    for layer in LAYERS:
        data = layer.query(ctx)
        assert data.empty, layer.id
        traces = layer.traces(data, "zh-CN")
        drawn = [
            (tr.type, tr.meta["layer"], len(tr.lat if tr.type == "scattermap" else tr.locations))
            for tr in traces
        ]
        if layer.id == "cases":  # always its three traces: hexagons, halo and points
            assert drawn == [
                ("choroplethmap", "cases", 0),
                ("scattermap", "cases", 0),
                ("scattermap", "cases", 0),
            ]
        elif layer.id == "service_points":  # always its two: halo and points
            assert drawn == [("scattermap", "service_points", 0)] * 2
        else:
            assert drawn == [("scattermap", layer.id, 0)]


def test_unreachable_database_is_a_layer_error() -> None:
    from sqlalchemy import create_engine

    dead = create_engine(
        "postgresql+psycopg2://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    with pytest.raises(LayerError, match="could not be read"):
        get_layer("grids").query(LayerContext(dead, zoom=14))


def test_hover_template_heading_then_a_line_per_field() -> None:
    assert hover_template("en", "field.kind", ("patrol.patrolled", " %")) == (
        "<b>%{customdata[0]}</b><br>Kind: %{customdata[1]}<br>"
        "Patrolled: %{customdata[2]} %<extra></extra>"
    )
    heading = "<b>%{customdata[0]}</b> %{customdata[1]}"
    assert hover_template("en", "field.kind", heading=heading) == (
        "<b>%{customdata[0]}</b> %{customdata[1]}<br>Kind: %{customdata[2]}<extra></extra>"
    )


def test_count_note_sums_the_groups() -> None:
    groups = gpd.GeoDataFrame({"cameras": [1200, 3]}, geometry=[None, None])
    assert count_note("note.cameras_aggregated", groups, "cameras", 13.0, "en") == (
        "1,203 cameras grouped by area; zoom in to level 13"
    )
    none = groups.iloc[:0]
    assert count_note("note.cameras_aggregated", none, "cameras", 13.5, "en") == (
        "0 cameras grouped by area; zoom in to level 13.5"
    )


def test_point_trace_names_the_layer_detail_and_role() -> None:
    layer = get_layer("cameras")
    empty = point_trace(layer, None, "en", hoverinfo="skip")
    assert (empty.lon, empty.lat, empty.meta, empty.name) == (
        (),
        (),
        {"layer": "cameras"},
        "Cameras",
    )
    cells = mark(gpd.GeoDataFrame(geometry=[shapely.Point(120.1234567, 30.5)]), Detail.AGGREGATED)
    trace = point_trace(layer, cells, "en", "halo", marker={"size": 3})
    assert (trace.lon, trace.lat, trace.mode, trace.showlegend) == (
        (120.123457,),
        (30.5,),
        "markers",
        False,
    )
    assert trace.meta == {"layer": "cameras", "detail": "aggregated", "role": "halo"}
    assert trace.marker.size == 3


def test_failing_heat_refresh_is_a_layer_error() -> None:
    from sqlalchemy import create_engine

    dead = create_engine(
        "postgresql+psycopg2://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    with pytest.raises(LayerError, match="could not be read"):
        refresh_heat(LayerContext(dead, zoom=12), 12)


def _collection(geoms: list, decimals: int = 6) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame({"id": range(1, len(geoms) + 1)}, geometry=geoms, crs=4326)
    frame.attrs["decimals"] = decimals
    return frame


def _as_geojson(collection: dict) -> dict:
    return json.loads(to_json_plotly(collection))


@pytest.mark.parametrize(
    "geoms",
    [
        [box(0, 0, 1, 1), Polygon(box(0, 0, 4, 4).exterior, [box(1, 1, 2, 2).exterior.coords])],
        [MultiPolygon([box(0, 0, 1, 1), box(2, 2, 3, 3)]), MultiPolygon([box(5, 5, 6, 6)])],
        [Point(1, 2), Point(3, 4)],
        [LineString([(0, 0), (1, 1)])],
        [box(0, 0, 1, 1), None],
    ],
    ids=["polygons-with-hole", "multipolygons", "points", "lines", "missing"],
)
def test_feature_collection_is_the_shapes_geojson(geoms: list) -> None:
    collection = feature_collection(_collection(geoms))
    expected = [
        {"type": "Feature", "id": i, "geometry": None if g is None else mapping(g)}
        for i, g in enumerate(geoms, start=1)
    ]
    assert _as_geojson(collection) == _as_geojson(
        {"type": "FeatureCollection", "features": expected}
    )


def test_feature_collection_makes_mixed_areas_multipolygons_and_rounds_them() -> None:
    part = Polygon([(0.123456789, 0.0), (1.0, 0.0), (1.0, 1.987654321)])
    collection = _as_geojson(feature_collection(_collection([part, MultiPolygon([part])], 4)))
    rings = [[[0.1235, 0.0], [1.0, 0.0], [1.0, 1.9877], [0.1235, 0.0]]]
    assert [f["geometry"] for f in collection["features"]] == [
        {"type": "MultiPolygon", "coordinates": [rings]},
        {"type": "MultiPolygon", "coordinates": [rings]},
    ]
    assert feature_collection(_collection([]))["features"] == []
