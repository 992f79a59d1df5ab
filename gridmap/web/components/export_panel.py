"""The export panel of the planning page: choose layers, a format (data file or print map)
and paper, start a background export, watch its progress, download the file when ready.

The export carries the page's filters (service-circle kind and minutes; optionally only the
current map view) and runs as the signed-in user (:mod:`gridmap.io.jobs`). Component ids
start with ``plan-export-``; the callbacks are thin over :mod:`gridmap.io.jobs`.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update

from gridmap.access import current_user
from gridmap.access.policy import sees_single_cases
from gridmap.db.app import app_engine
from gridmap.errors import GridmapError
from gridmap.i18n import t
from gridmap.io import jobs
from gridmap.io.export import FORMATS, ORIENTATIONS, PAPERS, ExportRequest
from gridmap.web.components.plan_cards import plan_card, toggle
from layers import LAYERS

#: Layers ticked when the panel opens.
DEFAULT_LAYERS = ["grids", "service_points"]
POLL_MS = 700


def layout(lang: str) -> html.Div:
    """The panel (for the planning page's side bar)."""
    singles = sees_single_cases(current_user())  # a planner exports no single cases
    layer_options = [
        {"label": t(layer.title, lang), "value": layer.id}
        for layer in LAYERS
        if singles or layer.id != "cases"
    ]
    formats = [{"label": t(f"export.format.{f}", lang), "value": f} for f in FORMATS]
    return plan_card(
        "export",
        lang,
        [
            html.Label(t("export.layers", lang), className="plan-label"),
            dcc.Checklist(
                id="plan-export-layers",
                options=layer_options,
                value=DEFAULT_LAYERS,
                className="export-layers",
            ),
            html.Label(t("export.format", lang), className="plan-label"),
            dcc.Dropdown(id="plan-export-format", options=formats, value="pdf", clearable=False),
            html.Div(
                className="plan-buttons",
                children=[
                    html.Label(t("export.paper", lang)),
                    dcc.RadioItems(
                        id="plan-export-paper",
                        options=[{"label": p, "value": p} for p in PAPERS],
                        value="A4",
                        inline=True,
                    ),
                    dcc.RadioItems(
                        id="plan-export-orientation",
                        options=[
                            {"label": t(f"export.{o}", lang), "value": o} for o in ORIENTATIONS
                        ],
                        value="landscape",
                        inline=True,
                    ),
                ],
            ),
            dcc.Input(
                id="plan-export-title",
                type="text",
                placeholder=t("export.map_title", lang),
                className="export-title",
                debounce=True,
            ),
            toggle("plan-export-view", t("export.view_only", lang)),
            html.Button(
                t("export.start", lang), id="plan-export-start", className="plan-button primary"
            ),
            html.Progress(id="plan-export-progress", max=1, value=0, className="export-progress"),
            html.Div(id="plan-export-status", className="plan-small"),
            html.A(
                id="plan-export-link",
                className="export-link",
                href="",
                style={"display": "none"},
            ),
            dcc.Store(id="plan-export-job"),
            dcc.Interval(id="plan-export-poll", interval=POLL_MS, disabled=True),
        ],
    )


def start(
    _n: int | None,
    layer_ids: list[str],
    fmt: str,
    paper: str,
    orientation: str,
    title: str | None,
    view_only: list[str],
    view: dict[str, Any] | None,
    kind: str | None,
    minutes: float | None,
    lang: str,
) -> tuple[Any, bool, str, float, dict[str, str]]:
    """Queue the export the panel describes for the signed-in user."""
    hide = {"display": "none"}
    if not layer_ids:
        return no_update, True, t("export.no_layers", lang), 0, hide
    filters = {"circle_kind": kind, "circle_minutes": minutes}
    try:
        request = ExportRequest(
            layers=tuple(layer_ids),
            format=fmt,
            bbox=tuple(view["bbox"]) if view_only and view else None,
            filters={k: v for k, v in filters.items() if v is not None},
            language=lang,
            paper=paper,
            orientation=orientation,
            title=(title or "").strip() or None,
        )
        job_id = jobs.submit(app_engine(), request, current_user())
    except GridmapError as exc:
        return no_update, True, t("export.failed", lang, message=exc.message), 0, hide
    return str(job_id), False, t("export.queued", lang), 0, hide


def poll(
    _n: int | None, job_id: str | None, lang: str
) -> tuple[float, str, str, str, dict[str, str], bool]:
    """Progress of the panel's job; the download link once it is done."""
    hide = {"display": "none"}
    if not job_id:
        return 0, "", "", "", hide, True
    try:
        status = jobs.job_status(app_engine(), job_id, current_user())
    except GridmapError as exc:
        return 0, t("export.failed", lang, message=exc.message), "", "", hide, True
    if status.status == "done":
        size = f"{(status.size_bytes or 0) / 1e6:.1f} MB"
        text = t("export.done", lang, count=f"{status.features or 0:,}", size=size)
        href = f"/api/v1/exports/{status.id}/download"
        label = t("export.download", lang, name=status.file_name)
        return 1, text, href, label, {"display": "block"}, True
    if status.status in ("failed", "expired"):
        message = status.message or t("export.expired", lang)
        return 0, t("export.failed", lang, message=message), "", "", hide, True
    if status.status == "queued":
        return 0, t("export.queued", lang), "", "", hide, False
    pct = f"{status.progress * 100:.0f}"
    text = t("export.running", lang, pct=pct, message=status.message or "")
    return status.progress, text, "", "", hide, False


def register(app: Dash) -> None:
    """Register the panel's callbacks on ``app``."""
    app.callback(
        Output("plan-export-job", "data"),
        Output("plan-export-poll", "disabled"),
        Output("plan-export-status", "children"),
        Output("plan-export-progress", "value"),
        Output("plan-export-link", "style"),
        Input("plan-export-start", "n_clicks"),
        State("plan-export-layers", "value"),
        State("plan-export-format", "value"),
        State("plan-export-paper", "value"),
        State("plan-export-orientation", "value"),
        State("plan-export-title", "value"),
        State("plan-export-view", "value"),
        State("plan-view", "data"),
        State("plan-kind", "value"),
        State("plan-minutes", "value"),
        State("plan-lang", "data"),
        prevent_initial_call=True,
    )(start)
    app.callback(
        Output("plan-export-progress", "value", allow_duplicate=True),
        Output("plan-export-status", "children", allow_duplicate=True),
        Output("plan-export-link", "href"),
        Output("plan-export-link", "children"),
        Output("plan-export-link", "style", allow_duplicate=True),
        Output("plan-export-poll", "disabled", allow_duplicate=True),
        Input("plan-export-poll", "n_intervals"),
        State("plan-export-job", "data"),
        State("plan-lang", "data"),
        prevent_initial_call=True,
    )(poll)
