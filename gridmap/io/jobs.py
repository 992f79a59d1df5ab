"""Background exports: a queue in the ``export_jobs`` table, worker threads in the server
process, progress in the row, the file in the export folder until it expires.

:func:`submit` queues an export for a user and wakes this process's worker; any server
process may run it (jobs are claimed with ``FOR UPDATE SKIP LOCKED``), and any may answer
:func:`job_status` and serve the file, since the row and the folder are shared. The export
runs as the user who asked (their access rules apply to every read) and is audited when
asked for (with the client's address) and when delivered. :func:`cleanup` expires old files.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import DBAPIError

from gridmap.access import Role, User, audit
from gridmap.access.policy import sees_single_cases
from gridmap.access.scope import unscoped
from gridmap.errors import GridmapError
from gridmap.io.export import ExportError, ExportRequest, Progress, _quiet, export_data
from gridmap.io.models import ExportJob
from gridmap.settings import get_settings

log = logging.getLogger(__name__)

#: Seconds between progress writes to the job row (and between idle queue polls).
PROGRESS_EVERY_S = 0.5
POLL_S = 5.0
CLEANUP_EVERY_S = 600.0
#: A job running longer than this has lost its worker (the process stopped).
STALE_HOURS = 6.0
#: Roles that may ask for exports (api_client tokens are for intake only).
EXPORT_ROLES = frozenset(Role) - {Role.API_CLIENT}


class JobNotFound(ExportError):
    """No such export job for this user."""

    http_status = 404


def write_export(
    engine: Engine,
    request: ExportRequest,
    target: Path,
    *,
    user: User | None = None,
    progress: Progress = _quiet,
) -> int:
    """Write one export (data file or print map) to ``target``; return the feature count."""
    if request.is_print:
        from gridmap.io.printmap import render_print_map

        result = render_print_map(engine, request, target, user=user, progress=progress)
        return sum(result.counts.values())
    return sum(export_data(engine, request, target, user=user, progress=progress).values())


def audit_target(request: ExportRequest) -> str:
    """The audit log's target of an export: ``layers:a,b as fmt``."""
    return f"layers:{','.join(request.layers)} as {request.format}"


# -- queue -----------------------------------------------------------------------------------


def folder() -> Path:
    """The export folder (created on first use, readable only by this user)."""
    path = get_settings().export_folder
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def file_path(job_id: uuid.UUID | str, suffix: str) -> Path:
    return folder() / f"{uuid.UUID(str(job_id))}.{suffix}"


def submit(engine: Engine, request: ExportRequest, user: User) -> uuid.UUID:
    """Queue ``request`` for ``user``, audit the request and wake the worker; the job id."""
    if user is None or user.role not in EXPORT_ROLES:
        raise ExportError("This account may not export maps or data.")
    if "cases" in request.layers and not sees_single_cases(user):
        raise ExportError(
            "This account sees case counts only, not single cases: leave out the cases "
            "layer (the OGC API's case_aggregates collection has the counts)."
        )
    with unscoped(), engine.begin() as conn:  # the app queues it (grid reader can't write)
        job_id = conn.execute(
            ExportJob.__table__.insert()
            .values(user_id=user.id, username=user.username, options=request.to_json())
            .returning(ExportJob.id)
        ).scalar_one()
        audit.record(
            audit.EXPORT,
            audit_target(request),
            {"job": str(job_id), "state": "requested", **_summary(request)},
            user=user,
            engine=conn,
        )
    worker(engine).wake()
    return job_id


def _summary(request: ExportRequest) -> dict[str, Any]:
    data = request.to_json()
    return {k: data[k] for k in ("format", "bbox", "filters", "time_from", "time_to")}


@dataclass(frozen=True)
class JobStatus:
    """What a client sees of a job."""

    id: str
    status: str
    progress: float
    message: str | None
    file_name: str | None
    size_bytes: int | None
    features: int | None
    options: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None

    @property
    def ready(self) -> bool:
        return self.status == "done"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "progress": round(self.progress, 3),
            "message": self.message,
            "file_name": self.file_name,
            "size_bytes": self.size_bytes,
            "features": self.features,
            "layers": self.options.get("layers"),
            "format": self.options.get("format"),
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def _parse_id(job_id: str | uuid.UUID) -> uuid.UUID:
    try:
        return uuid.UUID(str(job_id))
    except ValueError:
        raise JobNotFound(f"There is no export {job_id!r}.") from None


