"""The ``gridmap`` command line: database, demo data and the web server."""

from __future__ import annotations

import sys

import click

from gridmap.cli_errors import friendly
from gridmap.errors import GridmapError
from gridmap.settings import get_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gridmap")
def main() -> None:
    """gridmap: grid management (网格化管理) map dashboard on PostGIS."""


# -- gridmap db ------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database: embedded cluster lifecycle and schema migrations."""


def _cluster():
    from gridmap.db.cluster import Cluster

    settings = get_settings()
    if settings.database_url:
        raise GridmapError(
            "GRIDMAP_DATABASE_URL is set: gridmap uses that server and manages no cluster.",
        )
    return Cluster.from_settings(settings)


def _bouncer(cluster):
    from gridmap.db.pgbouncer import Bouncer

    return Bouncer(cluster.root / "pgbouncer", os_user=cluster.os_user)


@db.command()
@click.option(
    "--pgbouncer",
    "pooled",
    is_flag=True,
    help="Also run pgbouncer (transaction mode) in front of it and print the pooled URL.",
)
@click.option(
    "--replicas",
    type=click.IntRange(0, 4),
    default=0,
    show_default=True,
    help="Also run this many streaming standbys (pg_basebackup) that serve reads.",
)
@friendly
def start(pooled: bool, replicas: int) -> None:
    """Start the embedded PostGIS cluster (created on first use; reused when running)."""
    from gridmap.db.engine import ensure_database

    cluster = _cluster()
    port = cluster.start()
    ensure_database(cluster.url(get_settings().db_name))
    click.echo(f"embedded PostgreSQL running on 127.0.0.1:{port} (data: {cluster.data_dir})")
    if pooled:
        settings, bouncer = get_settings(), _bouncer(cluster)
        upstream = cluster.url(settings.db_name)
        if bouncer.running() and bouncer.upstream_port != port:  # the cluster moved
            bouncer.stop()
        if not bouncer.running():
            bouncer.configure(
                upstream, port=settings.pgbouncer_port, pool_size=settings.pgbouncer_pool_size
            )
        bouncer_port = bouncer.start()
        click.echo(f"pgbouncer (transaction mode) running on 127.0.0.1:{bouncer_port}")
        click.echo(f"pooled URL (set GRIDMAP_DATABASE_URL to it): {bouncer.url(upstream)}")
    _start_standbys(cluster, replicas)


def _start_standbys(cluster, count: int) -> None:
    """Start standbys 1…count of the embedded cluster (made on first use)."""
    from gridmap.db.cluster import Standby

    for number in range(1, count + 1):
        standby = Standby(cluster, number)
        port = standby.start()
        click.echo(f"standby {number} running on 127.0.0.1:{port} (data: {standby.data_dir})")


@db.command()
@friendly
def stop() -> None:
    """Stop the embedded cluster (and its standbys and pgbouncer, when they run)."""
    cluster = _cluster()
    if cluster.initialized and _bouncer(cluster).stop():
        click.echo("pgbouncer stopped")
    for standby in cluster.standbys():
        standby.stop()
    stopped = cluster.stop()
    click.echo("stopped" if stopped else "not running")


@db.command()
@friendly
def status() -> None:
    """Say whether the database is set up and running."""
    settings = get_settings()
    if settings.database_url:
        from sqlalchemy.engine import make_url

        click.echo(f"external database: {make_url(settings.database_url)!r}")
        return
    st = _cluster().status()
    state = "running" if st.running else ("stopped" if st.initialized else "not created")
    click.echo(f"embedded PostgreSQL: {state}")
    if st.running:
        click.echo(f"port: {st.port}")
    click.echo(f"data: {st.data_dir} (server user: {st.os_user})")
    for standby in _cluster().standbys():
        port = standby.running_port()
        where = f"running on port {port}" if port else "stopped"
        click.echo(f"standby {standby.number}: {where} (data: {standby.data_dir})")
    sys.exit(0 if st.running else 3)


@db.command()
@click.option("--pooled", is_flag=True, help="The URL through the running pgbouncer.")
@friendly
def url(pooled: bool) -> None:
    """Print the database URL (starting the embedded cluster if needed)."""
    from gridmap.db.engine import database_url

    if pooled:
        cluster = _cluster()
        bouncer = _bouncer(cluster)
        if not bouncer.running():
            raise GridmapError(
                "pgbouncer is not running.", hint="run: gridmap db start --pgbouncer"
            )
        click.echo(bouncer.url(database_url()))
        return
    click.echo(database_url())


@db.command()
@friendly
def upgrade() -> None:
    """Apply pending SQL migrations from sql/migrations, in order."""
    from gridmap.db.engine import database_url
    from gridmap.db.migrations import upgrade as apply

    done = apply(database_url(), get_settings().sql_dir / "migrations")
    for m in done:
        click.echo(f"applied {m.path.name}")
    click.echo(f"{len(done)} migration(s) applied; schema up to date")


