"""The grid lead's case table (dash-ag-grid): one server-side page of rows at a time, a
pager, single-row selection keyed by case id."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import dash_ag_grid as dag
from dash import html

from gridmap.access.masking import mask_phones
from gridmap.cases.filters import category_label
from gridmap.i18n import t
from gridmap.settings import get_settings
from gridmap.web.services.lead.cases import COUNT_CAP, CasePage

COLUMNS = ("code", "title", "category", "status", "priority", "reported_at", "due_at", "grid")


def _headers(lang: str) -> dict[str, str]:
    return {
        "code": t("lead.col.code", lang),
        "title": t("lead.col.title", lang),
        "category": t("field.category", lang),
        "status": t("field.status", lang),
        "priority": t("lead.col.priority", lang),
        "reported_at": t("field.reported_at", lang),
        "due_at": t("lead.col.due_at", lang),
        "grid": t("field.grid", lang),
    }


def column_defs(lang: str) -> list[dict[str, Any]]:
    headers = _headers(lang)
    widths = {"code": 150, "title": 220, "priority": 80, "reported_at": 150, "due_at": 150}
    return [
        {
            "field": c,
            "headerName": headers[c],
            "sortable": False,
            **({"width": widths[c]} if c in widths else {"flex": 1, "minWidth": 110}),
            **(
                {"cellClassRules": {"lead-overdue": {"function": "params.data.overdue"}}}
                if c == "due_at"
                else {}
            ),
        }
        for c in COLUMNS
    ]


def table_rows(page: CasePage, lang: str) -> list[dict[str, Any]]:
    """JSON rows of a page (times in the cases' time zone, labels in ``lang``)."""
    zone = ZoneInfo(get_settings().cases_timezone)

    def when(value: Any) -> str:
        return "" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    categories = {c: category_label(c, lang) for c in {r["category"] for r in page.rows}}
    return [
        {
            "id": str(r["id"]),
            "code": r["code"],
            "title": mask_phones(r["title"]),
            "category": categories[r["category"]],
            "status": t(f"case.status.{r['status']}", lang),
            "priority": int(r["priority"]),
            "reported_at": when(r["reported_at"]),
            "due_at": when(r["due_at"]),
            "overdue": bool(r["overdue"]),
            "grid": r["grid_name"],
            "lon": r["lon"],
            "lat": r["lat"],
        }
        for r in page.rows
    ]


def pager_text(page: CasePage, size: int, lang: str) -> str:
    if page.total == 0:
        return t("lead.no_cases", lang)
    return t(
        "lead.pager",
        lang,
        first=f"{page.offset + 1:,}",
        last=f"{page.offset + len(page.rows):,}",
        total=f"{page.total:,}" + ("+" if page.total >= COUNT_CAP else ""),
    )


def case_table(lang: str) -> html.Div:
    """The table, empty until the first page arrives, with its pager."""
    return html.Div(
        className="lead-table",
        children=[
            html.Div(
                className="lead-pager",
                children=[
                    html.Button("‹", id="lead-prev", n_clicks=0, title=t("lead.prev", lang)),
                    html.Span(id="lead-pager-text", className="lead-pager-text"),
                    html.Button("›", id="lead-next", n_clicks=0, title=t("lead.next", lang)),
                ],
            ),
            dag.AgGrid(
                id="lead-table",
                columnDefs=column_defs(lang),
                rowData=[],
                getRowId="params.data.id",
                dashGridOptions={
                    "rowSelection": {"mode": "singleRow", "enableClickSelection": True},
                    "animateRows": False,
                    "rowHeight": 34,  # compact: a dozen rows in view at 1080p
                    "headerHeight": 36,
                    # AG Grid's own words (English otherwise)
                    "localeText": {
                        "noRowsToShow": t("lead.table_empty", lang),
                        "loadingOoo": t("lead.table_loading", lang),
                    },
                },
                className="lead-grid",
                style={"height": "100%", "width": "100%"},
            ),
        ],
    )
