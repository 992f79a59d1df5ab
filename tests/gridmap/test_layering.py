"""Which package may import which: the web app sits above the packages it composes, the
database layer below every subsystem, and production code never imports the demo."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Packages below the web app (they never import gridmap.web).
BELOW_WEB = ("access", "analytics", "api", "cases", "db", "demo", "grids", "io", "ogc",
             "openapi", "patrols")  # fmt: skip
#: What gridmap.db may import of gridmap.
DB_MAY_IMPORT = ("gridmap.db", "gridmap.errors", "gridmap.settings")


def _imports(path: Path) -> set[str]:
    """Every module a file imports (at any level, also inside functions)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def _files(*parts: str) -> list[Path]:
    return sorted(ROOT.joinpath(*parts).rglob("*.py"))


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("package", [*BELOW_WEB, "layers"])
def test_nothing_below_the_web_app_imports_it(package: str) -> None:
    files = _files("layers") if package == "layers" else _files("gridmap", package)
    bad = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in _imports(path)
        if _under(name, "gridmap.web")
    }
    assert not bad


def test_the_database_layer_imports_no_subsystem() -> None:
    bad = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in _files("gridmap", "db")
        for name in _imports(path)
        if _under(name, "gridmap") and not any(_under(name, ok) for ok in DB_MAY_IMPORT)
    }
    assert not bad


def test_production_code_never_imports_the_demo() -> None:
    bad = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in [*_files("gridmap"), *_files("layers")]
        if "demo" not in path.relative_to(ROOT).parts and path != ROOT / "gridmap" / "cli.py"
        for name in _imports(path)
        if _under(name, "gridmap.demo")
    }
    assert not bad
