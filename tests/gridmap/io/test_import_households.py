"""Importing the sheets grid workers keep (CSV/Excel with Chinese headers): compounds,
ten-household units and households through the same validated, all-or-nothing import as
the other layers. A good file imports (and again changes nothing); a bad one is refused
with every bad row's number, column and reason, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.io.importer import ImportOptions, ImportRejected, import_file
from tests.conftest import make_test_database
from tests.gridmap.cases.world import square
from tests.gridmap.households.world import seed_households

HOUSEHOLDS = pd.DataFrame(
    {
        "楼栋编码": ["B-G1", "B-G1", "B-G3"],
        "单元": ["2", "2", "1"],
        "楼层": [3, 3, 1],
        "房号": ["301", "302", "101"],
        "户主姓名": ["孙丽", "周强", "吴敏"],
        "联系电话": ["13811112222", "", "13900001234"],
        "家庭人数": [1, 4, 3],
        "标签": ["独居老人、低保", "", "留守儿童"],
        "联户单元": ["U1", "U1", "U3"],
    }
)


@pytest.fixture(scope="module")
def url(_created: list[str]) -> str:
    url = make_test_database("io_households")
    _created.append(url)
    seed_households(url)
    return url


def rows(url: str, sql: str) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def households_now(url: str) -> list[tuple]:
    return rows(
        url,
        "SELECT h.code, b.code, h.unit, h.floor, h.room, h.head_name, h.head_phone, "
        "h.members, h.tags, u.code, h.grid_id FROM households h "
        "JOIN buildings b ON b.id = h.building_id "
        "LEFT JOIN ten_household_units u ON u.id = h.ten_household_unit_id "
        "WHERE h.code LIKE 'B-%' ORDER BY h.code",
    )


def test_good_household_sheet_imports(url: str, tmp_path: Path) -> None:
    path = tmp_path / "住户台账.xlsx"
    HOUSEHOLDS.to_excel(path, index=False)
    report = import_file(url, path, ImportOptions("households"))
    assert (report.rows, report.inserted, report.rejected, report.written) == (3, 3, 0, True)
    assert households_now(url) == [
        ("B-G1-2-301", "B-G1", "2", 3, "301", "孙丽", "13811112222", 1,
         ["elderly_alone", "low_income"], "U1", 1),
        ("B-G1-2-302", "B-G1", "2", 3, "302", "周强", None, 4, [], "U1", 1),
        ("B-G3-1-101", "B-G3", "1", 1, "101", "吴敏", "13900001234", 3,
         ["left_behind_child"], "U3", 3),
    ]  # fmt: skip
    again = import_file(url, path, ImportOptions("households"))
    assert (again.inserted, again.unchanged) == (0, 3)


def test_bad_household_rows_are_reported_and_nothing_written(url: str, tmp_path: Path) -> None:
    before = households_now(url)
    bad = pd.concat([HOUSEHOLDS.iloc[:1], HOUSEHOLDS], ignore_index=True)  # rows 2..5
    bad.loc[0, "房号"] = "901"  # row 2: a good new household...
    bad.loc[1, "楼栋编码"] = "B-NOPE"  # row 3
    bad.loc[2, "标签"] = "独居老人、孤儿"  # row 4
    bad.loc[3, "家庭人数"] = 250  # row 5
    bad.loc[3, "联户单元"] = "U9"
    path = tmp_path / "住户台账.csv"
    bad.to_csv(path, index=False, encoding="gb18030")
    with pytest.raises(ImportRejected) as caught:
        import_file(url, path, ImportOptions("households"))
    report = caught.value.report
    assert [(p.row, p.column, p.reason) for p in report.problems] == [
        (3, "楼栋编码", "no building has code B-NOPE"),
        (4, "标签", "unknown tag '孤儿' (known: 独居老人, 残疾, 低保, 留守儿童, 重点关注)"),
        (5, "家庭人数", "250 is outside 0..100"),
    ]
    assert (report.rows, report.rejected, report.written) == (4, 3, False)
    assert caught.value.message == "3 of 4 rows rejected; nothing was written"
    assert households_now(url) == before  # row 2 was good, and it is not there either


def test_ten_household_units_and_compounds_import(url: str, tmp_path: Path) -> None:
    units = tmp_path / "联户单元.csv"
    pd.DataFrame(
        {"联户单元编码": ["U7", "U8"], "联户单元名称": ["七号联户", "八号联户"],
         "网格编码": ["G1", "G9"], "联户长": ["郑一", "王二"],
         "联户长电话": ["13000000001", ""]}
    ).to_csv(units, index=False)  # fmt: skip
    with pytest.raises(ImportRejected) as caught:
        import_file(url, units, ImportOptions("ten-household-units"))
    assert [(p.row, p.column, p.reason) for p in caught.value.report.problems] == [
        (3, "网格编码", "no grid has code G9")
    ]
    assert rows(url, "SELECT count(*) FROM ten_household_units WHERE code = 'U7'") == [(0,)]
    report = import_file(url, units, ImportOptions("ten-household-units", skip_invalid=True))
    assert report.inserted == 1
    assert rows(url, "SELECT name, grid_id, lead_name FROM ten_household_units "
                "WHERE code = 'U7'") == [("七号联户", 1, "郑一")]  # fmt: skip

    compounds = tmp_path / "小区.csv"
    pd.DataFrame(
        {"编码": ["C9"], "小区名称": ["和平小区"], "物业公司": ["和平物业"],
         "业委会": ["否"], "党支部": ["是"], "wkt": [square(120.02, 30.0, 120.03, 30.01)]}
    ).to_csv(compounds, index=False)  # fmt: skip
    report = import_file(url, compounds, ImportOptions("compounds"))
    assert report.inserted == 1
    assert "1 buildings gained their compound" in report.notes
    assert rows(
        url,
        "SELECT c.name, c.community_id, c.property_manager, c.owners_committee, "
        "c.party_branch, b.code FROM compounds c JOIN buildings b ON b.compound_id = c.id "
        "WHERE c.code = 'C9'",
    ) == [("和平小区", 2, "和平物业", False, True, "B-G3")]


def test_cli_reports_bad_household_rows(url: str, tmp_path: Path) -> None:
    from tests.gridmap.io.test_import_cli import gridmap

    path = tmp_path / "住户.csv"
    HOUSEHOLDS.assign(楼栋编码=["B-G1", "B-NONE", "B-G3"], 房号=["701", "702", "703"]).to_csv(
        path, index=False
    )
    before = households_now(url)
    bad = gridmap(url, "import", "households", str(path))
    assert bad.returncode == 2, bad.stderr
    assert "3  楼栋编码  no building has code B-NONE" in bad.stdout
    assert "coordinates" not in bad.stdout
    assert "error: 1 of 3 rows rejected; nothing was written" in bad.stderr
    assert households_now(url) == before