@db.command()
@click.option(
    "--ahead",
    type=click.IntRange(0, 366),
    default=7,
    show_default=True,
    help="Days ahead of now to make partitions for.",
)
@click.option("--list", "show", is_flag=True, help="List every partition afterwards.")
@friendly
def partitions(ahead: int, show: bool) -> None:
    """Make time partitions ahead and drop raw pings past GRIDMAP_PING_RETENTION_DAYS."""
    from gridmap.db import partitions as parts
    from gridmap.db.engine import database_url

    url = database_url()
    retention = get_settings().ping_retention_days
    done = parts.maintain(url, ahead_days=ahead, retention_days=retention)
    for name in done.created:
        click.echo(f"created {name}")
    for name in done.dropped:
        click.echo(f"dropped {name}")
    kept = f"pings kept {retention} days" if retention else "pings kept for ever"
    click.echo(f"{len(done.created)} partition(s) created, {len(done.dropped)} dropped; {kept}")
    if show:
        for p in parts.partitions(url):
            lower = p.lower.date().isoformat() if p.lower else ("DEFAULT" if not p.upper else "…")
            upper = p.upper.date().isoformat() if p.upper else ""
            click.echo(f"{p.table:12} {p.name:28} {lower:>10} – {upper:10} ~{p.rows} rows")


# -- gridmap demo ----------------------------------------------------------------------------


@main.command()
@click.option("--scale", type=click.Choice(["small", "city"]), default="small", show_default=True)
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same city.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database holds data.")
@click.option("--replace", is_flag=True, help="Delete the data present before loading.")
@click.option(
    "--no-analyses", is_flag=True, help="Skip computing patrol visits and service circles."
)
@friendly
def demo(scale: str, seed: int, if_empty: bool, replace: bool, no_analyses: bool) -> None:
    """Generate a deterministic demo city and load it into the database.

    Then the derived results the map's analysis layers read are computed: patrol street
    pieces and visits (as gridmap patrols refresh, rebuild) and the service circles (as
    gridmap circles compute).
    """
    from gridmap.db.engine import database_url
    from gridmap.db.migrations import upgrade as apply
    from gridmap.demo.load import has_data, load_demo

    url = database_url()
    apply(url, get_settings().sql_dir / "migrations")
    if has_data(url):
        if if_empty:
            click.echo("database already holds data; demo not loaded (use --replace to reload)")
            return
        if not replace:
            raise GridmapError(
                "The database already holds data.", hint="add --replace to delete it first"
            )
    counts = load_demo(url, scale=scale, seed=seed, replace=replace, progress=True)
    click.echo("loaded: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if not no_analyses:
        from gridmap.cli_progress import step_bars
        from gridmap.derived import compute_all

        click.echo("computing patrol street pieces and visits, service circles …")
        with step_bars() as progress:
            done = compute_all(url, progress=progress)
        click.echo(f"patrols: {done.static}; visits: {done.visits}")
        click.echo(f"stored {done.isochrones:,} isochrones")


# -- gridmap serve ---------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="Address to bind (GRIDMAP_HOST).")
@click.option("--port", type=int, default=None, help="Port to bind (GRIDMAP_PORT).")
@click.option("--workers", type=int, default=None, help="Worker processes (GRIDMAP_WORKERS).")
@friendly
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the dashboard with gunicorn (a production WSGI server)."""
    from gridmap.db.engine import database_url
    from gridmap.web.server import run

    settings = get_settings()
    url = database_url()  # start the embedded cluster before forking workers
    _print_demo_accounts(url)
    run(
        host or settings.host,
        port or settings.port,
        workers or settings.workers,
    )


def _print_demo_accounts(url: str) -> None:
    """List the demo accounts that sign in with their documented passwords, if any."""
    from sqlalchemy.exc import SQLAlchemyError

    from gridmap.db.engine import get_engine
    from gridmap.demo.accounts import demo_accounts_ready

    try:
        accounts = demo_accounts_ready(get_engine(url))
    except SQLAlchemyError:
        return  # not migrated yet, or unreachable: gunicorn will say so
    finally:
        get_engine(url).dispose()  # the workers forked next must inherit no connection
    if accounts:
        click.echo("demo accounts (username / password / role):")
        for a in accounts:
            click.echo(f"  {a.username:<10} {a.password:<18} {a.role}")


def _register_subsystems() -> None:
    from gridmap.access.cli import user
    from gridmap.analytics.cli import circles
    from gridmap.basemap.cli import basemap
    from gridmap.cases.cli import cases
    from gridmap.io.export_cli import export
    from gridmap.io.import_cli import import_group
    from gridmap.patrols.cli import patrols

    main.add_command(cases)
    main.add_command(user)
    main.add_command(circles)
    main.add_command(patrols)
    main.add_command(import_group)
    main.add_command(export)
    main.add_command(basemap)


_register_subsystems()

if __name__ == "__main__":
    main()
