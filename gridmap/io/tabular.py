"""What the two file importers share, ``gridmap import …`` (:mod:`gridmap.io.importer`) and
``gridmap cases import`` (:mod:`gridmap.cases.importer`): the column mapping, a streaming
row reader of CSV/Excel files, and the report of rejected rows as CSV.

The geographic importer reads whole files as frames (pyogrio, pandas:
:mod:`gridmap.io.readers`); the case importer streams rows (:func:`read_rows`) so that
millions of hotline cases are validated while the database inserts the previous chunk.
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gridmap.errors import GridmapError
from gridmap.io.readers import FileProblem

#: Files a mapping may be given as (``--map mapping.toml``): ``field = "column"`` pairs, at
#: the top or under ``[columns]``.
MAPPING_SUFFIXES = (".toml", ".json")
#: Header of the rejected-rows CSV (``--report FILE.csv``).
REPORT_HEADER = ("row", "column", "reason")


class MappingError(GridmapError):
    """The column mapping is malformed (or names what the file or the target lacks)."""

    http_status = 400


MappingSpec = str | Path | Mapping[str, str] | Iterable[str | Path] | None


def parse_mapping(spec: MappingSpec, *, files: bool = False) -> dict[str, str]:
    """Target field → source column, from a dict, or from ``field=column`` items (one
    string or several, each possibly holding comma-separated pairs, as ``--map`` repeated).
    With ``files`` (the command line, never a web form) an item naming a .toml/.json file
    is read as a table of such pairs. Later items win."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        items: Iterable[Any] = [spec]
    elif isinstance(spec, str | Path):
        items = [spec]
    else:
        items = spec
    mapping: dict[str, Any] = {}
    for item in items:
        if isinstance(item, Mapping):
            mapping.update(item)
            continue
        text = str(item)
        path = Path(text)
        if files and path.suffix.lower() in MAPPING_SUFFIXES and path.is_file():
            mapping.update(_mapping_file(path))
            continue
        for part in text.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise MappingError(
                    f"Mapping entry {part.strip()!r} is not field=column",
                    hint="e.g. --map title=标题 --map external_id=工单号 (or code=编号, lon=X)",
                )
            key, column = part.split("=", 1)
            mapping[key.strip()] = column.strip()
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise MappingError("The mapping must map field names to column names (strings)")
    return mapping


def _mapping_file(path: Path) -> dict[str, Any]:
    raw = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw) if path.suffix.lower() == ".toml" else json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise MappingError(f"Mapping file {path}: {exc}") from exc
    data = data.get("columns", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise MappingError("The mapping must map field names to column names (strings)")
    return data


def read_rows(
    path: Path, *, sheet: str | None = None, encoding: str = "utf-8-sig"
) -> tuple[list[str], Iterator[tuple[int, list[Any]]], int | None]:
    """Header, (row number, values) pairs and (when known) the number of data rows of a
    .csv/.tsv/.txt or .xlsx file, streamed. Row numbers are the file's: the header is row 1."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileProblem(f"File {path} does not exist")
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises several kinds for a bad file
            raise FileProblem(f"Cannot read {path.name} as an Excel workbook: {exc}") from exc
        if sheet is not None and sheet not in book.sheetnames:
            raise FileProblem(
                f"{path.name} has no sheet {sheet!r}", hint="sheets: " + ", ".join(book.sheetnames)
            )
        ws = book[sheet] if sheet else book.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        total = (ws.max_row - 1) if ws.max_row else None

        def xlsx_rows() -> Iterator[tuple[int, list[Any]]]:
            for n, values in enumerate(rows, 2):
                if any(v not in (None, "") for v in values):
                    yield n, list(values)
            book.close()

        return header, xlsx_rows(), total
    if suffix in (".csv", ".txt", ".tsv"):
        handle = path.open(encoding=encoding, newline="")
        try:
            sample = handle.read(64 * 1024)
        except UnicodeDecodeError as exc:
            handle.close()
            raise FileProblem(
                f"{path.name} is not {encoding} text",
                hint="pass the file's encoding, e.g. --encoding gb18030 for many 12345 exports",
            ) from exc
        handle.seek(0)
        delimiter = "\t" if suffix == ".tsv" or sample.count("\t") > sample.count(",") else ","
        reader = csv.reader(handle, delimiter=delimiter)
        header = [h.strip() for h in next(reader, [])]

        def csv_rows() -> Iterator[tuple[int, list[Any]]]:
            try:
                for values in reader:
                    if any(v.strip() for v in values):
                        yield reader.line_num, values
            except UnicodeDecodeError as exc:
                raise FileProblem(
                    f"{path.name} line {reader.line_num + 1} is not {encoding} text",
                    hint="pass the file's encoding, e.g. --encoding gb18030",
                ) from exc
            finally:
                handle.close()

        return header, csv_rows(), None
    raise FileProblem(f"Cannot import {path.name}: use a .csv, .tsv or .xlsx file")


def write_report(path: str | Path, problems: Iterable[tuple[int | None, str, str]]) -> None:
    """The rejected rows as CSV (row, column, reason), UTF-8 with a BOM for Excel."""
    with Path(path).open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(REPORT_HEADER)
        writer.writerows(problems)
