"""Layer exports round trip: every file format read back with pyogrio/pandas equals the
layer's export(ctx) frame (geometries within 1e-9 degrees, attributes and CJK text exact);
GDAL's ogrinfo reads every GeoPackage; bad options are refused with nothing written."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from sqlalchemy import Engine

from gridmap.cases.filters import CaseFilter
from gridmap.io.export import (
    ExportError,
    ExportRequest,
    _geometry_type,
    csv_frame,
    export_data,
    file_frame,
    layer_frame,
    parse_bbox,
    parse_filters,
    shapefile_names,
)
from layers import LayerContext, get_layer
from layers.params import CircleFilter, PatrolWindow, RiskGapParams

#: Polygons with CJK names, points with a date-time, points with a nullable grid id.
LAYERS = ("grids", "cameras", "cases")
TOLERANCE = 1e-9  # degrees (~0.1 mm)


@pytest.fixture(scope="module")
def frames(demo_engine: Engine) -> dict[str, gpd.GeoDataFrame]:
    ctx = LayerContext(demo_engine)
    return {lid: layer_frame(ctx, lid) for lid in LAYERS}  # (what the files are written from)


def _flat(values: np.ndarray) -> np.ndarray:
    """Normalised geometries, one-part multi-geometries as their part (Shapefiles do not
    tell the two apart)."""
    single = shapely.get_num_geometries(values) == 1
    multi = np.isin(shapely.get_type_id(values), (4, 5, 6))
    values = values.copy()
    values[single & multi] = shapely.get_geometry(values[single & multi], 0)
    return shapely.normalize(values)


def _same_geometries(expected: gpd.GeoSeries, got: gpd.GeoSeries) -> None:
    assert len(expected) == len(got)
    a = _flat(np.asarray(expected.values))
    b = _flat(np.asarray(got.values))
    assert shapely.equals_exact(a, b, tolerance=TOLERANCE).all()


def _same_attributes(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """Same columns and values; date-times compared as instants, ints as numbers."""
    assert list(got.columns) == list(expected.columns)
    for column in expected.columns:
        want, have = expected[column], got[column]
        if isinstance(want.dtype, pd.DatetimeTZDtype):
            assert (pd.to_datetime(have, utc=True) == want).all(), column
        elif want.dtype.kind in "iuf" or str(want.dtype) == "Int64":
            assert np.allclose(
                want.astype("float64").fillna(-1), have.astype("float64").fillna(-1)
            ), column
        else:
            assert (
                want.astype("string").fillna("").tolist()
                == have.astype("string").fillna("").tolist()
            ), column


def _export(engine: Engine, tmp: Path, fmt: str, layers=LAYERS, **options) -> Path:
    request = ExportRequest(layers=tuple(layers), format=fmt, **options)
    target = tmp / request.file_name()
    counts = export_data(engine, request, target)
    assert counts == {lid: counts[lid] for lid in request.layers}
    assert target.exists() and not list(tmp.glob("gridmap-export-*"))  # no leftovers
    return target


def test_geopackage_round_trip_and_ogrinfo(demo_engine, frames, tmp_path: Path) -> None:
    path = _export(demo_engine, tmp_path, "gpkg")
    assert path.suffix == ".gpkg"
    assert [name for name, _ in pyogrio.list_layers(path)] == list(LAYERS)
    for lid, frame in frames.items():
        got = pyogrio.read_dataframe(path, layer=lid)
        expected = file_frame(frame, "gpkg")
        _same_geometries(expected.geometry, got.geometry)
        _same_attributes(expected.drop(columns="geom"), got.drop(columns="geometry"))
        info = subprocess.run(
            ["ogrinfo", "-so", "-ro", str(path), lid], capture_output=True, text=True, check=True
        ).stdout
        assert f"Layer name: {lid}" in info
        assert f"Feature Count: {len(frame)}" in info
    assert frames["grids"]["name"].str.contains("网格").all()  # CJK made it through


def test_geojson_round_trip(demo_engine, frames, tmp_path: Path) -> None:
    single = _export(demo_engine, tmp_path, "geojson", layers=["grids"])
    assert single.suffix == ".geojson"
    got = pyogrio.read_dataframe(single)
    expected = file_frame(frames["grids"], "geojson")
    _same_geometries(expected.geometry, got.geometry)
    _same_attributes(expected.drop(columns="geom"), got.drop(columns="geometry"))
    assert "网格" in single.read_text(encoding="utf-8")  # UTF-8 text, not \\u escapes

    several = _export(demo_engine, tmp_path, "geojson")
    with zipfile.ZipFile(several) as archive:
        assert sorted(archive.namelist()) == sorted(f"{lid}.geojson" for lid in LAYERS)
        archive.extractall(tmp_path / "unzipped")
    for lid, frame in frames.items():
        got = pyogrio.read_dataframe(tmp_path / "unzipped" / f"{lid}.geojson")
        expected = file_frame(frame, "geojson")
        _same_geometries(expected.geometry, got.geometry)
        _same_attributes(expected.drop(columns="geom"), got.drop(columns="geometry"))


def test_shapefile_zip_round_trip_with_utf8_cpg(demo_engine, frames, tmp_path: Path) -> None:
    path = _export(demo_engine, tmp_path, "shp")
    assert path.suffix == ".zip"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "shp")
    for lid, frame in frames.items():
        assert {f"{lid}/{lid}.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= names
        assert (tmp_path / "shp" / lid / f"{lid}.cpg").read_text().strip().upper() == "UTF-8"
        got = pyogrio.read_dataframe(tmp_path / "shp" / lid / f"{lid}.shp")
        expected = file_frame(frame, "shp")
        assert all(len(c) <= 10 for c in expected.columns)
        _same_geometries(expected.geometry, got.geometry)
        _same_attributes(expected.drop(columns="geom"), got.drop(columns="geometry"))
    # the same archive opens in GDAL directly (/vsizip/)
    info = subprocess.run(
        ["ogrinfo", "-so", "-ro", f"/vsizip/{path}/grids/grids.shp", "grids"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"Feature Count: {len(frames['grids'])}" in info


def test_csv_round_trip_lonlat_and_wkt(demo_engine, frames, tmp_path: Path) -> None:
    path = _export(demo_engine, tmp_path, "csv")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path / "csv")
    for lid, frame in frames.items():
        raw = (tmp_path / "csv" / f"{lid}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the CJK text right
        expected = csv_frame(frame)
        text = {c: "string" for c in expected.columns if expected[c].dtype.kind not in "iufb"}
        got = pd.read_csv(tmp_path / "csv" / f"{lid}.csv", encoding="utf-8-sig", dtype=text)
        if lid == "grids":
            geometry = gpd.GeoSeries(shapely.from_wkt(got.pop("wkt")))
        else:
            geometry = gpd.GeoSeries(shapely.points(got.pop("lon"), got.pop("lat")))
        _same_geometries(frame.geometry, geometry)
        expected = expected.drop(columns=[c for c in ("wkt", "lon", "lat") if c in expected])
        _same_attributes(expected, got)
    single = _export(demo_engine, tmp_path, "csv", layers=["grids"], csv_geometry="wkt")
    assert single.suffix == ".csv"
    assert "双塘花园社区" in single.read_text(encoding="utf-8-sig")


def test_filters_and_bbox_mean_what_the_layer_says(demo_engine, tmp_path: Path) -> None:
    bbox = (118.77, 32.03, 118.79, 32.05)
    filters = {"statuses": ["reported", "returned"]}
    path = _export(demo_engine, tmp_path, "gpkg", layers=["cases", "buildings"], bbox=bbox,
                   filters=filters)  # fmt: skip
    ctx = LayerContext(demo_engine, bbox=bbox, params=(CaseFilter(statuses=filters["statuses"]),))
    cases = pyogrio.read_dataframe(path, layer="cases")
    expected = get_layer("cases").export(ctx)
    assert (
        0 < len(cases) == len(expected) < len(get_layer("cases").export(LayerContext(demo_engine)))
    )
    assert set(cases["status"]) <= {"reported", "returned"}
    assert sorted(cases["id"]) == sorted(expected["id"])
    buildings = pyogrio.read_dataframe(path, layer="buildings")
    expected = get_layer("buildings").export(ctx)
    assert sorted(buildings["id"]) == sorted(expected["id"])
    assert 0 < len(buildings) < len(get_layer("buildings").export(LayerContext(demo_engine)))


def test_empty_layer_still_writes_a_typed_table(demo_engine, tmp_path: Path) -> None:
    path = _export(demo_engine, tmp_path, "gpkg", layers=["grids"], bbox=(0.0, 0.0, 0.1, 0.1))
    info = subprocess.run(["ogrinfo", "-so", "-ro", str(path), "grids"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert "Feature Count: 0" in info and "Multi Polygon" in info


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layers": (), "format": "gpkg"}, "layers: must have 1–50 items"),
        ({"layers": ("nope",), "format": "gpkg"}, "unknown layer 'nope'"),
        ({"layers": ("grids",), "format": "xlsx"}, "format: must be one of gpkg"),
        ({"layers": ("grids",), "format": "pdf", "paper": "A0"}, "must be one of A4 or A3"),
        ({"layers": ("grids",), "format": "gpkg", "bbox": (10, 10, 5, 5)}, "minimum below"),
        ({"layers": ("grids",), "format": "gpkg", "bbox": (0, 0, 200, 1)}, "±180"),
    ],
)
def test_bad_options_are_refused(options: dict, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        ExportRequest(**options)


def test_bad_options_from_json_and_cli_text() -> None:
    with pytest.raises(ExportError, match="colour: is not a known field"):
        ExportRequest.from_json({"layers": ["grids"], "format": "gpkg", "colour": "red"})
    with pytest.raises(ExportError, match="format: is required"):
        ExportRequest.from_json({"layers": ["grids"]})
    with pytest.raises(ExportError, match="time_from: must be an ISO 8601 date-time"):
        ExportRequest.from_json({"layers": ["cases"], "format": "csv", "time_from": "soon"})
    with pytest.raises(ExportError, match="four numbers"):
        parse_bbox("1,2,3")
    with pytest.raises(ExportError, match="not name=value"):
        parse_filters(["statuses"])
    assert parse_filters(["statuses=reported", "circle_minutes=15", "circle_kind=police"]) == {
        "statuses": ["reported"], "circle_minutes": 15, "circle_kind": "police",
    }  # fmt: skip
    request = ExportRequest(
        ("cases",), "csv", bbox=(1, 2, 3, 4), filters={"statuses": ["reported"]}
    )
    assert ExportRequest.from_json(request.to_json()) == request
    with pytest.raises(ExportError, match=r"filters.statuses\[0\]: must be one of reported"):
        ExportRequest(("cases",), "csv", filters={"statuses": ["x"]})
    assert parse_filters(["circle_euclid=true"]) == {"circle_euclid": True}


def test_lonlat_csv_of_polygons_is_refused_and_nothing_written(demo_engine, tmp_path) -> None:
    request = ExportRequest(("grids",), "csv", csv_geometry="lonlat")
    target = tmp_path / "grids.csv"
    with pytest.raises(ExportError, match="Only point layers"):
        export_data(demo_engine, request, target)
    assert list(tmp_path.iterdir()) == []


def test_shapefile_names_stay_unique() -> None:
    names = shapefile_names(["community_name", "community_id", "id", "reported_at"])
    assert names == {
        "community_name": "community_",
        "community_id": "communit_1",
        "id": "id",
        "reported_at": "reported_a",
    }


def test_ogrinfo_is_installed() -> None:
    assert shutil.which("ogrinfo"), "apt-get install gdal-bin"


def test_flat_filter_names_become_the_layers_typed_params(engine) -> None:
    request = ExportRequest.from_json(
        {
            "layers": ["uncovered_buildings", "risk_gap"],
            "format": "gpkg",
            "time_from": "2026-03-01T00:00:00+08:00",
            "filters": {"circle_kind": "health_station", "circle_minutes": 10, "risk_top": 3,
                        "patrol_window_h": 2, "statuses": ["reported"]},
        }
    )  # fmt: skip
    ctx = request.context(engine)
    assert ctx.param(CircleFilter) == CircleFilter("health_station", 10.0, False)
    assert ctx.param(RiskGapParams) == RiskGapParams(3)
    assert ctx.param(PatrolWindow) == PatrolWindow(request.time_from, None, 2.0)
    assert ctx.param(CaseFilter) == CaseFilter(since=request.time_from, statuses=("reported",))


@pytest.mark.parametrize(
    ("layer_id", "kind"),
    [("grids", "MultiPolygon"), ("patrol_coverage", "MultiLineString"), ("cases", "Point"),
     ("unwatched_streets", "MultiLineString")],
)  # fmt: skip
def test_empty_layer_files_take_the_geometry_their_features_draw(layer_id: str, kind: str) -> None:
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326))
    assert _geometry_type(empty, layer_id) == kind
