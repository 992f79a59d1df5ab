"""``gridmap serve``: gunicorn's settings, the ASGI front of the app, and a live server of
several workers: no database socket shared between processes, concurrent reads answered
right, each request in exactly its own row-level-security scope, and slow or idle clients
that cannot starve the service (issue 12, items 1, 1c and 1e)."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
import requests
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url

from gridmap.settings import get_settings
from gridmap.web.asgi import BufferedBody, asgi_app
from gridmap.web.server import THREADS, GridmapServer, options
from tests.gridmap.web.conftest import LiveServer, start_server, stop_server

WORKERS = 3


def test_gunicorn_options() -> None:
    opts = options("0.0.0.0", 9000, 0)
    assert opts["bind"] == "0.0.0.0:9000"
    assert opts["workers"] == 1
    assert (opts["worker_class"], opts["accesslog"], opts["timeout"]) == ("asgi", "-", 60)
    assert (opts["preload_app"], opts["control_socket_disable"]) == (False, True)
    server = GridmapServer(opts)
    assert server.cfg.bind == ["0.0.0.0:9000"]
    assert (server.cfg.worker_class_str, server.cfg.threads) == ("asgi", 1)
    old = GridmapServer(options("127.0.0.1", 9000, 2, "gthread"))
    assert (old.cfg.worker_class_str, old.cfg.threads) == ("gthread", THREADS)


def test_a_worker_freezes_the_loaded_app_out_of_the_collector(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """After loading the app a worker calls gc.freeze (full collections no longer walk the
    app's long-lived objects mid-request); the asgi worker gets the ASGI app."""
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        app = GridmapServer(options("127.0.0.1", 9000, 1)).load()
        assert isinstance(app, BufferedBody) and gc.get_freeze_count() > 100_000
    finally:
        gc.unfreeze()
        get_settings.cache_clear()


# -- the ASGI front, in process ---------------------------------------------------------------


def _echo_wsgi(environ: dict, start_response: Any) -> list[bytes]:
    """A WSGI app answering with the length of the body it read, its thread's name and the
    declared length."""
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    declared = environ.get("CONTENT_LENGTH")
    return [f"{len(body)} {threading.current_thread().name} {declared}".encode()]


def _call(
    app: Any, path: str, chunks: list[bytes], headers: list | None = None, stall: bool = False
) -> list[dict]:
    """Run one HTTP request through the ASGI ``app``; the messages it sent. ``stall``: the
    body never completes (the server then says the client has gone)."""
    sent: list[dict] = []
    incoming: list[dict] = [
        {"type": "http.request", "body": c, "more_body": stall or i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    if stall:
        incoming.append({"type": "http.disconnect"})

    async def receive() -> dict:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "headers": headers or [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    return sent


def _body(sent: list[dict]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_the_body_reaches_the_app_whole_and_the_probe_has_its_own_threads() -> None:
    app = asgi_app(_echo_wsgi, threads=2)
    chunked = [(b"transfer-encoding", b"chunked")]
    sent = _call(app, "/api/v1/cases", [b"ab", b"cde", b"f"], headers=chunked)
    assert sent[0]["status"] == 200
    length, thread, declared = _body(sent).decode().split()
    assert (length, declared) == ("6", "6") and thread.startswith("WSGI")
    probe = _call(app, "/healthz", [b""])
    assert _body(probe).decode().split()[0] == "0"
    assert _body(probe).decode().split()[1].startswith("gridmap-probe")  # a pool of its own


def test_a_body_over_the_limit_is_refused_before_any_thread() -> None:
    called: list[bool] = []

    def app(environ: dict, start_response: Any) -> list[bytes]:
        called.append(True)
        return _echo_wsgi(environ, start_response)

    front = BufferedBody(asgi_app(app, threads=1).app, limit=4)
    sent = _call(front, "/api/v1/cases", [b"abc", b"de"])
    assert (sent[0]["status"], called) == (413, [])
    assert b"at most 4 bytes" in _body(sent)
    declared = _call(front, "/api/v1/cases", [b""], headers=[(b"content-length", b"99")])
    assert (declared[0]["status"], called) == (413, [])


def test_a_body_that_never_completes_is_408_without_any_thread() -> None:
    """The server gives up waiting for the rest of the body (its timeout): a 408 answered
    from the event loop, the app never called."""
    called: list[bool] = []

    def app(environ: dict, start_response: Any) -> list[bytes]:
        called.append(True)
        return _echo_wsgi(environ, start_response)

    sent = _call(asgi_app(app, threads=1), "/api/v1/cases", [b"{", b""], stall=True)
    assert (sent[0]["status"], called) == (408, [])
    assert b"did not arrive in time" in _body(sent)


# -- a live server of several workers --------------------------------------------------------


@pytest.fixture(scope="module")
def workers_server(demo_url: str) -> Iterator[LiveServer]:
    server = start_server(demo_url, "workers", workers=WORKERS)
    yield server
    stop_server(server)


def _server_processes(server: LiveServer) -> tuple[psutil.Process, list[psutil.Process]]:
    master = psutil.Process(server.process.pid)
    return master, master.children(recursive=True)


def _database_sockets(proc: psutil.Process, db_port: int) -> set[tuple]:
    """The process's sockets to the database: TCP to its port, or its Unix socket."""
    found = {
        (c.laddr, c.raddr)
        for c in proc.net_connections(kind="inet")
        if c.raddr and c.raddr.port == db_port
    }
    found |= {
        (c.fd, c.raddr) for c in proc.net_connections(kind="unix") if ".s.PGSQL." in (c.raddr or "")
    }
    return found


def test_no_database_socket_is_shared_between_processes(
    workers_server: LiveServer, demo_url: str
) -> None:
    """Every worker opens its own connections after the fork; the master holds none."""
    db_port = make_url(demo_url).port
    master, workers = _server_processes(workers_server)
    assert len(workers) == WORKERS
    deadline = time.monotonic() + 20
    while True:
        # fresh connections (no keep-alive) reach every worker sooner or later
        with requests.Session() as http:
            http.headers["Connection"] = "close"
            for _ in range(4 * WORKERS):
                assert http.get(workers_server.url + "/healthz", timeout=10).status_code == 200
        owned = {w.pid: _database_sockets(w, db_port) for w in workers}
        if all(owned.values()) or time.monotonic() > deadline:
            break
    assert all(owned.values()), f"a worker never opened a database connection: {owned}"
    assert _database_sockets(master, db_port) == set()
    seen: Counter = Counter(s for sockets in owned.values() for s in sockets)
    assert [s for s, n in seen.items() if n > 1] == []


def _expected_totals(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        everything = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        lead = conn.execute(
            text(
                "SELECT count(*) FROM cases WHERE grid_id IN (SELECT ug.grid_id FROM "
                "user_grids ug JOIN users u ON u.id = ug.user_id WHERE u.username = 'lead')"
            )
        ).scalar_one()
    return {"admin": everything, "command": everything, "grid_lead": lead}


def _lead_grids(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ug.grid_id FROM user_grids ug JOIN users u ON u.id = ug.user_id "
                "WHERE u.username = 'lead'"
            )
        )
        return {r[0] for r in rows}


def _hammer(server: LiveServer, roles: list[str], seconds: float, check) -> Counter:
    """Threads (one signed-in session each, one per entry of ``roles``) reading the case
    list for ``seconds``; ``check(role, response)`` returns a problem or None."""
    from tests.signin import signed_in_session

    sessions = [signed_in_session(server.url, *server.account(role)) for role in roles]
    outcome: Counter = Counter()
    lock = threading.Lock()

    def run(role: str, http: requests.Session, n: int) -> None:
        end = time.monotonic() + seconds
        i = n
        while time.monotonic() < end:
            i += 1
            r = http.get(f"{server.url}/api/v1/cases?limit=20&offset={i % 7 * 20}", timeout=30)
            problem = check(role, r)
            with lock:
                outcome[problem or f"{role} {r.status_code}"] += 1

    threads = [
        threading.Thread(target=run, args=(role, http, n))
        for n, (role, http) in enumerate(zip(roles, sessions, strict=True))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcome


def test_eight_threads_of_reads_all_answer_right(
    workers_server: LiveServer, demo_engine: Engine
) -> None:
    """The load that showed 503s and a 500 with the shared connection: all 200, all right."""
    total = _expected_totals(demo_engine)["admin"]

    def check(role: str, r: requests.Response) -> str | None:
        if r.status_code != 200:
            return f"status {r.status_code}: {r.text[:200]}"
        body = r.json()
        if body["total"] != total or len(body["cases"]) != 20:
            return f"wrong answer: total {body['total']}, {len(body['cases'])} cases"
        return None

    outcome = _hammer(workers_server, ["admin"] * 8, 3.0, check)
    assert set(outcome) == {"admin 200"}, outcome
    assert outcome["admin 200"] > 40


def test_every_request_runs_in_exactly_its_own_scope(
    workers_server: LiveServer, demo_engine: Engine, demo_url: str
) -> None:
    """Admin, command and a grid lead read at once over several workers: the lead sees only
    its grids, the others everything; afterwards no app connection idles in a transaction."""
    totals = _expected_totals(demo_engine)
    grids = _lead_grids(demo_engine)
    assert 0 < totals["grid_lead"] < totals["admin"]

    def check(role: str, r: requests.Response) -> str | None:
        if r.status_code != 200:
            return f"{role} status {r.status_code}: {r.text[:200]}"
        body = r.json()
        if body["total"] != totals[role]:
            return f"{role} saw total {body['total']}, not {totals[role]}"
        outside = [c["id"] for c in body["cases"] if (c["grid"] or {}).get("id") not in grids]
        if role == "grid_lead" and outside:
            return f"lead saw cases of other grids: {outside}"
        return None

    roles = ["admin", "command", "grid_lead"] * 3
    outcome = _hammer(workers_server, roles, 3.0, check)
    assert set(outcome) == {"admin 200", "command 200", "grid_lead 200"}, outcome
    with demo_engine.connect() as conn:
        states = conn.execute(
            text(
                "SELECT state, count(*) FROM pg_stat_activity WHERE application_name = "
                "'gridmap' AND datname = :db AND pid <> pg_backend_pid() GROUP BY state"
            ),
            {"db": make_url(demo_url).database},
        ).all()
    assert "idle in transaction" not in dict(states), states


def test_no_connection_returns_to_the_pool_scoped_or_in_a_transaction(
    demo_url: str,
) -> None:
    """In process, threads of mixed roles: every connection checked back into the pool is
    outside a transaction and in the app's own role (never the grid reader's)."""
    from gridmap.db.engine import get_engine
    from gridmap.web.app import create_app
    from tests.signin import client_sign_in, ensure_account

    engine = get_engine(demo_url)
    returned: Counter = Counter()

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is None:
            return
        status = dbapi_connection.info.transaction_status
        with dbapi_connection.cursor() as cur:
            cur.execute("SELECT current_user")
            role = cur.fetchone()[0]
        dbapi_connection.rollback()  # the check's own SELECT began a transaction
        returned[(role, status)] += 1

    app = create_app(demo_url).server
    event.listen(engine, "checkin", on_checkin)
    try:
        problems: list[str] = []

        def run(role: str) -> None:
            client = app.test_client()
            client_sign_in(client, *ensure_account(demo_url, role))
            for i in range(15):
                r = client.get(f"/api/v1/cases?limit=5&offset={i * 5}")
                if r.status_code != 200:
                    problems.append(f"{role} {r.status_code}")

        threads = [
            threading.Thread(target=run, args=(role,))
            for role in ["admin", "grid_lead", "command", "grid_lead"]
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        event.remove(engine, "checkin", on_checkin)
    app_role = make_url(demo_url).username
    assert problems == []
    assert set(returned) == {(app_role, 0)}, returned  # 0: psycopg2's TRANSACTION_STATUS_IDLE
    assert returned[(app_role, 0)] > 60


# -- slow and idle clients (item 1c) -----------------------------------------------------------


def _open_slow_clients(server: LiveServer, idle: int, slow_bodies: int) -> list[socket.socket]:
    host, port = server.url.removeprefix("http://").split(":")
    socks = []
    for _ in range(idle):  # a request line and half the headers, then nothing
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    for _ in range(slow_bodies):  # whole headers, one byte of a 1000-byte body
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(b"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        socks.append(s)
    return socks


def test_a_chunked_body_reaches_the_app(workers_server: LiveServer) -> None:
    """A body sent in chunks (no Content-Length) is read whole, not taken for empty."""
    chunks = iter([b'{"title": ', b'"", "subcategory": "street_light"}'])
    r = workers_server.post(  # a generator: chunked
        "/api/v1/cases", data=chunks, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    problems = r.json()["error"]["problems"]
    assert problems == [{"field": "title", "message": "is required"}]


def test_slow_and_idle_clients_do_not_starve_the_service(
    workers_server: LiveServer, demo_engine: Engine
) -> None:
    """32 connections with half a request and 8 with half a body stay open while 8 users
    read: /healthz answers within a second (p95) and every read answers 200."""
    socks = _open_slow_clients(workers_server, idle=32, slow_bodies=8)
    probes: list[float] = []
    refused: list[str] = []
    try:
        total = _expected_totals(demo_engine)["admin"]
        stop = threading.Event()

        def probe() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                r = requests.get(workers_server.url + "/healthz", timeout=10)
                if r.status_code != 200:
                    refused.append(f"/healthz {r.status_code}: {r.text[:200]}")
                probes.append(time.perf_counter() - started)
                time.sleep(0.05)

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            outcome = _hammer(
                workers_server,
                ["admin"] * 8,
                3.0,
                lambda role, r: _unless_the_total(r, total),
            )
        finally:
            stop.set()
            prober.join()
    finally:
        for s in socks:
            s.close()
    log = workers_server.log.read_text(errors="replace")[-3000:]
    assert set(outcome) == {"admin 200"} and not refused, (outcome, refused, log)
    probes.sort()
    assert len(probes) >= 10
    assert probes[int(len(probes) * 0.95) - 1] < 1.0, probes


def _unless_the_total(r: requests.Response, total: int) -> str | None:
    """None for a 200 with the expected total, else what was answered."""
    if r.status_code == 200 and r.json()["total"] == total:
        return None
    return f"status {r.status_code}: {r.text[:200]}"
