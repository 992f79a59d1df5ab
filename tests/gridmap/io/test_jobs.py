"""Background export jobs on a real database: queued, claimed by the worker thread, progress
written, file downloadable by its owner only, audited twice (asked, delivered), failures
kept with their message, old files expired and removed."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from sqlalchemy import Engine, text

from gridmap.access import Role, User
from gridmap.access.accounts import add_user, load_user
from gridmap.io import jobs
from gridmap.io.export import ExportError, ExportRequest
from tests.gridmap.io.export_world import export_engine, export_folder, exports_url

pytestmark = pytest.mark.pooled  # a database access path (make test-pooled)

__all__ = ["export_engine", "export_folder", "exports_url"]  # fixtures


def _user(engine: Engine, username: str, role: Role, grids: list[str] | None = None) -> User:
    user_id = add_user(engine, username, role, None, display_name=f"测试{username}",
                       grid_codes=grids)  # fmt: skip
    with engine.connect() as conn:
        return load_user(conn, user_id)


@pytest.fixture(scope="module")
def planner(export_engine: Engine) -> User:
    return _user(export_engine, "jobs_planner", Role.PLANNER)


def _wait(engine: Engine, job_id, user: User, timeout: float = 90.0) -> tuple[jobs.JobStatus, list]:
    seen: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = jobs.job_status(engine, job_id, user)
        seen.append(status.progress)
        if status.status in ("done", "failed", "expired"):
            return status, seen
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {status}")


def test_job_runs_in_the_background_and_is_audited(export_engine, planner, export_folder) -> None:
    request = ExportRequest(("grids", "buildings"), "gpkg")
    job_id = jobs.submit(export_engine, request, planner)
    status, seen = _wait(export_engine, job_id, planner)
    assert status.status == "done", status.message
    assert seen == sorted(seen) and seen[-1] == 1.0  # progress only grows
    assert status.file_name.startswith("gridmap_grids+buildings_") and status.file_name.endswith(
        ".gpkg"
    )
    path, name, media_type = jobs.download(export_engine, job_id, planner)
    assert path.parent == export_folder and name == status.file_name
    assert media_type == "application/geopackage+sqlite3"
    with export_engine.connect() as conn:
        grids = conn.execute(text("SELECT count(*) FROM grids")).scalar()
        buildings = conn.execute(text("SELECT count(*) FROM buildings")).scalar()
        audit = conn.execute(
            text("SELECT username, target, detail->>'state' FROM audit_log "
                 "WHERE action = 'export' AND detail->>'job' = :j ORDER BY id"),
            {"j": str(job_id)},
        ).all()  # fmt: skip
    assert status.features == grids + buildings
    info = subprocess.run(["ogrinfo", "-so", "-ro", str(path), "buildings"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert f"Feature Count: {buildings}" in info
    target = "layers:grids,buildings as gpkg"
    assert audit == [("jobs_planner", target, "requested"), ("jobs_planner", target, "done")]


def test_only_the_owner_and_admins_see_a_job(export_engine, planner) -> None:
    job_id = jobs.submit(export_engine, ExportRequest(("service_points",), "csv"), planner)
    _wait(export_engine, job_id, planner)
    other = _user(export_engine, "jobs_command", Role.COMMAND)
    admin = _user(export_engine, "jobs_admin", Role.ADMIN)
    with pytest.raises(jobs.JobNotFound):
        jobs.job_status(export_engine, job_id, other)
    with pytest.raises(jobs.JobNotFound):
        jobs.download(export_engine, job_id, other)
    with pytest.raises(jobs.JobNotFound):
        jobs.job_status(export_engine, job_id, None)
    assert jobs.job_status(export_engine, job_id, admin).status == "done"
    with pytest.raises(jobs.JobNotFound, match="no export 'not-a-uuid'"):
        jobs.job_status(export_engine, "not-a-uuid", admin)
    assert str(job_id) in {j.id for j in jobs.recent_jobs(export_engine, planner)}


def test_api_clients_may_not_export(export_engine) -> None:
    client = _user(export_engine, "jobs_client", Role.API_CLIENT)
    with pytest.raises(ExportError, match="may not export"):
        jobs.submit(export_engine, ExportRequest(("grids",), "gpkg"), client)


def test_a_failing_export_keeps_its_message(export_engine, planner, export_folder) -> None:
    request = ExportRequest(("grids",), "csv", csv_geometry="lonlat")
    job_id = jobs.submit(export_engine, request, planner)
    status, _ = _wait(export_engine, job_id, planner)
    assert status.status == "failed"
    assert "Only point layers" in status.message
    assert not list(export_folder.glob(f"{job_id}*"))
    with pytest.raises(ExportError, match="not ready"):
        jobs.download(export_engine, job_id, planner)


def test_print_map_job(export_engine, planner) -> None:
    request = ExportRequest(("grids", "service_points"), "png", title="测试打印")
    job_id = jobs.submit(export_engine, request, planner)
    status, _ = _wait(export_engine, job_id, planner)
    assert status.status == "done", status.message
    path, _, media_type = jobs.download(export_engine, job_id, planner)
    assert media_type == "image/png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cleanup_expires_old_files(export_engine, planner, export_folder) -> None:
    job_id = jobs.submit(export_engine, ExportRequest(("service_points",), "geojson"), planner)
    _wait(export_engine, job_id, planner)
    path, _, _ = jobs.download(export_engine, job_id, planner)
    stray = export_folder / "00000000-0000-0000-0000-000000000000.gpkg"
    stray.write_bytes(b"left over")
    with export_engine.begin() as conn:
        conn.execute(
            text("UPDATE export_jobs SET finished_at = now() - interval '2 days' WHERE id = :j"),
            {"j": job_id},
        )
    removed = jobs.cleanup(export_engine, keep_hours=24)
    assert removed >= 2 and not path.exists() and not stray.exists()
    assert jobs.job_status(export_engine, job_id, planner).status == "expired"
    with pytest.raises(jobs.JobNotFound, match="expired"):
        jobs.download(export_engine, job_id, planner)


def test_a_stopping_server_hands_its_running_jobs_back(export_engine, planner) -> None:
    """A server process that stops (a rolling restart) puts the jobs it was running back in
    the queue, for another process to run from the start; what its interrupted run still
    writes is dropped."""
    running = jobs.worker(export_engine)  # this process's: it plays the other server
    stopping = jobs.Worker(export_engine, 0)  # the stopping server's (no threads)
    stopping.name = "stopping-host:1"
    options = ExportRequest(("grids",), "csv").to_json()
    with export_engine.begin() as conn:
        insert = text(
            "INSERT INTO export_jobs (user_id, username, options, status, worker, started_at, "
            "progress) VALUES (:u, 'jobs_planner', CAST(:o AS jsonb), 'running', :w, now(), 0.5) "
            "RETURNING *"
        )
        mine = conn.execute(insert, {"u": planner.id, "o": json.dumps(options), "w": stopping.name})
        mine = mine.one()
        other = conn.execute(
            insert, {"u": planner.id, "o": json.dumps(options), "w": "elsewhere:2"}
        )
        other = other.one()
    saved = dict(jobs._workers)
    jobs._workers.clear()
    jobs._workers["stopping"] = stopping
    try:
        assert jobs.release_jobs() == 1
    finally:
        jobs._workers.clear()
        jobs._workers.update(saved)
    assert stopping.stopping
    with export_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, status, worker, progress FROM export_jobs WHERE id IN (:a, :b)"),
            {"a": mine.id, "b": other.id},
        ).all()
    assert sorted((r.status, r.worker, r.progress) for r in rows) == [
        ("queued", None, 0.0),
        ("running", "elsewhere:2", 0.5),
    ]
    jobs.run_job(export_engine, mine, stopping.name)  # the interrupted run, finishing late
    with export_engine.connect() as conn:  # dropped: still queued, or already the other's
        late = conn.execute(
            text("SELECT status, worker FROM export_jobs WHERE id = :i"), {"i": mine.id}
        ).one()
    assert late.worker != stopping.name
    assert (late.status, late.worker) == ("queued", None) or late.worker == running.name
    running.wake()
    status, _ = _wait(export_engine, mine.id, planner)
    with export_engine.connect() as conn:
        grids = conn.execute(text("SELECT count(*) FROM grids")).scalar()
    assert (status.status, status.features) == ("done", grids)
    with export_engine.begin() as conn:
        assert (
            conn.execute(
                text("SELECT worker FROM export_jobs WHERE id = :i"), {"i": mine.id}
            ).scalar()
            == running.name
        )
        conn.execute(text("DELETE FROM export_jobs WHERE id = :i"), {"i": other.id})
