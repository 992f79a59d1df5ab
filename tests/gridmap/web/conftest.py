"""Web fixtures: the app in-process (Flask test client), live ``gridmap serve`` servers
started once per session, and a headless Chromium driven by selenium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from dash import Dash
from flask.testing import FlaskClient

from gridmap.settings import PROJECT_ROOT
from gridmap.web.app import create_app
from tests.conftest import make_test_database
from tests.layers.seed import seed

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
def app(seeded_url: str) -> Dash:
    return create_app(seeded_url)


@pytest.fixture(scope="session")
def client(app: Dash) -> FlaskClient:
    return app.server.test_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """A ``gridmap serve`` subprocess."""

    url: str
    process: subprocess.Popen
    log: Path

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)


def start_server(database_url: str, name: str) -> LiveServer:
    """Start ``gridmap serve`` on a free port and wait until /healthz answers ok."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"server-{name}.log"
    env = {**os.environ, "GRIDMAP_DATABASE_URL": database_url}
    command = [str(Path(sys.executable).parent / "gridmap"), "serve", "--port", str(port)]
    command += ["--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gridmap serve exited: {log.read_text()[-2000:]}")
        try:
            if server.get("/healthz").json().get("ok"):
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
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
