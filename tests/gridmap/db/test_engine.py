"""Engines are per process: a forked child never uses (or closes) a connection its parent
pooled, and the parent's connection keeps working (issue 12, item 1)."""

from __future__ import annotations

import os

from sqlalchemy import Engine, text

from gridmap.db.engine import dispose_engines


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_forked_child_opens_its_own_connection(engine: Engine) -> None:
    parent_backend = _backend_pid(engine)  # now pooled in this process
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report the backend it talks to, then leave at once
        try:
            os.write(write, str(_backend_pid(engine)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_backend = int(pipe.read())
    os.waitpid(child, 0)
    assert child_backend != parent_backend
    assert _backend_pid(engine) == parent_backend  # the parent's session is untouched


def test_dispose_engines_closes_this_process_connections(engine: Engine) -> None:
    before = _backend_pid(engine)
    dispose_engines()
    assert engine.pool.checkedin() == 0
    assert _backend_pid(engine) != before
