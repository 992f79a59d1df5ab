"""Serve the dashboard with gunicorn (a production WSGI server), not Flask's dev server."""

from __future__ import annotations

import gc
from typing import Any

from gunicorn.app.base import BaseApplication

#: Seconds a worker may spend on one request before gunicorn restarts it.
TIMEOUT = 60
#: Seconds workers get to finish in-flight requests on shutdown/reload.
GRACEFUL_TIMEOUT = 20
#: Threads per worker: tiles arrive in parallel bursts from one browser.
THREADS = 4


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
        # The app's long-lived objects (modules, layouts, plotly validators: ~400k) move out
        # of the collector's generations, so a full collection no longer walks them in the
        # middle of a request (it added up to ~150 ms to a heatmap update at city scale).
        gc.freeze()
        return server


def options(host: str, port: int, workers: int) -> dict[str, Any]:
    """gunicorn settings for ``gridmap serve``."""
    return {
        "bind": f"{host}:{port}",
        "workers": max(1, workers),
        "worker_class": "gthread",
        "threads": THREADS,
        "timeout": TIMEOUT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "gridmap",
        # Each worker builds its own app and database pool (no sharing across fork).
        "preload_app": False,
    }


def run(host: str, port: int, workers: int) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop gracefully)."""
    GridmapServer(options(host, port, workers)).run()
