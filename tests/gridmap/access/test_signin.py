"""Sign-in over real HTTP: login and logout pages in both languages, sessions, the login
rate limit, CSRF refusal, bearer API tokens, display tokens for wall screens, the audit log."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests
from sqlalchemy import text

from gridmap.access.accounts import add_user, issue_token, set_active
from gridmap.access.web import SECRET_META_KEY, secret_key
from gridmap.db.engine import get_engine
from gridmap.settings import Settings, get_settings
from tests.gridmap.access.conftest import LEAD, LEAD_PASSWORD, Town
from tests.signin import TEST_PASSWORD, ensure_account, signed_in_session

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _audit(town: Town, action: str, username: str | None = None) -> int:
    with get_engine(town.url).connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = :a "
                "AND (CAST(:u AS text) IS NULL OR username = :u)"
            ),
            {"a": action, "u": username},
        ).scalar_one()


def _post_login(http: requests.Session, base: str, username: str, password: str, **extra):
    token = CSRF.search(http.get(base + "/login", timeout=10).text).group(1)
    data = {"username": username, "password": password, "csrf_token": token, **extra}
    return http.post(base + "/login", data=data, timeout=10, allow_redirects=False)


def test_login_page_in_both_languages(base_url: str) -> None:
    zh = requests.get(base_url + "/login", timeout=10)
    en = requests.get(base_url + "/login?lang=en", timeout=10)
    assert zh.status_code == en.status_code == 200
    assert '<html lang="zh-CN">' in zh.text and "用户名" in zh.text and "密码" in zh.text
    assert '<html lang="en">' in en.text and "Username" in en.text and "Sign in" in en.text


def test_login_page_names_its_icon(base_url: str) -> None:
    """Left to guess, a browser asks for /favicon.ico and is sent to a second sign-in page
    while the first is being filled in (seen once right before a CSRF refusal of the form);
    the page names the app's icon, served without sign-in."""
    page = requests.get(base_url + "/login", timeout=10)
    assert '<link rel="icon" href="/_favicon.ico">' in page.text
    icon = requests.get(base_url + "/_favicon.ico", timeout=10, allow_redirects=False)
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/")


