"""``gridmap export LAYER… --format gpkg|geojson|shp|csv|png|pdf -o FILE``: layer files and
print maps from the command line, with a progress bar, audited like the web's exports."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from tqdm import tqdm

from gridmap.cli_errors import friendly
from gridmap.io.export import (
    CSV_GEOMETRY,
    FORMATS,
    ORIENTATIONS,
    PAPERS,
    ExportError,
    ExportRequest,
    parse_area,
    parse_bbox,
    parse_filters,
)


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ExportError(f"{value!r} is not an ISO date or date-time.") from None


@click.command(name="export")
@click.argument("layers", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Default: from -o's suffix.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--bbox", help="minlon,minlat,maxlon,maxlat (default: everywhere).")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="K=V",
    help="Layer filter, repeatable: --filter statuses=reported,accepted",
)
@click.option(
    "--area",
    "areas",
    multiple=True,
    metavar="LEVEL:IDS",
    help="Only the features inside these areas, repeatable: --area street:3 --area "
    "compound:12,14 (levels: district, street, community, compound, grid; ids).",
)
@click.option("--since", help="Time window start (ISO date-time), e.g. cases reported since.")
@click.option("--until", help="Time window end (ISO date-time, excluded).")
@click.option("--paper", type=click.Choice(PAPERS), default="A4", show_default=True)
@click.option(
    "--orientation", type=click.Choice(ORIENTATIONS), default="landscape", show_default=True
)
@click.option("--title", help="Title of a print map.")
@click.option("--lang", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
@click.option(
    "--csv-geometry",
    type=click.Choice(CSV_GEOMETRY),
    default="auto",
    show_default=True,
    help="CSV: lon/lat columns (points) or WKT.",
)
@click.option("--user", "username", help="Export as this account (its access rules apply).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly
def export(
    layers: tuple[str, ...],
    fmt: str | None,
    output: Path,
    bbox: str | None,
    filters: tuple[str, ...],
    areas: tuple[str, ...],
    since: str | None,
    until: str | None,
    paper: str,
    orientation: str,
    title: str | None,
    lang: str,
    csv_geometry: str,
    username: str | None,
    quiet: bool,
) -> None:
    """Export map LAYERS (ids as on the map, e.g. grids cameras) to a file or a print map."""
    from gridmap.access import audit
    from gridmap.db.engine import database_url, get_engine
    from gridmap.io.jobs import audit_target, write_export

    fmt = fmt or output.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ExportError(f"Say --format ({', '.join(FORMATS)}); {output.name!r} does not.")
    request = ExportRequest(
        layers=layers,
        format=fmt,
        bbox=parse_bbox(bbox),
        filters=parse_filters(filters),
        area=parse_area(areas),
        time_from=_moment(since),
        time_to=_moment(until),
        language=lang,
        paper=paper,
        orientation=orientation,
        title=title,
        csv_geometry=csv_geometry,
    )
    if output.suffix.lower() != f".{request.suffix}":
        raise ExportError(
            f"This export is a .{request.suffix} file; name the output accordingly.",
            hint=f"-o {output.with_suffix('.' + request.suffix)}",
        )
    if not output.parent.exists():
        raise ExportError(f"The folder {output.parent} does not exist.")
    engine = get_engine(database_url())
    user = _user(engine, username) if username else None
    with tqdm(
        total=100, unit="%", disable=quiet, bar_format="{percentage:3.0f}%|{bar}| {desc}"
    ) as bar:

        def progress(fraction: float, message: str) -> None:
            bar.update(round(fraction * 100) - bar.n)
            bar.set_description_str(message[:40])

        features = write_export(engine, request, output, user=user, progress=progress)
    audit.record(
        audit.EXPORT,
        audit_target(request),
        {"state": "done", "features": features, "via": "cli", "file": str(output)},
        user=user,
        username="cli",
        engine=engine,
    )
    click.echo(f"{output}: {features:,} features ({output.stat().st_size / 1e6:.1f} MB)")


def _user(engine, username: str):
    from sqlalchemy import text

    from gridmap.access.accounts import load_user

    with engine.connect() as conn:
        user_id = conn.execute(
            text("SELECT id FROM users WHERE username = :u"), {"u": username}
        ).scalar()
        user = load_user(conn, user_id) if user_id is not None else None
    if user is None:
        raise ExportError(f"There is no active account {username!r}.")
    return user
