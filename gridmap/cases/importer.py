"""Bulk import of historical cases from CSV or Excel (e.g. a 12345 hotline export).

Every row goes through the same validation as the API (``validate_case``), named by its row
number in the file and the source column. Good rows stream by COPY into a session staging
table, then one INSERT … SELECT moves them into ``cases`` skipping external ids already
imported; the run is logged once in ``case_imports`` and each new case names it. Grids are
assigned by the database's rule, a chunk at a time on a second session
(``gridmap_grids_at``) while the previous chunk is inserted, so the per-row grid trigger
stands aside for the import's statement (``gridmap_import_staged_cases``). All or nothing:
one bad row writes nothing, unless the caller asks to skip bad rows. A dry run does all of
it and rolls back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from tqdm import tqdm

from gridmap.cases.errors import CaseError, ImportRejected
from gridmap.cases.filters import STATUS_BY_LABEL
from gridmap.cases.intake import HISTORY_FIELDS, NEW_FIELDS, NewCase, validate_case
from gridmap.cases.taxonomy import Taxonomy
from gridmap.errors import InvalidInput, Problem
from gridmap.io.tabular import MappingError as BaseMappingError
from gridmap.io.tabular import MappingSpec, read_rows
from gridmap.io.tabular import parse_mapping as parse_columns

#: Staging columns, in COPY order (after row_no; the grid id comes last).
STAGE_COLUMNS = (*NEW_FIELDS, "due_at", *HISTORY_FIELDS)
#: Rows per COPY + INSERT … SELECT round (bounds memory; lets validation overlap inserts).
CHUNK_ROWS = 20_000
#: Rows of the first round, small so the database starts work early; each next round grows
#: by CHUNK_GROWTH (the database inserts a row ~1.3x slower than Python validates one, so
#: the next round is ready when the database is) until CHUNK_ROWS.
FIRST_CHUNK_ROWS = 1_000
CHUNK_GROWTH = 1.25
MAPPABLE = tuple(f for f in NEW_FIELDS + HISTORY_FIELDS if f != "source")
_STAGED = attrgetter(*STAGE_COLUMNS)
#: Positions of lon and lat in a staging row (row_no first).
LON, LAT = 1 + STAGE_COLUMNS.index("lon"), 1 + STAGE_COLUMNS.index("lat")


class MappingError(CaseError, BaseMappingError):
    """The column mapping is malformed or names columns the file lacks."""


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do)."""

    rows: int = 0
    valid: int = 0
    inserted: int = 0
    duplicates: int = 0
    unassigned: int = 0
    dry_run: bool = False
    #: The logged import run (``case_imports.id``) the new cases name; None unless committed.
    run: int | None = None
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "valid": self.valid,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "unassigned": self.unassigned,
            "dry_run": self.dry_run,
            "run": self.run,
            "problems": [p.as_dict() for p in self.problems],
        }


def parse_mapping(spec: MappingSpec) -> dict[str, str]:
    """gridmap field → source column (:func:`gridmap.io.tabular.parse_mapping`: a dict, a
    TOML/JSON file, or ``field=column`` pairs), checked against the case fields: it must
    name title, category or subcategory, and external_id."""
    try:
        mapping = parse_columns(spec, files=True)
    except BaseMappingError as exc:
        raise MappingError(exc.message, hint=exc.hint) from None
    unknown = [k for k in mapping if k not in MAPPABLE]
    if unknown:
        raise MappingError(
            f"Mapping names unknown field {unknown[0]!r}",
            hint="fields: " + ", ".join(MAPPABLE),
        )
    missing = [f for f in ("title", "external_id") if f not in mapping]
    if "category" not in mapping and "subcategory" not in mapping:
        missing.append("category")
    if missing:
        raise MappingError(
            f"The mapping must name a column for {', '.join(missing)}",
            hint="imports are idempotent on external_id; title and category are required",
        )
    return mapping


def stage_values(row_no: int, case: NewCase) -> list[Any]:
    """One staging row (row_no, then STAGE_COLUMNS) for a csv writer, which writes None as an
    empty field (NULL) and moments as ``str()`` does (ISO 8601 with the offset)."""
    return [row_no, *_STAGED(case)]


def _float_array(values: Iterable[float | None]) -> str:
    """A PostgreSQL array literal of the values (one parameter, not an ARRAY[…] of
    thousands of constants for the server to parse)."""
    return "{" + ",".join("NULL" if v is None else repr(float(v)) for v in values) + "}"


