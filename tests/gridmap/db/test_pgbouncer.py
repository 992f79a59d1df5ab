"""Every database access path of gridmap through pgbouncer in transaction mode, with two
server connections per database and login, so server connections surely pass from one
client (and one transaction) to the next: nothing a transaction sets may outlive it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dash import Dash
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from gridmap.access import Role, User
from gridmap.access.scope import scoped_connection
from gridmap.cases.intake import submit_case, validate_case
from gridmap.cases.taxonomy import get_taxonomy
from gridmap.cli import main
from gridmap.db.cluster import Cluster
from gridmap.db.copy import copy_arrays
from gridmap.db.engine import database_url, drop_database, ensure_database, get_engine
from gridmap.db.migrations import applied_versions, discover, upgrade
from gridmap.db.pgbouncer import Bouncer, PgbouncerError, find_pgbouncer
from gridmap.io.export import ExportRequest, export_data
from gridmap.settings import get_settings
from gridmap.web.app import create_app
from gridmap.web.services import live
from tests.gridmap.web.services.test_wall import hot_grids_request
from tests.gridmap.web.test_tiles_layers import tile_of
from tests.signin import client_sign_in, ensure_account

pytestmark = pytest.mark.pooled

READ_STATE = (
    "SELECT pg_backend_pid(), current_user, current_setting('gridmap.user_id', true), "
    "(SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND relkind = 'r')"
)


def bouncer_missing() -> bool:
    try:
        find_pgbouncer()
    except PgbouncerError:
        return True
    return False


@pytest.fixture(scope="session")
def bouncer() -> Iterator[Bouncer]:
    """pgbouncer (transaction mode, 2 server connections per database and login) in front
    of the test server, in a folder of its own."""
    if bouncer_missing():
        pytest.skip("pgbouncer is not installed (Debian package pgbouncer)")
    with running_bouncer(pool_size=2) as bouncer:
        yield bouncer


@contextmanager
def running_bouncer(pool_size: int) -> Iterator[Bouncer]:
    """A pgbouncer in front of the test server itself (also when the suite's URL is pooled)
    with ``pool_size`` server connections per database and login, in a folder of its own."""
    with get_engine(database_url()).connect() as conn:
        port = conn.execute(text("SELECT inet_server_port()")).scalar_one()
    upstream = make_url(database_url()).set(port=port).render_as_string(hide_password=False)
    folder = Path(tempfile.mkdtemp(prefix="gridmap-pgbouncer-"))
    bouncer = Bouncer(folder, os_user=get_settings().db_os_user)
    bouncer.configure(upstream, pool_size=pool_size, wait_s=5)
    bouncer.start()
    try:
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(folder, ignore_errors=True)


def pooled(bouncer: Bouncer, url: str) -> str:
    return bouncer.url(url)


@pytest.fixture(scope="module")
def pooled_demo(bouncer: Bouncer, demo_url: str) -> Engine:
    return get_engine(pooled(bouncer, demo_url))


def grid_lead(engine: Engine, demo_url: str) -> User:
    """The demo grid lead with their grids."""
    username, _ = ensure_account(demo_url, "grid_lead")
    with engine.connect() as conn:
        uid, grids = conn.execute(
            text(
                "SELECT u.id, array_agg(ug.grid_id) FROM users u "
                "JOIN user_grids ug ON ug.user_id = u.id WHERE u.username = :u GROUP BY u.id"
            ),
            {"u": username},
        ).one()
    return User(uid, username, username, Role.GRID_LEAD, frozenset(grids))


def test_the_pooled_url_goes_through_pgbouncer(bouncer: Bouncer, demo_url: str) -> None:
    url = make_url(pooled(bouncer, demo_url))
    assert (url.host, url.port, url.database) == (
        "127.0.0.1",
        bouncer.port,
        make_url(demo_url).database,
    )
    assert "pool_mode = transaction" in bouncer.ini.read_text()
    with get_engine(
        url.render_as_string(hide_password=False)
    ).connect() as conn:  # pgbouncer's own port, not the server's
        assert conn.execute(text("SELECT inet_server_port()")).scalar_one() == bouncer.upstream_port


def test_a_scoped_read_leaves_nothing_on_the_server_connection(
    pooled_demo: Engine, demo_url: str
) -> None:
    """A grid lead's read (role and user id LOCAL) then an unscoped read on the same server
    connection: the app's login again, no user id, every case."""
    lead = grid_lead(pooled_demo, demo_url)
    with pooled_demo.connect() as conn:
        everything = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        own = conn.execute(
            text("SELECT count(*) FROM cases WHERE grid_id = ANY(:g)"), {"g": list(lead.grid_ids)}
        ).scalar_one()
    assert 0 < own < everything
    with scoped_connection(pooled_demo, lead) as conn:
        pid, user, uid, _ = conn.execute(text(READ_STATE)).one()
        assert (user, uid) == ("gridmap_grid_reader", str(lead.id))
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar_one() == own
    with pooled_demo.connect() as conn:
        after = conn.execute(text(READ_STATE)).one()
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar_one() == everything
    assert after == (pid, "gridmap", "", 0)  # the same server connection, nothing left on it


def test_intake_with_one_key_twice_makes_one_case_and_the_probe_sees_it(
    bouncer: Bouncer, db_url: str
) -> None:
    """The idempotency key (a unique index) and the natural key (a transaction advisory
    lock, then a look for a twin) each keep one case; the live probe sees the change."""
    engine = get_engine(pooled(bouncer, db_url))
    username, _ = ensure_account(db_url, "grid_worker", username="pooled_intake")
    with engine.connect() as conn:
        uid = conn.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username})
        uid = uid.scalar_one()
    before = live.probe(engine)
    tax = get_taxonomy()
    case = validate_case({"title": "井盖缺失", "subcategory": "noise"}, tax, source="walk_in")
    twin = validate_case({"title": "路灯不亮", "subcategory": "noise"}, tax, source="walk_in")
    ids = []
    try:
        first = submit_case(engine, case, idempotency_key="pooled-key-1", submitted_by=uid)
        ids.append(first[0])
        again = submit_case(engine, case, idempotency_key="pooled-key-1", submitted_by=uid)
        assert first == (first[0], True) and again == (first[0], False)
        natural = submit_case(engine, twin, submitted_by=uid, natural_key=True)
        ids.append(natural[0])
        assert submit_case(engine, twin, submitted_by=uid, natural_key=True) == (natural[0], False)
        with engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT count(*) FROM cases WHERE submitted_by = :u"), {"u": uid}
                ).scalar_one()
                == 2
            )
        after = live.probe(engine)
        assert after.version > before.version
        assert live.probe(engine) == after  # nothing changed since
    finally:
        with get_engine(db_url).begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # append-only
            conn.execute(text("DELETE FROM case_events WHERE case_id = ANY(:i)"), {"i": ids})
            conn.execute(text("DELETE FROM cases WHERE id = ANY(:i)"), {"i": ids})


