"""``gridmap basemap import-osm FILE``: the offline basemap's water, parks, roads and
buildings from an OpenStreetMap extract."""

from __future__ import annotations

from pathlib import Path

import click

from gridmap.cli_errors import friendly


@click.group()
def basemap() -> None:
    """The offline basemap's own data (water, parks, roads, buildings)."""


@basemap.command("import-osm")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def import_osm_command(file: Path) -> None:
    """Import FILE (.osm.pbf or .osm) into the basemap, replacing an earlier OSM import.

    All or nothing: a file that cannot be read changes nothing."""
    from tqdm import tqdm

    from gridmap.basemap.osm import read_osm, write_features
    from gridmap.db.engine import database_url, get_engine
    from gridmap.db.migrations import upgrade
    from gridmap.settings import get_settings

    url = database_url()
    upgrade(url, get_settings().sql_dir / "migrations")
    click.echo(f"reading {file.name} …")
    frame = read_osm(file)
    with tqdm(total=0, unit="rows", desc="writing", disable=None) as bar:

        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = write_features(get_engine(url), frame, progress=advance)
    click.echo(
        f"imported {report.total:,} basemap features: "
        + ", ".join(f"{kind} {n:,}" for kind, n in report.counts.items())
    )
