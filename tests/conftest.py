"""Suite-wide fixtures: a real PostGIS database made by the project for this run.

The suite creates its own databases on the embedded cluster (or on the server named by
GRIDMAP_DATABASE_URL), named ``gridmap_test_<pid>_*``, and drops them at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from gridmap.db.engine import (
    database_url,
    dispose_engines,
    drop_database,
    ensure_database,
    get_engine,
)
from gridmap.db.migrations import upgrade
from gridmap.settings import get_settings
from tests.replication import Replicated, replicated

#: Seed of the demo city the shared fixture loads (tests assert exact counts for it).
DEMO_SEED = 7


#: Databases made once per run and copied by the tests that need one (dropped at its end).
_TEMPLATES: dict[str, str] = {}


def make_demo_database(suffix: str) -> str:
    """A new test database holding the small demo city (seed DEMO_SEED); its URL.

    The city is loaded once per run (~10 s) into a template that each call copies (~0.3 s)."""
    from gridmap.demo.load import load_demo

    if "demo" not in _TEMPLATES:
        template = make_test_database("demo_template")
        load_demo(template, scale="small", seed=DEMO_SEED, progress=False)
        get_engine(template).dispose()  # a database is copied only when nobody is on it
        _TEMPLATES["demo"] = template
    return make_test_database(suffix, template=_TEMPLATES["demo"])


def make_test_database(suffix: str, *, migrate: bool = True, template: str | None = None) -> str:
    """Create (or recreate) a uniquely named test database, migrated (or a copy of the
    database at the URL ``template``); return its URL."""
    base = make_url(database_url())
    url = base.set(database=f"gridmap_test_{os.getpid()}_{suffix}").render_as_string(
        hide_password=False
    )
    drop_database(url)
    if template is not None:
        ensure_database(url, template=make_url(template).database)
    else:
        ensure_database(url)
        if migrate:
            upgrade(url, get_settings().sql_dir / "migrations")
    return url


@pytest.fixture(scope="session")
def _created() -> Iterator[list[str]]:
    urls: list[str] = []
    yield urls
    for url in [*urls, *_TEMPLATES.values()]:
        get_engine(url).dispose()
        drop_database(url)
    _TEMPLATES.clear()


@pytest.fixture(scope="module", autouse=True)
def _close_idle_connections() -> Iterator[None]:
    """After each module, this process's pooled connections are closed. Every module's
    database kept its idle ones until the end of the run: ~90 by the web tests, so a server
    the tests start then met the cluster's limit of 100 ("too many clients": a 503)."""
    yield
    dispose_engines()


@pytest.fixture(scope="session")
def db_url(_created: list[str]) -> str:
    """An empty, migrated database shared by the session (tests clean up after themselves)."""
    url = make_test_database("empty")
    _created.append(url)
    return url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Engine:
    """Engine on the empty, migrated test database."""
    return get_engine(db_url)


@pytest.fixture(scope="session")
def demo_url(_created: list[str]) -> str:
    """A database holding the small demo city (seed DEMO_SEED), loaded once; read-only."""
    url = make_demo_database("demo")
    _created.append(url)
    return url


@pytest.fixture(scope="session")
def demo_engine(demo_url: str) -> Engine:
    """Engine on the demo database (do not write to it)."""
    return get_engine(demo_url)


@pytest.fixture
def fresh_url(_created: list[str], request: pytest.FixtureRequest) -> str:
    """A new empty, migrated database for a test that changes data or schema."""
    url = make_test_database(f"f{abs(hash(request.node.nodeid)) % 10**8}")
    _created.append(url)
    return url


@pytest.fixture(scope="session")
def login_as():
    """``login_as(base_url, database_url, role, grids=(), username=None)``: a requests.Session
    signed in on the live server at ``base_url`` as an account of ``role`` (see tests.signin;
    on the demo database the demo accounts are used)."""
    from tests.signin import ensure_account, signed_in_session

    def login(
        base_url: str,
        database_url: str,
        role: str,
        grids: tuple[str, ...] = (),
        username: str | None = None,
    ):
        user, password = ensure_account(database_url, role, username=username, grids=grids)
        return signed_in_session(base_url, user, password)

    return login


@pytest.fixture(scope="session")
def replicated_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicated]:
    """A private primary with a streaming standby (issue 16: read replicas), shared by the
    replica and primary-lost tests (tests.replication)."""
    pair = replicated(tmp_path_factory.mktemp("replicas") / ".gridmap", "gridmap_replicas")
    try:
        yield pair
    finally:
        pair.close()
