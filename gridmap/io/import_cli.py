"""``gridmap import grids|buildings|cameras|service-points FILE``: file imports with a
per-row report, a dry run and a progress bar. Also the options every file import takes
(:func:`file_import_options`, shared with ``gridmap cases import``) and the hidden aliases
kept for one release (:func:`deprecated_alias`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from tqdm import tqdm

from gridmap.cli_errors import friendly
from gridmap.errors import GridmapError

if TYPE_CHECKING:
    from gridmap.io.importer import ImportReport

#: The import targets (gridmap.io.importer.TARGETS, named here so ``--help`` stays fast).
TARGET_NAMES = (
    "grids",
    "buildings",
    "cameras",
    "service-points",
    "compounds",
    "ten-household-units",
    "households",
)

#: Rejected rows printed in the terminal (all of them go to --report FILE.csv).
SHOWN_PROBLEMS = 30

F = TypeVar("F", bound=Callable[..., Any])


def file_import_options(f: F) -> F:
    """The options both file imports take, under one name each: ``--map``, ``--layer``,
    ``--skip-invalid``, ``--dry-run`` and ``--report`` (parameters ``mapping``, ``layer``,
    ``skip_invalid``, ``dry_run``, ``report_path``)."""
    options = [
        click.option(
            "--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
            help="Column mapping, repeatable or comma-separated (--map code=网格编码 "
            "--map lon=X), or a .toml/.json file of field = column pairs.",
        ),
        click.option("--layer", help="Excel sheet, GeoPackage layer or Shapefile in a .zip "
                     "(default: the first)."),
        click.option("--skip-invalid", is_flag=True, help="Import the valid rows, skip the rest."),
        click.option("--dry-run", is_flag=True, help="Validate and report; write nothing."),
        click.option(
            "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
            help="Write the rejected rows (row, column, reason) to this CSV file.",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


def deprecated_alias(old: str, new: str, param: str, **kwargs: Any) -> Callable[[F], F]:
    """A hidden option ``old`` (parameter ``param``) kept for one release in place of
    ``new``: when given it says so on stderr ("--skip-bad is deprecated; use
    --skip-invalid"); the command merges its value into the new option's."""

    def warn(ctx: click.Context, option: click.Parameter, value: Any) -> Any:
        if value not in (None, False, ()):
            click.echo(f"{old} is deprecated; use {new}", err=True)
        return value

    return click.option(old, param, hidden=True, callback=warn, **kwargs)


def _print_report(report: ImportReport) -> None:
    for note in report.notes:
        click.echo(f"note: {note}")
    if report.crs:  # (records without geometry, e.g. households, have none)
        click.echo(f"coordinates: {report.crs}")
    if report.problems:
        width = max(len(str(p.row)) for p in report.problems[:SHOWN_PROBLEMS])
        click.echo(f"{'row':>{width}}  column  reason")
        for p in report.problems[:SHOWN_PROBLEMS]:
            click.echo(f"{p.row:>{width}}  {p.column}  {p.reason}")
        more = len(report.problems) - SHOWN_PROBLEMS
        if more > 0:
            click.echo(f"... and {more:,} more (see --report FILE.csv)")
    verb = "would import" if report.dry_run else "imported"
    click.echo(
        f"{report.file}: {report.rows:,} rows, {report.rejected:,} rejected; {verb} "
        f"{report.inserted:,} new, {report.updated:,} updated, {report.unchanged:,} unchanged"
        + (f", {report.repaired:,} repaired" if report.repaired else "")
        + (f", {report.unassigned:,} outside every grid" if report.unassigned else "")
        + f" ({report.seconds:.1f} s)"
        + (" — dry run, nothing written" if report.dry_run else "")
    )


def _command(target: str) -> click.Command:
    @click.command(name=target, help=f"Import {target} from FILE.")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @file_import_options
    @click.option("--crs", help="Coordinate system when the file names none, e.g. EPSG:4547.")
    @click.option("--from-gcj02", is_flag=True, help="Coordinates are GCJ-02 (Amap, Tencent).")
    @click.option("--from-bd09", is_flag=True, help="Coordinates are BD-09 (Baidu).")
    @click.option("--encoding", help="Attribute text encoding (e.g. gbk) if not UTF-8 / .cpg.")
    @click.option("--repair", is_flag=True, help="Repair invalid polygons (make_valid).")
    @click.option("--update", is_flag=True, help="Update rows whose code already exists.")
    def command(
        file: Path, mapping: tuple[str, ...], layer: str | None, skip_invalid: bool,
        dry_run: bool, report_path: Path | None, crs: str | None, from_gcj02: bool,
        from_bd09: bool, encoding: str | None, repair: bool, update: bool,
    ) -> None:  # fmt: skip
        from gridmap.db.engine import database_url
        from gridmap.io.importer import ImportOptions, ImportRejected, import_file
        from gridmap.io.tabular import parse_mapping

        @friendly
        def run() -> None:
            if from_gcj02 and from_bd09:
                raise GridmapError("Give --from-gcj02 or --from-bd09, not both")
            opts = ImportOptions(
                target=target, layer=layer, mapping=parse_mapping(mapping, files=True), crs=crs,
                offset="gcj02" if from_gcj02 else "bd09" if from_bd09 else None,
                encoding=encoding, repair=repair, update=update,
                skip_invalid=skip_invalid, dry_run=dry_run,
            )  # fmt: skip
            bars: dict[str, tqdm] = {}

            def progress(stage: str, done: int, total: int) -> None:
                bar = bars.get(stage)
                if bar is None:
                    bar = bars[stage] = tqdm(total=total, desc=stage, unit=" rows", leave=False)
                bar.total = total
                bar.n = done
                bar.refresh()

            try:
                url = database_url()
                report = import_file(url, file, opts, progress=progress, audit=_audit_cli(url))
            except ImportRejected as exc:
                for bar in bars.values():
                    bar.close()
                _print_report(exc.report)
                if report_path:
                    exc.report.write_csv(report_path)
                raise
            for bar in bars.values():
                bar.close()
            _print_report(report)
            if report_path:
                report.write_csv(report_path)

        run()

    return command


def _audit_cli(url: str):
    """Record a command-line import in the audit log, as the operator's OS account."""

    def audit(report: ImportReport) -> None:
        import getpass

        from gridmap.access.audit import record
        from gridmap.db.engine import get_engine

        record("import", report.target, report.summary(),
               username=f"cli:{getpass.getuser()}", engine=get_engine(url))  # fmt: skip

    return audit


@click.group(name="import")
def import_group() -> None:
    """Import grids, buildings, cameras or service points from GeoJSON, GeoPackage,
    Shapefile (.shp or .zip), CSV or Excel (.xlsx). All or nothing; re-importing the
    same file changes nothing."""


for _target in TARGET_NAMES:
    import_group.add_command(_command(_target))

if __name__ == "__main__":  # pragma: no cover
    sys.exit(import_group())
