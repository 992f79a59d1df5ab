"""``gridmap import`` over a subprocess: the report table, --report CSV, exit codes, the
audit entry of a real import."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gridmap.io.import_world import count, grids_frame, query, seeded_database
from tests.gridmap.io.test_import_validation import BOW_TIE


@pytest.fixture(scope="module")
def url(_created: list[str]) -> str:
    return seeded_database(_created, "iocli")


def gridmap(url: str, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "gridmap"
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_cli_rejects_reports_then_imports(url: str, tmp_path: Path) -> None:
    frame = grids_frame("CL").rename(columns={"code": "网格编码"})
    frame.loc[0, "geometry"] = BOW_TIE
    path = tmp_path / "网格.gpkg"
    frame.to_file(path)
    report = tmp_path / "report.csv"
    bad = gridmap(url, "import", "grids", str(path), "--map", "code=网格编码", "--report",
                  str(report))  # fmt: skip
    assert bad.returncode == 2, bad.stderr
    assert "1  geometry  invalid polygon: Self-intersection[120.015 30.015]" in bad.stdout
    assert "error: 1 of 3 rows rejected; nothing was written" in bad.stderr
    with report.open(encoding="utf-8-sig") as f:
        assert list(csv.reader(f)) == [
            ["row", "column", "reason"],
            ["1", "geometry", "invalid polygon: Self-intersection[120.015 30.015]"],
        ]
    assert count(url, "grids", "CL") == 0

    dry = gridmap(url, "import", "grids", str(path), "--map", "code=网格编码", "--repair",
                  "--dry-run")  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "would import 3 new, 0 updated, 0 unchanged, 1 repaired" in dry.stdout
    assert "dry run, nothing written" in dry.stdout and count(url, "grids", "CL") == 0

    ok = gridmap(url, "import", "grids", str(path), "--map", "code=网格编码", "--repair")
    assert ok.returncode == 0, ok.stderr
    assert "imported 3 new" in ok.stdout and count(url, "grids", "CL") == 3
    (action, target, username, inserted), = query(
        url, "SELECT action, target, username, detail->>'inserted' FROM audit_log "
             "ORDER BY id DESC LIMIT 1"
    )  # fmt: skip
    assert (action, target, inserted) == ("import", "grids", "3")
    assert username.startswith("cli:")


def test_cli_option_errors(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from gridmap.cli import main
    from gridmap.io.import_cli import TARGET_NAMES
    from gridmap.io.importer import TARGETS
    from gridmap.settings import get_settings

    assert tuple(TARGETS) == TARGET_NAMES
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    get_settings.cache_clear()
    path = tmp_path / "g.geojson"
    grids_frame("CE").to_file(path)
    runner = CliRunner()
    try:
        both = runner.invoke(main, ["import", "grids", str(path), "--from-gcj02", "--from-bd09"])
        proj = runner.invoke(
            main, ["import", "grids", str(path), "--crs", "EPSG:4549", "--from-gcj02"]
        )
    finally:
        monkeypatch.delenv("GRIDMAP_DATABASE_URL")
        get_settings.cache_clear()
    assert both.exit_code == 2 and "not both" in both.stderr
    assert proj.exit_code == 2 and "GCJ02 coordinates are longitude/latitude" in proj.stderr


def test_cli_takes_a_mapping_file_and_the_shared_flags(url: str, tmp_path: Path) -> None:
    path = tmp_path / "网格.gpkg"
    grids_frame("MF").rename(columns={"code": "网格编码"}).to_file(path)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[columns]\ncode = "网格编码"\n', encoding="utf-8")
    out = gridmap(url, "import", "grids", str(path), "--map", str(mapping), "--skip-invalid",
                  "--dry-run", "--report", str(tmp_path / "r.csv"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "would import 3 new, 0 updated, 0 unchanged" in out.stdout
    assert count(url, "grids", "MF") == 0