def import_cases(
    engine: Engine,
    path: Path,
    mapping: dict[str, str],
    taxonomy: Taxonomy,
    *,
    source: str = "import",
    dry_run: bool = False,
    skip_bad: bool = False,
    sheet: str | None = None,
    encoding: str = "utf-8-sig",
    tz: str = "Asia/Shanghai",
    actor: str = "import",
    progress: bool = False,
) -> ImportReport:
    """Import the cases of a CSV/Excel file; see the module docstring. Raises ImportRejected
    (nothing written) when a row is bad and ``skip_bad`` is false."""
    header, rows, total = read_rows(path, sheet=sheet, encoding=encoding)
    positions: dict[str, int] = {}
    for fld, column in mapping.items():
        if column not in header:
            raise MappingError(
                f"Column {column!r} (for {fld}) is not in {path.name}",
                hint="columns: " + ", ".join(h for h in header if h)[:500],
            )
        positions[fld] = header.index(column)
    report = ImportReport(dry_run=dry_run)
    seen: dict[str, int] = {}

    def batches() -> Iterator[list[list[Any]]]:
        """Validated staging rows, CHUNK_ROWS at a time; problems are recorded."""
        chunk: list[list[Any]] = []
        size = FIRST_CHUNK_ROWS
        for row_no, values in tqdm(
            rows, total=total, unit=" rows", desc="importing", disable=not progress
        ):
            report.rows += 1
            data = {f: (values[i] if i < len(values) else None) for f, i in positions.items()}
            status = data.get("status")
            if isinstance(status, str) and status.strip() in STATUS_BY_LABEL:
                data["status"] = STATUS_BY_LABEL[status.strip()]
            try:
                case = validate_case(
                    data, taxonomy, source=source, history=True, tz=tz, row=row_no, strict=False
                )
            except InvalidInput as exc:
                report.problems += [
                    Problem(mapping.get(p.field, p.field), p.message, row_no) for p in exc.problems
                ]
                continue
            if case.external_id is None:
                report.problems.append(Problem(mapping["external_id"], "is required", row_no))
                continue
            first = seen.setdefault(case.external_id, row_no)
            if first != row_no:
                report.problems.append(
                    Problem(mapping["external_id"], f"repeats row {first}", row_no)
                )
                continue
            report.valid += 1
            chunk.append(stage_values(row_no, case))
            if len(chunk) == size:
                yield chunk
                chunk, size = [], min(CHUNK_ROWS, round(size * CHUNK_GROWTH))
        if chunk:
            yield chunk

    chunks = batches()
    copy = (
        "COPY pg_temp.case_import_stage (row_no, "
        + ", ".join(STAGE_COLUMNS)
        + ", grid_id) FROM STDIN WITH (FORMAT csv)"
    )
    raw = engine.raw_connection()
    lookup = engine.raw_connection()

    def next_chunk() -> str | None:
        """The next chunk as CSV text with each row's grid, or None after the last."""
        staged = next(chunks, None)
        if staged is None:
            return None
        if report.problems and not skip_bad:
            grids: list[int | None] = [None] * len(staged)  # nothing will be kept
        else:
            with lookup.cursor() as lc:
                lc.execute(
                    "SELECT gridmap_grids_at(%s::float8[], %s::float8[])",
                    (_float_array(r[LON] for r in staged), _float_array(r[LAT] for r in staged)),
                )
                grids = lc.fetchone()[0]
            lookup.rollback()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row, grid in zip(staged, grids, strict=True):
            row.append(grid)
            writer.writerow(row)
        return buffer.getvalue()

    # The next chunk is read, validated and assigned its grids (on the second session) in a
    # worker thread while the database inserts this one (psycopg2 releases the GIL while it
    # waits); the inserts all run in one transaction.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="case-import")
    try:
        cur = raw.cursor()
        cur.execute("SELECT gridmap_import_stage_create()")
        cur.execute(
            "INSERT INTO case_imports (actor, source, file_name) VALUES (%s, %s, %s) RETURNING id",
            (actor, source, path.name),
        )
        run = cur.fetchone()[0]
        pending = pool.submit(next_chunk)
        while (chunk := pending.result()) is not None:
            cur.copy_expert(copy, io.StringIO(chunk))
            pending = pool.submit(next_chunk)
            if report.problems and not skip_bad:
                cur.execute("TRUNCATE pg_temp.case_import_stage")
                continue  # keep validating to report every problem; nothing will be kept
            cur.execute("SELECT inserted, unassigned FROM gridmap_import_staged_cases(%s)", (run,))
            inserted, unassigned = cur.fetchone()
            report.inserted += int(inserted)
            report.unassigned += int(unassigned)
            cur.execute("TRUNCATE pg_temp.case_import_stage")
        if report.problems and not skip_bad:
            raw.rollback()
            raise ImportRejected(report.problems, report.rows)
        report.duplicates = report.valid - report.inserted
        if dry_run:
            raw.rollback()
        else:
            raw.commit()
            report.run = run
    except BaseException:
        raw.rollback()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        raw.close()
        lookup.close()
    return report
