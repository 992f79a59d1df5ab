"""Bulk import of historical cases from CSV and Excel: mapping, grid assignment through the
trigger, per-row errors, all-or-nothing, skip-bad, dry run, idempotent re-import, CLI."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from gridmap.cases import queries
from gridmap.cases.errors import ImportRejected
from gridmap.cases.importer import MappingError, import_cases, parse_mapping
from gridmap.cases.taxonomy import get_taxonomy
from gridmap.cases.workflow import ActionRequest, apply_action
from gridmap.db.engine import get_engine
from gridmap.errors import Problem
from gridmap.settings import get_settings

pytestmark = pytest.mark.pooled  # a database access path (make test-pooled)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = [
    "工单号",
    "标题",
    "类别",
    "小类",
    "经度",
    "纬度",
    "受理时间",
    "状态",
    "办结时间",
    "满意度",
    "来电人",
]
MAPPING = (
    "external_id=工单号,title=标题,category=类别,subcategory=小类,lon=经度,lat=纬度,"
    "reported_at=受理时间,status=状态,resolved_at=办结时间,satisfaction=满意度,"
    "reporter_name=来电人"
)
ROWS = [
    [
        "H001",
        "路灯不亮",
        "市政设施",
        "路灯损坏",
        "120.005",
        "30.005",
        "2024-03-01 08:00:00",
        "已回访结案",
        "2024-03-02 10:00:00",
        "5",
        "张三",
    ],
    [
        "H002",
        "垃圾堆积",
        "环境卫生",
        "garbage",
        "120.01",
        "30.005",
        "2024-03-01 09:00",
        "",
        "",
        "",
        "李四",
    ],  # on the border of grids 1 and 2: grid 1
    [
        "H003",
        "邻居噪音",
        "sanitation",
        "noise",
        "121.5",
        "31.5",
        "2024-03-02T09:00:00+08:00",
        "dispatched",
        "",
        "",
        "",
    ],  # outside every grid
    [
        "H004",
        "咨询政策",
        "民生服务",
        "政策咨询",
        "",
        "",
        "2024-03-03 10:00",
        "已办结",
        "2024-03-03 11:00",
        "",
        "王五",
    ],  # no location
]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def run(url: str, path: Path, **kw) -> object:
    return import_cases(
        get_engine(url), path, parse_mapping(MAPPING), get_taxonomy(), source="hotline_12345", **kw
    )


def cases_of(url: str) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT external_id, grid_id, status, category, subcategory, reported_at, "
                    "resolved_at, closed_at, satisfaction, due_at - reported_at AS sla "
                    "FROM cases WHERE source = 'hotline_12345' ORDER BY external_id"
                )
            ).all()
        )


def counts(url: str) -> tuple[int, int]:
    with get_engine(url).connect() as conn:
        return (
            conn.execute(text("SELECT count(*) FROM cases")).scalar_one(),
            conn.execute(text("SELECT count(*) FROM case_events")).scalar_one(),
        )


@pytest.fixture
def clean(world_url: str) -> str:
    with get_engine(world_url).begin() as conn:
        conn.execute(text("ALTER TABLE case_events DISABLE TRIGGER case_events_append_only"))
        conn.execute(text("DELETE FROM case_events; DELETE FROM cases"))
        conn.execute(text("ALTER TABLE case_events ENABLE TRIGGER case_events_append_only"))
    return world_url


def test_import_csv(clean: str, tmp_path: Path) -> None:
    report = run(clean, write_csv(tmp_path / "h.csv", ROWS))
    assert (
        report.rows,
        report.valid,
        report.inserted,
        report.duplicates,
        report.unassigned,
        report.problems,
    ) == (4, 4, 4, 0, 2, [])
    got = cases_of(clean)
    t = lambda *a: datetime(*a, tzinfo=SHANGHAI)  # noqa: E731
    assert [row[:9] for row in got] == [
        (
            "H001",
            1,
            "closed",
            "municipal",
            "street_light",
            t(2024, 3, 1, 8),
            t(2024, 3, 2, 10),
            t(2024, 3, 2, 10),
            5,
        ),
        ("H002", 1, "reported", "sanitation", "garbage", t(2024, 3, 1, 9), None, None, None),
        ("H003", None, "dispatched", "sanitation", "noise", t(2024, 3, 2, 9), None, None, None),
        (
            "H004",
            None,
            "resolved",
            "livelihood",
            "policy_inquiry",
            t(2024, 3, 3, 10),
            t(2024, 3, 3, 11),
            None,
            None,
        ),
    ]
    assert [row[9].total_seconds() / 3600 for row in got] == [72, 48, 24, 120]
    engine = get_engine(clean)
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT id, actor, source, file_name FROM case_imports")).all()
        ids = conn.execute(text("SELECT id, import_id FROM cases ORDER BY external_id")).all()
    # The run is logged once; every case names it, and its history opens with the import.
    assert [tuple(r)[1:] for r in runs][-1:] == [("import", "hotline_12345", "h.csv")]
    assert {run for _, run in ids} == {runs[-1].id} == {report.run}
    assert queries.case_history(engine, ids[0].id) == [
        {
            "id": None,
            "at": runs_at(engine, runs[-1].id),
            "actor": "import",
            "action": "import",
            "from_status": None,
            "to_status": "closed",
            "note": "imported from h.csv",
        }
    ]
    assert [
        [(e["action"], e["to_status"]) for e in queries.case_history(engine, i)] for i, _ in ids
    ] == [[("import", s)] for s in ("closed", "reported", "dispatched", "resolved")]
    assert counts(clean)[1] == 0  # no event rows for an import
    notes = queries.latest_notes(engine, [i for i, _ in ids])
    assert set(notes.values()) == {"imported from h.csv"}


def runs_at(engine, run: int) -> object:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT at FROM case_imports WHERE id = :id"), {"id": run}
        ).scalar_one()


def test_history_after_import_keeps_the_imported_status(clean: str, tmp_path: Path) -> None:
    run(clean, write_csv(tmp_path / "h.csv", ROWS))
    engine = get_engine(clean)
    with engine.connect() as conn:
        case_id = conn.execute(text("SELECT id FROM cases WHERE status = 'reported'")).scalar_one()
    request = ActionRequest(action="dispatch", actor="社区", grid_id=1, note="派单")
    apply_action(engine, case_id, request, get_taxonomy())
    history = queries.case_history(engine, case_id)
    assert [(e["action"], e["from_status"], e["to_status"]) for e in history] == [
        ("import", None, "reported"),
        ("dispatch", "reported", "dispatched"),
    ]
    assert history[0]["id"] is None and history[1]["id"] is not None
    assert queries.latest_notes(engine, [case_id]) == {case_id: history[1]["note"]}
    assert history[1]["note"].endswith("派单")


def test_reimport_is_a_no_op(clean: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", ROWS)
    run(clean, path)
    before = counts(clean)
    report = run(clean, path)
    assert (report.inserted, report.duplicates) == (0, 4)
    assert counts(clean) == before


def test_dry_run_writes_nothing(clean: str, tmp_path: Path) -> None:
    report = run(clean, write_csv(tmp_path / "h.csv", ROWS), dry_run=True)
    assert (report.dry_run, report.inserted, report.unassigned, report.run) == (True, 4, 2, None)
    assert counts(clean) == (0, 0)


BAD_ROWS = [
    ROWS[0],
    ["H010", "", "市政设施", "", "120", "30", "2024-03-01", "", "", "", ""],
    ["H011", "x", "外星人", "", "120", "30", "2024-03-01", "", "", "", ""],
    ["H012", "x", "市政设施", "", "200", "30", "2024-03-01", "", "", "", ""],
    ["H013", "x", "市政设施", "", "120", "30", "2024/03/01", "", "", "", ""],
    ["H014", "x", "市政设施", "", "120", "30", "2024-03-01", "挂起", "", "9", ""],
    ["H001", "x", "市政设施", "", "120", "30", "2024-03-01", "", "", "", ""],
    ["", "x", "市政设施", "", "120", "30", "2024-03-01", "", "", "", ""],
]
PROBLEMS = [
    Problem("标题", "is required", 3),
    Problem(
        "类别",
        "unknown category '外星人' (known: disputes, public_security, fire_safety, "
        "sanitation, municipal, livelihood, traffic, petitions)",
        4,
    ),
    Problem("经度", "must be between -180 and 180 (got 200)", 5),
    Problem("受理时间", "must be an ISO 8601 date-time (got '2024/03/01')", 6),
    Problem(
        "状态",
        "must be one of reported, dispatched, accepted, in_progress, resolved, "
        "closed, returned, rejected (got '挂起')",
        7,
    ),
    Problem("满意度", "must be between 1 and 5 (got 9)", 7),
    Problem("工单号", "repeats row 2", 8),
    Problem("工单号", "is required", 9),
]


def test_bad_rows_write_nothing(clean: str, tmp_path: Path) -> None:
    with pytest.raises(ImportRejected) as info:
        run(clean, write_csv(tmp_path / "bad.csv", BAD_ROWS))
    assert info.value.problems == PROBLEMS
    assert info.value.message == "8 problem(s) in 8 row(s); nothing was imported"
    assert counts(clean) == (0, 0)


def test_skip_bad_imports_the_good_rows(clean: str, tmp_path: Path) -> None:
    report = run(clean, write_csv(tmp_path / "bad.csv", BAD_ROWS), skip_bad=True)
    assert (report.rows, report.valid, report.inserted, report.problems) == (8, 1, 1, PROBLEMS)
    assert [r[0] for r in cases_of(clean)] == ["H001"]


def test_excel(clean: str, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "工单"
    ws.append(HEADER)
    ws.append(
        [
            "X1",
            "积水",
            "市政设施",
            "",
            120.015,
            30.005,
            datetime(2024, 5, 1, 8, 30),
            "reported",
            None,
            None,
            "赵六",
        ]
    )
    ws.append(
        [
            2002,
            "占道",
            "交通出行",
            "违章停车",
            120.025,
            30.005,
            "2024-05-02 09:00",
            None,
            None,
            None,
            None,
        ]
    )
    path = tmp_path / "export.xlsx"
    book.save(path)
    report = import_cases(
        get_engine(clean),
        path,
        parse_mapping(MAPPING),
        get_taxonomy(),
        source="hotline_12345",
        sheet="工单",
    )
    assert (report.inserted, report.problems) == (2, [])
    got = cases_of(clean)
    assert [(r[0], r[1], r[5]) for r in got] == [
        ("2002", 3, datetime(2024, 5, 2, 9, tzinfo=SHANGHAI)),
        ("X1", 2, datetime(2024, 5, 1, 8, 30, tzinfo=SHANGHAI)),
    ]


def test_gb18030_csv(clean: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "gbk.csv", ROWS[:1], encoding="gb18030")
    with pytest.raises(Exception, match="is not utf-8-sig text"):
        run(clean, path)
    assert run(clean, path, encoding="gb18030").inserted == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("title=标题,category=类别", "The mapping must name a column for external_id"),
        ("title=标题,external_id=工单号", "The mapping must name a column for category"),
        (
            "title=标题,category=类别,external_id=工单号,grid=网格",
            "Mapping names unknown field 'grid'",
        ),
        ("title", "Mapping entry 'title' is not field=column"),
    ],
)
def test_bad_mapping(spec: str, message: str) -> None:
    with pytest.raises(MappingError) as info:
        parse_mapping(spec)
    assert info.value.message == message


def test_mapping_column_missing_from_file(clean: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", ROWS)
    with pytest.raises(MappingError, match=r"Column '编号' \(for external_id\) is not in h\.csv"):
        import_cases(
            get_engine(clean),
            path,
            parse_mapping("title=标题,category=类别,external_id=编号"),
            get_taxonomy(),
        )


def test_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        '[columns]\ntitle = "标题"\ncategory = "类别"\nexternal_id = "工单号"\n', encoding="utf-8"
    )
    assert parse_mapping(path) == {"title": "标题", "category": "类别", "external_id": "工单号"}


def test_import_command(clean: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gridmap.cases.cli import cases

    good = write_csv(tmp_path / "h.csv", ROWS)
    bad = write_csv(tmp_path / "bad.csv", BAD_ROWS)
    errors = tmp_path / "errors.csv"
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", clean)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        dry = runner.invoke(
            cases,
            ["import", str(good), "--map", MAPPING, "--dry-run", "--source", "hotline_12345"],
        )
        rejected = runner.invoke(
            cases, ["import", str(bad), "--map", MAPPING, "--report", str(errors)]
        )
        done = runner.invoke(
            cases, ["import", str(good), "--map", MAPPING, "--source", "hotline_12345"]
        )
    finally:
        get_settings.cache_clear()
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.strip().endswith(
        "would import 4 case(s) from 4 row(s): 0 already present, 0 bad row problem(s) "
        "skipped, 2 outside every grid"
    )
    assert rejected.exit_code == 2
    assert "row 3, 标题: is required" in rejected.stderr
    assert "error: 8 problem(s) in 8 row(s); nothing was imported" in rejected.stderr
    with errors.open(encoding="utf-8-sig") as fh:
        lines = list(csv.reader(fh))
    assert lines[0] == ["row", "column", "reason"] and lines[1] == ["3", "标题", "is required"]
    assert len(lines) == 9
    assert done.exit_code == 0 and "imported 4 case(s)" in done.stdout
    assert counts(clean)[0] == 4
    with get_engine(clean).connect() as conn:
        run_id = conn.execute(text("SELECT max(import_id) FROM cases")).scalar_one()
    assert done.stdout.strip().endswith(f"(import run {run_id})")


def test_import_command_old_flag_names_warn(
    clean: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--mapping, --sheet, --skip-bad and --errors-csv still work for one release, hidden
    from --help, each saying on stderr which name replaces it."""
    from gridmap.cases.cli import cases

    bad = write_csv(tmp_path / "bad.csv", BAD_ROWS)
    errors = tmp_path / "errors.csv"
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", clean)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        old = runner.invoke(
            cases,
            ["import", str(bad), "--mapping", MAPPING, "--skip-bad", "--errors-csv", str(errors),
             "--sheet", "ignored-for-csv", "--dry-run"],
        )  # fmt: skip
        new = runner.invoke(
            cases,
            ["import", str(bad), "--map", MAPPING, "--skip-invalid", "--report", str(errors),
             "--layer", "ignored-for-csv", "--dry-run"],
        )  # fmt: skip
        missing = runner.invoke(cases, ["import", str(bad)])
        helped = runner.invoke(cases, ["import", "--help"])
    finally:
        get_settings.cache_clear()
    assert old.exit_code == 0, old.output
    assert [line for line in old.stderr.splitlines() if "deprecated" in line] == [
        "--mapping is deprecated; use --map",
        "--skip-bad is deprecated; use --skip-invalid",
        "--errors-csv is deprecated; use --report",
        "--sheet is deprecated; use --layer",
    ]
    assert new.exit_code == 0 and "deprecated" not in new.stderr
    assert old.stdout == new.stdout
    assert old.stdout.strip().startswith("would import 1 case(s) from 8 row(s)")
    assert missing.exit_code == 2 and "Missing option '--map'" in missing.stderr
    for name in ("--map", "--layer", "--skip-invalid", "--report", "--dry-run"):
        assert name in helped.stdout
    for name in ("--mapping", "--sheet", "--skip-bad", "--errors-csv"):
        assert name not in helped.stdout


