"""``gridmap user`` over a subprocess: add (with grids), list, token, disable, grids;
bad input is a message and exit code 2; the demo accounts sign in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from gridmap.access.accounts import (
    add_user,
    authenticate,
    list_accounts,
    set_area,
    user_for_token,
)
from gridmap.access.errors import AccountError
from gridmap.db.engine import get_engine
from tests.gridmap.cases.world import seed_world

GRIDMAP = str(Path(sys.executable).parent / "gridmap")


def run(url: str, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    env.pop("GRIDMAP_USER_PASSWORD", None)
    if password:
        env["GRIDMAP_USER_PASSWORD"] = password
    return subprocess.run(
        [GRIDMAP, "user", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_user_lifecycle(fresh_url: str) -> None:
    seed_world(fresh_url)
    engine = get_engine(fresh_url)
    out = run(fresh_url, "add", "wang.lead", "--role", "grid_lead", "--name", "王网格长",
              "--grid", "G1", "--grid", "G3", password="lead-pass-123")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("added wang.lead (id ")
    user = authenticate(engine, "wang.lead", "lead-pass-123")
    assert user is not None and user.display_name == "王网格长"
    with engine.connect() as conn:
        codes = conn.execute(
            text("SELECT code FROM grids WHERE id = ANY(:g) ORDER BY code"),
            {"g": list(user.grid_ids)},
        ).scalars()
        assert list(codes) == ["G1", "G3"]
        stored = conn.execute(
            text("SELECT password_hash FROM users WHERE username = 'wang.lead'")
        ).scalar_one()
    assert stored.startswith("$argon2id$") and "lead-pass-123" not in stored

    assert run(fresh_url, "add", "intake", "--role", "api_client").returncode == 0
    token = run(fresh_url, "token", "intake")
    assert token.returncode == 0 and token.stdout.strip().startswith("gmt_")
    assert user_for_token(engine, token.stdout.strip(), "api").username == "intake"

    listing = run(fresh_url, "list")
    rows = [line.split("\t") for line in listing.stdout.splitlines()]
    assert rows[0] == ["username", "role", "active", "grids", "area", "tokens", "name"]
    assert ["intake", "api_client", "yes", "-", "-", "1", "intake"] in rows
    assert ["wang.lead", "grid_lead", "yes", "G1,G3", "-", "0", "王网格长"] in rows

    display = run(fresh_url, "token", "wang.lead", "--kind", "display")
    assert display.returncode == 2 and "command-centre" in display.stderr

    assert run(fresh_url, "disable", "wang.lead").returncode == 0
    assert authenticate(engine, "wang.lead", "lead-pass-123") is None
    regrid = run(fresh_url, "grids", "wang.lead", "--grid", "G2")
    assert regrid.stdout.strip() == "wang.lead: grids G2"
    assert [a.grid_codes for a in list_accounts(engine) if a.username == "wang.lead"] == [("G2",)]
    revoked = run(fresh_url, "token", "intake", "--revoke")
    assert revoked.stdout.strip() == "revoked 1 token(s) of intake"
    assert user_for_token(engine, token.stdout.strip(), "api") is None


def test_area_scoped_command_accounts(fresh_url: str) -> None:
    """``--area`` scopes a command account to a community (its grids), shown by ``list``;
    ``user area`` moves it or makes it whole-city again; a wrong area is a message."""
    seed_world(fresh_url)
    engine = get_engine(fresh_url)
    out = run(fresh_url, "add", "c2.centre", "--role", "command", "--area", "community:C2",
              password="centre-pass-1")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("command, grids: -, area: community:C2)")
    add_user(engine, "city", "command", "centre-pass-1")
    user = authenticate(engine, "c2.centre", "centre-pass-1")
    assert user is not None and user.grid_scoped and str(user.area) == "community:C2"
    assert user.grid_ids == {3}  # community 2 holds grid 3 only
    city = authenticate(engine, "city", "centre-pass-1")
    assert city is not None and not city.grid_scoped and city.area is None
    rows = [line.split("\t") for line in run(fresh_url, "list").stdout.splitlines()]
    assert ["c2.centre", "command", "yes", "-", "community:C2", "0", "c2.centre"] in rows
    assert ["city", "command", "yes", "-", "city", "0", "city"] in rows
    moved = run(fresh_url, "area", "c2.centre", "--area", "street:S1")
    assert moved.stdout.strip() == "c2.centre: area street:S1"
    assert authenticate(engine, "c2.centre", "centre-pass-1").grid_ids == {1, 2, 3}
    set_area(engine, "c2.centre", "district:D1")
    assert authenticate(engine, "c2.centre", "centre-pass-1").grid_ids == {1, 2, 3}
    set_area(engine, "c2.centre", None)
    back = authenticate(engine, "c2.centre", "centre-pass-1")
    assert back.area is None and not back.grid_scoped and back.grid_ids == frozenset()
    bad = run(fresh_url, "add", "x1", "--role", "command", "--area", "street:NOPE")
    assert bad.returncode == 2 and "Unknown street code 'NOPE'" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
    for role, area, message in [
        ("command", "city:S1", "is not one"),
        ("command", "S1", "is not one"),
        ("grid_lead", "street:S1", "Only command-centre"),
    ]:
        with pytest.raises(AccountError, match=message):
            add_user(engine, "x2", role, "long-enough", area=area)
    with pytest.raises(AccountError, match="No user 'ghost'"):
        set_area(engine, "ghost", "street:S1")
    assert {a.username for a in list_accounts(engine)} == {"c2.centre", "city"}


def test_bad_input_is_a_message(fresh_url: str) -> None:
    seed_world(fresh_url)
    cases = [
        (["add", "x y", "--role", "admin"], "is not allowed"),
        (["add", "someone", "--role", "grid_lead", "--grid", "NOPE"], "Unknown grid code"),
        (["disable", "ghost"], "No user 'ghost'"),
    ]
    for args, message in cases:
        out = run(fresh_url, *args, password="long-enough")
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
    engine = get_engine(fresh_url)
    with pytest.raises(AccountError, match="at least 8 characters"):
        add_user(engine, "shorty", "admin", "short")
    add_user(engine, "lead2", "grid_lead", "long-enough")
    with pytest.raises(AccountError, match="exists already"):
        add_user(engine, "LEAD2", "admin", "long-enough")


def test_demo_accounts_sign_in(demo_url: str) -> None:
    engine = get_engine(demo_url)
    for username, password, role in [
        ("admin", "gridmap-admin", "admin"),
        ("command", "gridmap-command", "command"),
        ("planner", "gridmap-planner", "planner"),
        ("lead", "gridmap-lead", "grid_lead"),
    ]:
        user = authenticate(engine, username, password)
        assert user is not None and user.role == role, username
    lead = authenticate(engine, "lead", "gridmap-lead")
    assert len(lead.grid_ids) == 3
