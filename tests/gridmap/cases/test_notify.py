"""Case changes are announced on channel gridmap_cases for the live dashboard."""

from __future__ import annotations

import json
import select
from collections.abc import Iterator

import psycopg2
import pytest

from gridmap.cases.intake import submit_case, validate_case
from gridmap.cases.taxonomy import get_taxonomy
from gridmap.cases.workflow import ActionRequest, apply_action
from gridmap.db.engine import get_engine


@pytest.fixture
def listener(world_url: str) -> Iterator[psycopg2.extensions.connection]:
    conn = psycopg2.connect(world_url)
    conn.autocommit = True
    conn.cursor().execute("LISTEN gridmap_cases")
    yield conn
    conn.close()


def drain(conn) -> list[dict]:
    select.select([conn], [], [], 2)
    conn.poll()
    out = [json.loads(n.payload) for n in conn.notifies]
    conn.notifies.clear()
    return out


def test_report_and_dispatch_notify(world_url: str, listener) -> None:
    tax = get_taxonomy()
    case = validate_case({"title": "噪音", "subcategory": "noise"}, tax, source="walk_in")
    case_id, _ = submit_case(get_engine(world_url), case)
    assert drain(listener) == [
        {"id": case_id, "action": "created"},
        {"id": case_id, "action": "report"},
    ]
    apply_action(get_engine(world_url), case_id, ActionRequest("dispatch", "社区", grid_id=1), tax)
    assert drain(listener) == [
        {"id": case_id, "action": "updated"},
        {"id": case_id, "action": "dispatch"},
    ]


def test_bulk_statement_sends_one_notification(world_url: str, listener) -> None:
    with psycopg2.connect(world_url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO cases (title, category, source) "
            "SELECT 'bulk ' || i, 'traffic', 'import' FROM generate_series(1, 150) i"
        )
    assert drain(listener) == [{"action": "bulk_created", "count": 150}]
