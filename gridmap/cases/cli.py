"""``gridmap cases …``: bulk import, escalation of overdue cases, taxonomy check."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click

from gridmap.cases.errors import ImportRejected
from gridmap.cli_errors import friendly
from gridmap.errors import Problem
from gridmap.io.import_cli import deprecated_alias, file_import_options
from gridmap.io.tabular import write_report
from gridmap.settings import get_settings

#: How many problems the import prints (all go to --report).
SHOWN_PROBLEMS = 20


def _engine():
    from gridmap.db.engine import database_url, get_engine
    from gridmap.db.migrations import upgrade

    url = database_url()
    upgrade(url, get_settings().sql_dir / "migrations")
    return get_engine(url)


def _write_problems(path: Path, problems: list[Problem]) -> None:
    write_report(path, ((p.row, p.field, p.message) for p in problems))


@click.group()
def cases() -> None:
    """Cases (事件): bulk import, escalation, taxonomy."""


@cases.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@file_import_options
@click.option("--source", default="import", show_default=True, help="Source of the cases.")
@click.option("--encoding", default="utf-8-sig", show_default=True, help="CSV text encoding.")
@click.option("--timezone", default=None, help="Zone of times without offset (setting).")
@deprecated_alias("--mapping", "--map", "old_mapping", multiple=True)
@deprecated_alias("--sheet", "--layer", "old_sheet")
@deprecated_alias("--skip-bad", "--skip-invalid", "old_skip_bad", is_flag=True)
@deprecated_alias(
    "--errors-csv", "--report", "old_errors_csv", type=click.Path(dir_okay=False, path_type=Path)
)
@friendly
def import_command(
    file: Path,
    mapping: tuple[str, ...],
    layer: str | None,
    skip_invalid: bool,
    dry_run: bool,
    report_path: Path | None,
    source: str,
    encoding: str,
    timezone: str | None,
    old_mapping: tuple[str, ...],
    old_sheet: str | None,
    old_skip_bad: bool,
    old_errors_csv: Path | None,
) -> None:
    """Import historical cases from a CSV or Excel FILE (idempotent on external_id). The
    mapping (--map) names the columns of title, category or subcategory and external_id."""
    from gridmap.cases.importer import import_cases, parse_mapping
    from gridmap.cases.taxonomy import get_taxonomy

    mapping = old_mapping + mapping
    if not mapping:
        raise click.UsageError("Missing option '--map'.")
    layer = layer or old_sheet
    skip_invalid = skip_invalid or old_skip_bad
    report_path = report_path or old_errors_csv
    settings = get_settings()
    try:
        report = import_cases(
            _engine(),
            file,
            parse_mapping(mapping),
            get_taxonomy(),
            source=source,
            dry_run=dry_run,
            skip_bad=skip_invalid,
            sheet=layer,
            encoding=encoding,
            tz=timezone or settings.cases_timezone,
            actor=f"import:{file.name}",
            progress=True,
        )
    except ImportRejected as exc:
        for p in exc.problems[:SHOWN_PROBLEMS]:
            click.echo(f"row {p.row}, {p.field}: {p.message}", err=True)
        if len(exc.problems) > SHOWN_PROBLEMS:
            click.echo(f"… {len(exc.problems) - SHOWN_PROBLEMS} more", err=True)
        if report_path:
            _write_problems(report_path, exc.problems)
            click.echo(f"all problems written to {report_path}", err=True)
        raise
    for p in report.problems[:SHOWN_PROBLEMS]:
        click.echo(f"skipped row {p.row}, {p.field}: {p.message}", err=True)
    if report_path and report.problems:
        _write_problems(report_path, report.problems)
    verb = "would import" if dry_run else "imported"
    click.echo(
        f"{verb} {report.inserted:,} case(s) from {report.rows:,} row(s): "
        f"{report.duplicates:,} already present, {len(report.problems):,} bad row problem(s) "
        f"skipped, {report.unassigned:,} outside every grid"
        + (f" (import run {report.run})" if report.run is not None else "")
    )


@cases.command()
@click.option(
    "--now",
    "now_text",
    default=None,
    help="Judge lateness at this ISO 8601 time (default: now).",
)
@click.option(
    "--every",
    type=click.IntRange(min=10),
    default=None,
    help="Keep running, escalating every this many seconds (instead of cron).",
)
@friendly
def escalate(now_text: str | None, every: int | None) -> None:
    """Escalate overdue open cases up grid → community → street → district (schedule:
    the cases_escalation_hours setting). Idempotent: run it as often as you like."""
    from gridmap.cases.escalation import LEVELS
    from gridmap.cases.escalation import escalate as run
    from gridmap.errors import GridmapError

    now = datetime.now(UTC)
    if now_text:
        try:
            now = datetime.fromisoformat(now_text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise GridmapError(f"--now {now_text!r} is not an ISO 8601 date-time") from exc
        if now.tzinfo is None:
            from zoneinfo import ZoneInfo

            now = now.replace(tzinfo=ZoneInfo(get_settings().cases_timezone))
    engine = _engine()
    while True:
        raised = run(engine, now)
        for e in raised:
            click.echo(f"case {e.case_id}: {LEVELS[e.from_level]} → {LEVELS[e.to_level]}")
        click.echo(f"{len(raised)} case(s) escalated at {now.isoformat(timespec='seconds')}")
        if every is None or now_text:
            return
        time.sleep(every)
        now = datetime.now(UTC)


@cases.command("check-taxonomy")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@friendly
def check_taxonomy(file: Path | None) -> None:
    """Check a taxonomy TOML file (default: the configured one) and summarise it."""
    from gridmap.cases.taxonomy import load_taxonomy

    tax = load_taxonomy(file or get_settings().cases_taxonomy)
    for c in tax.categories:
        click.echo(
            f"{c.slug:16} {c.zh} / {c.en}: priority {c.priority}, {c.sla_hours:g} h, "
            f"{len(c.subcategories)} subcategories"
        )
    click.echo(f"{tax.source}: {len(tax.categories)} categories, {len(tax.subcategories)} types")


if __name__ == "__main__":
    cases()
