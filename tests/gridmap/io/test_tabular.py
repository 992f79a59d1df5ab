"""The file-import core both importers share: one mapping parser, one rejected-rows CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import gridmap.cases.importer
import gridmap.io.importer
from gridmap.io.tabular import MappingError, parse_mapping, write_report


def test_one_mapping_parser() -> None:
    assert gridmap.cases.importer.parse_columns is parse_mapping
    assert not hasattr(gridmap.io.importer, "parse_mapping")
    assert issubclass(gridmap.cases.importer.MappingError, MappingError)


@pytest.mark.parametrize(
    "spec",
    [
        "code=编号,lon=X",
        ("code=编号", "lon=X"),
        ["code=编号, lon = X", ""],
        {"code": "编号", "lon": "X"},
    ],
)
def test_mapping_forms(spec: object) -> None:
    assert parse_mapping(spec) == {"code": "编号", "lon": "X"}  # type: ignore[arg-type]


def test_mapping_files_only_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"columns": {"code": "编号"}}', encoding="utf-8")
    assert parse_mapping([str(path), "name=名称"], files=True) == {"code": "编号", "name": "名称"}
    with pytest.raises(MappingError) as info:  # a web form never names a server file
        parse_mapping(str(path))
    assert info.value.message == f"Mapping entry {str(path)!r} is not field=column"


def test_mapping_values_are_strings(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text("code = 3\n", encoding="utf-8")
    with pytest.raises(MappingError, match="must map field names to column names"):
        parse_mapping(path, files=True)


def test_report_csv(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    write_report(path, [(3, "标题", "is required"), (4, "geometry", "is empty")])
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig") as fh:
        assert list(csv.reader(fh)) == [
            ["row", "column", "reason"],
            ["3", "标题", "is required"],
            ["4", "geometry", "is empty"],
        ]
