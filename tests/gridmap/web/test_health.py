"""``/healthz`` says whether the app and its database answer."""

from __future__ import annotations

from flask.testing import FlaskClient

from gridmap.web.app import create_app
from tests.gridmap.web.conftest import LiveServer


def test_healthz_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"ok": True, "database": True})


def test_healthz_over_http(seeded_server: LiveServer) -> None:
    response = seeded_server.get("/healthz")
    assert response.json() == {"ok": True, "database": True}
    assert response.headers["Server"] == "gunicorn/asgi"  # its asyncio worker


def test_healthz_database_down() -> None:
    dead = create_app("postgresql://nobody@127.0.0.1:1/none").server.test_client()
    response = dead.get("/healthz")
    assert (response.status_code, response.get_json()) == (503, {"ok": False, "database": False})
    assert response.headers["Retry-After"] == "5"
