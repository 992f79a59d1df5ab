"""``gridmap circles …``: import roads, compute service circles (with a progress bar),
say whether stored results are current, report coverage, suggest new sites."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import click

from gridmap.analytics.params import SERVICE_KINDS, CircleParams
from gridmap.cli_dask import dask_client, dask_options
from gridmap.cli_errors import friendly


def _params(speed: float | None, minutes: str | None, kinds: str | None) -> CircleParams:
    from gridmap.analytics.errors import ParameterError

    try:
        mins = tuple(float(m) for m in minutes.split(",")) if minutes else None
    except ValueError:
        raise ParameterError(f"Minutes {minutes!r} are not numbers like 5,10,15.") from None
    chosen = tuple(k.strip() for k in kinds.split(",")) if kinds else None
    return CircleParams.from_settings(speed_kmh=speed, minutes=mins, kinds=chosen)


def _url() -> str:
    from gridmap.db.engine import database_url

    return database_url()


speed_option = click.option("--speed", type=float, default=None, help="Walking speed, km/h.")
minutes_option = click.option("--minutes", default=None, help="Circles in minutes, e.g. 5,10,15.")
kinds_option = click.option("--kinds", default=None, help="Comma-separated service kinds.")


@click.group()
def circles() -> None:
    """15-minute service circles: walking isochrones, coverage, gaps and new sites."""


@circles.command("import-roads")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--append", is_flag=True, help="Keep the existing road network.")
def import_roads_cmd(path: Path, append: bool) -> None:
    """Import walkable lines (.osm.pbf, GeoPackage, GeoJSON, Shapefile) into road_edges."""

    @friendly
    def run() -> None:
        from gridmap.analytics.network import import_roads

        report = import_roads(_url(), path, replace=not append, progress=click.echo)
        click.echo(
            f"imported {report.edges:,} edges, {report.nodes:,} nodes from "
            f"{report.lines_walkable:,} walkable of {report.lines_read:,} lines; "
            f"{report.components:,} component(s): kept the largest, dropped "
            f"{report.dropped_edges:,} edges and {report.dropped_nodes:,} nodes"
        )

    run()


@circles.command()
@speed_option
@minutes_option
@kinds_option
@click.option("--no-isochrones", is_flag=True, help="Coverage only (no polygons).")
@dask_options
def compute(
    speed: float | None, minutes: str | None, kinds: str | None, no_isochrones: bool,
    use_dask: bool, workers: int | None, scheduler: str | None,
):  # fmt: skip
    """Compute coverage (and isochrones) for every service point and store them (with
    --dask: tile by tile on a Dask cluster)."""

    @friendly
    def run() -> None:
        from gridmap.analytics.coverage import summarize
        from gridmap.cli_progress import step_bars
        from gridmap.derived import compute_all

        params = _params(speed, minutes, kinds)
        started = time.perf_counter()
        click.echo("loading network, buildings and service points …")
        steps = ("coverage",) if no_isochrones else ("coverage", "isochrones")
        with dask_client(use_dask, workers, scheduler) as client, step_bars() as progress:
            done = compute_all(_url(), steps=steps, params=params, progress=progress, client=client)
        model = done.model
        assert model is not None
        g = model.graph
        click.echo(
            f"network: {g.n_nodes:,} nodes, {g.n_edges:,} edges ({g.components} component(s); "
            f"dropped {g.dropped_edges:,} edges outside the largest); "
            f"{int((~model.on_network).sum()):,} buildings off the network "
            f"(> {params.max_snap_m:g} m from a street)"
        )
        top = params.minutes[-1]
        for kind in params.kinds:
            s = summarize(model, done.walks[kind], top)
            click.echo(f"  {kind:22s} {top:g} min: {s['population_pct']:6.2f}% of people")
        if done.isochrones is not None:
            click.echo(
                f"stored {done.isochrones:,} isochrones in {time.perf_counter() - started:.1f} s"
            )

    run()


@circles.command()
@speed_option
@minutes_option
@kinds_option
def status(speed: float | None, minutes: str | None, kinds: str | None) -> None:
    """Say whether stored coverage and isochrones match the parameters and the data."""

    @friendly
    def run() -> None:
        from gridmap.analytics.coverage import run_status

        params = _params(speed, minutes, kinds)
        url = _url()
        for job in ("coverage", "isochrones"):
            st = run_status(url, job, params)
            when = f" (computed {st.computed_at:%Y-%m-%d %H:%M:%S %z})" if st.computed_at else ""
            click.echo(f"{job}: {st.state}{when}{': ' + st.reason if st.reason else ''}")

    run()


@circles.command()
@click.option("--kind", type=click.Choice(SERVICE_KINDS), required=True)
@click.option("--k", "count", type=int, default=3, show_default=True, help="New sites.")
@click.option("--minutes", type=float, default=None, help="Circle (default: the largest).")
@click.option(
    "--candidates",
    default="buildings",
    show_default=True,
    help="'buildings' (uncovered ones), 'nodes' (all road nodes) or a CSV with lon,lat.",
)
@speed_option
def suggest(kind: str, count: int, minutes: float | None, candidates: str, speed: float | None):
    """Suggest k new sites adding the most covered people (greedy maximal covering)."""

    @friendly
    def run() -> None:
        import numpy as np

        from gridmap.analytics.coverage import CoverageModel
        from gridmap.analytics.siting import suggest_sites
        from gridmap.settings import get_settings

        params = _params(speed, None, kind)
        mins = minutes or params.minutes[-1]
        if mins > params.minutes[-1]:
            params = CircleParams.from_settings(speed_kmh=speed, minutes=(mins,), kinds=(kind,))
        cand: str | np.ndarray = candidates
        if candidates not in ("buildings", "nodes"):
            with open(candidates, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            cand = np.array([[float(r["lon"]), float(r["lat"])] for r in rows])
        model = CoverageModel.load(_url(), params)
        result = suggest_sites(
            model, kind, count, mins, cand, max_candidates=get_settings().circles_max_candidates
        )
        sampled = " (sampled)" if result.sampled else ""
        click.echo(
            f"{kind}, {mins:g} min: {result.covered_pct_before:.2f}% of people covered now; "
            f"{result.candidates:,} of {result.candidates_total:,} candidates{sampled}"
        )
        for s in result.suggestions:
            click.echo(
                f"  #{s.rank} at {s.lon:.6f},{s.lat:.6f}: +{s.gain_population:,} people "
                f"(+{s.gain_vulnerable:,} vulnerable, {s.gain_buildings:,} buildings) "
                f"→ {s.covered_pct_after:.2f}%"
            )

    run()


@circles.command()
@click.option("--kind", type=click.Choice(SERVICE_KINDS), required=True)
@click.option("--minutes", type=float, default=None, help="Circle (default: the largest).")
@click.option("--by", "area", type=click.Choice(["grid", "community"]), default="community",
              show_default=True)  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV file (default: standard output).")  # fmt: skip
@speed_option
def report(kind: str, minutes: float | None, area: str, out: Path | None, speed: float | None):
    """Coverage per grid or community (people, vulnerable groups, %) as CSV."""

    @friendly
    def run() -> None:
        import sys

        from gridmap.analytics.coverage import CoverageModel, by_area

        params = _params(speed, None, kind)
        mins = minutes or params.minutes[-1]
        if mins > params.minutes[-1]:
            params = CircleParams.from_settings(speed_kmh=speed, minutes=(mins,), kinds=(kind,))
        model = CoverageModel.load(_url(), params)
        table = by_area(model, model.walk(kind), mins, f"{area}_id")
        if out:
            table.to_csv(out, index=False)
            click.echo(f"wrote {len(table):,} {area} rows to {out}")
        else:
            table.to_csv(sys.stdout, index=False)

    run()