def test_temp_tables_end_with_their_transaction(bouncer: Bouncer, db_url: str) -> None:
    engine = get_engine(pooled(bouncer, db_url))
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            copy_arrays(cur, "pooled_stage", {"i": np.arange(5, dtype=np.int32)})
            cur.execute("SELECT sum(i) FROM pooled_stage")
            assert cur.fetchone() == (10,)
        raw.commit()
    finally:
        raw.close()
    with engine.connect() as conn:
        assert conn.execute(text(READ_STATE)).one()[3] == 0


@pytest.fixture(scope="module")
def apps(pooled_demo: Engine, demo_url: str, bouncer: Bouncer) -> tuple[Dash, Dash]:
    """The app on the pooled URL and on the direct one."""
    return create_app(pooled(bouncer, demo_url)), create_app(demo_url)


def signed_in(app: Dash, url: str, role: str) -> FlaskClient:
    client = app.server.test_client()
    client_sign_in(client, *ensure_account(url, role))
    return client


def test_tiles_ogc_and_a_dash_callback_through_pgbouncer(
    apps: tuple[Dash, Dash], pooled_demo: Engine, demo_url: str
) -> None:
    app, direct = apps
    admin, admin_direct = signed_in(app, demo_url, "admin"), signed_in(direct, demo_url, "admin")
    with pooled_demo.connect() as conn:
        lon, lat, grids = conn.execute(
            text("SELECT ST_X(c), ST_Y(c), n FROM (SELECT ST_Centroid(ST_Extent(geom)) c, "
                 "count(*) n FROM grids) e")
        ).one()  # fmt: skip
    x, y = tile_of(lon, lat, 14)
    tile = admin.get(f"/tiles/grids/14/{x}/{y}.pbf")
    assert tile.status_code == 200 and tile.data == admin_direct.get(tile.request.path).data
    assert len(tile.data) > 0
    items = "/ogc/collections/grids/items?limit=10000"
    got = admin.get(items)
    assert got.status_code == 200
    assert got.get_json()["numberReturned"] == grids
    assert got.get_json()["features"] == admin_direct.get(items).get_json()["features"]

    body = hot_grids_request(app, pooled_demo)
    command = signed_in(app, demo_url, "command")
    response = command.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    hot = response.get_json()["response"]["wall-hot"]["children"]
    assert len(hot) == get_settings().wall_hot_grids
    direct_hot = signed_in(direct, demo_url, "command").post("/_dash-update-component", json=body)
    assert hot == direct_hot.get_json()["response"]["wall-hot"]["children"]


