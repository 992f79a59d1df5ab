"""Several app servers (issue 16, acceptance): two ``gridmap serve`` behind HAProxy (the
configuration of deploy/haproxy.cfg, its ports and socket path substituted) restarted one
after the other under a load of reads and case posts: no client sees a failure, every case
is stored once. And what the servers share: a session signed in on one is accepted by the
other, an export asked of one is downloaded from the other, a tile and an OGC count kept by
both are made anew by both after a write.

The first server is restarted the documented way (drained through HAProxy's runtime API,
stopped, started, made ready); the second is simply stopped and started (SIGTERM: gunicorn
finishes its requests; HAProxy's health checks, retries and redispatch do the rest)."""

from __future__ import annotations

import random
import re
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.settings import PROJECT_ROOT
from tests.conftest import make_test_database
from tests.gridmap.cases.world import INSIDE, insert_case, seed_world
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer, free_port, start_server, stop_server
from tests.signin import _csrf, api_token, ensure_account, signed_in_session

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy is not installed"),
]

CONFIG = PROJECT_ROOT / "deploy" / "haproxy.cfg"
#: The z12 tile of the world's three grids.
GRIDS_TILE = "/tiles/grids/12/3413/1689.pbf"
READERS, POSTERS = 3, 2


class Proxy:
    """A running HAProxy and its runtime API."""

    def __init__(self, process: subprocess.Popen, url: str, socket_path: Path) -> None:
        self.process, self.url, self.socket_path = process, url, socket_path

    def command(self, line: str) -> str:
        """One runtime API command; its answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.socket_path))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stat(self, server: str) -> dict[str, str]:
        """The ``show stat`` row of backend server ``server``."""
        lines = self.command("show stat").splitlines()
        head = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(head, line.split(","), strict=False))
            if row.get("pxname") == "gridmap" and row.get("svname") == server:
                return row
        raise AssertionError(f"no server {server}: {lines}")

    def status(self, server: str) -> tuple[str, int]:
        """(status, current sessions) of backend server ``server``."""
        row = self.stat(server)
        return row["status"], int(row["scur"] or 0)

    def counters(self, server: str, *names: str) -> dict[str, int]:
        row = self.stat(server)
        return {name: int(row[name] or 0) for name in names}

    def wait_for(self, server: str, ok: Callable[[str, int], bool], within: float = 20) -> None:
        deadline = time.monotonic() + within
        while not ok(*self.status(server)):
            assert time.monotonic() < deadline, f"{server}: {self.status(server)}"
            time.sleep(0.1)


def render_config(apps: list[str], bind: str, stats_socket: Path) -> str:
    """deploy/haproxy.cfg with the test's addresses (``apps``: host:port of each server)
    and quicker health checks."""
    config = CONFIG.read_text()
    config = config.replace("bind 127.0.0.1:8050", f"bind {bind}")
    config = config.replace("/run/haproxy/gridmap.sock", str(stats_socket))
    config = config.replace("bind 127.0.0.1:8404", f"bind 127.0.0.1:{free_port()}")
    config = config.replace("inter 2s", "inter 250ms").replace("slowstart 10s", "slowstart 1s")
    servers = re.findall(r"^    server app\d 127\.0\.0\.1:\d+\n", config, re.M)
    assert len(servers) == 2, servers
    lines = "".join(f"    server app{i} {app}\n" for i, app in enumerate(apps, 1))
    return config.replace("".join(servers), lines)


@pytest.fixture(scope="module")
def url(_created: list[str]) -> str:
    url = make_test_database("haproxy")
    _created.append(url)
    seed_world(url)
    for i in range(10):
        insert_case(url, title=f"base {i}")
    return url


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    """Each server's settings: a home of its own (as on machines of their own; no
    GRIDMAP_SECRET_KEY: the session key is the database's), one export folder, one proxy
    in front."""
    exports = tmp_path_factory.mktemp("shared-exports")
    shared = {
        "GRIDMAP_EXPORT_DIR": str(exports),
        "GRIDMAP_PROXY_HOPS": "1",
        "GRIDMAP_PLAN_WARMUP": "false",
        "GRIDMAP_SECRET_KEY": "",
    }
    return [shared | {"GRIDMAP_HOME": str(tmp_path_factory.mktemp(f"home{i}"))} for i in (1, 2)]


@pytest.fixture(scope="module")
def apps(url: str, env: list[dict[str, str]]) -> Iterator[list[LiveServer]]:
    with ThreadPoolExecutor(2) as pool:  # both start at once
        servers = list(pool.map(lambda i: start_server(url, f"app{i + 1}", env=env[i]), (0, 1)))
    yield servers
    for server in servers:  # both at once, with no kept-alive connection to wait for
        for http in server._sessions.values():
            http.close()
        server.process.terminate()
    for server in servers:
        stop_server(server)


@pytest.fixture(scope="module")
def proxy(apps: list[LiveServer], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    home = tmp_path_factory.mktemp("haproxy")
    port = free_port()
    config = home / "haproxy.cfg"
    config.write_text(
        render_config([a.url[7:] for a in apps], f"127.0.0.1:{port}", home / "admin.sock")
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "haproxy.log").open("wb") as log:
        process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    proxy = Proxy(process, f"http://127.0.0.1:{port}", home / "admin.sock")
    deadline = time.monotonic() + 15
    while not proxy.socket_path.exists():
        assert process.poll() is None, (ARTIFACTS / "haproxy.log").read_text()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for name in ("app1", "app2"):
        proxy.wait_for(name, lambda status, _: status == "UP")
    yield proxy
    process.terminate()
    process.wait(10)


def test_rolling_restart_under_load_fails_no_request(
    apps: list[LiveServer], proxy: Proxy, url: str, env: list[dict[str, str]]
) -> None:
    auth = {"Authorization": f"Bearer {api_token(url, 'admin', username='ha_admin')}"}
    with get_engine(url).connect() as conn:
        base = dict(conn.execute(text("SELECT id, title FROM cases")).all())
    lock = threading.Lock()
    seen: Counter = Counter()
    failures: list[str] = []
    posted: dict[str, int] = {}
    stop = threading.Event()
    lon, lat = INSIDE[2]

    def count(what: str, response: requests.Response | None, failure: str = "") -> bool:
        good = response is not None and response.status_code in (200, 201)
        with lock:
            seen[what if good else "failed"] += 1
            if not good:
                failures.append(failure or f"{what}: {response.status_code} {response.text[:200]}")
        return good

    def read(n: int) -> None:
        http = requests.Session()
        http.headers.update(auth)
        rng = random.Random(n)
        while not stop.is_set():
            case_id = rng.choice(list(base))
            path = rng.choice(
                [f"/api/v1/cases/{case_id}", "/api/v1/cases?limit=5", GRIDS_TILE, "/healthz"]
            )
            try:
                r = http.get(proxy.url + path, timeout=30)
            except requests.RequestException as exc:
                count("get", None, f"GET {path}: {exc}")
                continue
            mine = path.startswith("/api/v1/cases/")
            if count("get", r) and mine and r.json()["title"] != base[case_id]:
                count("mixed", None, f"asked case {case_id}, got {r.json()['id']}")

    def post(n: int) -> None:
        http = requests.Session()
        http.headers.update(auth)
        i = 0
        while not stop.is_set():
            i += 1
            title = f"ha post {n}-{i}"
            body = {"title": title, "subcategory": "street_light", "lon": lon, "lat": lat}
            try:
                r = http.post(
                    proxy.url + "/api/v1/cases",
                    json=body,
                    headers={"Idempotency-Key": f"ha-{n}-{i}"},
                    timeout=30,
                )
            except requests.RequestException as exc:
                count("post", None, f"POST {title}: {exc}")
                continue
            if count("post", r):
                with lock:
                    posted[title] = r.json()["id"]

    threads = [threading.Thread(target=read, args=(n,)) for n in range(READERS)]
    threads += [threading.Thread(target=post, args=(n,)) for n in range(POSTERS)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        # app1, the documented way: drain, wait until it has no request, restart, ready
        assert proxy.command("set server gridmap/app1 state drain").strip() == ""
        proxy.wait_for("app1", lambda status, current: status == "DRAIN" and current == 0)
        stop_server(apps[0])
        apps[0] = start_server(url, "app1-again", env=env[0], at=_address(apps[0]))
        assert proxy.command("set server gridmap/app1 state ready").strip() == ""
        proxy.wait_for("app1", lambda status, _: status == "UP")
        time.sleep(1.0)
        # app2, simply stopped (SIGTERM) and started: health checks, retries, redispatch
        stop_server(apps[1])
        apps[1] = start_server(url, "app2-again", env=env[1], at=_address(apps[1]))
        proxy.wait_for("app2", lambda status, _: status == "UP")
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(40)

    retried = {name: proxy.counters(name, "wretr", "wredis") for name in ("app1", "app2")}
    print(f"\nclients saw {dict(seen)}; {len(posted)} cases posted; HAProxy {retried}")
    assert failures == []
    assert seen["get"] >= 50 and len(posted) >= 10, seen
    with get_engine(url).connect() as conn:
        stored = dict(
            conn.execute(
                text(
                    "SELECT title, array_agg(id) FROM cases WHERE title LIKE 'ha post %' "
                    "GROUP BY title"
                )
            ).all()
        )
    assert stored == {title: [case_id] for title, case_id in posted.items()}  # once each


def _address(server: LiveServer) -> tuple[str, int]:
    host, port = server.url[7:].split(":")
    return host, int(port)


def test_servers_share_sessions_exports_and_caches(
    apps: list[LiveServer], proxy: Proxy, url: str, env: list[dict[str, str]]
) -> None:
    a, b = apps
    # a session signed in on A is accepted by B, and B's CSRF check takes it: their own
    # keys differ, they sign with the database's
    homes = [Path(e["GRIDMAP_HOME"]) / "secret_key" for e in env]
    assert homes[0].read_text() != homes[1].read_text()
    http_a = signed_in_session(a.url, *ensure_account(url, "planner", username="ha_planner"))
    http_b = requests.Session()
    for cookie in http_a.cookies:
        http_b.cookies.set(cookie.name, cookie.value)
    http_b.headers["X-CSRFToken"] = http_a.headers["X-CSRFToken"]
    assert http_b.get(b.url + "/api/v1/exports", timeout=30).json() == {"exports": []}

    # an export asked of A runs on either and is downloaded from B (one folder)
    asked = http_a.post(
        a.url + "/api/v1/exports", json={"layers": ["grids"], "format": "csv"}, timeout=30
    )
    assert asked.status_code == 202, asked.text
    job = asked.json()["links"]["self"]
    deadline = time.monotonic() + 30
    while (status := http_b.get(b.url + job, timeout=30).json())["status"] != "done":
        assert status["status"] in ("queued", "running") and time.monotonic() < deadline, status
        time.sleep(0.2)
    file = http_b.get(b.url + status["links"]["download"], timeout=30)
    assert file.status_code == 200
    assert len(file.content) == status["size_bytes"]
    assert file.content.decode("utf-8-sig").count("\n") == 1 + 3  # header and three grids
    assert sorted(p.name for p in Path(env[0]["GRIDMAP_EXPORT_DIR"]).iterdir()) == [
        f"{status['id']}.csv"
    ]

    # a tile both servers keep is remade by both after a write (its table's counter)
    before = [s.get(GRIDS_TILE).content for s in (a, b)]
    assert before[0] == before[1] and [s.get(GRIDS_TILE).content for s in (a, b)] == before
    with get_engine(url).begin() as conn:
        conn.execute(text("UPDATE grids SET name = name || '（改）' WHERE id = 1"))
    after = [s.get(GRIDS_TILE).content for s in (a, b)]
    assert after[0] == after[1] != before[0]
    assert "（改）".encode() in after[1] and "（改）".encode() not in before[1]

    # numberMatched, which each server keeps, counts the case posted through A on both: the
    # first of grid 3 (no case yet), so one more (grid, day) of the case aggregates
    def matched() -> list[int]:
        items = "/ogc/collections/case_aggregates/items?limit=1&f=json"
        answers = [s.get(items) for s in (a, b)]
        assert [r.status_code for r in answers] == [200, 200], answers[0].text[:300]
        return [r.json()["numberMatched"] for r in answers]

    counts = matched()
    assert counts[0] == counts[1] and matched() == counts
    body = {"title": "ha counted", "subcategory": "street_light", "lon": INSIDE[3][0]}
    posted = a.post("/api/v1/cases", json=body | {"lat": INSIDE[3][1]})
    assert posted.status_code == 201, posted.text
    assert matched() == [counts[0] + 1] * 2

    # the client's own address reaches the app through HAProxy (X-Forwarded-For): a
    # failed sign-in from 127.0.0.66 is audited with that address, not HAProxy's
    client = requests.Session()
    client.mount("http://", SourceAddress("127.0.0.66"))
    page = client.get(proxy.url + "/login", timeout=30)
    form = {"username": "ha_nobody", "password": "wrong", "csrf_token": _csrf(page.text)}
    assert client.post(proxy.url + "/login", data=form, timeout=30).status_code == 401
    with get_engine(url).connect() as conn:
        addresses = conn.execute(
            text("SELECT host(client_ip) FROM audit_log WHERE username = 'ha_nobody'")
        ).scalars()
        assert list(addresses) == ["127.0.0.66"]
    for http in (http_a, http_b, client):
        http.close()


class SourceAddress(HTTPAdapter):
    """Connections from a given local address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)
