"""Signing in from tests: accounts with known passwords, a signed-in ``requests.Session``
on a live server, a signed-in Flask test client, bearer tokens, and a selenium sign-in.

Typical use (see also the ``login_as`` fixture in tests/conftest.py)::

    user, password = ensure_account(db_url, "grid_lead", grids=("G1",))
    http = signed_in_session(server.url, user, password)   # cookies + X-CSRFToken set
    http.get(server.url + "/api/v1/cases")

On the demo database (``demo_url``) the demo accounts are used as they are (admin,
command, planner, lead: see gridmap.demo.accounts) unless a username is given.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import requests
from flask.testing import FlaskClient
from sqlalchemy import text

from gridmap.access.accounts import issue_token
from gridmap.access.passwords import hash_password, verify_password
from gridmap.db.engine import get_engine
from gridmap.demo.accounts import DEMO_ACCOUNTS

#: Password of every account made by :func:`ensure_account`.
TEST_PASSWORD = "test-password-1"
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
_made: dict[tuple[str, str, tuple[str, ...]], tuple[str, str]] = {}


def _demo_account(url: str, role: str) -> tuple[str, str] | None:
    for account in DEMO_ACCOUNTS:
        if account.role == role:
            with get_engine(url).connect() as conn:
                stored = conn.execute(
                    text("SELECT password_hash FROM users WHERE username = :u AND active"),
                    {"u": account.username},
                ).scalar()
            if stored and verify_password(stored, account.password):
                return account.username, account.password
    return None


def ensure_account(
    url: str, role: str, *, username: str | None = None, grids: tuple[str, ...] = ()
) -> tuple[str, str]:
    """(username, password) of an active account of ``role`` in database ``url``.

    Without ``username``: the demo account of that role when the database has it (and no
    grids are asked for), else ``test_<role>``. ``grids`` (grid codes) become the
    account's exact assignment."""
    key = (url, username or role, tuple(grids))
    if key in _made:
        return _made[key]
    if username is None and not grids and (demo := _demo_account(url, role)):
        _made[key] = demo
        return demo
    username = username or f"test_{role}"
    with get_engine(url).begin() as conn:
        user_id = conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, password_hash) "
                "VALUES (:u, :u, :r, :h) ON CONFLICT (username) DO UPDATE "
                "SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash, "
                "active = true RETURNING id"
            ),
            {"u": username, "r": role, "h": hash_password(TEST_PASSWORD)},
        ).scalar_one()
        conn.execute(text("DELETE FROM user_grids WHERE user_id = :u"), {"u": user_id})
        if grids:
            conn.execute(
                text(
                    "INSERT INTO user_grids (user_id, grid_id) "
                    "SELECT :u, id FROM grids WHERE code = ANY(:c)"
                ),
                {"u": user_id, "c": list(grids)},
            )
    _made[key] = (username, TEST_PASSWORD)
    return _made[key]


def api_token(url: str, role: str = "api_client", *, username: str | None = None) -> str:
    """A fresh API bearer token of an account of ``role`` (made if needed)."""
    user, _ = ensure_account(url, role, username=username)
    return issue_token(get_engine(url), user, "api")


def _csrf(html: str) -> str:
    match = _CSRF_INPUT.search(html)
    assert match, "the sign-in page has no csrf_token field"
    return match.group(1)


def signed_in_session(base_url: str, username: str, password: str) -> requests.Session:
    """A requests.Session signed in on a live server; POSTs carry ``X-CSRFToken``."""
    http = requests.Session()
    page = http.get(base_url + "/login", timeout=30)
    response = http.post(
        base_url + "/login",
        data={"username": username, "password": password, "csrf_token": _csrf(page.text)},
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 302, f"sign-in of {username} failed: {response.status_code}"
    http.get(base_url + "/login", timeout=30)  # an HTML page sets the _csrf_token cookie
    token = http.cookies.get("_csrf_token")
    assert token, "no _csrf_token cookie after sign-in"
    http.headers["X-CSRFToken"] = token
    return http


def client_sign_in(client: FlaskClient, username: str, password: str) -> None:
    """Sign a Flask test client in; its later requests send ``X-CSRFToken``."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": _csrf(page.text)},
    )
    assert response.status_code == 302, f"sign-in of {username} failed: {response.status_code}"
    client.get("/login")
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None
    client.environ_base["HTTP_X_CSRFTOKEN"] = cookie.value


def sign_in(driver, base_url: str, username: str, password: str, next_path: str = "/") -> None:
    """Sign a selenium driver in through /login, landing on ``next_path``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base_url}/login?{urlencode({'next': next_path})}")
    WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.ID, "login-username")))
    driver.find_element(By.ID, "login-username").clear()
    driver.find_element(By.ID, "login-username").send_keys(username)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 30).until(lambda d: "/login" not in d.current_url)