def test_a_grid_leads_requests_leave_nothing_for_the_next(
    apps: tuple[Dash, Dash], pooled_demo: Engine, demo_url: str
) -> None:
    """The request scope (SET LOCAL on every transaction begun while a lead's GET is served)
    then an admin's request through the same two server connections: the admin sees all."""
    app, _ = apps
    lead = grid_lead(pooled_demo, demo_url)
    with pooled_demo.connect() as conn:
        grids = conn.execute(text("SELECT count(*) FROM grids")).scalar_one()
    lead_client, admin = signed_in(app, demo_url, "grid_lead"), signed_in(app, demo_url, "admin")
    items = "/ogc/collections/grids/items?limit=10000"
    for _ in range(2):
        seen = {f["id"] for f in lead_client.get(items).get_json()["features"]}
        assert seen == set(lead.grid_ids)
        assert admin.get(items).get_json()["numberReturned"] == grids
    with pooled_demo.connect() as conn:
        assert conn.execute(text(READ_STATE)).one()[1:] == ("gridmap", "", 0)


def test_an_export_through_pgbouncer_equals_the_direct_one(
    pooled_demo: Engine, demo_engine: Engine, tmp_path: Path
) -> None:
    request = ExportRequest(layers=("grids", "service_points"), format="gpkg")
    counts = export_data(pooled_demo, request, tmp_path / f"pooled{request.suffix}")
    assert counts == export_data(demo_engine, request, tmp_path / f"direct{request.suffix}")
    assert min(counts.values()) > 0


def test_create_migrate_and_drop_a_database_through_pgbouncer(
    bouncer: Bouncer, db_url: str, _created: list[str]
) -> None:
    """The test fixtures' admin work (CREATE / DROP DATABASE … WITH (FORCE) on the
    maintenance database ``postgres``) and a migrations upgrade (one transaction, a
    transaction advisory lock) work through pgbouncer: no direct URL is needed."""
    direct = make_url(db_url).set(database=make_url(db_url).database + "_pooled")
    _created.append(direct.render_as_string(hide_password=False))
    url = pooled(bouncer, direct.render_as_string(hide_password=False))
    drop_database(url)
    assert ensure_database(url) is True
    folder = get_settings().sql_dir / "migrations"
    done = upgrade(url, folder)
    assert [m.version for m in done] == [m.version for m in discover(folder)]
    assert applied_versions(url) == [m.version for m in done]
    assert upgrade(url, folder) == []
    drop_database(url)  # pgbouncer still holds an idle server connection to it
    with get_engine(pooled(bouncer, db_url)).connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :d"), {"d": direct.database}
            ).scalar_one()
            == 0
        )


def test_db_start_with_pgbouncer_prints_the_pooled_url() -> None:
    """``gridmap db start --pgbouncer`` runs pgbouncer in front of the embedded cluster and
    prints the pooled URL, which ``gridmap db url --pooled`` repeats."""
    if get_settings().database_url:
        pytest.skip("GRIDMAP_DATABASE_URL is set: no embedded cluster to put pgbouncer in front of")
    cluster = Cluster.from_settings(get_settings())
    runner = CliRunner()
    ours = Bouncer(cluster.root / "pgbouncer", os_user=cluster.os_user)
    was_running = ours.running()
    try:
        started = runner.invoke(main, ["db", "start", "--pgbouncer"])
        assert started.exit_code == 0, started.output
        assert started.output.splitlines()[1] == (
            f"pgbouncer (transaction mode) running on 127.0.0.1:{ours.port}"
        )
        url = started.output.splitlines()[2].split(": ", 1)[1]
        assert runner.invoke(main, ["db", "url", "--pooled"]).output.strip() == url
        assert make_url(url).port == ours.port != cluster.running_port()
        with get_engine(url).connect() as conn:
            assert conn.execute(text("SELECT inet_server_port()")).scalar_one() == (
                cluster.running_port()
            )
        get_engine(url).dispose()
    finally:
        if not was_running:
            ours.stop()
