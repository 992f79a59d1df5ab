"""The import panel of the planning page: upload a file (GeoJSON, GeoPackage, zipped
Shapefile, CSV, Excel), pick the target and options, check it (a dry run that shows the
per-row report), then import it (all or nothing). A spinner covers the report while the
server works. Only admins and planners may import; every import is audited.

Uploads are saved under ``GRIDMAP_HOME/uploads/<random>/`` and referred to by that token
only, so the file travels from the browser once. Component ids start with
``plan-import-``; the callbacks are thin over :func:`gridmap.io.importer.import_file`.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import shutil
import time
import unicodedata
from pathlib import Path
from typing import Any

from dash import Dash, Input, Output, State, callback_context, dcc, html, no_update

from gridmap.access import Role, current_user
from gridmap.errors import GridmapError
from gridmap.i18n import t
from gridmap.settings import get_settings
from gridmap.web.components.plan_cards import plan_card

TARGETS = ("grids", "buildings", "cameras", "service-points")
ACCEPT = ".geojson,.json,.gpkg,.zip,.shp,.csv,.xlsx"
#: Rejected rows shown in the page (the count is always complete).
SHOWN_PROBLEMS = 200
#: Upload folders older than this are removed when a new file arrives.
UPLOAD_MAX_AGE_S = 24 * 3600
#: Longest stored upload name (UTF-8 bytes; file systems allow 255).
MAX_NAME_BYTES = 200
IMPORT_ROLES = frozenset({Role.ADMIN, Role.PLANNER})
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def upload_root() -> Path:
    return get_settings().upload_folder


def _text(name: str, class_name: str, lang: str) -> dcc.Input:
    """The text box ``plan-import-{name}``, its hint ``import.{name}``."""
    return dcc.Input(
        id=f"plan-import-{name}",
        placeholder=t(f"import.{name}", lang),
        className=class_name,
        debounce=True,
    )


def layout(lang: str) -> html.Div:
    """The panel (for the planning page's side bar)."""
    settings = get_settings()
    return plan_card(
        "import",
        lang,
        [
            html.Label(t("import.target", lang), className="plan-label"),
            dcc.Dropdown(
                id="plan-import-target",
                options=[{"label": t(f"import.target.{x}", lang), "value": x} for x in TARGETS],
                value="grids",
                clearable=False,
            ),
            dcc.Upload(
                id="plan-import-upload",
                children=html.Div(t("import.drop", lang)),
                accept=ACCEPT,
                max_size=settings.import_max_upload_mb * 2**20,
                className="import-upload",
            ),
            html.Div(id="plan-import-file", className="plan-small"),
            dcc.RadioItems(
                id="plan-import-offset",
                options=[
                    {"label": t("import.offset.none", lang), "value": ""},
                    {"label": "GCJ-02", "value": "gcj02"},
                    {"label": "BD-09", "value": "bd09"},
                ],
                value="",
                inline=True,
            ),
            html.Div(
                className="plan-buttons",
                children=[
                    _text(name, "import-input", lang) for name in ("crs", "layer", "encoding")
                ],
            ),
            _text("mapping", "import-mapping", lang),
            dcc.Checklist(
                id="plan-import-options",
                options=[
                    {"label": t(f"import.option.{o}", lang), "value": o}
                    for o in ("repair", "update", "skip_invalid")
                ],
                value=[],
            ),
            html.Div(
                className="plan-buttons",
                children=[
                    html.Button(
                        t("import.check", lang), id="plan-import-check", className="plan-button"
                    ),
                    html.Button(
                        t("import.run", lang), id="plan-import-run", className="plan-button primary"
                    ),
                ],
            ),
            dcc.Loading(
                html.Div(id="plan-import-report", className="import-report"),
                type="circle",
            ),
            dcc.Store(id="plan-import-token"),
        ],
    )


def _clean_old_uploads(root: Path) -> None:
    cutoff = time.time() - UPLOAD_MAX_AGE_S
    for folder in root.glob("*"):
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


def upload_name(filename: str) -> str:
    """The uploaded file's name as stored: its last path part without control characters
    or lone surrogates, cut to :data:`MAX_NAME_BYTES` (UTF-8) keeping the suffix."""
    name = Path(filename.replace("\\", "/")).name
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cs"))
    suffix = Path(name).suffix[:16]
    stem = name[: len(name) - len(suffix)]
    while stem and len((stem + suffix).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    name = stem + suffix
    return "upload" if name.strip() in ("", ".", "..") else name


def save_upload(contents: str | None, filename: str | None, lang: str) -> tuple[Any, Any]:
    """Keep the uploaded file on the server; the page holds only its token."""
    if not contents or not filename:
        return no_update, no_update
    try:
        data = base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, binascii.Error):
        return None, t("import.bad_upload", lang)
    root = upload_root()
    root.mkdir(parents=True, exist_ok=True)
    _clean_old_uploads(root)
    token = secrets.token_urlsafe(18)
    folder = root / token
    folder.mkdir()
    name = upload_name(filename)
    (folder / name).write_bytes(data)
    return token, t("import.file", lang, name=name, size=f"{len(data) / 1024:,.0f}")


def _uploaded(token: str | None) -> Path | None:
    if not token or not _TOKEN.match(token):
        return None
    files = [p for p in (upload_root() / token).glob("*") if p.is_file()]
    return files[0] if files else None


def _report_view(report: Any, lang: str, *, rejected: bool) -> list[Any]:
    key = "import.summary_dry" if report.dry_run else "import.summary_done"
    if rejected:
        key = "import.summary_rejected"
    summary = t(
        key, lang, file=report.file, rows=f"{report.rows:,}", rejected=f"{report.rejected:,}",
        inserted=f"{report.inserted:,}", updated=f"{report.updated:,}",
        unchanged=f"{report.unchanged:,}", repaired=f"{report.repaired:,}",
    )  # fmt: skip
    out: list[Any] = [
        html.Div(
            summary,
            id="plan-import-summary",
            className="import-summary" + (" rejected" if rejected else ""),
        ),
        html.Div(t("import.crs_used", lang, crs=report.crs), className="plan-small"),
    ]
    out += [html.Div(note, className="plan-small") for note in report.notes]
    if report.problems:
        head = html.Tr([html.Th(t(f"import.col.{c}", lang)) for c in ("row", "column", "reason")])
        body = [
            html.Tr([html.Td(p.row), html.Td(p.column), html.Td(p.reason)])
            for p in report.problems[:SHOWN_PROBLEMS]
        ]
        out.append(html.Table([html.Thead(head), html.Tbody(body)], id="plan-import-problems",
                              className="import-problems"))  # fmt: skip
        more = report.rejected - min(len(report.problems), SHOWN_PROBLEMS)
        if more > 0:
            out.append(html.Div(t("import.more", lang, count=f"{more:,}"), className="plan-small"))
    return out


def run_import(
    _check: int | None, _run: int | None, token: str | None, target: str, offset: str,
    crs: str | None, layer: str | None, encoding: str | None, mapping: str | None,
    options: list[str], lang: str,
) -> list[Any]:  # fmt: skip
    """Check (dry run) or import the uploaded file; the report either way."""
    from gridmap.access.audit import record
    from gridmap.db.app import app_engine
    from gridmap.io.importer import ImportOptions, ImportRejected, import_file
    from gridmap.io.tabular import parse_mapping

    user = current_user()
    if user is None or user.role not in IMPORT_ROLES:
        return [html.Div(t("import.forbidden", lang), className="import-summary rejected")]
    path = _uploaded(token)
    if path is None:
        return [html.Div(t("import.no_file", lang), className="import-summary rejected")]
    dry = callback_context.triggered_id != "plan-import-run"
    engine = app_engine()
    url = engine.url.render_as_string(hide_password=False)
    try:
        opts = ImportOptions(
            target=target, layer=(layer or "").strip() or None,
            mapping=parse_mapping([mapping] if mapping else []),
            crs=(crs or "").strip() or None, offset=offset or None,
            encoding=(encoding or "").strip() or None, repair="repair" in options,
            update="update" in options, skip_invalid="skip_invalid" in options, dry_run=dry,
        )  # fmt: skip

        def audit(report: Any) -> None:
            record("import", report.target, report.summary(), engine=engine)

        report = import_file(url, path, opts, audit=audit)
    except ImportRejected as exc:
        return _report_view(exc.report, lang, rejected=True)
    except GridmapError as exc:
        message = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return [html.Div(message, className="import-summary rejected", id="plan-import-summary")]
    return _report_view(report, lang, rejected=False)


def register(app: Dash) -> None:
    """The panel's callbacks."""
    app.callback(
        Output("plan-import-token", "data"),
        Output("plan-import-file", "children"),
        Input("plan-import-upload", "contents"),
        State("plan-import-upload", "filename"),
        State("plan-lang", "data"),
        prevent_initial_call=True,
    )(save_upload)
    app.callback(
        Output("plan-import-report", "children"),
        Input("plan-import-check", "n_clicks"),
        Input("plan-import-run", "n_clicks"),
        State("plan-import-token", "data"),
        State("plan-import-target", "value"),
        State("plan-import-offset", "value"),
        State("plan-import-crs", "value"),
        State("plan-import-layer", "value"),
        State("plan-import-encoding", "value"),
        State("plan-import-mapping", "value"),
        State("plan-import-options", "value"),
        State("plan-lang", "data"),
        prevent_initial_call=True,
    )(run_import)
