"""The import panel's server side without a browser: uploads stay inside the upload
folder under a random token, bad uploads and tokens are refused, and only admins and
planners may import."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path

import pyogrio
import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from gridmap.access import G_USER, Role, User
from gridmap.settings import get_settings
from gridmap.web.components import import_panel
from tests.gridmap.io.import_world import grids_frame


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


def test_uploads_go_to_the_shared_upload_dir(
    home: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With several app servers the upload and the import may reach different servers:
    GRIDMAP_UPLOAD_DIR names a folder they share."""
    shared = tmp_path_factory.mktemp("shared-uploads")
    monkeypatch.setenv("GRIDMAP_UPLOAD_DIR", str(shared))
    get_settings.cache_clear()
    token, _ = import_panel.save_upload(data_url(b"{}"), "网格.geojson", "en")
    assert import_panel._uploaded(token) == shared.resolve() / token / "网格.geojson"
    assert not (home / "uploads").exists()


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


def _callback(client: FlaskClient, outputs: list[str], inputs: list[dict], state: list[dict]):
    """One Dash callback over HTTP (as the page's browser sends it); its response."""
    entries = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True)) for o in outputs]
    many = len(outputs) > 1
    body = {
        "output": ".." + "...".join(outputs) + ".." if many else outputs[0],
        "outputs": entries if many else entries[0],
        "inputs": inputs,
        "state": state,
        "changedPropIds": [f"{inputs[-1]['id']}.{inputs[-1]['property']}"],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.text[:500]
    return response.get_json()["response"]


def _upload_and_check(client: FlaskClient, name: str, payload: bytes) -> str:
    """Upload ``payload`` through the panel and run its check (a dry run): the report."""
    saved = _callback(
        client,
        ["plan-import-token.data", "plan-import-file.children"],
        [{"id": "plan-import-upload", "property": "contents", "value": data_url(payload)}],
        [
            {"id": "plan-import-upload", "property": "filename", "value": name},
            {"id": "plan-lang", "property": "data", "value": "en"},
        ],
    )
    token = saved["plan-import-token"]["data"]
    values = {"target": "grids", "offset": "", "crs": None, "layer": None, "encoding": None}
    state = [{"id": "plan-import-token", "property": "data", "value": token}]
    state += [
        {"id": f"plan-import-{k}", "property": "value", "value": v} for k, v in values.items()
    ]
    state += [
        {"id": "plan-import-mapping", "property": "value", "value": None},
        {"id": "plan-import-options", "property": "value", "value": []},
        {"id": "plan-lang", "property": "data", "value": "en"},
    ]
    report = _callback(
        client,
        ["plan-import-report.children"],
        [
            {"id": "plan-import-run", "property": "n_clicks", "value": None},
            {"id": "plan-import-check", "property": "n_clicks", "value": 1},
        ],
        state,
    )
    return json.dumps(report, ensure_ascii=False)


def test_gbk_shapefile_without_cpg_over_http_is_read_with_a_note(
    client: FlaskClient, tmp_path: Path
) -> None:
    frame = grids_frame("HG")
    frame.loc[0, "name"] = "双塘街道"
    pyogrio.write_dataframe(frame, tmp_path / "g.shp", encoding="GBK")
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in ("shp", "shx", "dbf", "prj"):  # no .cpg
            zf.write(tmp_path / f"g.{ext}", f"g.{ext}")
    report = _upload_and_check(client, "grids.zip", archive.read_bytes())
    assert "grids.zip names no encoding (no .cpg file); its text was read as gb18030" in report
    assert "3 rows" in report and "rejected" not in report.lower()


def test_overlong_grid_name_over_http_is_refused_naming_the_bound(
    client: FlaskClient, tmp_path: Path
) -> None:
    frame = grids_frame("HL")
    frame.loc[1, "name"] = "网" * 10_000
    frame.to_file(tmp_path / "g.geojson", driver="GeoJSON")
    report = _upload_and_check(client, "g.geojson", (tmp_path / "g.geojson").read_bytes())
    assert "is 10,000 characters long; at most 200" in report
