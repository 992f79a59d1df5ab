"""The gridmap command line, run as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GRIDMAP = [sys.executable, "-m", "gridmap.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GRIDMAP, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["db"],
        ["db", "start"],
        ["db", "stop"],
        ["db", "status"],
        ["db", "url"],
        ["db", "upgrade"],
        ["db", "partitions"],
        ["demo"],
        ["serve"],
    ],
    ids=lambda c: " ".join(c) or "gridmap",
)
def test_every_command_has_help(command: list[str]) -> None:
    out = run(*command, "--help")
    assert out.returncode == 0, out.stderr
    assert "Usage:" in out.stdout


def test_database_url_setting_is_used_and_no_cluster_started(db_url: str, tmp_path: Path) -> None:
    env = {"GRIDMAP_DATABASE_URL": db_url, "GRIDMAP_HOME": str(tmp_path / "state")}
    out = run("db", "url", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == db_url
    assert run("db", "upgrade", env=env).stdout.strip().endswith("schema up to date")
    assert not (tmp_path / "state").exists(), "no embedded cluster when a URL is given"


def test_cluster_commands_refuse_with_external_url(db_url: str) -> None:
    out = run("db", "stop", env={"GRIDMAP_DATABASE_URL": db_url})
    assert out.returncode == 2
    assert "GRIDMAP_DATABASE_URL is set" in out.stderr
    assert "Traceback" not in out.stderr


def test_unreachable_database_is_a_clear_error() -> None:
    out = run("db", "upgrade", env={"GRIDMAP_DATABASE_URL": "postgresql://x:y@127.0.0.1:1/db"})
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "Cannot connect" in out.stderr


def test_status_of_running_embedded_cluster() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GRIDMAP_DATABASE_URL"}
    out = subprocess.run([*GRIDMAP, "db", "status"], capture_output=True, text=True, env=env)
    if "external database" in out.stdout:
        pytest.skip("suite runs against an external server")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "embedded PostgreSQL: running" in out.stdout
