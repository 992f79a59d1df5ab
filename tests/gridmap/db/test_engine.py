"""Engines are per process: a forked child never uses (or closes) a connection its parent
pooled, and the parent's connection keeps working (issue 12, item 1). A connection is known
by its socket (the inode of its file descriptor), not by the server's backend pid: behind
pgbouncer, two client connections may share one server backend in turn."""

from __future__ import annotations

import os

from sqlalchemy import Engine, text

from gridmap.db.engine import dispose_engines


def _socket(engine: Engine) -> int:
    """The socket a pooled connection of ``engine`` talks over (after a query on it)."""
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
        return os.fstat(conn.connection.dbapi_connection.fileno()).st_ino


def test_a_forked_child_opens_its_own_connection(engine: Engine) -> None:
    parent_socket = _socket(engine)  # now pooled in this process
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report the socket it talks over, then leave at once
        try:
            os.write(write, str(_socket(engine)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_socket = int(pipe.read())
    os.waitpid(child, 0)
    assert child_socket != parent_socket
    assert _socket(engine) == parent_socket  # the parent's session is untouched


def test_dispose_engines_closes_this_process_connections(engine: Engine) -> None:
    before = _socket(engine)
    dispose_engines()
    assert engine.pool.checkedin() == 0
    assert _socket(engine) != before