def test_lead_signs_in_and_out(base_url: str, town: Town) -> None:
    before = (_audit(town, "login", LEAD), _audit(town, "logout", LEAD))
    http = requests.Session()
    anonymous = http.get(base_url + "/patrols", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/login?next=%2Fpatrols"
    response = _post_login(http, base_url, LEAD, LEAD_PASSWORD, next="/patrols")
    assert (response.status_code, response.headers["Location"]) == (302, "/patrols")
    cookie = next(c for c in http.cookies if c.name == "gridmap_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert http.get(base_url + "/patrols", timeout=10, allow_redirects=False).status_code == 200
    assert http.get(base_url + "/plan", timeout=10, allow_redirects=False).status_code == 403
    assert http.get(base_url + "/api/v1/cases/kpis", timeout=10).json()["total"] == (
        town.own_case_count
    )
    out = http.get(base_url + "/logout", timeout=10, allow_redirects=False)
    assert out.status_code == 302 and out.headers["Location"].startswith("/login?out=1")
    assert http.get(base_url + "/api/v1/cases/kpis", timeout=10).status_code == 401
    assert (_audit(town, "login", LEAD), _audit(town, "logout", LEAD)) == (
        before[0] + 1,
        before[1] + 1,
    )


def test_wrong_password_is_refused_and_audited(base_url: str, town: Town) -> None:
    before = _audit(town, "login_failed", "planner")
    response = _post_login(requests.Session(), base_url, "planner", "not-the-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert _audit(town, "login_failed", "planner") == before + 1


def test_next_cannot_leave_the_site(base_url: str) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = _post_login(requests.Session(), base_url, LEAD, LEAD_PASSWORD, next=target)
        assert response.headers["Location"] == "/lead", target  # the lead's home


def test_login_is_rate_limited_per_account(
    base_url: str, town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "login_max_failures", 3)
    user, _ = ensure_account(town.url, "command", username="rate_limited_cmd")
    http = requests.Session()
    codes = [_post_login(http, base_url, user, "wrong-password").status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    blocked = _post_login(http, base_url, user, TEST_PASSWORD)  # even the right password
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) == get_settings().login_window_s
    assert "登录失败次数过多" in blocked.text
    # Another account from the same address is not blocked (the address limit is higher).
    assert _post_login(http, base_url, LEAD, LEAD_PASSWORD).status_code == 302


def test_login_is_rate_limited_per_address(
    base_url: str, town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    with get_engine(town.url).connect() as conn:
        failures = conn.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'login_failed' "
                "AND client_ip = '127.0.0.1' AND at > now() - interval '300 seconds'"
            )
        ).scalar_one()
    monkeypatch.setattr(get_settings(), "login_max_failures_ip", failures + 1)
    http = requests.Session()
    assert _post_login(http, base_url, "nobody_here", "x-wrong-pass").status_code == 401
    assert _post_login(http, base_url, LEAD, LEAD_PASSWORD).status_code == 429


def test_csrf_is_required_for_session_posts(base_url: str, town: Town) -> None:
    user, password = ensure_account(town.url, "admin", username="csrf_admin")
    http = signed_in_session(base_url, user, password)
    body = {"title": "路灯不亮", "category": "municipal", "lon": 118.77, "lat": 32.04}
    token = http.headers.pop("X-CSRFToken")
    refused = http.post(base_url + "/api/v1/cases", json=body, timeout=10)
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    forged = http.post(
        base_url + "/api/v1/cases", json=body, headers={"X-CSRFToken": "forged"}, timeout=10
    )
    assert forged.status_code == 403
    dash = http.post(base_url + "/_dash-update-component", json={}, timeout=10)
    assert dash.status_code == 403
    accepted = http.post(
        base_url + "/api/v1/cases", json=body, headers={"X-CSRFToken": token}, timeout=10
    )
    assert accepted.status_code == 201
    # Without the session's token a login form post is refused too (login CSRF).
    page = requests.post(
        base_url + "/login", data={"username": LEAD, "password": LEAD_PASSWORD}, timeout=10
    )
    assert page.status_code == 400


def test_bearer_tokens_for_intake_only(base_url: str, town: Town) -> None:
    engine = get_engine(town.url)
    add_user(engine, "intake_app", "api_client", None)
    token = issue_token(engine, "intake_app", "api")
    with engine.connect() as conn:  # stored hashed, never in clear
        stored = conn.execute(text("SELECT token_sha256 FROM user_tokens")).scalars().all()
    assert token not in stored and all(len(s) == 64 for s in stored)
    auth = {"Authorization": f"Bearer {token}"}
    body = {"title": "井盖缺失", "category": "municipal", "lon": 118.77, "lat": 32.04}
    created = requests.post(base_url + "/api/v1/cases", json=body, headers=auth, timeout=10)
    assert created.status_code == 201  # no CSRF token needed with a bearer token
    assert created.json()["reporter_name"] is None
    open311 = requests.post(
        base_url + "/open311/v2/requests.json",
        data={"api_key": token, "service_code": "street_light", "lat": 32.04, "long": 118.77},
        timeout=10,
    )
    assert open311.status_code in (200, 201), open311.text
    assert requests.get(base_url + "/api/v1/cases", headers=auth, timeout=10).status_code == 403
    assert requests.get(base_url + "/", headers=auth, timeout=10).status_code == 403
    bad = {"Authorization": "Bearer gmt_not-a-real-token"}
    assert requests.post(base_url + "/api/v1/cases", json=body, headers=bad).status_code == 401
    set_active(engine, "intake_app", False)
    assert requests.post(base_url + "/api/v1/cases", json=body, headers=auth).status_code == 401


def test_display_token_signs_a_wall_in(base_url: str, town: Town) -> None:
    engine = get_engine(town.url)
    token = issue_token(engine, "command", "display", "wall 1")
    http = requests.Session()
    response = http.get(f"{base_url}/login?token={token}", timeout=10, allow_redirects=False)
    assert (response.status_code, response.headers["Location"]) == (302, "/wall")
    session = next(c for c in http.cookies if c.name == "gridmap_session")
    days = (session.expires - time.time()) / 86400
    assert days > get_settings().display_session_days - 1
    kpis = http.get(base_url + "/api/v1/cases/kpis", timeout=10)
    assert kpis.status_code == 200
    lead_token = issue_token(engine, LEAD, "display")  # not a command account: refused
    refused = requests.get(f"{base_url}/login?token={lead_token}", timeout=10)
    assert refused.status_code == 401 and "令牌无效" in refused.text
    api_token = issue_token(engine, "command", "api")  # an API token is no display token
    assert requests.get(f"{base_url}/login?token={api_token}", timeout=10).status_code == 401
    # A browser still signed in as a grid lead (a scoped reader) signs the wall in too: the
    # sign-in reads tokens and the audit log as the app, not through the lead's scope.
    lead_browser = signed_in_session(base_url, LEAD, LEAD_PASSWORD)
    again = lead_browser.get(f"{base_url}/login?token={token}", timeout=10, allow_redirects=False)
    assert (again.status_code, again.headers["Location"]) == (302, "/wall")


def test_disabling_an_account_ends_its_session(base_url: str, town: Town) -> None:
    user, password = ensure_account(town.url, "planner", username="leaving_planner")
    http = signed_in_session(base_url, user, password)
    assert http.get(base_url + "/api/v1/cases/kpis", timeout=10).status_code == 200
    set_active(get_engine(town.url), user, False)
    assert http.get(base_url + "/api/v1/cases/kpis", timeout=10).status_code == 401


def test_servers_of_one_database_share_the_session_key(town: Town, tmp_path) -> None:
    """Unless GRIDMAP_SECRET_KEY is set, the key is the database's: made from the first
    server's own (its <home>/secret_key), then used by every other server (several app
    servers behind HAProxy accept each other's cookies)."""
    engine = get_engine(town.url)
    first = Settings(home=tmp_path / "first", secret_key=None)
    second = Settings(home=tmp_path / "second", secret_key=None)
    with engine.begin() as conn:
        kept = conn.execute(text(f"SELECT value FROM gridmap_meta WHERE key = '{SECRET_META_KEY}'"))
        kept = kept.scalar_one()  # the town's server made it
        conn.execute(text(f"DELETE FROM gridmap_meta WHERE key = '{SECRET_META_KEY}'"))
    try:
        own = [secret_key(s) for s in (first, second)]  # no database: each machine's own
        assert own[0] != own[1] and own[0] == (tmp_path / "first/secret_key").read_text()
        assert secret_key(first, engine) == own[0]  # the first server to ask stores its own
        assert secret_key(second, engine) == own[0]  # and the next one uses it
        assert secret_key(Settings(home=tmp_path, secret_key="set"), engine) == "set"
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE gridmap_meta SET value = CAST(:v AS jsonb) WHERE key = :k"),
                {"v": json.dumps(kept), "k": SECRET_META_KEY},
            )