def _job(engine: Engine, job_id: str | uuid.UUID, user: User | None) -> ExportJob:
    """The job row, if ``user`` asked for it (admins see every job)."""
    key = _parse_id(job_id)
    with engine.connect() as conn:
        row = conn.execute(select(ExportJob.__table__).where(ExportJob.id == key)).first()
    mine = row is not None and user is not None
    if mine and user.role is not Role.ADMIN and row.user_id != user.id:
        mine = False
    if not mine:
        raise JobNotFound(f"There is no export {key} for this account.")
    return row


def job_status(engine: Engine, job_id: str | uuid.UUID, user: User | None) -> JobStatus:
    """The job's state for ``user`` (JobNotFound when it is not theirs)."""
    row = _job(engine, job_id, user)
    return JobStatus(
        id=str(row.id),
        status=row.status,
        progress=float(row.progress),
        message=row.message,
        file_name=row.file_name,
        size_bytes=row.size_bytes,
        features=row.features,
        options=dict(row.options),
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def download(engine: Engine, job_id: str | uuid.UUID, user: User | None) -> tuple[Path, str, str]:
    """``(path, download name, media type)`` of a finished job's file for ``user``."""
    row = _job(engine, job_id, user)
    if row.status == "expired":
        raise JobNotFound("This export has expired and its file was removed; export again.")
    if row.status != "done":
        raise ExportError(f"This export is not ready (it is {row.status}).")
    request = ExportRequest.from_json(row.options)
    path = file_path(row.id, request.suffix)
    if not path.exists():
        raise JobNotFound("This export's file is gone (cleaned up); export again.")
    return path, row.file_name, row.media_type


def recent_jobs(engine: Engine, user: User, limit: int = 10) -> list[JobStatus]:
    """The user's latest jobs, newest first."""
    with engine.connect() as conn:
        ids = conn.execute(
            select(ExportJob.id)
            .where(ExportJob.user_id == user.id)
            .order_by(ExportJob.created_at.desc())
            .limit(limit)
        ).scalars()
        ids = list(ids)
    return [job_status(engine, i, user) for i in ids]


def cleanup(engine: Engine, keep_hours: float | None = None) -> int:
    """Expire finished jobs older than ``keep_hours`` (setting) and remove their files, and
    files no job owns; fail jobs whose worker died. The number of files removed."""
    keep = keep_hours if keep_hours is not None else get_settings().export_keep_hours
    with engine.begin() as conn:
        gone = conn.execute(
            text(
                "SELECT id FROM gridmap_export_expire(make_interval(secs => :keep), "
                "make_interval(secs => :stale))"
            ),
            {"keep": keep * 3600, "stale": STALE_HOURS * 3600},
        ).scalars()
        gone = {str(i) for i in gone}
        live = conn.execute(
            select(ExportJob.id).where(ExportJob.status.in_(("queued", "running", "done")))
        ).scalars()
        live = {str(i) for i in live}
    removed = 0
    for path in folder().iterdir():
        stem = path.name.split(".", 1)[0]
        if path.name.startswith(".") or stem in live:  # temporary files of running jobs
            continue
        if stem in gone or _is_uuid(stem):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _is_uuid(text_: str) -> bool:
    try:
        uuid.UUID(text_)
    except ValueError:
        return False
    return True


# -- worker ----------------------------------------------------------------------------------


def export_reader(engine: Engine) -> Engine:
    """The engine an export job reads its data from: a read replica that has replayed
    everything the primary held when the job started (so the export holds every write made
    before it was asked for, the caller's own too), else the primary ``engine``."""
    from gridmap.db.engine import get_engine
    from gridmap.db.replicas import primary_position, router_for

    primary = engine.url.render_as_string(hide_password=False)
    router = router_for(primary)
    if router is None:
        return engine
    url = router.pick(primary_position(primary))
    return engine if url == primary else get_engine(url)


def run_job(engine: Engine, row: Any, worker_name: str = "") -> None:
    """Run one claimed job row to done or failed, writing progress as it goes."""
    from gridmap.access.accounts import load_user

    job_id = row.id
    last = [0.0]

    def set_row(**values: Any) -> None:
        # only while the job is still this worker's (not handed back by release_jobs)
        mine = (ExportJob.id == job_id, ExportJob.status == "running")
        mine += (ExportJob.worker == row.worker,) if row.worker else ()
        with engine.begin() as conn:
            conn.execute(update(ExportJob).where(*mine).values(**values))

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            set_row(progress=min(max(fraction, 0.0), 0.99), message=message[:200])

    user = None
    try:
        request = ExportRequest.from_json(row.options)
        with engine.connect() as conn:
            user = load_user(conn, row.user_id) if row.user_id is not None else None
        if user is None:
            raise ExportError("The account that asked for this export no longer exists.")
        target = file_path(job_id, request.suffix)
        reader = export_reader(engine)
        features = write_export(reader, request, target, user=user, progress=progress)
        name = request.file_name(row.created_at.astimezone())
        size = target.stat().st_size
        set_row(
            status="done",
            progress=1.0,
            message=None,
            file_name=name,
            media_type=request.media_type,
            size_bytes=size,
            features=features,
            finished_at=datetime.now().astimezone(),
        )
        audit.record(
            audit.EXPORT,
            audit_target(request),
            {"job": str(job_id), "state": "done", "features": features, "bytes": size},
            user=user,
            engine=engine,
        )
    except GridmapError as exc:
        set_row(status="failed", message=exc.message, finished_at=datetime.now().astimezone())
    except Exception:
        log.exception("export job %s failed", job_id)
        set_row(
            status="failed",
            message="Internal error; it has been logged.",
            finished_at=datetime.now().astimezone(),
        )


class Worker:
    """Threads of one server process running queued export jobs (``export_workers``)."""

    def __init__(self, engine: Engine, threads: int) -> None:
        self.engine = engine
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._event = threading.Event()
        self._down = False
        self.stopping = False
        self._cleanup()
        self._threads = [
            threading.Thread(target=self._loop, name=f"gridmap-export-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        self._event.set()

    def _claim(self) -> Any:
        with self.engine.begin() as conn:
            return conn.execute(
                text("SELECT * FROM gridmap_export_claim(:w)"), {"w": self.name}
            ).first()

    def _loop(self) -> None:
        while not self.stopping:
            try:
                row = self._claim()
                self._down = False
            except DBAPIError:
                if not self._down:  # say it once per outage
                    log.warning("export worker: database unavailable; retrying")
                self._down, row = True, None
            if row is not None and self.stopping:  # claimed as the process stops
                self.release()
                return
            if row is not None:
                run_job(self.engine, row, self.name)
                continue
            self._event.wait(POLL_S)
            self._event.clear()
            if time.monotonic() - self._cleaned > CLEANUP_EVERY_S:
                self._cleanup()

    def release(self) -> int:
        """Hand this worker's running jobs back to the queue (another server process runs
        them from the start); the number handed back."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(ExportJob)
                .where(ExportJob.worker == self.name, ExportJob.status == "running")
                .values(status="queued", worker=None, started_at=None, progress=0, message=None)
            ).rowcount

    def _cleanup(self) -> None:
        self._cleaned = time.monotonic()
        try:
            cleanup(self.engine)
        except (OSError, DBAPIError):
            log.warning("export cleanup failed", exc_info=True)


_workers: dict[str, Worker] = {}
_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """A forked process has none of its parent's threads: it starts its own workers."""
    global _lock
    _lock = threading.Lock()
    _workers.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def release_jobs() -> int:
    """When this server process stops (gunicorn's ``worker_exit``, a rolling restart): its
    workers claim no more jobs and the jobs they were running go back to the queue, so
    another server runs them at once instead of failing them hours later as stale. The
    number handed back."""
    released = 0
    with _lock:
        workers = list(_workers.values())
    for w in workers:
        w.stopping = True
        w.wake()
        try:
            released += w.release()
        except DBAPIError:
            log.warning("export worker: could not hand back its running jobs", exc_info=True)
    return released


def worker(engine: Engine) -> Worker:
    """This process's worker for ``engine`` (started on first use)."""
    key = engine.url.render_as_string(hide_password=False)
    with _lock:
        if key not in _workers:
            _workers[key] = Worker(engine, get_settings().export_workers)
        return _workers[key]


__all__ = [
    "JobNotFound",
    "JobStatus",
    "cleanup",
    "download",
    "job_status",
    "recent_jobs",
    "release_jobs",
    "submit",
    "worker",
    "write_export",
]
