"""Import round trips, one per file format: write the file with geopandas/pyogrio/pandas
at test time, import it, read the rows back from PostGIS and compare geometries and
attributes. Each test uses its own code prefix in one shared seeded database."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from gridmap.io.importer import ImportOptions, import_file
from tests.gridmap.io.import_world import (
    GRID_COMMUNITIES,
    GRID_ROWS,
    buildings_frame,
    grids_frame,
    query,
    seeded_database,
    stored_grids,
)


@pytest.fixture(scope="module")
def url(_created: list[str]) -> str:
    return seeded_database(_created, "ioformats")


def assert_grids(url: str, prefix: str, *, tolerance: float = 1e-9) -> None:
    stored = stored_grids(url, prefix)
    assert sorted(stored) == [prefix + r["code"] for r in GRID_ROWS]
    for r in GRID_ROWS:
        name, lead, community, geom = stored[prefix + r["code"]]
        assert (name, lead, community) == (r["name"], r["lead_name"], GRID_COMMUNITIES[r["code"]])
        assert geom.geom_type == "MultiPolygon"
        want = shapely.normalize(shapely.box(*r["box"]))
        assert shapely.equals_exact(shapely.normalize(geom.geoms[0]), want, tolerance)


def test_geojson_grids(url: str, tmp_path: Path) -> None:
    path = tmp_path / "grids.geojson"
    grids_frame("GJ").to_file(path, driver="GeoJSON")
    report = import_file(url, path, ImportOptions("grids"))
    assert (report.rows, report.inserted, report.rejected, report.written) == (3, 3, 0, True)
    assert_grids(url, "GJ")


def test_geopackage_layer_choice(url: str, tmp_path: Path) -> None:
    path = tmp_path / "city.gpkg"
    grids_frame("GP").to_file(path, layer="网格", driver="GPKG")
    buildings_frame("GPB").to_file(path, layer="楼栋", driver="GPKG")
    from gridmap.io.readers import FileProblem

    with pytest.raises(FileProblem, match="holds 2 layers") as err:
        import_file(url, path, ImportOptions("grids"))
    assert "网格" in (err.value.hint or "")
    report = import_file(url, path, ImportOptions("grids", layer="网格"))
    assert report.inserted == 3
    assert_grids(url, "GP")


def test_shapefile_and_zipped_shapefile_gbk(url: str, tmp_path: Path) -> None:
    frame = grids_frame("SH")
    path = tmp_path / "grids.shp"
    pyogrio.write_dataframe(frame, path, encoding="GBK")  # writes grids.cpg naming GBK
    assert "GBK" in (tmp_path / "grids.cpg").read_text().upper()
    report = import_file(url, path, ImportOptions("grids"))
    assert report.inserted == 3
    assert_grids(url, "SH")
    # the same layer zipped, without its .cpg: the encoding must be given
    frame = grids_frame("SZ")
    pyogrio.write_dataframe(frame, tmp_path / "z.shp", encoding="GBK")
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in ("shp", "shx", "dbf", "prj"):
            zf.write(tmp_path / f"z.{ext}", f"网格/z.{ext}")
    report = import_file(url, archive, ImportOptions("grids", encoding="GBK"))
    assert report.inserted == 3
    assert_grids(url, "SZ")


@pytest.mark.parametrize(("encoding", "read_as"), [("GBK", "gb18030"), ("UTF-8", "utf-8")])
def test_shapefile_without_cpg_is_read_in_its_encoding_with_a_note(
    url: str, tmp_path: Path, encoding: str, read_as: str
) -> None:
    prefix = "NG" if encoding == "GBK" else "NU"
    frame = grids_frame(prefix).rename(columns={"name": "名称"})
    frame.loc[0, "名称"] = "双塘街道"
    pyogrio.write_dataframe(frame, tmp_path / "grids.shp", encoding=encoding)
    (tmp_path / "grids.cpg").unlink()  # as many files come: no word on the encoding
    report = import_file(url, tmp_path / "grids.shp", ImportOptions("grids"))
    assert report.inserted == 3
    assert f"grids.shp names no encoding (no .cpg file); its text was read as {read_as}" in (
        report.notes
    )
    names = query(url, "SELECT name FROM grids WHERE code LIKE %s ORDER BY code", (prefix + "%",))
    assert [n for (n,) in names] == ["双塘街道", "导入网格二", "导入网格三"]


def test_shapefile_without_cpg_in_an_unknown_encoding_is_refused(url: str, tmp_path: Path) -> None:
    from gridmap.io.readers import FileProblem

    frame = grids_frame("NB")
    frame["name"] = ["Café", "Zoé", "André"]  # a lone é: neither UTF-8 nor GB18030
    frame["lead_name"] = None
    pyogrio.write_dataframe(frame, tmp_path / "grids.shp", encoding="ISO-8859-1")
    (tmp_path / "grids.cpg").unlink()
    with pytest.raises(FileProblem, match=r"names no encoding .* is not utf-8 or gb18030"):
        import_file(url, tmp_path / "grids.shp", ImportOptions("grids"))
    report = import_file(url, tmp_path / "grids.shp", ImportOptions("grids", encoding="ISO-8859-1"))
    assert report.inserted == 3


def test_csv_lonlat_with_chinese_headers_and_mapping(url: str, tmp_path: Path) -> None:
    b = buildings_frame("CV")
    table = pd.DataFrame(
        {
            "楼栋编号": b["code"],
            "地址": b["address"],
            "类型": b["kind"],
            "人口": b["population"],
            "独居老人": b["elderly_alone"],
            "经度": b.geometry.x,
            "纬度": b.geometry.y,
        }
    )
    path = tmp_path / "楼栋.csv"
    table.to_csv(path, index=False, encoding="gbk")  # a typical Excel-in-China CSV
    report = import_file(url, path, ImportOptions("buildings", mapping={"code": "楼栋编号"}))
    assert report.inserted == 4 and any("gb18030" in n for n in report.notes)
    rows = query(
        url,
        "SELECT code, address, kind, population, elderly_alone, ST_X(geom), ST_Y(geom), "
        "(SELECT code FROM grids WHERE id = b.grid_id) FROM buildings b "
        "WHERE b.code LIKE 'CV%' ORDER BY b.code",
    )
    assert [r[:5] for r in rows] == [
        ("CV0", "测试路0号", "residential", 0, 0),
        ("CV1", "测试路1号", "commercial", 10, 1),
        ("CV2", "测试路2号", "mixed", 20, 2),
        ("CV3", "测试路3号", "office", 30, 3),
    ]
    assert np.allclose([r[5] for r in rows], b.geometry.x) and {r[7] for r in rows} == {"G1"}


def test_csv_wkt_and_excel(url: str, tmp_path: Path) -> None:
    g = grids_frame("WK")
    csv_path = tmp_path / "grids.csv"
    pd.DataFrame({"code": g["code"], "name": g["name"], "lead_name": g["lead_name"],
                  "wkt": g.geometry.to_wkt()}).to_csv(csv_path, index=False)  # fmt: skip
    assert import_file(url, csv_path, ImportOptions("grids")).inserted == 3
    assert_grids(url, "WK")
    xlsx = tmp_path / "service.xlsx"
    pd.DataFrame(
        {"编码": [1001, 1002], "名称": ["测试党群服务中心", "测试警务室"],
         "类型": ["党群服务中心", "police_office"], "lng": [120.015, 120.075],
         "lat": [30.015, 30.075]}
    ).to_excel(xlsx, sheet_name="站点", index=False)  # fmt: skip
    report = import_file(url, xlsx, ImportOptions("service-points", layer="站点"))
    assert report.inserted == 2
    rows = query(url, "SELECT code, name, kind, ST_X(geom), ST_Y(geom) FROM service_points "
                      "WHERE code IN ('1001', '1002') ORDER BY code")  # fmt: skip
    assert rows == [
        ("1001", "测试党群服务中心", "party_service_center", 120.015, 30.015),
        ("1002", "测试警务室", "police_office", 120.075, 30.075),
    ]


def test_cameras_geojson_defaults_and_3d_points(url: str, tmp_path: Path) -> None:
    cams = gpd.GeoDataFrame(
        {"code": ["CAM1", "CAM2"], "name": ["一号", "二号"], "kind": ["球机", "bullet"],
         "heading": [90.0, None]},
        geometry=[shapely.Point(120.012, 30.012, 15.0), shapely.Point(120.088, 30.088)], crs=4326,
    )  # fmt: skip
    path = tmp_path / "cams.geojson"
    cams.to_file(path)
    assert import_file(url, path, ImportOptions("cameras")).inserted == 2
    rows = query(url, "SELECT code, kind, status, heading, fov, range_m FROM cameras "
                      "WHERE code LIKE 'CAM%' ORDER BY code")  # fmt: skip
    assert rows == [("CAM1", "dome", "online", 90.0, 90.0, 50.0),
                    ("CAM2", "bullet", "online", 0.0, 90.0, 50.0)]  # fmt: skip


def test_building_footprints(url: str, tmp_path: Path) -> None:
    foot = shapely.box(120.031, 30.031, 120.032, 30.032)
    frame = gpd.GeoDataFrame({"code": ["FP1"], "address": ["足迹路1号"], "kind": ["school"]},
                             geometry=[foot], crs=4326)  # fmt: skip
    path = tmp_path / "foot.gpkg"
    frame.to_file(path)
    assert import_file(url, path, ImportOptions("buildings")).inserted == 1
    (wkt, inside, grid), = query(
        url, "SELECT ST_AsText(footprint), ST_Within(geom, footprint), "
             "(SELECT code FROM grids WHERE id = b.grid_id) FROM buildings b WHERE code = 'FP1'"
    )  # fmt: skip
    assert shapely.equals(shapely.from_wkt(wkt), foot) and inside and grid == "G1"


def test_cgcs2000_geographic_file(url: str, tmp_path: Path) -> None:
    """A GeoPackage in EPSG:4490 (CGCS2000 longitude/latitude, what Chinese
    surveying offices deliver) is read with its CRS and lands on its WGS84 twin (CGCS2000 and
    WGS84 differ by centimetres; pyproj applies the null transformation)."""
    frame = grids_frame("CG").set_crs(4490, allow_override=True)
    path = tmp_path / "cgcs.gpkg"
    frame.to_file(path)
    report = import_file(url, path, ImportOptions("grids"))
    assert report.inserted == 3 and report.crs.startswith("EPSG:4490")
    assert_grids(url, "CG", tolerance=1e-8)


def test_cgcs2000_gauss_kruger_file(url: str, tmp_path: Path) -> None:
    """A GeoPackage in EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E, the zone of
    the seeded city) lands where its lon/lat twin does (CGCS2000 ≈ WGS84 to < 1 m)."""
    frame = grids_frame("GK").to_crs(4549)
    assert frame.total_bounds[0] > 400_000  # metres
    path = tmp_path / "gk.gpkg"
    frame.to_file(path)
    report = import_file(url, path, ImportOptions("grids"))
    assert report.inserted == 3 and report.crs.startswith("EPSG:4549")
    assert_grids(url, "GK", tolerance=1e-8)
    # the same numbers in a CSV that names no CRS: --crs says what they are
    tr = Transformer.from_crs(4326, 4549, always_xy=True)
    x, y = tr.transform([120.041, 120.081], [30.041, 30.081])
    csv_path = tmp_path / "cams_gk.csv"
    pd.DataFrame({"code": ["GKC1", "GKC2"], "name": ["甲", "乙"], "kind": ["dome", "face"],
                  "x": x, "y": y}).to_csv(csv_path, index=False)  # fmt: skip
    report = import_file(url, csv_path, ImportOptions("cameras", crs="EPSG:4549"))
    assert report.inserted == 2
    rows = query(url, "SELECT ST_X(geom), ST_Y(geom) FROM cameras WHERE code LIKE 'GKC%' "
                      "ORDER BY code")  # fmt: skip
    assert np.allclose(rows, [(120.041, 30.041), (120.081, 30.081)], atol=1e-8)
