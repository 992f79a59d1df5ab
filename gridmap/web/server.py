"""Serve the dashboard with gunicorn (multi-process), not Flask's dev server.

Workers are gunicorn's ``asgi`` workers: each reads requests on an asyncio event loop and
runs the Flask app in a few threads once a request is complete (:mod:`gridmap.web.asgi`),
so slow or idle clients cannot take the threads. ``worker_class="gthread"`` (the former
setting) still serves the plain WSGI app, for comparison in benchmarks.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

from gunicorn.app.base import BaseApplication

#: Seconds a worker may spend on one request before gunicorn restarts it.
TIMEOUT = 60
#: Seconds workers get to finish in-flight requests on shutdown/reload.
GRACEFUL_TIMEOUT = 20
#: Threads per worker: tiles arrive in parallel bursts from one browser.
THREADS = 4
#: gunicorn's asyncio worker (native since gunicorn 24, out of beta since 25).
WORKER_CLASS = "asgi"


class GridmapServer(BaseApplication):
    """A gunicorn application loading :func:`gridmap.web.app.create_app` in each worker."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        from gridmap.web.app import create_app

        server = create_app().server
        _warm_up_planning()
        # The app's long-lived objects (modules, layouts, plotly validators: ~400k) move out
        # of the collector's generations, so a full collection no longer walks them in the
        # middle of a request (it added up to ~150 ms to a heatmap update at city scale).
        gc.freeze()
        if self.cfg.worker_class_str == "gthread":
            return server
        from gridmap.web.asgi import asgi_app

        return asgi_app(server, THREADS)


def _warm_up_planning() -> None:
    """In the worker (after the fork): build the planning model in the background, when
    ``plan_warmup`` is set (see :func:`gridmap.web.services.planning.warm_up`)."""
    from gridmap.db.app import app_engine
    from gridmap.settings import get_settings
    from gridmap.web.services.planning import warm_up

    if get_settings().plan_warmup:
        engine = app_engine()
        threading.Thread(target=warm_up, args=(engine,), name="plan-warmup", daemon=True).start()


def options(host: str, port: int, workers: int, worker_class: str = WORKER_CLASS) -> dict[str, Any]:
    """gunicorn settings for ``gridmap serve``."""
    return {
        "bind": f"{host}:{port}",
        "workers": max(1, workers),
        "worker_class": worker_class,
        # gthread: its thread pool; asgi: unused (the app's pool is THREADS, see load()).
        "threads": THREADS if worker_class == "gthread" else 1,
        "asgi_lifespan": "off",
        "timeout": TIMEOUT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "gridmap",
        # gunicorn's control socket is one path per OS user ($HOME/.gunicorn/gunicorn.ctl):
        # every other gunicorn of the user would take it over. gridmap does not use it.
        "control_socket_disable": True,
        # Each worker builds its own app and database pool (no sharing across fork).
        "preload_app": False,
        "pre_fork": _before_fork,
        "worker_exit": _worker_exit,
    }


def _before_fork(server: Any, worker: Any) -> None:
    """In the master, before each worker is forked: close its database connections, so no
    socket is inherited (a shared socket mixes results between processes)."""
    from gridmap.db.engine import dispose_engines

    dispose_engines()


def _worker_exit(server: Any, worker: Any) -> None:
    """In a worker, as it exits (after its in-flight requests, e.g. in a rolling restart):
    the export jobs it was running go back to the queue for another server process."""
    from gridmap.io.jobs import release_jobs

    released = release_jobs()
    if released:
        server.log.info("handed %d running export job(s) back to the queue", released)


def run(host: str, port: int, workers: int, worker_class: str = WORKER_CLASS) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop gracefully)."""
    GridmapServer(options(host, port, workers, worker_class)).run()
