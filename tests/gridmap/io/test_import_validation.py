"""Each invalid input: its message (row, column, reason) and nothing written; repair,
update, skip-invalid and dry run; re-importing the same file changes nothing."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.io import crs
from gridmap.io.importer import ImportOptions, ImportProblem, ImportRejected, import_file
from tests.gridmap.io.import_world import (
    buildings_frame,
    count,
    grids_frame,
    query,
    seeded_database,
)

#: A bow tie: its two edges cross at (120.015, 30.015).
BOW_TIE = shapely.Polygon([(120.01, 30.01), (120.02, 30.02), (120.02, 30.01), (120.01, 30.02)])


@pytest.fixture(scope="module")
def url(_created: list[str]) -> str:
    return seeded_database(_created, "iovalid")


def rejected(url: str, path: Path, opts: ImportOptions) -> list[tuple[int, str, str]]:
    with pytest.raises(ImportRejected) as err:
        import_file(url, path, opts)
    assert "nothing was written" in err.value.message
    return [(p.row, p.column, p.reason) for p in err.value.report.problems]


def write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.to_file(path)
    return path


def test_invalid_polygon_rejected_with_location_then_repaired(url: str, tmp_path: Path) -> None:
    frame = grids_frame("BT")
    frame.loc[1, "geometry"] = BOW_TIE
    path = write(frame, tmp_path / "g.geojson")
    problems = rejected(url, path, ImportOptions("grids"))
    assert problems == [(2, "geometry", "invalid polygon: Self-intersection[120.015 30.015]")]
    assert count(url, "grids", "BT") == 0  # the two good rows were not written either
    report = import_file(url, path, ImportOptions("grids", repair=True))
    assert (report.inserted, report.repaired) == (3, 1)
    (area, valid), = query(url, "SELECT ST_Area(geom), ST_IsValid(geom) FROM grids "
                                "WHERE code = 'BTIG2'")  # fmt: skip
    assert valid and area == pytest.approx(BOW_TIE.buffer(0).area * 2, rel=1e-6)


def test_wrong_geometry_type_missing_attributes_bad_values(url: str, tmp_path: Path) -> None:
    frame = buildings_frame("WB", 6)
    frame.loc[0, "geometry"] = shapely.LineString([(120.01, 30.01), (120.02, 30.02)])
    frame.loc[1, "address"] = "  "
    frame.loc[2, "kind"] = "castle"
    frame["floors"] = ["3", "3", "3", "many", "2.5", "3"]
    frame.loc[5, "elderly_alone"] = 99  # more vulnerable people than people (50)
    path = write(frame, tmp_path / "b.gpkg")
    assert rejected(url, path, ImportOptions("buildings")) == [
        (1, "geometry", "is a LineString; buildings need a point or one footprint polygon"),
        (2, "address", "is required"),
        (3, "kind", "'castle' is not one of residential, commercial, mixed, office, "
                    "industrial, school, hospital, public"),
        (4, "floors", "is not a number"),
        (5, "floors", "is not a whole number"),
        (6, "population", "is less than elderly_alone + disabled + low_income"),
    ]  # fmt: skip
    assert count(url, "buildings", "WB") == 0


def test_texts_longer_than_their_bound_or_with_control_characters(url: str, tmp_path: Path) -> None:
    frame = grids_frame("LN")
    frame.loc[0, "name"] = "网" * 10_000
    frame.loc[1, "lead_name"] = "赵\u0001敏"
    frame.loc[2, "code"] = "LN" + "9" * 63
    path = write(frame, tmp_path / "g.geojson")
    assert rejected(url, path, ImportOptions("grids")) == [
        (1, "name", "is 10,000 characters long; at most 200"),
        (2, "lead_name", "must not contain control characters"),
        (3, "code", "is 65 characters long; at most 64"),
    ]
    assert count(url, "grids", "LN") == 0


def test_missing_required_column_refused_before_reading_rows(url: str, tmp_path: Path) -> None:
    path = write(grids_frame("NC").drop(columns=["name"]), tmp_path / "g.geojson")
    with pytest.raises(ImportProblem, match="no column for name") as err:
        import_file(url, path, ImportOptions("grids"))
    assert "--map name=COLUMN" in err.value.hint
    with pytest.raises(ImportProblem, match="unknown field 'colour'"):
        import_file(url, path, ImportOptions("grids", mapping={"colour": "x"}))


def test_duplicates_in_file_and_against_the_database(url: str, tmp_path: Path) -> None:
    frame = grids_frame("DU")
    frame.loc[2, "code"] = "DUIG1"
    path = write(frame, tmp_path / "dup.geojson")
    assert rejected(url, path, ImportOptions("grids")) == [(3, "code", "code DUIG1 repeats row 1")]
    # the seeded grid G1 exists with other values: refused unless --update
    clash = grids_frame("")
    clash.loc[0, "code"] = "G1"
    path = write(clash, tmp_path / "clash.geojson")
    assert rejected(url, path, ImportOptions("grids")) == [
        (1, "code", "code G1 already exists with other values (use --update to update it)")
    ]
    assert query(url, "SELECT name FROM grids WHERE code = 'G1'") == [("西南网格",)]
    report = import_file(url, path, ImportOptions("grids", update=True))
    assert (report.inserted, report.updated) == (2, 1)
    assert query(url, "SELECT name, lead_name FROM grids WHERE code = 'G1'") == [
        ("导入网格一", "赵敏")
    ]


def test_reimport_is_idempotent_and_dry_run_writes_nothing(url: str, tmp_path: Path) -> None:
    path = write(buildings_frame("ID", 5), tmp_path / "b.geojson")
    dry = import_file(url, path, ImportOptions("buildings", dry_run=True))
    assert (dry.inserted, dry.written) == (5, False) and count(url, "buildings", "ID") == 0
    first = import_file(url, path, ImportOptions("buildings"))
    again = import_file(url, path, ImportOptions("buildings"))
    assert (first.inserted, again.inserted, again.unchanged, again.updated) == (5, 0, 5, 0)
    assert count(url, "buildings", "ID") == 5
    frame = buildings_frame("ID", 5)
    frame.loc[4, "population"] = 99
    path = write(frame, tmp_path / "b2.geojson")
    assert rejected(url, path, ImportOptions("buildings"))[0][2].startswith("code ID4 already")
    changed = import_file(url, path, ImportOptions("buildings", update=True))
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 4)
    (population, later), = query(url, "SELECT population, updated_at > (SELECT updated_at "
                                      "FROM buildings WHERE code = 'ID3') FROM buildings "
                                      "WHERE code = 'ID4'")  # fmt: skip
    assert population == 99 and later


def test_outside_the_city_names_the_likely_coordinate_system(url: str, tmp_path: Path) -> None:
    # a CGCS2000 Gauss-Krüger file whose .prj was lost: read as lon/lat it lies far away
    frame = buildings_frame("GK").to_crs(4549).set_crs(None, allow_override=True)
    path = tmp_path / "b.csv"
    xy = {"x": frame.geometry.x, "y": frame.geometry.y}
    pd.DataFrame(
        {"code": frame["code"], "address": frame["address"], "kind": "mixed", **xy}
    ).to_csv(path, index=False)
    problems = rejected(url, path, ImportOptions("buildings"))
    assert [p[0] for p in problems] == [2, 3, 4, 5]
    assert "outside the city's extent (120.0000,30.0000 – 120.1000,30.1000)" in problems[0][2]
    assert problems[0][2].endswith(
        "this usually means a wrong coordinate system: the file looks like "
        "EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)"
    )
    assert import_file(url, path, ImportOptions("buildings", crs="EPSG:4549")).inserted == 4


def test_gcj02_file_needs_the_option(url: str, tmp_path: Path) -> None:
    """Service points copied from Amap (GCJ-02) near the city's north-east corner: the
    offset pushes them outside; --from-gcj02 brings them back within 1 m."""
    lon, lat = np.array([120.0985, 120.0990]), np.array([30.0985, 30.0992])
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    path = tmp_path / "amap.csv"
    pd.DataFrame({"code": ["AM1", "AM2"], "name": ["甲站", "乙站"], "kind": "elderly_care",
                  "lng": glon, "lat": glat}).to_csv(path, index=False)  # fmt: skip
    problems = rejected(url, path, ImportOptions("service-points"))
    assert all(p[2].endswith("the file looks like GCJ-02 (Amap/Tencent)") for p in problems)
    report = import_file(url, path, ImportOptions("service-points", offset="gcj02"))
    assert report.inserted == 2 and report.crs.endswith("+ GCJ02")
    rows = np.array(query(url, "SELECT ST_X(geom), ST_Y(geom) FROM service_points "
                               "WHERE code LIKE 'AM%' ORDER BY code"))  # fmt: skip
    assert np.abs(rows - np.column_stack([lon, lat])).max() < 1e-5  # ~1 m


def test_unknown_community_and_unreadable_wkt(url: str, tmp_path: Path) -> None:
    g = grids_frame("UC")
    table = pd.DataFrame({"code": g["code"], "name": g["name"], "社区编码": ["C1", "C9", None],
                          "wkt": g.geometry.to_wkt()})  # fmt: skip
    table.loc[2, "wkt"] = "POLYGON((1 2, 3"
    path = tmp_path / "g.csv"
    table.to_csv(path, index=False)
    assert rejected(url, path, ImportOptions("grids")) == [
        (3, "社区编码", "no community has code C9"),
        (4, "wkt", "is not readable WKT"),
    ]
    report = import_file(url, path, ImportOptions("grids", skip_invalid=True))
    assert (report.inserted, report.rejected) == (1, 2)
    assert query(url, "SELECT code FROM grids WHERE code LIKE 'UC%'") == [("UCIG1",)]


def test_file_level_problems(url: str, tmp_path: Path) -> None:
    from gridmap.io.readers import FileProblem

    with pytest.raises(FileProblem, match="does not exist"):
        import_file(url, tmp_path / "none.gpkg", ImportOptions("grids"))
    (tmp_path / "x.dwg").write_text("?")
    with pytest.raises(FileProblem, match=r"unknown file type \.dwg"):
        import_file(url, tmp_path / "x.dwg", ImportOptions("grids"))
    (tmp_path / "t.csv").write_text("code,name\nA,b\n")
    with pytest.raises(FileProblem, match="no longitude/latitude columns"):
        import_file(url, tmp_path / "t.csv", ImportOptions("grids"))
    with pytest.raises(crs.CRSProblem, match="Unknown coordinate system"):
        path = write(grids_frame("X"), tmp_path / "g.geojson")
        import_file(url, path, ImportOptions("grids", crs="EPSG:999999"))


def test_without_districts_the_check_is_lonlat_sanity(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "cams.csv"
    cams = {"code": ["E1", "E2"], "name": ["甲", "乙"], "kind": ["dome", "dome"]}
    xy = {"lon": [120.5, 504821.9], "lat": [30.5, 3325657.1]}
    pd.DataFrame({**cams, **xy}).to_csv(path, index=False)
    assert rejected(db_url, path, ImportOptions("cameras")) == [
        (3, "geometry", "lies outside longitude/latitude range (-180.0000,-90.0000 – "
         "180.0000,90.0000) at 504821.90000,3325657.10000; this usually means a wrong "
         "coordinate system (try --crs, --from-gcj02 or --from-bd09)"),
    ]  # fmt: skip
    assert count(db_url, "cameras", "E") == 0
