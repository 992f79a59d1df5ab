"""In headless Chromium: a grid lead signs in through /login (zh-CN) and lands on the map;
a case whose title and description are script payloads shows as text, and no alert fires."""

from __future__ import annotations

import pytest
import requests
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from gridmap.settings import PROJECT_ROOT
from tests.gridmap.access.conftest import LEAD, LEAD_PASSWORD, Town
from tests.signin import ensure_account, sign_in, signed_in_session

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
SCRIPT = "<script>window.__pwned = 1; alert(1)</script>"
IMG = '<img src=x onerror="window.__pwned = 2; alert(2)">'

pytestmark = pytest.mark.browser


def no_alert(driver: WebDriver) -> bool:
    try:
        _ = driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def test_lead_signs_in_through_the_login_page(browser: WebDriver, base_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    browser.delete_all_cookies()
    browser.get(base_url + "/patrols")  # anonymous: sent to the sign-in page
    WebDriverWait(browser, 30).until(lambda d: "/login" in d.current_url)
    assert "next=%2Fpatrols" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    assert browser.find_element(By.CSS_SELECTOR, "#login-form h2").text == "登录"
    browser.find_element(By.ID, "login-username").send_keys(LEAD)
    browser.find_element(By.ID, "login-password").send_keys(LEAD_PASSWORD)
    browser.save_screenshot(str(ARTIFACTS / "login-zh.png"))
    browser.find_element(By.ID, "login-submit").click()
    WebDriverWait(browser, 60).until(lambda d: d.current_url.endswith("/patrols"))
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "patrols-graph"))
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["gridmap_session"]["httpOnly"] is True
    assert "_csrf_token" in cookies  # Dash sends it back as X-CSRFToken
    browser.get(base_url + "/logout")
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "login-notice"))
    assert browser.find_element(By.ID, "login-notice").text == "您已退出登录。"


def test_wrong_password_shows_the_message(browser: WebDriver, base_url: str) -> None:
    browser.delete_all_cookies()
    browser.get(base_url + "/login?lang=en")
    browser.find_element(By.ID, "login-username").send_keys(LEAD)
    browser.find_element(By.ID, "login-password").send_keys("not-the-password")
    browser.find_element(By.ID, "login-submit").click()
    error = WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "login-error"))
    assert error.text == "Wrong username or password, or the account is disabled."


def test_script_payload_in_a_case_stays_text(browser: WebDriver, base_url: str, town: Town) -> None:
    user, password = ensure_account(town.url, "admin")
    http = signed_in_session(base_url, user, password)
    created = http.post(
        base_url + "/api/v1/cases",
        json={
            "title": SCRIPT,
            "description": IMG,
            "address": IMG,
            "category": "municipal",
            "lon": 118.775,
            "lat": 32.045,
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    browser.delete_all_cookies()
    sign_in(browser, base_url, user, password, next_path="/")
    ticker = "#map-ticker .ticker-item"
    WebDriverWait(browser, 90).until(
        lambda d: any(SCRIPT in e.text for e in d.find_elements(By.CSS_SELECTOR, ticker))
    )
    assert no_alert(browser)
    assert browser.execute_script("return window.__pwned === undefined")
    assert not browser.find_elements(By.CSS_SELECTOR, "#map-ticker script, #map-ticker img")
    detail = requests.get(
        f"{base_url}/api/v1/cases/{created.json()['id']}", cookies=http.cookies, timeout=30
    ).json()
    assert detail["description"] == IMG
