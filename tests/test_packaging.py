"""The built wheel works outside the checkout: it ships the schema, so the installed
``gridmap db upgrade`` and ``gridmap demo`` run from a fresh venv in a foreign folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.settings import PROJECT_ROOT

#: What the wheel is built from: the whole top-level layout a build reads.
SOURCES = ("pyproject.toml", "README.md", "gridmap", "layers", "sql", "assets")


def _pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_package_list_names_every_package() -> None:
    """The explicit package list (needed for the sql/ and assets/ mapping) misses none."""
    found = {
        ".".join(p.parent.relative_to(PROJECT_ROOT).parts)
        for top in ("gridmap", "layers")
        for p in (PROJECT_ROOT / top).rglob("__init__.py")
    }
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    assert listed - {"gridmap.sql", "gridmap.assets"} == found


def _run(args: list[str | Path], *, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    # Build from a copy, so the checkout gets no build/ or *.egg-info.
    src = tmp_path / "src"
    for name in SOURCES:
        path = PROJECT_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    env = {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("GRIDMAP_")
    }
    work = tmp_path / "work"
    work.mkdir()
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    # As `python -m build` does: an sdist, then the wheel built from the unpacked sdist.
    sdist = "import sys; from setuptools import build_meta as b; b.build_sdist(sys.argv[1])"
    _run([sys.executable, "-c", sdist, dist], cwd=src, env=env)
    (tarball,) = dist.glob("gridmap-*.tar.gz")
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", dist, tarball], cwd=work, env=env
    )
    (wheel,) = dist.glob("gridmap-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    migrations = sorted(p.name for p in (PROJECT_ROOT / "sql" / "migrations").glob("*.sql"))
    assert {f"gridmap/sql/migrations/{m}" for m in migrations} <= names
    assert "gridmap/sql/demo/households_city.sql" in names  # the city demo's household fill
    assert "gridmap/assets/gridmap.css" in names
    assert "gridmap/web/vendor/plotly-map.min.js" in names  # the pages' plotly.js
    assert "gridmap/cases/taxonomy.toml" in names

    # A fresh venv that sees the project's installed dependencies (not gridmap itself: the
    # editable install's finder is only activated by a .pth in a site folder, not on a path).
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=work, env=env)
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            cwd=work,
            env=env,
        ).strip()
    )
    deps = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site / "_gridmap_deps.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    _run(
        [
            *pip,
            "--python",
            python,
            "install",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            wheel,
        ],
        cwd=work,
        env=env,
    )

    # As the README says: gridmap db start && gridmap db upgrade && gridmap demo.
    env["GRIDMAP_HOME"] = str(tmp_path / "home")
    where = _run(
        [python, "-c", "import gridmap.settings as s; print(s.__file__, s.get_settings().sql_dir)"],
        cwd=work,
        env=env,
    ).split()
    assert [Path(p).is_relative_to(site) for p in where] == [True, True]
    gridmap = venv / "bin" / "gridmap"
    _run([gridmap, "db", "start"], cwd=work, env=env)
    try:
        out = _run([gridmap, "db", "upgrade"], cwd=work, env=env)
        assert f"{len(migrations)} migration(s) applied" in out
        out = _run([gridmap, "demo", "--scale", "small", "--no-analyses"], cwd=work, env=env)
        assert re.search(r"loaded: .*cases [\d,]+", out), out
        engine = get_engine(_run([gridmap, "db", "url"], cwd=work, env=env).strip())
        with engine.connect() as conn:
            applied = conn.execute(
                text("SELECT version, name FROM gridmap_migration ORDER BY version")
            ).all()
            functions = (
                conn.execute(text("SELECT name FROM gridmap_function_file ORDER BY name"))
                .scalars()
                .all()
            )
        engine.dispose()
        assert [f"{v:04d}_{n}.sql" for v, n in applied] == migrations
        assert functions == sorted(
            p.name for p in (PROJECT_ROOT / "sql" / "functions").glob("*.sql")
        )
    finally:
        _run([gridmap, "db", "stop"], cwd=work, env=env)
