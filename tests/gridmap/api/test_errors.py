"""One payload builder for every API error, and no import cycle with Open311."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from werkzeug.exceptions import NotFound

from gridmap.api import errors
from gridmap.api.errors import error_payload
from gridmap.cases.errors import CaseNotFound, TransitionRefused
from gridmap.errors import GridmapError, InvalidInput, Problem
from gridmap.io.jobs import JobNotFound
from gridmap.patrols.errors import PatrolNotFound, invalid_input


def test_errors_module_does_not_import_open311() -> None:
    code = (
        "import sys, gridmap.api.errors; "
        "print(sorted(m for m in sys.modules if m.startswith('gridmap.api.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "'gridmap.api.open311'" not in out
    assert "'gridmap.api.errors'" in out


def test_errors_module_names_no_open311_import_anywhere() -> None:
    """Not even inside a function (the old cycle was a deferred import)."""
    tree = ast.parse(Path(errors.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    assert "gridmap.api.open311" not in imported
    assert "gridmap.api.open311_render.error_response" in imported


def test_error_payload_of_each_family() -> None:
    assert error_payload(CaseNotFound("No case 7.")) == (404, {"message": "No case 7."})
    assert error_payload(PatrolNotFound("There is no grid 9.")) == (
        404,
        {"message": "There is no grid 9."},
    )
    assert error_payload(JobNotFound("No job.", hint="list them")) == (
        404,
        {"message": "No job.", "hint": "list them"},
    )
    assert error_payload(invalid_input([Problem("window", "is bad")])) == (
        400,
        {
            "message": "Invalid input: window is bad",
            "problems": [{"field": "window", "message": "is bad"}],
        },
    )
    assert error_payload(InvalidInput([Problem("lat", "is required")])) == (
        400,
        {"message": "lat: is required", "problems": [{"field": "lat", "message": "is required"}]},
    )
    refused = TransitionRefused("No.", status="closed", allowed=[])
    assert error_payload(refused) == (
        409,
        {
            "message": "No.",
            "hint": "allowed actions now: none",
            "status": "closed",
            "allowed_actions": [],
        },
    )
    assert error_payload(GridmapError("The database is down.")) == (
        503,
        {"message": "The database is down."},
    )
    assert error_payload(NotFound("No API route '/api/x'.")) == (
        404,
        {"message": "No API route '/api/x'."},
    )
    assert error_payload(ValueError("boom")) == (
        500,
        {"message": "Internal error; it has been logged."},
    )
