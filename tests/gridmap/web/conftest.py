"""Web fixtures: the app in-process (Flask test client), live ``gridmap serve`` servers
started once per session, and a headless Chromium driven by selenium."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from dash import Dash
from flask.testing import FlaskClient

from gridmap.settings import PROJECT_ROOT
from gridmap.web.app import create_app
from tests.conftest import make_test_database
from tests.layers.seed import seed
from tests.signin import client_sign_in, ensure_account, sign_in, signed_in_session

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROME_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--window-size=1600,1000",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def seeded_url(_created: list[str]) -> str:
    """A migrated database holding the tiny known city of tests.layers.seed."""
    url = make_test_database("webseed")
    _created.append(url)
    seed(url)
    return url


@pytest.fixture(scope="session")
def wall_url(_created: list[str]) -> str:
    """The demo city with patrol visits and service coverage computed (the wall's tests;
    the browser test adds cases, the service tests cross-check what they read)."""
    from tests.gridmap.web.wall_world import build_wall_world

    url = make_test_database("wall")
    _created.append(url)
    build_wall_world(url)
    return url


@pytest.fixture(scope="session")
def app(seeded_url: str) -> Dash:
    return create_app(seeded_url)


@pytest.fixture(scope="session")
def client(app: Dash, seeded_url: str) -> FlaskClient:
    """A Flask test client signed in as an admin (POSTs send X-CSRFToken)."""
    test_client = app.server.test_client()
    client_sign_in(test_client, *ensure_account(seeded_url, "admin"))
    return test_client


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


#: Live servers started so far: each gets its own loopback address (127.0.0.2, .3, …).
#: Browsers keep cookies per host, not per port, so servers sharing 127.0.0.1 overwrite
#: each other's session and CSRF cookies in the session-wide browser (a page of one server
#: still polling while another is signed in gave 401s and CSRF refusals).
_HOSTS = itertools.count(2)


@dataclass
class LiveServer:
    """A ``gridmap serve`` subprocess on ``database_url``; ``get``/``post`` go through a
    session signed in as an admin (see :meth:`session` for other roles)."""

    url: str
    process: subprocess.Popen
    log: Path
    database_url: str = ""
    _sessions: dict[str, requests.Session] = field(default_factory=dict)

    def account(self, role: str = "admin", grids: tuple[str, ...] = ()) -> tuple[str, str]:
        """(username, password) of an account of ``role`` in the server's database."""
        return ensure_account(self.database_url, role, grids=grids)

    def session(self, role: str = "admin") -> requests.Session:
        """A requests.Session signed in as ``role`` (made once per server and role)."""
        if role not in self._sessions:
            self._sessions[role] = signed_in_session(self.url, *self.account(role))
        return self._sessions[role]

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session().get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.session().post(self.url + path, timeout=30, **kwargs)

    def open(self, driver, path: str = "/", role: str = "admin") -> None:
        """Sign a selenium driver in as ``role`` and open ``path``."""
        sign_in(driver, self.url, *self.account(role), next_path=path)


def start_server(
    database_url: str,
    name: str,
    workers: int = 1,
    env: dict[str, str] | None = None,
    at: tuple[str, int] | None = None,
) -> LiveServer:
    """Start ``gridmap serve`` (``workers`` processes) on a free port (or ``at``: host and
    port, e.g. to restart one) and wait until /healthz answers ok."""
    host, port = at or (f"127.0.0.{next(_HOSTS)}", 0)
    port = port or free_port(host)
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"server-{name}.log"
    env = {**os.environ, "GRIDMAP_DATABASE_URL": database_url, **(env or {})}
    command = [str(Path(sys.executable).parent / "gridmap"), "serve", "--host", host]
    command += ["--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    server = LiveServer(f"http://{host}:{port}", process, log, database_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gridmap serve exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(server.url + "/healthz", timeout=30).json().get("ok"):
                return server
        except (requests.ConnectionError, ValueError):
            pass
        time.sleep(0.3)
    stop_server(server)
    raise RuntimeError(f"gridmap serve did not become healthy: {log.read_text()[-2000:]}")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def live_servers() -> Iterator[Callable[[str, str], LiveServer]]:
    """Start (once per database) and return a live server; all stop at session end."""
    started: dict[str, LiveServer] = {}

    def get(database_url: str, name: str) -> LiveServer:
        if database_url not in started:
            started[database_url] = start_server(database_url, name)
        return started[database_url]

    yield get
    for server in started.values():
        stop_server(server)


@pytest.fixture(scope="session")
def seeded_server(live_servers: Callable[[str, str], LiveServer], seeded_url: str) -> LiveServer:
    return live_servers(seeded_url, "seeded")


@pytest.fixture(scope="session")
def demo_server(live_servers: Callable[[str, str], LiveServer], demo_url: str) -> LiveServer:
    return live_servers(demo_url, "demo")


#: The session's browser, once started (for :func:`blank_page_after_module`).
_BROWSERS: list = []


@pytest.fixture(scope="module", autouse=True)
def blank_page_after_module() -> Iterator[None]:
    """Leave no page open after a module's tests: a live page keeps polling and drawing
    (CPU the next tests need) and keeps requesting over kept-alive connections, served even
    by an in-process server whose module is done (its requests then count in the next
    module's process-wide state, e.g. the tile cache's)."""
    yield
    for driver in _BROWSERS:
        with contextlib.suppress(Exception):  # a crashed browser fails its own tests
            driver.get("about:blank")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium (no network needed: every asset comes from the app)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="gridmap-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in [*CHROME_ARGS, f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.set_page_load_timeout(60)
    _BROWSERS.append(driver)
    try:
        yield driver
    finally:
        _BROWSERS.remove(driver)
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def set_viewport(driver, width: int | None = None, height: int | None = None) -> None:
    """Make the page's viewport exactly ``width``×``height`` (no argument: the window's)."""
    if width is None or height is None:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        return
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


@pytest.fixture
def full_hd(browser) -> Iterator[None]:
    """A 1920×1080 viewport (restored afterwards)."""
    set_viewport(browser, 1920, 1080)
    yield
    set_viewport(browser)
