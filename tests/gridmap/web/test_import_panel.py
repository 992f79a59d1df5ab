"""The import panel's server side without a browser: uploads stay inside the upload
folder under a random token, bad uploads and tokens are refused, and only admins and
planners may import."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from flask import Flask, g

from gridmap.access import G_USER, Role, User
from gridmap.settings import get_settings
from gridmap.web.components import import_panel


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GRIDMAP_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def data_url(payload: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(payload).decode()


def test_upload_kept_under_a_token(home: Path) -> None:
    token, label = import_panel.save_upload(data_url(b"{}"), "../../网格.geojson", "zh-CN")
    path = import_panel._uploaded(token)
    assert path == home.resolve() / "uploads" / token / "网格.geojson"
    assert path.read_bytes() == b"{}" and label == "已上传 网格.geojson（0 KB）"
    token, _ = import_panel.save_upload(data_url(b"x"), "..", "en")
    assert import_panel._uploaded(token).name == "upload"
    assert import_panel.save_upload("data:;base64,@@@", "a.csv", "en") == (
        None,
        "The upload cannot be read; choose the file again",
    )
    assert import_panel._uploaded("../../etc") is None
    assert import_panel._uploaded(None) is None


def test_upload_names_are_bounded_and_clean(home: Path) -> None:
    long_name = "网" * 10_000 + ".geojson"
    token, _ = import_panel.save_upload(data_url(b"{}"), long_name, "en")
    stored = import_panel._uploaded(token).name
    assert stored == "网" * 64 + ".geojson" and len(stored.encode()) <= 200
    token, _ = import_panel.save_upload(data_url(b"{}"), "a\u0000b\ud800.csv", "en")
    assert import_panel._uploaded(token).name == "ab.csv"


@pytest.mark.parametrize("role", [Role.COMMAND, Role.GRID_LEAD, Role.GRID_WORKER, None])
def test_only_admins_and_planners_may_import(role: Role | None) -> None:
    app = Flask(__name__)
    with app.test_request_context("/_dash-update-component"):
        if role is not None:
            setattr(g, G_USER, User(1, "someone", "someone", role))
        out = import_panel.run_import(
            1, None, "x" * 24, "grids", "", None, None, None, None, [], "en"
        )
    assert "Only admins and planners may import data" in str(out)
    assert {Role.ADMIN, Role.PLANNER} == import_panel.IMPORT_ROLES
