"""Primary lost (issue 16): a served app on a private primary with a streaming standby.
The primary stops under a stream of case posts: reads keep answering from the replica
(read-only), every write is a 503 with Retry-After, and the posters' retries with the same
Idempotency-Key succeed once the primary is back: every case exactly once. An open wall
shows the read-only notice while the primary is down and drops it after, without reload;
an open /lead shows the read-only banner then, and drops it after."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import text

from gridmap.access.accounts import issue_token
from gridmap.db.engine import get_engine
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer, start_server, stop_server
from tests.gridmap.web.test_browser import wait_for
from tests.replication import Replicated
from tests.signin import api_token, ensure_account, sign_in

pytestmark = pytest.mark.slow

CASE = {"subcategory": "street_light", "lon": 120.005, "lat": 30.005}
TILE = "/tiles/roads/13/6827/3379.pbf"
POSTED_SQL = (
    "SELECT title, count(*), min(id) FROM cases WHERE title LIKE 'lost post %' GROUP BY title"
)
READ_ONLY_EN = (
    "Read-only: the main database is down; showing a replica's data, changes cannot be saved "
    "for now"
)
WALL_NOTICE_JS = """
const n = document.getElementById('wall-notice');
return n ? [n.className, n.textContent] : ['', ''];
"""


@pytest.fixture(scope="module")
def lost(replicated_pair: Replicated) -> Iterator[tuple[Replicated, LiveServer]]:
    pair = replicated_pair
    server = None
    try:
        env = {
            "GRIDMAP_REPLICA_URLS": json.dumps([pair.replica_url]),
            "GRIDMAP_REPLICA_CHECK_S": "0.5",
        }
        server = start_server(pair.url, "primary-lost", env=env)
        yield pair, server
    finally:
        if server is not None:
            stop_server(server)


def banner(driver: WebDriver) -> str | None:
    """The read-only banner's text (None when there is none), read in one step: the banner
    may go between finding it and reading it."""
    return driver.execute_script(
        "const e = document.getElementById('gridmap-read-only'); return e ? e.innerText : null"
    )


def close_other_tabs(driver: WebDriver, keep: str) -> None:
    """Every tab but ``keep`` closed (a tab left open polls a stopped server in later tests)."""
    for handle in driver.window_handles:
        if handle != keep:
            driver.switch_to.window(handle)
            driver.close()
    driver.switch_to.window(keep)


def wait_until(check, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_writes_wait_reads_go_on_nothing_lost_or_doubled(
    lost: tuple[Replicated, LiveServer],
) -> None:
    pair, server = lost
    token = api_token(pair.url, "admin", username="lost_admin")
    reader = server.session("command")  # signed in before the outage
    assert reader.get(server.url + TILE, timeout=30).status_code == 200
    seen: Counter = Counter()
    problems: list[str] = []
    confirmed: dict[str, int] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def post(n: int) -> None:
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {token}"
            post_until_stopped(http, n)

    def post_until_stopped(http: requests.Session, n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            title, key = f"lost post {n}-{i}", f"lost-{n}-{i}"
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                r = http.post(
                    f"{server.url}/api/v1/cases",
                    json=CASE | {"title": title},
                    headers={"Idempotency-Key": key},
                    timeout=30,
                )
                with lock:
                    if r.status_code == 201:
                        seen["ok"] += 1
                        confirmed[title] = r.json()["id"]
                        break
                    if r.status_code == 503 and r.headers.get("Retry-After") == "5":
                        seen["503"] += 1
                        if "unavailable" not in r.json()["error"]["message"]:
                            problems.append(r.text[:200])
                    else:
                        problems.append(f"{r.status_code}: {r.text[:200]}")
                time.sleep(0.3)  # (shorter than Retry-After, to keep the test short)
            else:
                with lock:
                    problems.append(f"{title}: never confirmed")
                return

    posters = [threading.Thread(target=post, args=(n,)) for n in range(2)]
    for thread in posters:
        thread.start()
    time.sleep(1.0)
    pair.wait_replayed()  # (asynchronous replication: a replica may miss the last writes)
    get_engine(pair.url).dispose()
    assert pair.primary.stop()
    try:
        wait_until(lambda: seen["503"] >= 2)
        health = requests.get(server.url + "/healthz", timeout=30)
        assert (health.status_code, health.json()) == (
            200,
            {"ok": True, "database": False, "read_only": True},
        )
        tile = reader.get(server.url + TILE, timeout=30)  # from the replica
        assert (tile.status_code, len(tile.content) > 0) == (200, True)
        refused = reader.post(server.url + "/api/v1/cases", json=CASE | {"title": "页面提交"})
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
        assert refused.json() == {
            "error": {"message": "The database is unavailable; try again shortly."}
        }
    finally:
        pair.primary.start()
    wait_until(lambda: requests.get(server.url + "/healthz", timeout=30).json()
               == {"ok": True, "database": True})  # fmt: skip
    time.sleep(1.0)
    stop.set()
    for thread in posters:
        thread.join(60)
    assert problems == []
    assert seen["503"] >= 2 and seen["ok"] >= 4, seen
    reader.close()
    pair.wait_replayed()  # the standby streams again
    with get_engine(pair.url).connect() as conn:
        rows = conn.execute(text(POSTED_SQL)).all()
    assert {title: (n, case_id) for title, n, case_id in rows} == {
        title: (1, case_id) for title, case_id in confirmed.items()
    }


@pytest.mark.browser
def test_the_wall_says_read_only_while_the_primary_is_lost(
    browser: WebDriver, lost: tuple[Replicated, LiveServer]
) -> None:
    pair, server = lost
    user, _ = ensure_account(pair.url, "command", username="lost_wall")
    token = issue_token(get_engine(pair.url), user, "display", "primary lost test")
    browser.get(f"{server.url}/login?token={token}&next=/wall")

    def shown(d: WebDriver) -> list[str]:
        return d.execute_script(WALL_NOTICE_JS)

    wait_for(browser, lambda d: shown(d)[0] == "wall-notice live")
    browser.execute_script("window.__wallMarker = 'still-here'")
    wall_tab = browser.current_window_handle
    # A page with no live notice of its own (/lead), signed in before the loss (a sign-in
    # writes): the banner of assets/read-only.js says it instead.
    browser.switch_to.new_window("tab")
    try:
        sign_in(browser, server.url, *ensure_account(pair.url, "admin"), next_path="/lead?lang=en")
        wait_for(browser, lambda d: d.find_elements(By.ID, "lead-message"), 30, "no /lead")
        lead_tab = browser.current_window_handle
        pair.wait_replayed()
        get_engine(pair.url).dispose()
        assert pair.primary.stop()
        try:
            wait_for(browser, lambda d: banner(d) == READ_ONLY_EN, 25, "no banner on /lead")
            ARTIFACTS.mkdir(exist_ok=True)
            browser.save_screenshot(str(ARTIFACTS / "read-only-lead.png"))
            browser.switch_to.window(wall_tab)
            read_only = "wall-notice live read-only"
            wait_for(browser, lambda d: shown(d)[0] == read_only, 15, "no notice")
            assert "只读模式" in shown(browser)[1], shown(browser)
        finally:
            pair.primary.start()
        wait_for(browser, lambda d: shown(d)[0] == "wall-notice live", 15, str(shown(browser)))
        assert browser.execute_script("return window.__wallMarker") == "still-here"
        browser.switch_to.window(lead_tab)
        wait_for(browser, lambda d: banner(d) is None, 25, "the banner should go")
    finally:
        close_other_tabs(browser, wall_tab)
        browser.get("about:blank")  # no open connection delays the server's stop
