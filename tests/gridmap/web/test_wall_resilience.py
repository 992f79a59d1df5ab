"""Wall resilience: stop the database under an open wall page, see "数据截至 HH:MM:SS" (the
data shown is kept), start it again, see fresh data — without a reload.

The database is a PRIVATE embedded cluster in a temporary folder (never the shared one),
holding the tiny known city of tests.layers.seed; ``gridmap serve`` runs against it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import text

from gridmap.access.accounts import issue_token
from gridmap.db.cluster import Cluster
from gridmap.db.engine import ensure_database, get_engine
from gridmap.db.migrations import upgrade
from gridmap.settings import get_settings
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer, start_server, stop_server
from tests.gridmap.web.test_browser import wait_for
from tests.layers.seed import seed
from tests.signin import ensure_account

pytestmark = pytest.mark.browser

NOTICE_JS = """
const n = document.getElementById('wall-notice');
return n ? [n.className, n.textContent,
            Array.from(document.querySelectorAll('#wall-ticker .ticker-item')).map(li => li.id),
            Array.from(document.querySelectorAll('.wall-tile-value')).map(v => v.textContent)]
         : null;
"""


def add_case(url: str, title: str) -> int:
    with get_engine(url).begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO cases (title, category, status, source, reported_at, geom) VALUES "
                "(:t, 'municipal', 'reported', 'hotline_12345', now(), "
                "ST_SetSRID(ST_MakePoint(120.02, 30.02), 4326)) RETURNING id"
            ),
            {"t": title},
        ).scalar_one()


@pytest.fixture
def private_wall(tmp_path: Path) -> Iterator[tuple[Cluster, str, LiveServer]]:
    """A private cluster with the tiny city and a command account, and a server on it."""
    cluster = Cluster(tmp_path / "wall" / ".gridmap")
    server = None
    try:
        cluster.start()
        url = cluster.url("gridmap_wall")
        ensure_database(url)
        upgrade(url, get_settings().sql_dir / "migrations")
        seed(url)
        for n in range(3):
            add_case(url, f"初始事件 {n}")
        server = start_server(url, "wall-resilience")
        yield cluster, url, server
    finally:
        if server is not None:
            stop_server(server)
        cluster.remove()


def notice(driver: WebDriver) -> list:
    return driver.execute_script(NOTICE_JS) or ["", "", [], []]


def test_wall_survives_a_database_restart(
    browser: WebDriver, private_wall: tuple[Cluster, str, LiveServer]
) -> None:
    cluster, url, server = private_wall
    user, _ = ensure_account(url, "command", username="wall_resilience")
    token = issue_token(get_engine(url), user, "display", "resilience test")
    browser.get(f"{server.url}/login?token={token}&next=/wall")
    wait_for(browser, lambda d: notice(d)[0] == "wall-notice live" and len(notice(d)[2]) == 3)
    browser.execute_script("window.__wallMarker = 'still-here'")
    shown = notice(browser)
    assert shown[3][:4] != ["—"] * 4

    # The database goes away: the notice says since when the data is; the data stays.
    get_engine(url).dispose()
    assert cluster.stop()
    stopped = time.monotonic()
    wait_for(browser, lambda d: notice(d)[0] == "wall-notice stale", 15, str(notice(browser)))
    print(f"stale notice after {time.monotonic() - stopped:.1f} s")
    down = notice(browser)
    assert down[1].startswith("数据截至 ") and "数据库连接中断" in down[1], down[1]
    assert down[2] == shown[2] and down[3][:4] == shown[3][:4]
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "wall-stale.png"))
    time.sleep(3)  # still stale, still the same data
    assert notice(browser)[0] == "wall-notice stale"

    # Back: live again by itself, and new data arrives.
    cluster.start()
    started = time.monotonic()
    wait_for(browser, lambda d: notice(d)[0] == "wall-notice live", 30, str(notice(browser)))
    print(f"live again after {time.monotonic() - started:.1f} s")
    case_id = add_case(url, "恢复后新事件")
    wait_for(
        browser,
        lambda d: notice(d)[2][:1] == [f"ticker-case-{case_id}"],
        10,
        str(notice(browser)),
    )
    assert browser.execute_script("return window.__wallMarker") == "still-here"
