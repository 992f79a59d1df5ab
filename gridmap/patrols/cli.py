"""``gridmap patrols``: refresh the static coverage data, rebuild the visit history from
the stored pings, and print coverage and the risk gap for a window."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from gridmap.cli_dask import dask_client, dask_options
from gridmap.cli_errors import friendly


def _url() -> str:
    from gridmap.db.engine import database_url

    return database_url()


def _engine():
    from gridmap.db.engine import get_engine

    return get_engine(_url())


def _window(window: str, end: str | None):
    from gridmap.patrols import coverage

    moment = datetime.fromisoformat(end) if end else None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment is None:
        moment = coverage.latest_ping(_engine()) or datetime.now(UTC)
    return coverage.Window.last(coverage.parse_window(window), moment)


@click.group()
def patrols() -> None:
    """Patrol and camera coverage (网格员巡查 / 雪亮工程)."""


@patrols.command()
def refresh() -> None:
    """Recompute street pieces per grid, camera sectors and what online cameras see."""

    @friendly
    def run() -> None:
        from gridmap.derived import compute_all

        click.echo(compute_all(_url(), steps=("patrol_static",)).static)

    run()


@patrols.command()
@dask_options
def rebuild(use_dask: bool, workers: int | None, scheduler: str | None) -> None:
    """Rebuild the visit history from every stored ping (a progress bar while matching;
    with --dask, tile by tile on a Dask cluster)."""

    @friendly
    def run() -> None:
        from gridmap.derived import rebuild_patrol_visits

        with click.progressbar(length=100, label="matching pings") as bar:
            done = [0]

            def step(n: int, total: int) -> None:
                pct = int(100 * n / max(total, 1))
                bar.update(pct - done[0])
                done[0] = pct

            with dask_client(use_dask, workers, scheduler) as client:
                stats = rebuild_patrol_visits(_engine(), step, client)
        click.echo(stats)

    run()


@patrols.command("coverage")
@click.option("--window", default="8h", show_default=True, help="2h, 8h, 24h, 7d …")
@click.option("--end", default=None, help="Window end (ISO); default: the newest ping.")
@click.option("--top", default=20, show_default=True, help="Grids to print (least covered).")
def coverage_cmd(window: str, end: str | None, top: int) -> None:
    """Per-grid patrolled and watched share of street length, least covered first."""

    @friendly
    def run() -> None:
        from gridmap.patrols import coverage

        win = _window(window, end)
        rows = sorted(coverage.grid_coverage(_engine(), win), key=lambda r: r["patrolled_share"])
        click.echo(f"window {win.start.isoformat()} .. {win.end.isoformat()}: {len(rows)} grids")
        for r in rows[:top]:
            click.echo(
                f"{r['code']:<14} {r['name']:<12} streets {r['street_m'] / 1000:7.2f} km  "
                f"patrolled {100 * r['patrolled_share']:5.1f} %  "
                f"watched {100 * r['watched_share']:5.1f} %"
            )

    run()


@patrols.command()
@click.option("--window", default="24h", show_default=True)
@click.option("--end", default=None, help="Window end (ISO); default: the newest ping.")
@click.option("--top", default=20, show_default=True)
def gaps(window: str, end: str | None, top: int) -> None:
    """Where patrols are most needed: case density x unpatrolled share."""

    @friendly
    def run() -> None:
        from gridmap.patrols import coverage

        win = _window(window, end)
        for r in coverage.risk_gap(_engine(), win, top):
            click.echo(
                f"{r['rank']:>3}. {r['code']:<14} {r['name']:<12} cases {r['cases']:>4}  "
                f"{r['case_density']:6.1f}/km  patrolled {100 * r['patrolled_share']:5.1f} %  "
                f"need {r['need']:.2f}"
            )

    run()
