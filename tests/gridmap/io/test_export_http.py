"""Exports over real HTTP (``gridmap serve``): a planner starts a background export, polls
its progress and downloads the file; a grid lead's export holds only their grids' rows
(row-level security, the export runs as them); other people cannot see the job; bad
options get a 400 with the reason; every export is in the audit log with the client's
address. Plus ``gridmap export`` over a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyogrio
import pytest
import requests
from sqlalchemy import text

from tests.gridmap.io.export_world import (
    export_engine,
    export_folder,
    exports_server,
    exports_url,
)
from tests.gridmap.web.conftest import LiveServer, live_servers
from tests.signin import api_token, ensure_account, signed_in_session

__all__ = ["export_engine", "export_folder", "exports_server", "exports_url", "live_servers"]


def _wait(http: requests.Session, url: str, timeout: float = 90.0) -> tuple[dict, list[float]]:
    seen: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = http.get(url, timeout=30).json()
        seen.append(body["progress"])
        if body["status"] in ("done", "failed", "expired"):
            return body, seen
        time.sleep(0.1)
    raise AssertionError(f"export did not finish: {body}")


def test_planner_exports_in_the_background_and_downloads(
    exports_server: LiveServer, export_engine, tmp_path: Path
) -> None:
    http = exports_server.session("planner")
    response = http.post(
        exports_server.url + "/api/v1/exports",
        json={"layers": ["grids", "cameras"], "format": "gpkg", "language": "zh-CN"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running", "done")
    assert response.headers["Location"] == job["links"]["self"]
    body, seen = _wait(http, exports_server.url + job["links"]["self"])
    assert body["status"] == "done", body
    assert seen == sorted(seen) and seen[-1] == 1.0
    file = http.get(exports_server.url + body["links"]["download"], timeout=60)
    assert file.status_code == 200
    assert file.headers["Content-Type"] == "application/geopackage+sqlite3"
    assert body["file_name"] in file.headers["Content-Disposition"]
    path = tmp_path / body["file_name"]
    path.write_bytes(file.content)
    with export_engine.connect() as conn:
        grids = conn.execute(text("SELECT count(*) FROM grids")).scalar()
        cameras = conn.execute(text("SELECT count(*) FROM cameras")).scalar()
        audit = conn.execute(
            text("SELECT username, detail->>'state', host(client_ip) FROM audit_log "
                 "WHERE action = 'export' AND detail->>'job' = :j ORDER BY id"),
            {"j": job["id"]},
        ).all()  # fmt: skip
    assert len(pyogrio.read_dataframe(path, layer="grids")) == grids
    assert len(pyogrio.read_dataframe(path, layer="cameras")) == cameras
    assert body["features"] == grids + cameras
    planner = exports_server.account("planner")[0]
    assert [(a[0], a[1]) for a in audit] == [(planner, "requested"), (planner, "done")]
    assert audit[0][2] == "127.0.0.1"  # asked over HTTP: the client's address is kept

    listed = http.get(exports_server.url + "/api/v1/exports", timeout=30).json()["exports"]
    assert job["id"] in [j["id"] for j in listed]

    # nobody else sees it
    other = exports_server.session("command")
    assert other.get(exports_server.url + job["links"]["self"], timeout=30).status_code == 404
    download = exports_server.url + body["links"]["download"]
    assert other.get(download, timeout=30).status_code == 404
    assert requests.get(download, timeout=30).status_code == 401  # anonymous


def test_grid_lead_export_holds_only_their_grids(
    exports_server: LiveServer, exports_url: str, export_engine, tmp_path: Path
) -> None:
    with export_engine.connect() as conn:
        grids = conn.execute(text("SELECT id, code FROM grids ORDER BY id LIMIT 2")).all()
        ids = [g.id for g in grids]
        expected = conn.execute(
            text("SELECT count(*) FROM buildings WHERE grid_id = ANY(:ids)"), {"ids": ids}
        ).scalar()
        total = conn.execute(text("SELECT count(*) FROM buildings")).scalar()
    user, password = ensure_account(
        exports_url, "grid_lead", username="export_lead", grids=tuple(g.code for g in grids)
    )
    http = signed_in_session(exports_server.url, user, password)
    response = http.post(
        exports_server.url + "/api/v1/exports",
        json={"layers": ["buildings"], "format": "csv"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    body, _ = _wait(http, exports_server.url + response.json()["links"]["self"])
    assert body["status"] == "done", body
    assert 0 < body["features"] == expected < total
    file = http.get(exports_server.url + body["links"]["download"], timeout=60)
    assert file.content.decode("utf-8-sig").count("\n") == expected + 1  # header + rows


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"layers": ["grids"], "format": "docx"},
            "format: must be one of gpkg, geojson, shp, csv, png or pdf (got 'docx')",
        ),
        ({"layers": ["nope"], "format": "gpkg"}, "layers[0]: unknown layer 'nope' (known: grids,"),
        (
            {"layers": ["grids"], "format": "pdf", "paper": "A0"},
            "paper: must be one of A4 or A3 (got 'A0')",
        ),
        (
            {"layers": ["grids"], "format": "gpkg", "bbox": [3, 3, 1, 1]},
            "each minimum below its maximum",
        ),
        (
            {"layers": ["grids"], "format": "gpkg", "sql": "DROP TABLE grids"},
            "sql: is not a known field",
        ),
        ([1, 2], "body: must be a JSON object"),
        (
            {"layers": ["cases"], "format": "csv", "filters": {"statuses": ["bogus"]}},
            "filters.statuses[0]: must be one of reported, dispatched, accepted, in_progress, "
            "resolved, closed, returned or rejected (got 'bogus')",
        ),
        (
            {"layers": ["cases"], "format": "csv", "filters": {"colour": "red"}},
            "filters.colour: is not a known field (known: categories, statuses, sources,",
        ),
        (
            {"layers": ["service_circles"], "format": "gpkg", "filters": {"circle_minutes": 1e39}},
            "filters.circle_minutes: must be less than or equal to 120 (got 1e+39)",
        ),
        (
            {"layers": ["grids"], "format": "pdf", "title": "网" * 10_000},
            "title: is too long (10000 characters; at most 200)",
        ),
        (
            {"layers": ["cases"], "format": "csv", "time_from": "0001-01-01T00:00:00+14:00"},
            "time_from: must lie between 2000-01-01 and 2100-01-01",
        ),
        (
            {"layers": ["grids"], "format": "csv", "time_to": "2026-01-01T00:00:00"},
            "",  # naive times are in the case time zone: accepted (202 below)
        ),
        (
            {"layers": ["grids"], "format": "gpkg", "bbox": [1, 2, 3, 1 + 10**400]},
            "bbox[3]: must be a number",
        ),
        (
            {"layers": ["grids"], "format": "csv", "area": {"streets": [1, 999_999]}},
            "area: no such street 999999.",
        ),
        (
            {"layers": ["grids"], "format": "csv", "area": {"compounds": [-3]}},
            "area.compounds[0]: must be greater than or equal to 1",
        ),
        (
            {"layers": ["grids"], "format": "csv", "area": {"wards": [1]}},
            "area.wards",
        ),
        ({"layers": ["grids"], "format": "csv", "area": {"streets": [1]}}, ""),
    ],
)
def test_bad_options_get_400(exports_server: LiveServer, payload, message: str) -> None:
    http = exports_server.session("planner")
    response = http.post(exports_server.url + "/api/v1/exports", json=payload, timeout=30)
    if not message:
        assert response.status_code == 202, response.text
        return
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]


def test_who_may_export(exports_server: LiveServer, exports_url: str) -> None:
    url = exports_server.url + "/api/v1/exports"
    payload = {"layers": ["grids"], "format": "geojson"}
    assert requests.post(url, json=payload, timeout=30).status_code == 401
    token = {"Authorization": f"Bearer {api_token(exports_url)}"}
    assert requests.post(url, json=payload, headers=token, timeout=30).status_code == 403
    missing = exports_server.session("planner").get(url + "/not-a-job", timeout=30)
    assert missing.status_code == 404
    no_csrf = requests.Session()
    no_csrf.cookies.update(exports_server.session("planner").cookies)
    assert no_csrf.post(url, json=payload, timeout=30).status_code == 403  # CSRF checked


def test_cli_export_with_progress_and_audit(exports_url: str, export_engine, tmp_path) -> None:
    out = tmp_path / "print.pdf"
    env = {**os.environ, "GRIDMAP_DATABASE_URL": exports_url}
    command = [str(Path(sys.executable).parent / "gridmap"), "export", "grids", "service_points"]
    command += ["--paper", "A3", "--orientation", "portrait", "--title", "命令行打印"]
    command += ["-o", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:5] == b"%PDF-"
    assert "100%" in done.stderr  # the progress bar
    assert "features" in done.stdout
    with export_engine.connect() as conn:
        last = conn.execute(
            text("SELECT username, target FROM audit_log WHERE action = 'export' "
                 "ORDER BY id DESC LIMIT 1")
        ).one()  # fmt: skip
    assert last == ("cli", "layers:grids,service_points as pdf")

    wrong = subprocess.run([*command[:-2], "-o", str(tmp_path / "x.shp"), "--format", "shp"],
                           env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert wrong.returncode == 2
    assert "This export is a .zip file" in wrong.stderr and "Traceback" not in wrong.stderr