def test_small_chunks_give_the_same_result(
    clean: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gridmap.cases.importer as importer

    monkeypatch.setattr(importer, "CHUNK_ROWS", 1)
    report = run(clean, write_csv(tmp_path / "h.csv", ROWS))
    assert (report.inserted, report.unassigned) == (4, 2)
    assert [r[:3] for r in cases_of(clean)] == [
        ("H001", 1, "closed"),
        ("H002", 1, "reported"),
        ("H003", None, "dispatched"),
        ("H004", None, "resolved"),
    ]
    with pytest.raises(ImportRejected) as info:
        run(clean, write_csv(tmp_path / "bad.csv", [*ROWS, *BAD_ROWS[1:]]))
    assert len(info.value.problems) == 8
    assert counts(clean)[0] == 4


def test_status_labels_old_and_new_spellings(clean: str, tmp_path: Path) -> None:
    """A file may name a status by its label (i18n's) or by an older spelling of it."""
    labels = ["已结案", "已回访结案", "不予受理", "已驳回", "处置中", "returned"]
    rows = [
        [f"S{i}", "垃圾堆积", "环境卫生", "garbage", "", "", "2024-03-01 09:00", label, "", "", ""]
        for i, label in enumerate(labels)
    ]
    report = run(clean, write_csv(tmp_path / "s.csv", rows))
    assert (report.inserted, report.problems) == (6, [])
    assert [row[2] for row in cases_of(clean)] == [
        "closed",
        "closed",
        "rejected",
        "rejected",
        "in_progress",
        "returned",
    ]
