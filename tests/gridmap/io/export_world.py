"""Fixtures of the export tests: a writable small demo city (jobs and audit rows are
written), an export folder for this session, and a live ``gridmap serve`` on that city."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gridmap.db.engine import get_engine
from gridmap.settings import get_settings
from tests.conftest import make_demo_database


@pytest.fixture(scope="session")
def export_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where this session's exports go (this process's setting and served apps' env)."""
    folder = tmp_path_factory.mktemp("exports")
    settings = get_settings()
    before, before_env = settings.export_dir, os.environ.get("GRIDMAP_EXPORT_DIR")
    settings.export_dir = folder
    os.environ["GRIDMAP_EXPORT_DIR"] = str(folder)
    yield folder
    settings.export_dir = before
    if before_env is None:
        os.environ.pop("GRIDMAP_EXPORT_DIR", None)
    else:
        os.environ["GRIDMAP_EXPORT_DIR"] = before_env


@pytest.fixture(scope="session")
def exports_url(_created: list[str], export_folder: Path) -> str:
    """The small demo city (seed DEMO_SEED) in a database the exports may write to."""
    url = make_demo_database("exports")
    _created.append(url)
    return url


@pytest.fixture(scope="session")
def export_engine(exports_url: str) -> Engine:
    return get_engine(exports_url)


@pytest.fixture(scope="session")
def exports_server(live_servers: Callable, exports_url: str):
    """``gridmap serve`` on the exports city (its export folder: the session's)."""
    return live_servers(exports_url, "exports")
